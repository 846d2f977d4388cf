"""The ``sslax`` command line: a thin shell over the library (parse, build config, call, save).

    sslax train [--preset NAME] [--FIELD VALUE ...] [--seed N] [--data-seed N] [--out DIR]
    sslax train --resume RUN_DIR
    sslax evaluate RUN_DIR | SWEEP_DIR
    sslax analyse RUN_DIR | SWEEP_DIR [--split test|train] [--out DIR] [--no-tca]
                                      [--no-figures]
    sslax sweep [--preset NAME] [--FIELD V1 V2 ...] [--seeds N] [--out DIR]
    sslax sweep --resume SWEEP_DIR

Every config field is a flag, derived from the config dataclasses by tyro (``sslax train
--help`` lists them with units). ``--preset`` picks the starting values that the flags then
override. Errors in the input are one line naming the field or file and the value, and
exit with status 2 before anything is compiled; a run stopped by Ctrl-C exits with 130
after saving a checkpoint it can be resumed from.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import signal
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from sslax.config import (
    Config,
    ConfigError,
    ConfigWarning,
    display_label,
    display_value,
    validation_deferred,
)
from sslax.fileio import FileFormatError, LeftoverWarning, OutputError
from sslax.presets import PRESET_DESCRIPTIONS, PRESETS

EXIT_INTERRUPTED = 130

COMMANDS = {
    "train": "train one network and save a run directory (or --resume one)",
    "evaluate": "re-evaluate a saved run or sweep and check it against its saved metrics",
    "sweep": "train an ensemble over seeds and a grid of values (or --resume one)",
    "analyse": "analyse a saved run or sweep: figures (PNG) and a JSON report",
}


def _usage() -> str:
    lines = ["usage: sslax {train,evaluate,sweep,analyse} ...", ""]
    lines += [f"  sslax {name:9} {text}" for name, text in COMMANDS.items()]
    lines += ["", "`sslax train --help` lists every config field. Presets (--preset NAME):"]
    lines += [f"  {name:18} {text}" for name, text in PRESET_DESCRIPTIONS.items()]
    return "\n".join(lines)


def _preset_help() -> str:
    return "starting values that the other flags override: " + "; ".join(
        f"{name} ({text})" for name, text in PRESET_DESCRIPTIONS.items())


PresetName = Literal[tuple(PRESETS)]


@dataclasses.dataclass(frozen=True)
class TrainArgs:
    """Train one spiking network on the IPD task and save a run directory with figures."""

    config: Annotated[Config, tyro.conf.arg(name="")]
    preset: PresetName = "quickstart"
    """starting values that the other flags override (`sslax --help` describes each)."""
    seed: int = 0
    """network seed: initial weights and the order of samples in each epoch."""
    data_seed: int = 0
    """data seed: training, validation and test sets."""
    out: Path | None = None
    """run directory to create (must not exist); default runs/<preset>-<time>."""
    resume: Path | None = None
    """continue the unfinished run in this directory (its config.json gives every setting)."""
    figures: bool = True
    """write PNG figures into RUN_DIR/figures."""
    checkpoint_every: int = 5
    """write a checkpoint every this many epochs (0: only by time and when stopped)."""
    checkpoint_minutes: float = 10.0
    """also write one when this many minutes have passed since the last (0: never by time)."""


@dataclasses.dataclass(frozen=True)
class EvaluateArgs:
    """Re-evaluate a saved run's best parameters (or every member of a saved sweep) on the
    regenerated train and test sets and check the numbers against the saved ones."""

    path: tyro.conf.Positional[Path]
    """a directory written by `sslax train` or `sslax sweep`."""


@dataclasses.dataclass(frozen=True)
class AnalyseArgs:
    """Analyse a saved run (or every member of a saved sweep): spike rasters, tuning curves,
    ablation, weights, reduced models, the output Hessian and tensor component analysis,
    written as PNG figures and analysis.json."""

    path: tyro.conf.Positional[Path]
    """a directory written by `sslax train` or `sslax sweep`."""
    split: Literal["test", "train"] = "test"
    """the data set to analyse (regenerated from the run's data seed)."""
    out: Path | None = None
    """folder for the figures and analysis.json; default PATH/analysis-SPLIT."""
    tca: bool = True
    """run tensor component analysis (needs tensorly: pip install 'sslax[analysis]')."""
    figures: bool = True
    """draw the figures (--no-figures: analysis.json alone)."""
    cpu_devices: int | None = None
    """for a sweep on CPU: split the cores into this many JAX devices, the members spread
    over them (default one per core; 1 turns it off)."""


def analyse_command(args: list[str]) -> int:
    parsed = tyro.cli(AnalyseArgs, args=args, prog="sslax analyse")
    from sslax import rundir
    from sslax.sweep import use_cpu_cores_as_devices

    sweep_dir = (parsed.path / rundir.SWEEP_FILE).is_file()
    if sweep_dir:
        use_cpu_cores_as_devices(parsed.cpu_devices)  # before JAX starts its backends
    from sslax.analysis.network_analysis import AnalysisOptions
    from sslax.analysis.report import analyse_run_dir, analyse_sweep_dir

    options = AnalysisOptions(tca=parsed.tca)
    start = time.perf_counter()
    if sweep_dir:
        out = analyse_sweep_dir(parsed.path, parsed.out, parsed.split, options,
                                parallel_figures=True, with_figures=parsed.figures)
    else:
        out = analyse_run_dir(parsed.path, parsed.out, parsed.split, options,
                              parallel_figures=True, with_figures=parsed.figures)
    print(f"sslax analyse: {parsed.path} ({parsed.split} set) in "
          f"{time.perf_counter() - start:.1f} s")
    if not parsed.figures:
        print(f"wrote {out}/analysis.json")
        return 0
    figures = sorted(p.relative_to(out) for p in out.rglob("*.png"))
    print(f"wrote {out}/analysis.json and {len(figures)} figures: "
          + ", ".join(str(f) for f in figures[:12]) + (" …" if len(figures) > 12 else ""))
    return 0


def _pop_preset(args: list[str]) -> tuple[str, list[str]]:
    """Take ``--preset NAME`` (or ``--preset=NAME``) out of ``args``; check the name."""
    name, rest = "quickstart", args
    for i, arg in enumerate(args):
        if arg == "--preset":
            if i + 1 >= len(args):
                raise ConfigError("--preset needs a name: " + ", ".join(PRESETS))
            name, rest = args[i + 1], args[:i] + args[i + 2:]
            break
        if arg.startswith("--preset="):
            name, rest = arg.split("=", 1)[1], args[:i] + args[i + 1:]
            break
    if name not in PRESETS:
        raise ConfigError(f"--preset = {name!r} is not allowed: choose one of "
                          + ", ".join(PRESETS))
    return name, rest


def _config_flags() -> set[str]:
    return {"--" + f.name.replace("_", "-") for section in ("stimulus", "network", "training")
            for f in dataclasses.fields(getattr(Config(), section))}


def _refuse_several_values(args: list[str]) -> None:
    """``sslax train --tau-hidden 2e-3 5e-3`` trains one network: point to ``sslax sweep``."""
    flags = _config_flags()
    for i, arg in enumerate(args):
        if arg not in flags:
            continue
        values = []
        for token in args[i + 1:]:
            if token.startswith("--"):
                break
            values.append(token)
        if len(values) > 1:
            raise ConfigError(
                f"{arg} got {len(values)} values ({' '.join(values)}), but `sslax train` "
                f"trains one network; to train one per value run `sslax sweep {arg} "
                f"{' '.join(values)}`")


def _check_seeds(seed: int, data_seed: int) -> None:
    from sslax.training import check_seed

    check_seed("seed", seed)
    check_seed("data_seed", data_seed)


def train_command(args: list[str]) -> int:
    _refuse_several_values(args)
    preset, rest = _pop_preset(args)
    with validation_deferred():  # a bad value is reported below, in one line
        parsed = tyro.cli(TrainArgs, args=rest, prog="sslax train",
                          default=TrainArgs(config=PRESETS[preset], preset=preset),
                          config=(tyro.conf.OmitArgPrefixes,))
    parsed.config.validate()
    from sslax import experiments

    schedule = _schedule(parsed)
    if parsed.resume is not None:
        allowed = {"--resume", "--checkpoint-every", "--checkpoint-minutes", "--figures",
                   "--no-figures"}
        given = [a.split("=")[0] for a in args if a.startswith("--")
                 and a.split("=")[0] not in allowed]
        if given:
            raise ConfigError(f"--resume takes every setting from {parsed.resume}/config.json; "
                              f"do not also give {', '.join(given)}")
        out = parsed.resume
        config, seed, data_seed = experiments.open_unfinished_run(out)
        label = f"resuming {out}"
    else:
        config, seed, data_seed = parsed.config, parsed.seed, parsed.data_seed
        out = parsed.out or Path("runs") / f"{preset}-{time.strftime('%Y%m%d-%H%M%S')}"
        experiments.create_run(out, config, seed, data_seed)  # before compiling anything
        label = f"preset {preset}"

    from sslax.interrupts import graceful_stop
    from sslax.plotting import save_figures
    from sslax.training import Interrupted

    net, tr = config.network, config.training
    print(f"sslax train: {label}, {net.n_hidden} hidden, tau_hidden "
          f"{_ms(net.tau_hidden)}, {tr.n_train} training samples, up to {tr.n_epochs} "
          f"epochs, seed {seed}, data seed {data_seed}")
    resume_hint = f"continue with `sslax train --resume {out}`"
    try:
        with _EpochBar(tr.n_epochs) as bar, graceful_stop() as stop:
            outcome = experiments.train_in_directory(
                out, config, seed, data_seed, schedule=schedule, should_stop=stop,
                on_start=bar.start, on_epoch=bar.update,
                figures=save_figures if parsed.figures else None)
    except Interrupted as stopped:
        print(f"sslax train: stopped after epoch {stopped.epoch} (checkpoint saved); "
              f"{resume_hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OutputError as error:
        print(f"sslax train: error: {error}; {_kept(schedule.last_epoch)}: free space or fix "
              f"the folder, then {resume_hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sslax train: interrupted; {_kept(schedule.last_epoch)}: {resume_hint}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    run = outcome.run
    diverged = int(run.result.diverged_epoch)
    if diverged:
        print(f"sslax train: the loss became non-finite in epoch {diverged}; training stopped "
              f"there and kept the parameters from before it", file=sys.stderr)
    print(_summary(run, outcome.seconds, Path(out)))
    return 0


def _schedule(parsed: Any) -> Any:
    from sslax import checkpoint

    if parsed.checkpoint_every < 0 or parsed.checkpoint_minutes < 0:
        raise ConfigError("--checkpoint-every and --checkpoint-minutes must be >= 0")
    return checkpoint.Schedule(parsed.checkpoint_every, parsed.checkpoint_minutes)


def _kept(epoch: int) -> str:
    if epoch:
        return f"the checkpoint of epoch {epoch} is kept"
    return "no checkpoint was written yet (resuming starts from the first epoch)"


def _ms(tau: Any) -> str:
    import numpy as np

    values = np.atleast_1d(display_value("tau_hidden", tau))
    if values.size == 1:
        return f"{values[0]:g} ms"
    return f"{values.min():g}–{values.max():g} ms (per unit)"


def evaluate_command(args: list[str]) -> int:
    parsed = tyro.cli(EvaluateArgs, args=args, prog="sslax evaluate")
    from sslax import rundir

    if (parsed.path / rundir.SWEEP_FILE).is_file():
        return _evaluate_sweep(parsed.path)
    from sslax.training import evaluate_run

    saved = rundir.load_run(parsed.path)
    train_eval, test_eval = evaluate_run(saved.config, saved.best_params, saved.data_seed)
    print(f"sslax evaluate: {saved.path} (seed {saved.seed}, data seed {saved.data_seed})")
    print(_table({"train": train_eval.summary(), "test": test_eval.summary()}))
    mismatched = [
        f"{split}.{name}: saved {saved.metrics[split][name]!r}, now {value!r}"
        for split, ev in (("train", train_eval), ("test", test_eval))
        for name, value in rundir.evaluation_summary(ev).items()
        if not _same(saved.metrics.get(split, {}).get(name), value)
    ]
    if mismatched:
        print("differs from the saved metrics:\n  " + "\n  ".join(mismatched))
        return 1
    print("identical to the saved metrics.")
    return 0


def _same(saved: Any, now: Any) -> bool:
    """Equal, counting a saved NaN (JSON null, or NaN) and a new NaN as the same."""
    def missing(x: Any) -> bool:
        return x is None or (isinstance(x, float) and x != x)

    return saved == now or (missing(saved) and missing(now))


def _evaluate_sweep(path: Path) -> int:
    import numpy as np

    from sslax import rundir
    from sslax.sweep import evaluate_sweep, use_cpu_cores_as_devices

    spec, loaded = rundir.load_sweep(path)
    sweep = rundir.sweep_from_spec(spec, path / rundir.SWEEP_FILE)
    settings = spec.get("settings", {})
    use_cpu_cores_as_devices(settings.get("n_devices"))  # the devices it trained on
    params = [rundir.saved_params(saved) for saved in loaded]
    print(f"sslax evaluate: sweep {path} ({len(loaded)} structure(s), "
          f"{len(sweep.members()) * len(loaded)} networks)")
    evaluations = evaluate_sweep(sweep, params, settings.get("chunk_size"))
    differences = 0
    for saved, (train_eval, test_eval) in zip(loaded, evaluations, strict=True):
        for split, ev in (("train", train_eval), ("test", test_eval)):
            for name in ("accuracy", "mae_a", "mae_b", "loss"):
                was = saved.dataset[f"{split}_{name}"].values
                now = np.asarray(getattr(ev, name)).reshape(was.shape)
                bad = int(np.sum((now != was) & ~(np.isnan(now) & np.isnan(was))))
                if bad:
                    print(f"  {saved.structure or 'all'}: {split}_{name} differs for {bad} "
                          f"member(s) (largest difference {np.max(np.abs(now - was)):.3g})")
                differences += bad
        print(_sweep_table(saved.dataset, saved.structure))
    if differences:
        print("differs from the saved metrics.")
        return 1
    print("every network identical to the saved metrics.")
    return 0


# ---------------------------------------------------------------------------------------------
# sweep: every config field takes one or more values
# ---------------------------------------------------------------------------------------------


def _field_help(cls: type) -> dict[str, str]:
    """Field descriptions from the "Attributes:" section of a config class docstring."""
    import re

    doc = (cls.__doc__ or "").split("Attributes:", 1)[-1]
    found: dict[str, str] = {}
    for match in re.finditer(r"^\s{8}(\w+): (.*?)(?=^\s{8}\w+: |\Z)", doc, re.M | re.S):
        found[match.group(1)] = " ".join(match.group(2).split())
    return found


def _values_class(section: Any) -> type:
    """A dataclass like ``type(section)`` whose every field holds a tuple of values."""
    import typing

    cls = type(section)
    hints = typing.get_type_hints(cls)
    helps = _field_help(cls)
    fields = []
    for f in dataclasses.fields(cls):
        help_text = (helps.get(f.name, "") + " Several values: swept"
                     + (" (one compile each)." if f.metadata.get("static") else
                        " (batched, one compile)."))
        annotated = Annotated[tuple[hints[f.name], ...], tyro.conf.arg(help=help_text)]
        fields.append((f.name, annotated,
                       dataclasses.field(default=(getattr(section, f.name),))))
    return dataclasses.make_dataclass(f"{cls.__name__}Values", fields, frozen=True)


def _sweep_args_class(base: Config) -> type:
    sections = [(name, _values_class(getattr(base, name)))
                for name in ("stimulus", "network", "training")]
    fields: list[Any] = [
        (name, Annotated[cls, tyro.conf.arg(name="")], dataclasses.field(default_factory=cls))
        for name, cls in sections]

    def option(name: str, kind: Any, default: Any, help_text: str) -> None:
        fields.append((name, Annotated[kind, tyro.conf.arg(help=help_text)],
                       dataclasses.field(default=default)))

    option("preset", PresetName, "quickstart", _preset_help())
    option("seeds", int, 10, "number of network seeds (0 … N−1).")
    option("data_seed", int, 0, "seed of the data sets.")
    option("shared_data", bool, True, "all members share the data sets of data_seed; "
           "--no-shared-data gives seed s the data seed data_seed + s.")
    option("chunk_size", int | None, None, "members per compiled call (default: chosen from "
           "memory).")
    option("cpu_devices", int | None, None, "on CPU, split the cores into this many JAX "
           "devices and shard the members over them (default: one per core; 1 turns it off).")
    option("out", Path | None, None, "sweep directory to create; default "
           "runs/sweep-<preset>-<time>.")
    option("resume", Path | None, None, "continue the unfinished sweep in this directory "
           "(its sweep.json gives every setting).")
    option("figures", bool, True, "write PNG figures.")
    option("checkpoint_every", int, 5, "checkpoint the running chunk every this many epochs "
           "(0: only by time and when stopped).")
    option("checkpoint_minutes", float, 10.0, "also when this many minutes have passed since "
           "the last (0: never by time).")
    option("coordinator", str | None, None, "multi-process run: HOST:PORT of process 0 "
           "(jax.distributed).")
    option("num_processes", int, 1, "multi-process run: number of processes.")
    option("process_id", int, 0, "multi-process run: this process's index (0 writes the "
           "results).")
    cls = dataclasses.make_dataclass("SweepArgs", fields, frozen=True)
    cls.__doc__ = ("Train an ensemble: every seed × every combination of the fields given "
                   "several values, in one compile per network structure.")
    return cls


def _sweep_from_args(parsed: Any, base: Config) -> Any:
    from sslax.sweep import Sweep

    fixed: dict[str, Any] = {}
    grid: dict[str, tuple[Any, ...]] = {}
    for name in ("stimulus", "network", "training"):
        values = getattr(parsed, name)
        for f in dataclasses.fields(values):
            chosen = getattr(values, f.name)
            if len(chosen) == 1:
                fixed[f.name] = chosen[0]
            else:
                grid[f.name] = chosen
    if parsed.seeds < 1:
        raise ConfigError(f"seeds = {parsed.seeds} is not allowed: must be >= 1")
    return Sweep(base.replace_fields(**fixed), seeds=tuple(range(parsed.seeds)), grid=grid,
                 data_seed=parsed.data_seed, shared_data=parsed.shared_data)


def sweep_command(args: list[str]) -> int:
    preset, rest = _pop_preset(args)
    base = PRESETS[preset]
    parsed = tyro.cli(_sweep_args_class(base), args=rest, prog="sslax sweep",
                      config=(tyro.conf.OmitArgPrefixes,))
    from sslax import experiments
    from sslax.sweep import use_cpu_cores_as_devices

    schedule = _schedule(parsed)
    lead = parsed.process_id == 0
    if parsed.resume is not None:
        out = parsed.resume
        sweep, settings = experiments.open_unfinished_sweep(out)
        use_cpu_cores_as_devices(settings.get("n_devices"))  # as it ran, before JAX starts
        label = f"resuming {out}"
    else:
        sweep = _sweep_from_args(parsed, base)
        out = parsed.out or Path("runs") / f"sweep-{preset}-{time.strftime('%Y%m%d-%H%M%S')}"
        if lead:
            from sslax.rundir import check_new_run_dir

            check_new_run_dir(out)
        use_cpu_cores_as_devices(parsed.cpu_devices)  # before JAX starts its backends
        label = f"preset {preset}"
    import jax

    if parsed.coordinator is not None:
        jax.distributed.initialize(coordinator_address=parsed.coordinator,
                                   num_processes=parsed.num_processes,
                                   process_id=parsed.process_id)
    if parsed.resume is None:
        settings = (experiments.create_sweep(out, sweep, parsed.chunk_size) if lead
                    else experiments.sweep_settings(sweep, parsed.chunk_size))

    from sslax.interrupts import graceful_stop
    from sslax.plotting import save_sweep_figures
    from sslax.training import Interrupted

    n_networks = len(sweep.members()) * len(sweep.structures())
    swept = ", ".join(f"{k} ({len(v)})" for k, v in sweep.grid.items()) or "nothing"
    if lead:
        print(f"sslax sweep: {label}, {len(sweep.seeds)} seeds × {swept} = {n_networks} "
              f"networks, {len(sweep.structures())} structure(s) on {len(jax.devices())} "
              f"device(s)")
    resume_hint = f"continue with `sslax sweep --resume {out}`"
    try:
        with _EpochBar(n_networks * sweep.config.training.n_epochs, unit="network-epoch",
                       desc="network-epochs (compile first)", disable=not lead) as bar, \
                graceful_stop("stopping after this epoch of the running chunk (Ctrl-C again "
                              "to stop now)") as stop:
            outcome = experiments.sweep_in_directory(
                out, sweep, settings, schedule=schedule, should_stop=stop,
                on_progress=bar.advance,
                figures=save_sweep_figures if parsed.figures else None)
    except Interrupted as stopped:
        if lead:
            print(f"sslax sweep: stopped after epoch {stopped.epoch} of the running chunk "
                  f"(checkpoint saved; finished chunks are kept); {resume_hint}",
                  file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        if lead:
            print(f"sslax sweep: interrupted; finished chunks and the last checkpoint are "
                  f"kept: {resume_hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OutputError as error:
        if lead:
            print(f"sslax sweep: error: {error}; saved progress is intact: free space or fix "
                  f"the folder, then {resume_hint}", file=sys.stderr)
        return 1
    if not lead:
        return 0
    for res in outcome.results:
        print(_sweep_table(res.to_xarray(), res.structure))
        diverged = int((res.result.diverged_epoch > 0).sum())
        if diverged:
            print(f"{diverged} network(s) stopped because their loss became non-finite "
                  f"(see diverged_epoch in metrics.csv)")
        print(f"compile {res.compile_s:.1f} s, training {res.train_s:.1f} s for "
              f"{res.n_members} networks")
    print(f"{n_networks} networks in {outcome.seconds:.1f} s; saved to {out}/ "
          f"(sweep.json, metrics.csv, history.csv, dataset-*.json, params-*.npz"
          + (", figures/)" if parsed.figures else ")"))
    return 0


def _sweep_table(dataset: Any, structure: dict[str, Any]) -> str:
    """Mean ± std over seeds of the final metrics, one row per grid point (swept values in
    their display units)."""
    from sslax.plotting import combinations

    fields = [d for d in dataset["test_accuracy"].dims if d != "seed"]
    head = "".join(f"{display_label(f):>18}" for f in fields)
    lines = [f"{head}{'train acc %':>16}{'test acc %':>16}{'test MAE-A °':>16}"
             f"{'test MAE-B °':>16}"]
    for combo in combinations(dataset, fields):
        cell = dataset.sel(combo)
        row = "".join(f"{_display(f, v):>18}" for f, v in combo.items())
        for name, scale in (("train_accuracy", 100), ("test_accuracy", 100),
                            ("test_mae_a", 1), ("test_mae_b", 1)):
            values = scale * cell[name].values
            row += f"{values.mean():>10.1f} ± {values.std():<4.1f}"
        lines.append(row)
    if structure:
        lines.insert(0, "structure: " + ", ".join(f"{display_label(k)} = {_display(k, v)}"
                                                  for k, v in structure.items()))
    return "\n".join(lines)


def _display(field: str, value: Any) -> str:
    shown = display_value(field, value)
    return f"{shown:.4g}" if isinstance(shown, float) else str(shown)


class _EpochBar:
    """A tqdm bar advanced after every epoch."""

    def __init__(self, total: int, unit: str = "epoch",
                 desc: str = "epochs (first includes compile)", disable: bool = False) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True,
                        disable=disable)

    def advance(self, n: int = 1) -> None:
        self.bar.update(n)

    def __enter__(self) -> _EpochBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.close()

    def start(self, epoch: int) -> None:
        """Training continues after ``epoch`` (a resumed run)."""
        if epoch:
            self.bar.update(epoch)
            self.bar.write(f"continuing after epoch {epoch}")

    def update(self, epoch: int, metrics: Any) -> None:
        postfix = {"loss": f"{float(metrics.train_loss):.3f}",
                   "acc": f"{100 * float(metrics.train_accuracy):.1f}%"}
        if metrics.valid_loss == metrics.valid_loss:  # not NaN
            postfix["val_loss"] = f"{float(metrics.valid_loss):.3f}"
            postfix["val_acc"] = f"{100 * float(metrics.valid_accuracy):.1f}%"
        self.bar.set_postfix(postfix)
        self.bar.update(epoch - self.bar.n)


def _table(rows: dict[str, dict[str, float]]) -> str:
    lines = [f"{'':8}{'accuracy':>10}{'MAE-A':>9}{'MAE-B':>9}{'loss':>8}{'rate':>10}"]
    for name, m in rows.items():
        rate = m["mean_firing_rate_hz"]
        rate_cell = f"{rate:7.1f} Hz" if rate == rate else f"{'—':>10}"  # NaN: no hidden units
        lines.append(f"{name:8}{100 * m['accuracy']:9.1f}%{m['mae_a_deg']:8.2f}°"
                     f"{m['mae_b_deg']:8.2f}°{m['loss']:8.3f}{rate_cell}")
    return "\n".join(lines)


def _summary(run: Any, seconds: float, path: Path) -> str:
    r = run.result
    return "\n".join([
        f"trained {int(r.n_epochs_run)} epochs in {seconds:.1f} s (compile included); "
        f"best epoch {int(r.best_epoch)}",
        _table({"train": run.train_eval.summary(), "test": run.test_eval.summary()}),
        "MAE-A: |true IPD - predicted class midpoint|; MAE-B: |true - predicted class "
        "midpoints|; rate: mean hidden firing rate.",
        f"saved to {path}/ (config.json, params_*.msgpack, metrics.json, history.csv"
        + (", figures/)" if (path / "figures").exists() else ")"),
    ])


def _print_warning(message: Any, category: Any, filename: str, lineno: int,
                   file: Any = None, line: Any = None) -> None:
    from sslax.compile_cache import forget_unreadable

    program = forget_unreadable(str(message))
    if program is not None:
        message = (f"the compilation cache entry of {program} could not be read; compiled "
                   f"again (the entry was removed and will be rewritten)")
    print(f"sslax: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``sslax`` command: ``argv`` defaults to the process's arguments (and then the
    process is ours: JAX's compile cache is set up, and a closed output pipe ends it quietly)."""
    try:
        return _dispatch(argv)
    except BrokenPipeError:
        if argv is not None:
            raise
        # the reader of our output has gone (`sslax train --help | head`): stop as Unix tools
        # do, without a traceback, and without another failed write when Python flushes stdout
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _dispatch(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {"train": train_command, "evaluate": evaluate_command, "sweep": sweep_command,
                "analyse": analyse_command}
    if args and args[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if not args:
        print(_usage(), file=sys.stderr)
        return 2
    if args[0] not in commands:
        close = difflib.get_close_matches(args[0], commands, n=1)
        hint = f"; did you mean `sslax {close[0]}`?" if close else ""
        print(f"sslax: unknown command {args[0]!r}{hint} (commands: "
              f"{', '.join(commands)}; `sslax --help` for more)", file=sys.stderr)
        return 2
    from sslax import rundir

    errors = (ConfigError, FileExistsError, FileNotFoundError, FileFormatError, OutputError,
              rundir.IncompleteRunError, rundir.CompleteRunError)
    with warnings.catch_warnings():
        warnings.simplefilter("always", ConfigWarning)  # shown as one line, never raised
        warnings.simplefilter("always", LeftoverWarning)
        warnings.showwarning = _print_warning
        if argv is None:  # a process of its own: JAX's configuration is ours to set
            from sslax.compile_cache import enable_unless_turned_off

            enable_unless_turned_off()
        try:
            return commands[args[0]](args[1:])
        except errors as error:
            print(f"sslax {args[0]}: error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"sslax {args[0]}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            if argv is None:  # the process ends now: a late Ctrl-C must not interrupt that
                signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main())
