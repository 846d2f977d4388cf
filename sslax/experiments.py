"""Training into a directory that survives interruption: the workflow behind ``sslax train``,
``sslax sweep`` and the reproduction scripts.

- :func:`train_in_directory` trains one network into a run directory, checkpointing on a
  schedule; a directory that exists and is unfinished is resumed.
- :func:`sweep_in_directory` does the same for a sweep (finished chunks are kept, the
  running chunk is checkpointed).

Both stop at an epoch boundary when ``should_stop()`` says so (the command line passes a
Ctrl-C handler, :func:`sslax.interrupts.graceful_stop`), save a checkpoint and raise
:class:`sslax.training.Interrupted`; resuming ends bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax

from sslax import checkpoint, rundir
from sslax.config import Config, ConfigError
from sslax.fileio import OutputError, remove_stale_temporaries
from sslax.sweep import Sweep, SweepResult, chunk_layout, run_sweep
from sslax.training import EpochMetrics, Interrupted, Run, Trainer, epoch_metrics


class TrainingOutcome(NamedTuple):
    """A finished single run: the run, its directory and the wall time of this call."""

    run: Run
    path: Path
    seconds: float


def create_run(path: str | Path, config: Config, seed: int, data_seed: int) -> Path:
    """A new run directory (checked and created before anything is compiled)."""
    from sslax.training import check_seed

    config.validate()
    check_seed("seed", seed)
    check_seed("data_seed", data_seed)
    rundir.warn_removed(remove_stale_temporaries(Path(path).parent))
    return rundir.create_run_dir(path, config, seed, data_seed)


def open_unfinished_run(path: str | Path) -> tuple[Config, int, int]:
    """The config and seeds of an unfinished run directory, after removing what killed
    writers left in it."""
    config, seed, data_seed = rundir.read_run_config(path)
    if rundir.is_complete_run(path):
        raise rundir.CompleteRunError(f"{str(path)!r} is a complete run; nothing to resume "
                                      f"(`sslax evaluate {path}` checks it)")
    rundir.warn_removed(rundir.clean_directory(Path(path)))
    return config, seed, data_seed


def train_in_directory(
    path: str | Path,
    config: Config,
    seed: int,
    data_seed: int,
    *,
    schedule: checkpoint.Schedule | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_epoch: Callable[[int, EpochMetrics], None] | None = None,
    figures: Callable[[Run, Path], Any] | None = None,
) -> TrainingOutcome:
    """Train (or continue) the run in the existing directory ``path``.

    Its ``checkpoint.state``, if present, is where training continues; a checkpoint is
    written on ``schedule`` and whenever training stops, then the results are written and
    the checkpoint removed. ``on_start(epoch)`` is told the epoch training continues after,
    ``on_epoch(epoch, metrics)`` each epoch's metrics. Raises
    :class:`~sslax.training.Interrupted` when ``should_stop`` ends training early, and
    :class:`~sslax.fileio.OutputError` when a checkpoint cannot be written (the previous one
    is intact either way).
    """
    path = Path(path)
    start = time.perf_counter()
    trainer = Trainer(config, seed, data_seed)
    state_file = path / rundir.CHECKPOINT_FILE
    if state_file.is_file():
        state, meta = checkpoint.load(state_file, trainer.state_template())
        first = int(meta["epoch"])
    else:
        state, first = trainer.initial_state(), 0
    if on_start is not None:
        on_start(first)
    schedule = schedule or checkpoint.Schedule()
    schedule.written(first)

    def save(state: Any, epoch: int) -> None:
        checkpoint.save(state_file, state, {"epoch": epoch})
        schedule.written(epoch)

    def after_epoch(state: Any) -> None:
        epoch, metrics = epoch_metrics(state)
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        if schedule.due(epoch):
            save(state, epoch)

    state, interrupted = trainer.run(state, on_epoch=after_epoch, should_stop=should_stop)
    epoch = epoch_metrics(state)[0]
    if epoch != schedule.last_epoch:
        save(state, epoch)
    if interrupted:
        raise Interrupted(epoch, str(state_file))
    run = trainer.finish(state)
    seconds = time.perf_counter() - start
    rundir.write_run_results(path, run, extra={"wall_time_s": round(seconds, 2)},
                             figures=figures)
    state_file.unlink(missing_ok=True)
    return TrainingOutcome(run, path, seconds)


# ---------------------------------------------------------------------------------------------
# sweeps
# ---------------------------------------------------------------------------------------------


class SweepOutcome(NamedTuple):
    """A finished sweep: its results per structure, its directory, the wall time."""

    results: list[SweepResult]
    path: Path
    seconds: float


def sweep_settings(sweep: Sweep, chunk_size: int | None = None) -> dict[str, Any]:
    """How ``sweep`` is laid out on this process's devices: the chunk size (checked; when
    ``None``, the first structure's automatic size, used for every structure) and the device
    count. Every process of a multi-process sweep computes the same."""
    n_devices = len(jax.devices())
    first = sweep.config_for_structure(sweep.structures()[0])
    return {"chunk_size": chunk_layout(sweep, first, chunk_size, n_devices)[0],
            "n_devices": n_devices}


def create_sweep(path: str | Path, sweep: Sweep,
                 chunk_size: int | None = None) -> dict[str, Any]:
    """Create a new sweep directory with its :func:`sweep_settings` recorded in it (checked
    and created before anything is compiled) and return the settings. Call on process 0
    only."""
    settings = sweep_settings(sweep, chunk_size)
    rundir.check_new_run_dir(path)
    rundir.warn_removed(remove_stale_temporaries(Path(path).parent))
    rundir.create_sweep_dir(path, sweep, settings)
    return settings


def open_unfinished_sweep(path: str | Path) -> tuple[Sweep, dict[str, Any]]:
    """The sweep and settings (chunk size, device count) of an unfinished sweep directory.

    Read it before JAX starts, so that the same number of CPU devices can be set up
    (:func:`sslax.sweep.use_cpu_cores_as_devices`).
    """
    path = Path(path)
    spec = rundir.read_sweep_spec(path)
    if spec.get("complete"):
        raise rundir.CompleteRunError(f"{str(path)!r} is a complete sweep; nothing to resume")
    return rundir.sweep_from_spec(spec, path / rundir.SWEEP_FILE), spec.get("settings", {})


def sweep_in_directory(
    path: str | Path,
    sweep: Sweep,
    settings: dict[str, Any],
    *,
    schedule: checkpoint.Schedule | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[int], None] | None = None,
    figures: Callable[[Any, Path, str], Any] | None = None,
) -> SweepOutcome:
    """Run (or continue) the sweep of the existing directory ``path``.

    Finished chunks found in it are not rerun; the running chunk continues from its
    checkpoint. When every chunk is done, process 0 writes the results and removes the
    progress files. ``settings`` come from :func:`create_sweep` or
    :func:`open_unfinished_sweep`; the devices must match them.
    """
    path = Path(path)
    n_devices = len(jax.devices())
    if settings.get("n_devices") not in (None, n_devices):
        raise ConfigError(f"{path} ran on {settings['n_devices']} devices and must continue on "
                          f"as many (this process has {n_devices})")
    lead = jax.process_index() == 0
    if lead:
        rundir.warn_removed(rundir.clean_directory(path))
    start = time.perf_counter()
    results = run_sweep(sweep, chunk_size=settings.get("chunk_size"), on_progress=on_progress,
                        progress=path / rundir.PROGRESS_DIR, schedule=schedule,
                        should_stop=should_stop)
    seconds = time.perf_counter() - start
    if lead:
        rundir.write_sweep_results(path, results, spec=rundir.read_sweep_spec(path),
                                   figures=figures, extra={"wall_time_s": round(seconds, 2)})
        shutil.rmtree(path / rundir.PROGRESS_DIR, ignore_errors=True)
    return SweepOutcome(results, path, seconds)


def run_script_sweep(sweep: Sweep, path: str | Path, chunk_size: int | None = None,
                     figures: bool = True) -> SweepOutcome | None:
    """What a reproduction script calls: run ``sweep`` into ``path`` with a progress bar and
    Ctrl-C handling; continue ``path`` if a previous call was interrupted, and do nothing
    (return ``None``) if it holds this sweep complete already. Call
    :func:`sslax.sweep.use_cpu_cores_as_devices` first to shard over the CPU's cores."""
    from tqdm.auto import tqdm

    from sslax.interrupts import graceful_stop
    from sslax.plotting import save_sweep_figures

    path = Path(path)
    if path.exists():
        spec = rundir.read_sweep_spec(path)
        if not rundir.describes(spec, sweep):
            raise ConfigError(f"{path} holds another sweep; choose another --out")
        if spec.get("complete"):
            return None
        settings = spec.get("settings", {})
    else:
        settings = create_sweep(path, sweep, chunk_size)
    total = len(sweep.members()) * len(sweep.structures()) * sweep.config.training.n_epochs
    with tqdm(total=total, unit="network-epoch", dynamic_ncols=True) as bar:
        try:
            with graceful_stop() as stop:
                return sweep_in_directory(path, sweep, settings, should_stop=stop,
                                          on_progress=bar.update,
                                          figures=save_sweep_figures if figures else None)
        except (Interrupted, KeyboardInterrupt, OutputError) as error:
            raise SystemExit(f"{type(error).__name__}: {error}; run the same command again "
                             f"to continue {path}") from None
