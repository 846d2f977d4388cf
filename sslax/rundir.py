"""Run and sweep directories: what a trained run needs to be inspected, reloaded, re-evaluated.

Layout of ``RUN_DIR/``::

    config.json          the config, seeds and library versions
    params_best.msgpack  best parameters (lowest validation loss), flax.serialization
    params_final.msgpack parameters after the last epoch
    metrics.json         summary metrics (train and test), best epoch, epochs run, timings
    history.csv          per-epoch training curves
    evaluation.npz       confusion matrices, predictions, true IPDs, firing rates
    figures/*.png        loss curves, confusion matrix, IPD histogram

Writes are atomic: the directory is assembled under a temporary name beside its target and
renamed into place in one step, so an interrupted save leaves either nothing or a complete
run, never a half-written one. An existing directory is never overwritten.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
from flax import serialization

from sslax.config import Config
from sslax.metrics import Evaluation
from sslax.network import Params
from sslax.sweep import SweepResult
from sslax.training import EpochMetrics, Run

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"


class RunExistsError(FileExistsError):
    """The run directory already exists (sslax never overwrites one)."""


def check_new_run_dir(path: str | os.PathLike[str]) -> Path:
    """Raise :class:`RunExistsError` if ``path`` exists; call before any training."""
    path = Path(path)
    if path.exists():
        raise RunExistsError(f"run directory {str(path)!r} already exists; choose another "
                             f"--out (sslax never overwrites a run)")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file in the same folder, fsync, then rename over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would make results private
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode()


def evaluation_summary(ev: Evaluation) -> dict[str, Any]:
    """JSON-ready scalar metrics plus per-class accuracy and per-unit firing rates."""
    out: dict[str, Any] = ev.summary()
    out["per_class_accuracy"] = np.asarray(ev.per_class_accuracy).round(6).tolist()
    out["firing_rate_hz"] = np.asarray(ev.firing_rate).round(4).tolist()
    return out


def run_metrics(run: Run) -> dict[str, Any]:
    """The ``metrics.json`` content of a run."""
    return {
        "best_epoch": int(run.result.best_epoch),
        "n_epochs_run": int(run.result.n_epochs_run),
        "train": evaluation_summary(run.train_eval),
        "test": evaluation_summary(run.test_eval),
    }


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success rename it to ``path``.

    On any error (or interrupt) the temporary directory is removed and ``path`` is never
    created; an existing ``path`` is refused up front.
    """
    path = check_new_run_dir(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.partial-"))
    try:
        tmp.chmod(0o777 & ~_umask())
        yield tmp
        os.rename(tmp, path)  # atomic; fails if path appeared meanwhile
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_run(run: Run, path: str | os.PathLike[str], extra: dict[str, Any] | None = None,
             figures: Callable[[Run, Path], Any] | None = None) -> Path:
    """Save ``run`` to a new directory ``path`` atomically; returns the path.

    Args:
        run: the trained run.
        path: target directory; must not exist.
        extra: more entries for ``metrics.json`` (e.g. timings).
        figures: optional ``figures(run, folder)`` that writes PNGs into ``folder``.
    """
    with atomic_directory(path) as tmp:
        meta = {"config": run.config.to_dict(), "seed": run.seed, "data_seed": run.data_seed,
                "versions": versions()}
        write_atomic(tmp / CONFIG_FILE, json_bytes(meta))
        write_atomic(tmp / "params_best.msgpack", serialization.to_bytes(run.result.best_params))
        write_atomic(tmp / "params_final.msgpack", serialization.to_bytes(run.result.params))
        write_atomic(tmp / METRICS_FILE, json_bytes({**run_metrics(run), **(extra or {})}))
        write_atomic(tmp / "history.csv", _history_csv(run.result.history))
        save_npz(tmp / "evaluation.npz", {
            f"{split}_{name}": np.asarray(getattr(ev, name))
            for split, ev in (("train", run.train_eval), ("test", run.test_eval))
            for name in ("confusion", "predicted", "ipd", "firing_rate", "per_class_accuracy")
        })
        if figures is not None:
            (tmp / "figures").mkdir()
            figures(run, tmp / "figures")
    return Path(path)


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomic(path, buffer.getvalue())


def _history_csv(history: EpochMetrics) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    names = list(EpochMetrics._fields)
    writer.writerow(["epoch", *names])
    columns = [np.asarray(getattr(history, n)) for n in names]
    for epoch in range(len(columns[0])):
        writer.writerow([epoch, *(f"{c[epoch]:.6g}" for c in columns)])
    return buffer.getvalue().encode()


def versions() -> dict[str, str]:
    import flax
    import optax

    from sslax import __version__

    return {"sslax": __version__, "jax": jax.__version__, "flax": flax.__version__,
            "optax": optax.__version__, "numpy": np.__version__}


class SavedRun(NamedTuple):
    """A run directory loaded back."""

    config: Config
    seed: int
    data_seed: int
    best_params: Params
    final_params: Params
    metrics: dict[str, Any]
    path: Path


def load_run(path: str | os.PathLike[str]) -> SavedRun:
    """Load a run directory written by :func:`save_run`."""
    path = Path(path)
    if not (path / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{str(path)!r} is not an sslax run directory "
                                f"(no {CONFIG_FILE})")
    meta = json.loads((path / CONFIG_FILE).read_text())
    config = Config.from_dict(meta["config"])
    template = _params_template(config)
    best = serialization.from_bytes(template, (path / "params_best.msgpack").read_bytes())
    final = serialization.from_bytes(template, (path / "params_final.msgpack").read_bytes())
    metrics = json.loads((path / METRICS_FILE).read_text())
    return SavedRun(config, int(meta["seed"]), int(meta["data_seed"]), best, final, metrics,
                    path)


def _params_template(config: Config) -> Params:
    from sslax.network import init_params

    return init_params(jax.random.key(0), config)  # only its structure and shapes are used


# ---------------------------------------------------------------------------------------------
# sweep directories
# ---------------------------------------------------------------------------------------------

SWEEP_FILE = "sweep.json"


def _structure_tag(index: int, structure: dict[str, Any]) -> str:
    if not structure:
        return "all"
    return f"{index}-" + "-".join(f"{k}={v}" for k, v in structure.items())


def save_sweep(results: Sequence[SweepResult], path: str | os.PathLike[str],
               figures: Callable[[Any, Path, str], Any] | None = None,
               extra: dict[str, Any] | None = None) -> Path:
    """Save sweep results to a new directory atomically; returns the path.

    Layout: ``sweep.json`` (the sweep and timings), ``metrics.csv`` (one row per member:
    structural values, seed, swept values, final train/test metrics), ``history.csv`` (one
    row per member and epoch), and per structure ``dataset-TAG.json`` (the xarray Dataset,
    ``xarray.Dataset.from_dict`` reads it) and ``params-TAG.npz`` (stacked best and final
    parameters, leading axis = members in ``metrics.csv`` order). ``figures(dataset,
    folder, tag)`` may add PNGs under ``figures/``.
    """
    import pandas as pd

    sweep = results[0].sweep
    with atomic_directory(path) as tmp:
        spec = {"config": sweep.config.to_dict(), "seeds": list(sweep.seeds),
                "grid": {k: list(v) for k, v in sweep.grid.items()},
                "data_seed": sweep.data_seed, "shared_data": sweep.shared_data,
                "structures": [], "versions": versions(), **(extra or {})}
        tables, histories = [], []
        if figures is not None:
            (tmp / "figures").mkdir()
        for index, res in enumerate(results):
            tag = _structure_tag(index, res.structure)
            dataset = res.to_xarray()
            spec["structures"].append({"tag": tag, "values": res.structure,
                                       "n_members": res.n_members,
                                       "compile_s": round(res.compile_s, 3),
                                       "train_s": round(res.train_s, 3)})
            write_atomic(tmp / f"dataset-{tag}.json",
                         json_bytes(dataset.to_dict(data="list", encoding=False)))
            save_npz(tmp / f"params-{tag}.npz", {
                **{f"best_{k}": np.asarray(v) for k, v in
                   serialization.to_state_dict(res.result.best_params).items()},
                **{f"final_{k}": np.asarray(v) for k, v in
                   serialization.to_state_dict(res.result.params).items()}})
            scalars = [n for n, v in dataset.data_vars.items() if "epoch" not in v.dims]
            curves = [n for n, v in dataset.data_vars.items() if "epoch" in v.dims]
            table = dataset[scalars].to_dataframe().reset_index()
            history = dataset[curves].to_dataframe().reset_index()
            for frame in (table, history):
                for k, v in res.structure.items():
                    frame.insert(0, k, v)
            tables.append(table)
            histories.append(history)
            if figures is not None:
                figures(dataset, tmp / "figures", tag)
        write_atomic(tmp / "metrics.csv", pd.concat(tables).to_csv(index=False).encode())
        write_atomic(tmp / "history.csv", pd.concat(histories).to_csv(index=False).encode())
        write_atomic(tmp / SWEEP_FILE, json_bytes(spec))
    return Path(path)


class SavedSweep(NamedTuple):
    """One structure of a sweep directory loaded back."""

    structure: dict[str, Any]
    dataset: Any
    params: dict[str, np.ndarray]


def load_sweep(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[SavedSweep]]:
    """Load a sweep directory: its spec (``sweep.json``) and each structure's results."""
    import xarray as xr

    path = Path(path)
    if not (path / SWEEP_FILE).is_file():
        raise FileNotFoundError(f"{str(path)!r} is not an sslax sweep directory "
                                f"(no {SWEEP_FILE})")
    spec = json.loads((path / SWEEP_FILE).read_text())
    loaded = []
    for entry in spec["structures"]:
        tag = entry["tag"]
        dataset = xr.Dataset.from_dict(json.loads((path / f"dataset-{tag}.json").read_text()))
        with np.load(path / f"params-{tag}.npz") as npz:
            params = {k: npz[k] for k in npz.files}
        loaded.append(SavedSweep(entry["values"], dataset, params))
    return spec, loaded
