"""The ``sslax`` command line: a thin shell over the library (parse, build config, call, save).

    sslax train [--preset NAME] [--FIELD VALUE ...] [--seed N] [--data-seed N] [--out DIR]
    sslax evaluate RUN_DIR
    sslax sweep [--preset NAME] [--FIELD V1 V2 ...] [--seeds N] [--out DIR]

Every config field is a flag, derived from the config dataclasses by tyro (``sslax train
--help`` lists them with units). ``--preset`` picks the starting values that the flags then
override.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import tyro

from sslax.config import Config, ConfigError
from sslax.presets import PRESETS

USAGE = """usage: sslax {train,evaluate,sweep} ...

  sslax train [--preset NAME] [--FIELD VALUE ...]   train one network and save a run directory
  sslax evaluate RUN_DIR                            re-evaluate a saved run
  sslax sweep [--preset NAME] [--FIELD V1 V2 ...]   train an ensemble over seeds and a grid

`sslax train --help` lists every config field. Presets: """ + ", ".join(PRESETS)


@dataclasses.dataclass(frozen=True)
class TrainArgs:
    """Train one spiking network on the IPD task and save a run directory with figures."""

    config: Annotated[Config, tyro.conf.arg(name="")]
    seed: int = 0
    """network seed: initial weights and the order of samples in each epoch."""
    data_seed: int = 0
    """data seed: training, validation and test sets."""
    out: Path | None = None
    """run directory to create (must not exist); default runs/<preset>-<time>."""
    figures: bool = True
    """write PNG figures into RUN_DIR/figures."""


@dataclasses.dataclass(frozen=True)
class EvaluateArgs:
    """Re-evaluate a saved run's best parameters on its regenerated train and test sets."""

    run_dir: tyro.conf.Positional[Path]
    """a directory written by `sslax train`."""


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


def train_command(args: list[str]) -> int:
    preset, args = _pop_preset(args)
    parsed = tyro.cli(TrainArgs, args=args, prog="sslax train",
                      default=TrainArgs(config=PRESETS[preset]),
                      config=(tyro.conf.OmitArgPrefixes,))
    config = parsed.config.validate()

    from sslax.plotting import save_figures
    from sslax.rundir import check_new_run_dir, save_run
    from sslax.training import check_seed, fit

    check_seed("seed", parsed.seed)
    check_seed("data_seed", parsed.data_seed)
    out = parsed.out or Path("runs") / f"{preset}-{time.strftime('%Y%m%d-%H%M%S')}"
    check_new_run_dir(out)  # before compiling anything

    print(f"sslax train: preset {preset}, {config.network.n_hidden} hidden, "
          f"tau_hidden {1e3 * config.network.tau_hidden:g} ms, "
          f"{config.training.n_train} training samples, up to {config.training.n_epochs} "
          f"epochs, seed {parsed.seed}, data seed {parsed.data_seed}")
    start = time.perf_counter()
    with _EpochBar(config.training.n_epochs) as bar:
        run = fit(config, parsed.seed, parsed.data_seed, on_epoch=bar.update)
    seconds = time.perf_counter() - start
    path = save_run(run, out, extra={"wall_time_s": round(seconds, 2)},
                    figures=save_figures if parsed.figures else None)
    print(_summary(run, seconds, path))
    return 0


def evaluate_command(args: list[str]) -> int:
    parsed = tyro.cli(EvaluateArgs, args=args, prog="sslax evaluate")
    from sslax.rundir import evaluation_summary, load_run
    from sslax.training import evaluate_run

    saved = load_run(parsed.run_dir)
    train_eval, test_eval = evaluate_run(saved.config, saved.best_params, saved.data_seed)
    print(f"sslax evaluate: {saved.path} (seed {saved.seed}, data seed {saved.data_seed})")
    print(_table({"train": train_eval.summary(), "test": test_eval.summary()}))
    mismatched = [
        f"{split}.{name}: saved {saved.metrics[split][name]!r}, now {value!r}"
        for split, ev in (("train", train_eval), ("test", test_eval))
        for name, value in evaluation_summary(ev).items()
        if saved.metrics.get(split, {}).get(name) != value
    ]
    if mismatched:
        print("differs from the saved metrics:\n  " + "\n  ".join(mismatched))
        return 1
    print("identical to the saved metrics.")
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
    fields += [
        ("seeds", Annotated[int, tyro.conf.arg(help="number of network seeds (0 … N−1).")],
         dataclasses.field(default=10)),
        ("data_seed", Annotated[int, tyro.conf.arg(help="seed of the data sets.")],
         dataclasses.field(default=0)),
        ("shared_data", Annotated[bool, tyro.conf.arg(
            help="all members share the data sets of data_seed; --no-shared-data gives "
                 "seed s the data seed data_seed + s.")], dataclasses.field(default=True)),
        ("chunk_size", Annotated[int | None, tyro.conf.arg(
            help="members per compiled call (default: chosen from memory).")],
         dataclasses.field(default=None)),
        ("cpu_devices", Annotated[int | None, tyro.conf.arg(
            help="on CPU, split the cores into this many JAX devices and shard the members "
                 "over them (default: one per core; 1 turns it off).")],
         dataclasses.field(default=None)),
        ("out", Annotated[Path | None, tyro.conf.arg(
            help="sweep directory to create; default runs/sweep-<preset>-<time>.")],
         dataclasses.field(default=None)),
        ("figures", Annotated[bool, tyro.conf.arg(help="write PNG figures.")],
         dataclasses.field(default=True)),
        ("coordinator", Annotated[str | None, tyro.conf.arg(
            help="multi-process run: HOST:PORT of process 0 (jax.distributed).")],
         dataclasses.field(default=None)),
        ("num_processes", Annotated[int, tyro.conf.arg(
            help="multi-process run: number of processes.")], dataclasses.field(default=1)),
        ("process_id", Annotated[int, tyro.conf.arg(
            help="multi-process run: this process's index (0 writes the results).")],
         dataclasses.field(default=0)),
    ]
    cls = dataclasses.make_dataclass("SweepArgs", fields, frozen=True)
    cls.__doc__ = ("Train an ensemble: every seed × every combination of the fields given "
                   "several values, in one compile per network structure.")
    return cls


def sweep_command(args: list[str]) -> int:
    preset, args = _pop_preset(args)
    base = PRESETS[preset]
    parsed = tyro.cli(_sweep_args_class(base), args=args, prog="sslax sweep",
                      config=(tyro.conf.OmitArgPrefixes,))

    from sslax.sweep import use_cpu_cores_as_devices

    use_cpu_cores_as_devices(parsed.cpu_devices)  # before JAX starts its backends
    if parsed.coordinator is not None:
        import jax

        jax.distributed.initialize(coordinator_address=parsed.coordinator,
                                   num_processes=parsed.num_processes,
                                   process_id=parsed.process_id)
    lead = parsed.process_id == 0

    from sslax.plotting import save_sweep_figures
    from sslax.rundir import check_new_run_dir, save_sweep
    from sslax.sweep import Sweep, run_sweep

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
    sweep = Sweep(base.replace_fields(**fixed), seeds=tuple(range(parsed.seeds)), grid=grid,
                  data_seed=parsed.data_seed, shared_data=parsed.shared_data)
    out = parsed.out or Path("runs") / f"sweep-{preset}-{time.strftime('%Y%m%d-%H%M%S')}"
    if lead:
        check_new_run_dir(out)

    n_members = len(sweep.members())
    n_structures = len(sweep.structures())
    swept = ", ".join(f"{k} ({len(v)})" for k, v in grid.items()) or "nothing"
    if lead:
        print(f"sslax sweep: preset {preset}, {parsed.seeds} seeds × {swept} = "
              f"{n_members * n_structures} networks, {n_structures} structure(s)")
    start = time.perf_counter()
    epochs = sweep.config.training.n_epochs
    with _EpochBar(n_members * n_structures * epochs, unit="network-epoch",
                   desc="network-epochs (compile first)", disable=not lead) as bar:
        results = run_sweep(sweep, chunk_size=parsed.chunk_size,
                            on_epoch=lambda epoch, metrics: bar.advance())
    seconds = time.perf_counter() - start
    if not lead:
        return 0
    path = save_sweep(results, out, figures=save_sweep_figures if parsed.figures else None,
                      extra={"wall_time_s": round(seconds, 2)})
    for res in results:
        print(_sweep_table(res.to_xarray(), res.structure))
        print(f"compile {res.compile_s:.1f} s, training {res.train_s:.1f} s for "
              f"{res.n_members} networks")
    print(f"{n_members * n_structures} networks in {seconds:.1f} s; saved to {path}/ "
          f"(sweep.json, metrics.csv, history.csv, dataset-*.json, params-*.npz"
          + (", figures/)" if parsed.figures else ")"))
    return 0


def _sweep_table(dataset: Any, structure: dict[str, Any]) -> str:
    """Mean ± std over seeds of the final metrics, one row per grid point."""
    from sslax.plotting import _combinations

    fields = [d for d in dataset["test_accuracy"].dims if d != "seed"]
    head = "".join(f"{f:>16}" for f in fields)
    lines = [f"{head}{'train acc %':>16}{'test acc %':>16}{'test MAE-A':>14}{'test MAE-B':>14}"]
    for combo in _combinations(dataset, fields):
        cell = dataset.sel(combo)
        row = "".join(f"{v:>16.4g}" for v in combo.values())
        for name, scale, width in (("train_accuracy", 100, 16), ("test_accuracy", 100, 16),
                                   ("test_mae_a", 1, 14), ("test_mae_b", 1, 14)):
            values = scale * cell[name].values
            row += f"{values.mean():>{width - 6}.1f} ± {values.std():<4.1f}"
        lines.append(row)
    if structure:
        lines.insert(0, "structure: " + ", ".join(f"{k} = {v}" for k, v in structure.items()))
    return "\n".join(lines)


class _EpochBar:
    """A tqdm bar advanced by the compiled program's per-epoch report."""

    def __init__(self, total: int, unit: str = "epoch",
                 desc: str = "epochs (first includes compile)", disable: bool = False) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True,
                        disable=disable)

    def advance(self) -> None:
        self.bar.update(1)

    def __enter__(self) -> _EpochBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.close()

    def update(self, epoch: int, metrics: Any) -> None:
        if metrics is None:  # skipped after early stopping
            self.bar.set_description("epochs (stopped early)")
        else:
            postfix = {"loss": f"{float(metrics.train_loss):.3f}",
                       "acc": f"{100 * float(metrics.train_accuracy):.1f}%"}
            if metrics.valid_loss == metrics.valid_loss:  # not NaN
                postfix["val_loss"] = f"{float(metrics.valid_loss):.3f}"
                postfix["val_acc"] = f"{100 * float(metrics.valid_accuracy):.1f}%"
            self.bar.set_postfix(postfix)
        self.bar.update(1)


def _table(rows: dict[str, dict[str, float]]) -> str:
    lines = [f"{'':8}{'accuracy':>10}{'MAE-A':>9}{'MAE-B':>9}{'loss':>8}{'rate':>10}"]
    for name, m in rows.items():
        lines.append(f"{name:8}{100 * m['accuracy']:9.1f}%{m['mae_a_deg']:8.2f}°"
                     f"{m['mae_b_deg']:8.2f}°{m['loss']:8.3f}"
                     f"{m['mean_firing_rate_hz']:7.1f} Hz")
    return "\n".join(lines)


def _summary(run: Any, seconds: float, path: Path) -> str:
    r = run.result
    return "\n".join([
        f"trained {int(r.n_epochs_run)} epochs in {seconds:.1f} s (compile included); "
        f"best epoch {int(r.best_epoch) + 1}",
        _table({"train": run.train_eval.summary(), "test": run.test_eval.summary()}),
        "MAE-A: |true IPD - predicted class midpoint|; MAE-B: |true - predicted class "
        "midpoints|; rate: mean hidden firing rate.",
        f"saved to {path}/ (config.json, params_*.msgpack, metrics.json, history.csv"
        + (", figures/)" if (path / "figures").exists() else ")"),
    ])


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {"train": train_command, "evaluate": evaluate_command, "sweep": sweep_command}
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if not args or args[0] not in commands:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        return commands[args[0]](args[1:])
    except (ConfigError, FileExistsError, FileNotFoundError) as error:
        print(f"sslax {args[0]}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
