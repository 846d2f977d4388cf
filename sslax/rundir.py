"""Run and sweep directories: what a trained run needs to be inspected, reloaded, resumed and
re-evaluated.

Layout of ``RUN_DIR/``::

    config.json          the config, seeds and library versions (written first)
    checkpoint.state     the training state while training (removed when the run is complete)
    params_best.msgpack  best parameters (lowest validation loss), flax.serialization
    params_final.msgpack parameters after the last epoch
    history.csv          per-epoch training curves (epochs counted from 1)
    evaluation.npz       confusion matrices, predictions, true IPDs, firing rates
    figures/*.png        loss curves, confusion matrix, IPD histogram
    metrics.json         summary metrics, best epoch, epochs run, timings (written last:
                         a run directory is complete when it exists)

Every file is written atomically (:mod:`sslax.fileio`), so a crash, Ctrl-C or SIGKILL leaves
each one old or new, never damaged; temporary files left by a killed writer are removed the
next time the directory is opened. An existing directory is never overwritten: it can only
be resumed. :func:`save_run` writes a whole run from Python in one atomic step instead.

Every reader turns a damaged or foreign file into a :class:`~sslax.fileio.FileFormatError`
whose one-line message names the file and what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
from flax import serialization

from sslax.config import Config, ConfigError, ConfigWarning, display_column, display_value
from sslax.fileio import (
    FileFormatError,
    LeftoverWarning,
    OutputError,
    atomic_directory,
    check_writable,
    make_directory,
    remove_stale_temporaries,
    write_atomic,
)
from sslax.metrics import Evaluation
from sslax.network import Params, init_params
from sslax.sweep import Sweep, SweepResult, structure_tag
from sslax.training import EpochMetrics, Run

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
CHECKPOINT_FILE = "checkpoint.state"
SWEEP_FILE = "sweep.json"
PROGRESS_DIR = "progress"

#: Free space a new run directory asks for before training starts [bytes].
RUN_DIR_BYTES = 20 * 10**6


class RunExistsError(FileExistsError):
    """The directory already exists (sslax never overwrites one)."""


class IncompleteRunError(RuntimeError):
    """A run or sweep directory whose training has not finished (it can be resumed)."""


class CompleteRunError(RuntimeError):
    """Asked to resume a run or sweep that has finished."""


def check_new_run_dir(path: str | os.PathLike[str]) -> Path:
    """Raise :class:`RunExistsError` if ``path`` exists; call before any training."""
    path = Path(path)
    if path.exists():
        raise RunExistsError(f"{str(path)!r} already exists; choose another --out (sslax never "
                             f"overwrites a run)")
    return path


def create_output_dir(path: str | os.PathLike[str], first_files: dict[str, bytes],
                      needed_bytes: int | None = None) -> Path:
    """Create the new directory ``path`` holding ``first_files`` (name → content), after
    checking that files can be written there and that ``needed_bytes`` (default
    :data:`RUN_DIR_BYTES`) are free: the checks that must pass before anything is compiled.
    The directory appears in one step (assembled under a temporary name, then renamed), so
    it never exists without its first files. Raises :class:`RunExistsError` or
    :class:`~sslax.fileio.OutputError`."""
    path = check_new_run_dir(path)
    needed_bytes = RUN_DIR_BYTES if needed_bytes is None else needed_bytes
    try:
        make_directory(path.parent)
        check_writable(path.parent, needed_bytes)
        with atomic_directory(path) as tmp:
            for name, content in first_files.items():
                write_atomic(tmp / name, content)
    except FileExistsError:
        raise RunExistsError(f"{str(path)!r} already exists; choose another --out") from None
    except OutputError as error:
        raise OutputError(error.errno, f"cannot create {str(path)!r}: {error}") from None
    return path


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode()


def read_json(path: Path) -> Any:
    """A JSON file, with a :class:`~sslax.fileio.FileFormatError` naming it if it is
    missing, unreadable or damaged."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FileFormatError(f"{str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise FileFormatError(f"cannot read {str(path)!r}: {error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise FileFormatError(f"{str(path)!r} is damaged: invalid JSON at line {error.lineno}, "
                              f"column {error.colno} ({error.msg})") from None


def versions() -> dict[str, str]:
    import flax
    import optax

    from sslax import __version__

    return {"sslax": __version__, "jax": jax.__version__, "flax": flax.__version__,
            "optax": optax.__version__, "numpy": np.__version__}


# ---------------------------------------------------------------------------------------------
# run directories
# ---------------------------------------------------------------------------------------------


def evaluation_summary(ev: Evaluation) -> dict[str, Any]:
    """JSON-ready scalar metrics plus per-class accuracy and per-unit firing rates."""
    out: dict[str, Any] = ev.summary()
    out["per_class_accuracy"] = np.asarray(ev.per_class_accuracy).round(6).tolist()
    out["firing_rate_hz"] = np.asarray(ev.firing_rate).round(4).tolist()
    return out


def run_metrics(run: Run) -> dict[str, Any]:
    """The ``metrics.json`` content of a run (epochs counted from 1)."""
    diverged = int(run.result.diverged_epoch)
    return {
        "best_epoch": int(run.result.best_epoch),
        "n_epochs_run": int(run.result.n_epochs_run),
        "diverged_epoch": diverged or None,
        "train": evaluation_summary(run.train_eval),
        "test": evaluation_summary(run.test_eval),
    }


def run_meta(config: Config, seed: int, data_seed: int) -> dict[str, Any]:
    """The ``config.json`` content of a run."""
    return {"config": config.to_dict(), "seed": seed, "data_seed": data_seed,
            "versions": versions()}


def create_run_dir(path: str | os.PathLike[str], config: Config, seed: int,
                   data_seed: int) -> Path:
    """Create a new run directory with its ``config.json`` (before any compiling)."""
    return create_output_dir(path, {CONFIG_FILE: json_bytes(run_meta(config, seed,
                                                                     data_seed))})


def write_run_results(folder: Path, run: Run, extra: dict[str, Any] | None = None,
                      figures: Callable[[Run, Path], Any] | None = None) -> None:
    """Write a trained run's files into ``folder``, ``metrics.json`` last."""
    write_atomic(folder / "params_best.msgpack", serialization.to_bytes(run.result.best_params))
    write_atomic(folder / "params_final.msgpack", serialization.to_bytes(run.result.params))
    write_atomic(folder / "history.csv", history_csv(run.result.history))
    save_npz(folder / "evaluation.npz", {
        f"{split}_{name}": np.asarray(getattr(ev, name))
        for split, ev in (("train", run.train_eval), ("test", run.test_eval))
        for name in ("confusion", "predicted", "ipd", "firing_rate", "per_class_accuracy")
    })
    if figures is not None:
        make_directory(folder / "figures")
        figures(run, folder / "figures")
    write_atomic(folder / METRICS_FILE, json_bytes({**run_metrics(run), **(extra or {})}))


def save_run(run: Run, path: str | os.PathLike[str], extra: dict[str, Any] | None = None,
             figures: Callable[[Run, Path], Any] | None = None) -> Path:
    """Save ``run`` to a new directory ``path`` in one atomic step; returns the path.

    Args:
        run: the trained run.
        path: target directory; must not exist.
        extra: more entries for ``metrics.json`` (e.g. timings).
        figures: optional ``figures(run, folder)`` that writes PNGs into ``folder``.
    """
    check_new_run_dir(path)
    remove_stale_temporaries(Path(path).parent)
    with atomic_directory(path) as tmp:
        write_atomic(tmp / CONFIG_FILE, json_bytes(run_meta(run.config, run.seed,
                                                            run.data_seed)))
        write_run_results(tmp, run, extra, figures)
    return Path(path)


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomic(path, buffer.getvalue())


def history_csv(history: EpochMetrics) -> bytes:
    """The per-epoch curves as CSV, one row per epoch (numbered from 1)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    names = list(EpochMetrics._fields)
    writer.writerow(["epoch", *names])
    columns = [np.asarray(getattr(history, n)) for n in names]
    for index in range(len(columns[0])):
        writer.writerow([index + 1, *(f"{c[index]:.6g}" for c in columns)])
    return buffer.getvalue().encode()


class SavedRun(NamedTuple):
    """A run directory loaded back."""

    config: Config
    seed: int
    data_seed: int
    best_params: Params
    final_params: Params
    metrics: dict[str, Any]
    path: Path


def _seed(meta: dict[str, Any], name: str, source: Path) -> int:
    value = meta.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise FileFormatError(f"{str(source)!r}: {name} = {value!r} is not a valid seed")
    return value


def read_run_config(path: str | os.PathLike[str]) -> tuple[Config, int, int]:
    """The config, seed and data seed of a run directory (complete or not)."""
    path = Path(path)
    if not path.is_dir():
        raise FileFormatError(f"{str(path)!r} is not a directory")
    source = path / CONFIG_FILE
    if not source.is_file():
        raise FileFormatError(f"{str(path)!r} is not an sslax run directory (no {CONFIG_FILE})")
    meta = read_json(source)
    if not isinstance(meta, dict) or "config" not in meta:
        raise FileFormatError(f"{str(source)!r} is not an sslax run config (no 'config' entry)")
    try:
        config = Config.from_dict(meta["config"], source=str(source))
    except ConfigError as error:
        raise FileFormatError(f"{str(source)!r}: {error}") from None
    return config, _seed(meta, "seed", source), _seed(meta, "data_seed", source)


def is_complete_run(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / METRICS_FILE).is_file()


def read_params(path: Path, config: Config) -> Params:
    """Parameters saved by :func:`write_run_results`, checked against ``config``'s shapes.

    Files of older sslax versions, which stored the weights alone, load too.
    """
    template = jax.eval_shape(lambda: init_params(jax.random.key(0), config))
    try:
        state = serialization.msgpack_restore(path.read_bytes())
    except FileNotFoundError:
        raise FileFormatError(f"{str(path)!r} does not exist") from None
    except Exception as error:  # msgpack raises several unrelated types
        raise FileFormatError(f"{str(path)!r} is damaged or not an sslax parameter file "
                              f"({type(error).__name__})") from None
    if isinstance(state, dict) and "trained" not in state and "w_in" in state:
        state = {"trained": state, "fixed": {}}  # weights-only files of older versions
    expected = serialization.to_state_dict(template)
    if not isinstance(state, dict) or set(state) != set(expected):
        raise FileFormatError(f"{str(path)!r} is not an sslax parameter file")
    for part in expected:
        got, want = state[part], expected[part]
        if not isinstance(got, dict) or set(got) != set(want):
            raise FileFormatError(
                f"{str(path)!r} does not match the run's config: {part} holds "
                f"{sorted(got) if isinstance(got, dict) else got!r}, expected {sorted(want)}")
        for name, spec in want.items():
            if np.shape(got[name]) != tuple(spec.shape):
                raise FileFormatError(
                    f"{str(path)!r} does not match the run's config: {part}.{name} has shape "
                    f"{np.shape(got[name])}, expected {tuple(spec.shape)}")
    return Params({k: np.asarray(v) for k, v in state["trained"].items()},
                  {k: np.asarray(v) for k, v in state["fixed"].items()})


def load_run(path: str | os.PathLike[str]) -> SavedRun:
    """Load a complete run directory. Raises :class:`~sslax.fileio.FileFormatError` for a
    damaged or foreign directory and :class:`IncompleteRunError` for one still training."""
    path = Path(path)
    config, seed, data_seed = read_run_config(path)
    if not is_complete_run(path):
        raise IncompleteRunError(incomplete_message(path))
    metrics = read_json(path / METRICS_FILE)
    best = read_params(path / "params_best.msgpack", config)
    final = read_params(path / "params_final.msgpack", config)
    return SavedRun(config, seed, data_seed, best, final, metrics, path)


def incomplete_message(path: Path) -> str:
    from sslax import checkpoint

    where = "before its first checkpoint"
    state = path / CHECKPOINT_FILE
    if state.is_file():
        try:
            where = f"after epoch {checkpoint.read_meta(state)['epoch']}"
        except (FileFormatError, KeyError):
            where = "with a damaged checkpoint"
    return (f"{str(path)!r} is an unfinished run (stopped {where}); continue it with "
            f"`sslax train --resume {path}`")


def clean_directory(path: Path) -> list[Path]:
    """Remove temporary files that killed writers left in ``path`` (and its subfolders
    that sslax writes); returns them."""
    removed = remove_stale_temporaries(path)
    for sub in (path / "figures", *sorted((path / PROGRESS_DIR).glob("*"))):
        removed += remove_stale_temporaries(sub)
    return removed


# ---------------------------------------------------------------------------------------------
# sweep directories
# ---------------------------------------------------------------------------------------------


def sweep_spec(sweep: Sweep, settings: dict[str, Any]) -> dict[str, Any]:
    """The ``sweep.json`` content: the base config with each swept field's values in place
    of its base value, the seeds, grid and data settings, and ``settings`` (how the sweep is
    split into chunks, which a resumed sweep must reuse)."""
    config = sweep.config.to_dict()
    for name, values in sweep.grid.items():
        for section in config.values():
            if name in section:
                section[name] = {"swept": [_plain(v) for v in values]}
    return {"config": config, "seeds": list(sweep.seeds),
            "grid": {k: [_plain(v) for v in vs] for k, vs in sweep.grid.items()},
            "data_seed": sweep.data_seed, "shared_data": sweep.shared_data,
            "settings": settings, "complete": False, "versions": versions()}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def sweep_from_spec(spec: dict[str, Any], source: Path) -> Sweep:
    """The :class:`Sweep` a ``sweep.json`` describes."""
    try:
        config = {section: {name: value["swept"][0] if isinstance(value, dict) else value
                            for name, value in fields.items()}
                  for section, fields in spec["config"].items()}
        grid = {name: tuple(values) for name, values in spec["grid"].items()}
        return Sweep(Config.from_dict(config, source=str(source)), seeds=tuple(spec["seeds"]),
                     grid=grid, data_seed=spec["data_seed"], shared_data=spec["shared_data"])
    except ConfigError as error:
        raise FileFormatError(f"{str(source)!r}: {error}") from None
    except (KeyError, TypeError, AttributeError, IndexError) as error:
        raise FileFormatError(f"{str(source)!r} is not an sslax sweep description "
                              f"({type(error).__name__}: {error})") from None


def describes(spec: dict[str, Any], sweep: Sweep) -> bool:
    """Whether a ``sweep.json`` content describes ``sweep`` (the same config, seeds, grid
    and data)."""
    own = json.loads(json.dumps(sweep_spec(sweep, {})))
    keys = ("seeds", "grid", "data_seed", "shared_data")
    return (_with_defaults(spec.get("config")) == own["config"]
            and all(spec.get(key) == own[key] for key in keys))


def _with_defaults(config: Any) -> Any:
    """A saved config as JSON with the fields it lacks (an older sslax wrote it) at their
    defaults, so that a field added since does not make the same sweep look different."""
    try:
        swept = {(name, field): value for name, section in config.items()
                 for field, value in section.items()
                 if isinstance(value, dict) and "swept" in value}
        plain = {name: {field: (value["swept"][0] if (name, field) in swept else value)
                        for field, value in section.items()}
                 for name, section in config.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConfigWarning)
            full = json.loads(json.dumps(Config.from_dict(plain).to_dict()))
    except (AttributeError, ConfigError, IndexError, TypeError, ValueError):
        return config
    for (name, field), value in swept.items():
        full[name][field] = value
    return full


def create_sweep_dir(path: str | os.PathLike[str], sweep: Sweep,
                     settings: dict[str, Any]) -> Path:
    """Create a new sweep directory with its ``sweep.json`` (before any compiling)."""
    return create_output_dir(path, {SWEEP_FILE: json_bytes(sweep_spec(sweep, settings))})


def read_sweep_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(path)
    if not path.is_dir():
        raise FileFormatError(f"{str(path)!r} is not a directory")
    if not (path / SWEEP_FILE).is_file():
        raise FileFormatError(f"{str(path)!r} is not an sslax sweep directory "
                              f"(no {SWEEP_FILE})")
    spec = read_json(path / SWEEP_FILE)
    if not isinstance(spec, dict) or "grid" not in spec:
        raise FileFormatError(f"{str(path / SWEEP_FILE)!r} is not an sslax sweep description")
    return spec


def progress_dir(path: Path, tag: str) -> Path:
    """Where the chunks of one structure keep their checkpoints and finished results."""
    return Path(path) / PROGRESS_DIR / tag


def write_sweep_results(folder: Path, results: Sequence[SweepResult],
                        figures: Callable[[Any, Path, str], Any] | None = None,
                        extra: dict[str, Any] | None = None,
                        spec: dict[str, Any] | None = None) -> None:
    """Write a finished sweep's files into ``folder``, ``sweep.json`` (marked complete) last.

    Layout: ``sweep.json`` (the sweep, how it ran, timings), ``metrics.csv`` (one row per
    member: structural values, seed, swept values, final train/test metrics), ``history.csv``
    (one row per member and epoch), and per structure ``dataset-TAG.json`` (the xarray
    Dataset, per-unit values included; ``xarray.Dataset.from_dict`` reads it) and
    ``params-TAG.npz`` (stacked best and final parameters, leading axis = members in
    ``metrics.csv`` order). Swept fields with a
    unit appear in the CSVs as ``NAME_UNIT`` columns in that unit (``tau_hidden_ms``).
    ``figures(dataset, folder, tag)`` may add PNGs under ``figures/``; a combined figure
    set over every swept field (structural ones included) is added with the tag ``all``.
    """
    import pandas as pd

    sweep = results[0].sweep
    spec = dict(spec or sweep_spec(sweep, {}))
    spec["structures"] = []
    tables, histories = [], []
    if figures is not None:
        make_directory(folder / "figures")
    for index, res in enumerate(results):
        tag = structure_tag(index, res.structure)
        dataset = res.to_xarray()
        spec["structures"].append({"tag": tag, "values": res.structure,
                                   "n_members": res.n_members,
                                   "compile_s": round(res.compile_s, 3),
                                   "train_s": round(res.train_s, 3)})
        write_atomic(folder / f"dataset-{tag}.json",
                     json_bytes(dataset.to_dict(data="list", encoding=False)))
        save_npz(folder / f"params-{tag}.npz", stacked_params_arrays(res))
        scalars = [n for n, v in dataset.data_vars.items()
                   if "epoch" not in v.dims and "hidden" not in v.dims]
        curves = [n for n, v in dataset.data_vars.items() if "epoch" in v.dims]
        table = dataset[scalars].to_dataframe().reset_index()
        history = dataset[curves].to_dataframe().reset_index()
        for frame in (table, history):
            for k, v in reversed(res.structure.items()):
                frame.insert(0, k, v)
        tables.append(table)
        histories.append(history)
    if figures is not None:
        combined = combined_dataset(results)
        figures(combined, folder / "figures", "all")
    for name, frames in (("metrics.csv", tables), ("history.csv", histories)):
        frame = pd.concat(frames)
        frame = frame.rename(columns={c: display_column(c) for c in frame.columns})
        for column in sweep.grid:
            if display_column(column) in frame:
                frame[display_column(column)] = [display_value(column, v)
                                                 for v in frame[display_column(column)]]
        write_atomic(folder / name, frame.to_csv(index=False).encode())
    spec["complete"] = True
    spec.update(extra or {})
    write_atomic(folder / SWEEP_FILE, json_bytes(spec))


def stacked_params_arrays(result: SweepResult) -> dict[str, np.ndarray]:
    """``best_trained.w_in``-style names → stacked arrays [members, ...] of a sweep result."""
    arrays = {}
    for which, params in (("best", result.result.best_params), ("final", result.result.params)):
        for part in ("trained", "fixed"):
            for name, value in getattr(params, part).items():
                arrays[f"{which}_{part}.{name}"] = np.asarray(value)
    return arrays


def combined_dataset(results: Sequence[SweepResult]) -> Any:
    """One xarray Dataset of every structure of a sweep: structural fields become dimensions
    next to the numeric ones (epochs missing in a structure are NaN; per-unit values are left
    out when the structures' hidden layers differ in size)."""
    import xarray as xr

    parts = [res.to_xarray().expand_dims({k: [v] for k, v in res.structure.items()})
             for res in results]
    if len({part.sizes.get("hidden") for part in parts}) > 1:
        # structures of different sizes: per-unit values stay in each structure's dataset
        parts = [part.drop_dims("hidden") for part in parts]
    if len(parts) == 1:
        return parts[0]
    combined = xr.combine_by_coords(parts, combine_attrs="drop_conflicts")
    combined.attrs["n_classes"] = parts[0].attrs.get("n_classes")
    return combined


def save_sweep(results: Sequence[SweepResult], path: str | os.PathLike[str],
               figures: Callable[[Any, Path, str], Any] | None = None,
               extra: dict[str, Any] | None = None) -> Path:
    """Save sweep results to a new directory in one atomic step (see
    :func:`write_sweep_results`); returns the path."""
    check_new_run_dir(path)
    with atomic_directory(path) as tmp:
        write_sweep_results(tmp, results, figures, extra)
    return Path(path)


class SavedSweep(NamedTuple):
    """One structure of a sweep directory loaded back."""

    structure: dict[str, Any]
    dataset: Any
    params: dict[str, np.ndarray]


def saved_params(saved: SavedSweep, which: str = "best") -> Params:
    """The stacked parameters ([members, ...], in member order) of one saved structure;
    ``which`` is ``"best"`` or ``"final"``."""
    parts: dict[str, dict[str, np.ndarray]] = {"trained": {}, "fixed": {}}
    for key, value in saved.params.items():
        prefix, name = key.split(".", 1)
        stage, part = prefix.split("_", 1)
        if stage == which:
            parts[part][name] = value
    return Params(parts["trained"], parts["fixed"])


def load_sweep(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[SavedSweep]]:
    """Load a complete sweep directory: its spec (``sweep.json``) and each structure's
    results."""
    import xarray as xr

    path = Path(path)
    spec = read_sweep_spec(path)
    if not spec.get("complete", True):
        raise IncompleteRunError(f"{str(path)!r} is an unfinished sweep; continue it with "
                                 f"`sslax sweep --resume {path}`")
    loaded = []
    for entry in spec.get("structures", []):
        tag = entry["tag"]
        source = path / f"dataset-{tag}.json"
        try:
            dataset = xr.Dataset.from_dict(read_json(source))
        except (ValueError, KeyError, TypeError) as error:
            if isinstance(error, FileFormatError):
                raise
            raise FileFormatError(f"{str(source)!r} is not an xarray dataset ({error})") from None
        source = path / f"params-{tag}.npz"
        try:
            with np.load(source) as npz:
                params = {k: npz[k] for k in npz.files}
        except FileNotFoundError:
            raise FileFormatError(f"{str(source)!r} does not exist") from None
        except Exception as error:  # zipfile / pickle errors of a damaged file
            raise FileFormatError(f"{str(source)!r} is damaged ({type(error).__name__})") from None
        loaded.append(SavedSweep(entry["values"], dataset, params))
    return spec, loaded


def warn_removed(removed: Sequence[Path]) -> None:
    """One warning line about temporary files removed from a killed writer."""
    if removed:
        names = ", ".join(p.name for p in removed[:3]) + (" …" if len(removed) > 3 else "")
        warnings.warn(f"removed {len(removed)} unfinished temporary file(s) left by an "
                      f"interrupted write: {names}", LeftoverWarning, stacklevel=2)
