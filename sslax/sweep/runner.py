"""Where and how a sweep runs: devices, chunks, compiled programs, processes, checkpoints.

- Grids larger than fit in memory at once run in chunks of equal size (one compile per
  program); the chunk size is chosen from an estimate of the memory per member unless
  given.
- With several devices (GPUs, TPU cores, or CPU devices, see
  :func:`use_cpu_cores_as_devices`) the member axis is sharded over a 1-D
  :class:`jax.sharding.Mesh`; in a multi-process run (``jax.distributed.initialize``) the
  mesh spans every process's devices and every process receives the whole result.
- A chunk runs as three compiled programs, initialisation, one epoch and the final
  evaluation, driven from the host one epoch at a time (:func:`sslax.training.drive_epochs`).
  Given a ``progress`` folder, the state of the running chunk is checkpointed on a schedule
  and each finished chunk's results are saved, so an interrupted sweep resumes where it
  stopped and ends bit-identical to an uninterrupted one; finished chunks are never rerun.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from sslax import checkpoint
from sslax.config import Config, ConfigError, section_of
from sslax.emitters import jit_classic
from sslax.fileio import make_directory
from sslax.network import Params
from sslax.sweep.batching import group_size, pad_members, stack_members, vmap_groups
from sslax.sweep.spec import Sweep, SweepResult, structure_tag
from sslax.threefry import key_from_seed
from sslax.training import (
    GROUP_SHARED,
    Interrupted,
    TrainResult,
    TrainState,
    datasets_from_seed,
    drive_epochs,
    epochs_done,
    evaluate_splits,
    finish,
    init_state,
    make_datasets,
    train_epoch,
)

MEMBER_AXIS = "members"


def use_cpu_cores_as_devices(n_devices: int | None = None) -> int:
    """Expose the CPU as ``n_devices`` JAX devices (default: one per core) so that a sweep's
    member axis is sharded over the cores. Call before JAX creates its backends; returns the
    device count requested, or 0 when it is too late, when ``XLA_FLAGS`` already sets a host
    device count, or when ``n_devices`` is 1.

    XLA runs the elementwise work of one program (the LIF time loop) on one thread, so an
    ensemble split over per-core devices uses every core; a single network is better off
    with one device, whose matrix products use all cores.
    """
    n = len(os.sched_getaffinity(0)) if n_devices is None else n_devices
    if n < 1:
        raise ConfigError(f"cpu_devices = {n_devices} is not allowed: must be >= 1")
    if n == 1 or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return 0
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:  # the backends exist already
        return 0
    return n


def bytes_per_member(config: Config, own_data: bool = False) -> int:
    """Rough peak memory of one member while training [bytes]: activations of one batch
    (forward and backward, a dozen [time, batch, hidden] arrays plus the float32 input),
    evaluation chunks, parameters with Adam moments and the per-member sample orders; with
    ``own_data`` (a member with data sets of its own: its own data seed or stimulus values)
    also its stored spikes (:func:`dataset_bytes`)."""
    stim, net, tr = config.stimulus, config.network, config.training
    t, b, h = stim.n_steps, tr.batch_size, net.n_hidden
    activations = 4 * t * b * (stim.n_inputs + 12 * h)
    evaluation = 4 * t * max(b, 256) * (stim.n_inputs + 4 * h)
    params = 4 * 4 * (stim.n_inputs * h + h * stim.n_classes)
    data = dataset_bytes(config) if own_data else 0
    return activations + evaluation + params + 8 * tr.n_train + data


def dataset_bytes(config: Config) -> int:
    """Memory of the stored spikes of a run's data sets [bytes]: one byte per spike slot
    (an eighth when bit-packed) of the validation and test sets, and of the training set
    unless it is regenerated every epoch (``per_epoch`` φ0 keeps only its noise keys)."""
    stim, tr = config.stimulus, config.training
    n_samples = tr.n_valid + tr.n_test
    if stim.phase_offset != "per_epoch":
        n_samples += tr.n_train
    slots = n_samples * stim.n_steps * stim.n_inputs
    return slots // 8 if tr.spike_storage == "bits" else slots


def auto_chunk_size(config: Config, n_members: int, n_devices: int,
                    memory_bytes: int | None = None, own_data: bool = False) -> int:
    """Members per compiled call: as many as fit in a quarter of the memory, a multiple of
    the device count, at most the (padded) number of members. ``memory_bytes``: the memory
    all devices share (default: the machine's RAM, which the CPU devices share);
    ``own_data``: see :func:`bytes_per_member`."""
    if memory_bytes is None:
        memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    fit = max(1, int(0.25 * memory_bytes) // bytes_per_member(config, own_data))
    size = min(fit, n_members)
    return max(n_devices, size // n_devices * n_devices)


# ---------------------------------------------------------------------------------------------
# compiled programs
# ---------------------------------------------------------------------------------------------

def _init_member(key: Any, data: Any, config: Config) -> TrainState:
    return init_state(key, config)


def _epoch_member(state: TrainState, data: Any, config: Config) -> TrainState:
    return train_epoch(state, data, config)


def _finish_member(state: TrainState, data: Any, config: Config) -> TrainResult:
    return finish(state, data, config)


def _evaluate_member(params: Params, data: Any, config: Config) -> Any:
    return evaluate_splits(params, data, config)


# piece → (function of one member, whose first argument is: per member?, fields of it that
# a group's members share)
_PIECES = {"init": (_init_member, False, ()), "epoch": (_epoch_member, True, GROUP_SHARED),
           "finish": (_finish_member, True, ()), "evaluate": (_evaluate_member, True, ())}

# Compiled ensemble programs, keyed by everything that fixes the program: which piece, the
# config's structure and which leaves are batched, and the shapes, dtypes and shardings of
# the arguments. Values never enter the key, so a new grid of the same shape reuses them.
_COMPILED: dict[Any, Any] = {}


def compiled_piece(piece: str, axes: Config, data_axis: int | None,
                   args: tuple[Any, ...], sharding: NamedSharding) -> tuple[Any, bool]:
    """The compiled ensemble program of ``piece`` for these arguments, with every output
    sharded by ``sharding`` over the member axis; ``(program, newly_compiled)``."""
    leaves, treedef = jax.tree.flatten(args)
    key = (piece, jax.tree.structure(axes),
           tuple(jax.tree.leaves(axes, is_leaf=lambda x: x is None)), data_axis, treedef,
           tuple((np.shape(x), type(x).__name__, str(jax.numpy.result_type(x)),
                  getattr(x, "sharding", None)) for x in leaves))
    if key in _COMPILED:
        return _COMPILED[key], False
    fn, per_member_first, group_shared = _PIECES[piece]
    program = jax.jit(vmap_groups(fn, axes, data_axis, per_member_first, group_shared),
                      out_shardings=sharding, donate_argnums=(0,) if piece == "epoch" else ())
    _COMPILED[key] = program.lower(*args).compile()
    return _COMPILED[key], True


def compile_count() -> int:
    """Number of distinct ensemble programs compiled in this process."""
    return len(_COMPILED)


# ---------------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------------


def run_sweep(sweep: Sweep, chunk_size: int | None = None,
              devices: Sequence[Any] | None = None,
              on_progress: Callable[[int], None] | None = None,
              on_chunk: Callable[[int, int], None] | None = None,
              progress: str | os.PathLike[str] | None = None,
              schedule: checkpoint.Schedule | None = None,
              should_stop: Callable[[], bool] | None = None) -> list[SweepResult]:
    """Train every member of ``sweep``; one :class:`SweepResult` per structure.

    Args:
        sweep: what to train.
        chunk_size: members per compiled call (a multiple of the device count); default:
            :func:`auto_chunk_size`. Every chunk has the same size (the last is padded), so
            one compile serves them all.
        devices: devices for the member axis; default all of ``jax.devices()`` (every
            process's, in a multi-process run).
        on_progress: called with the number of network-epochs just completed (after every
            epoch of every chunk, and for work found done in ``progress``).
        on_chunk: called with (chunks done, chunks in all) after each chunk.
        progress: a folder for checkpoints of the running chunk and the results of finished
            ones; a sweep started again with the same folder (and the same chunk size and
            devices) continues where it stopped. Only process 0 writes.
        schedule: when to checkpoint the running chunk (default: every 5 epochs or 10
            minutes; the last state is always saved when the run is asked to stop).
        should_stop: asked after every epoch; when it returns True the running chunk's state
            is saved and :class:`sslax.training.Interrupted` is raised.
    """
    devices = list(jax.devices() if devices is None else devices)
    mesh = Mesh(np.asarray(devices), (MEMBER_AXIS,))
    runner = _Runner(sweep, chunk_size, mesh, on_progress or (lambda n: None), on_chunk,
                     None if progress is None else Path(progress), schedule, should_stop)
    return [runner.run_structure(index, structure)
            for index, structure in enumerate(sweep.structures())]


def evaluate_sweep(sweep: Sweep, best_params: Sequence[Params], chunk_size: int | None = None,
                   devices: Sequence[Any] | None = None) -> list[tuple[Any, Any]]:
    """Re-evaluate stacked parameters ([members, ...] per structure, in member order) of a
    sweep on their regenerated training and test sets: one (train, test)
    :class:`~sslax.metrics.Evaluation` pair of [members] host arrays per structure. With the
    chunk size and devices the sweep trained with, the numbers equal the saved ones bit for
    bit."""
    devices = list(jax.devices() if devices is None else devices)
    runner = _Runner(sweep, chunk_size, Mesh(np.asarray(devices), (MEMBER_AXIS,)))
    return [runner.evaluate_structure(structure, params)
            for structure, params in zip(sweep.structures(), best_params, strict=True)]


def chunk_layout(sweep: Sweep, config: Config, chunk_size: int | None,
                 n_devices: int) -> tuple[int, int, int]:
    """(chunk size, chunks, group size) of one structure of ``sweep`` on ``n_devices``."""
    n_members = len(sweep.members())
    stimulus_swept = any(section_of(f) == "stimulus" for f in sweep.numeric_fields)
    own_data = stimulus_swept or not sweep.shared_data
    size = chunk_size or auto_chunk_size(config, n_members, n_devices, own_data=own_data)
    if size % n_devices:
        raise ConfigError(f"chunk_size = {size} is not allowed: must be a multiple of the "
                          f"{n_devices} devices")
    group = 1 if stimulus_swept else group_size(math.prod(sweep.shape[1:]), size, n_devices)
    return size, math.ceil(n_members / size), group


class _Layout(NamedTuple):
    """How one structure's members are laid out in chunks and groups."""

    config: Config             # the structure's config
    members: list[dict[str, Any]]
    size: int                  # members per chunk
    n_chunks: int
    group: int                 # members per group
    stacked: Config            # swept leaves [groups of all chunks, group]
    axes: Config               # 0 at swept leaves
    seeds: np.ndarray          # network seed of each group
    data_seeds: np.ndarray     # data seed of each group
    data_axis: int | None      # 0: each group has its own data; None: shared data


class _Chunk(NamedTuple):
    """The device arguments of one chunk."""

    index: int
    n_real: int                # members that are not padding
    part: slice                # this chunk's groups
    keys: Any                  # network keys [groups]
    cfg: Config                # swept leaves [groups, group], sharded


class _Runner:
    """Runs (or re-evaluates) the structures of one sweep (see :func:`run_sweep`)."""

    def __init__(self, sweep: Sweep, chunk_size: int | None, mesh: Mesh,
                 on_progress: Callable[[int], None] = lambda n: None,
                 on_chunk: Callable[[int, int], None] | None = None,
                 progress: Path | None = None, schedule: checkpoint.Schedule | None = None,
                 should_stop: Callable[[], bool] | None = None) -> None:
        self.sweep, self.chunk_size, self.mesh = sweep, chunk_size, mesh
        self.on_progress, self.on_chunk = on_progress, on_chunk
        self.progress, self.should_stop = progress, should_stop
        self.schedule = schedule or checkpoint.Schedule()
        self.sharded = NamedSharding(mesh, PartitionSpec(MEMBER_AXIS))
        self.replicated = NamedSharding(mesh, PartitionSpec())
        self.lead = jax.process_index() == 0

    def layout(self, structure: dict[str, Any]) -> _Layout:
        sweep = self.sweep
        config = sweep.config_for_structure(structure)
        members = sweep.members()
        size, n_chunks, group = chunk_layout(sweep, config, self.chunk_size, self.mesh.size)
        padded = members + [members[-1]] * (n_chunks * size - len(members))
        stacked, axes = stack_members(config, padded, sweep.numeric_fields)
        stacked = jax.tree.map(lambda leaf, ax: leaf if ax is None else leaf.reshape(-1, group),
                               stacked, axes, is_leaf=lambda x: x is None)
        seeds = np.asarray([m["seed"] for m in padded[::group]], dtype=np.uint32)
        data_seeds = np.asarray([sweep.data_seed_of(int(s)) for s in seeds], dtype=np.uint32)
        # Data that no swept value changes is generated once, replicated; otherwise each
        # group gets its own (its data seed and stimulus values).
        per_group_data = (not sweep.shared_data
                          or any(section_of(f) == "stimulus" for f in sweep.numeric_fields))
        return _Layout(config, members, size, n_chunks, group, stacked, axes, seeds,
                       data_seeds, 0 if per_group_data else None)

    def chunks(self, layout: _Layout) -> Iterator[_Chunk]:
        for i in range(layout.n_chunks):
            part = slice(i * layout.size // layout.group, (i + 1) * layout.size // layout.group)
            cfg = jax.tree.map(
                lambda leaf, ax, part=part: leaf if ax is None else _global_array(
                    jnp.asarray(leaf[part]), self.sharded),
                layout.stacked, layout.axes, is_leaf=lambda x: x is None)
            keys = _global_array(jax.vmap(jax.random.key)(layout.seeds[part]), self.sharded)
            yield _Chunk(i, min(layout.size, len(layout.members) - i * layout.size), part, keys,
                         cfg)

    def data(self, layout: _Layout, chunk: _Chunk, shared: Any) -> Any:
        if layout.data_axis is None:
            return shared
        return self._group_data(layout.data_seeds[chunk.part], chunk.cfg, layout.axes)

    def shared_data(self, layout: _Layout) -> Any:
        return self._shared_data(layout.config) if layout.data_axis is None else None

    def gather(self, layout: _Layout, chunks: list[Any]) -> Any:
        """Per-chunk host results [groups, group, ...] → one tree [members, ...]."""
        n = len(layout.members)
        def members(*xs: np.ndarray) -> np.ndarray:
            joined = np.concatenate(xs)  # explicit shape: a leaf may have no elements
            return joined.reshape(joined.shape[0] * joined.shape[1], *joined.shape[2:])[:n]

        return jax.tree.map(members, *chunks)

    def run_structure(self, index: int, structure: dict[str, Any]) -> SweepResult:
        """All members of one network structure: padded to whole chunks."""
        layout = self.layout(structure)
        shared = self.shared_data(layout)
        folder = None if self.progress is None else self.progress / structure_tag(index, structure)
        if folder is not None and self.lead:
            make_directory(folder)
        timing = {"compile": 0.0, "run": 0.0}
        results = []
        for chunk in self.chunks(layout):
            done = None if folder is None else folder / f"chunk-{chunk.index:04d}.result"
            if done is not None and done.is_file():
                template = self._result_template(layout, chunk, shared)
                result, _ = checkpoint.load(done, template)
                self.on_progress(chunk.n_real * layout.config.training.n_epochs)
            else:
                data = self.data(layout, chunk, shared)
                result = self._run_chunk(chunk, layout, data, folder, timing)
                if done is not None and self.lead:
                    checkpoint.save(done, result, {"chunk": chunk.index})
                    (folder / f"chunk-{chunk.index:04d}.state").unlink(missing_ok=True)
            results.append(result)
            if self.on_chunk:
                self.on_chunk(chunk.index + 1, layout.n_chunks)
        stacked_real, _ = stack_members(layout.config, layout.members, self.sweep.numeric_fields)
        return SweepResult(self.sweep, structure, stacked_real, layout.members,
                           self.gather(layout, results), timing["compile"], timing["run"])

    def evaluate_structure(self, structure: dict[str, Any], best_params: Params) -> Any:
        """Train and test metrics of given parameters of every member of one structure
        ([members, ...] host arrays), computed as training computed them."""
        layout = self.layout(structure)
        shared = self.shared_data(layout)
        n_total = layout.n_chunks * layout.size
        padded = jax.tree.map(lambda x: x.reshape(-1, layout.group, *x.shape[1:]),
                              pad_members(best_params, n_total))
        results = []
        for chunk in self.chunks(layout):
            params = jax.tree.map(lambda x, part=chunk.part: _global_array(x[part], self.sharded),
                                  padded)
            data = self.data(layout, chunk, shared)
            program, _ = compiled_piece("evaluate", layout.axes, layout.data_axis,
                                        (params, data, chunk.cfg), self.sharded)
            results.append(_to_host(program(params, data, chunk.cfg)))
        return self.gather(layout, results)

    # -- data --------------------------------------------------------------------------------

    def _shared_data(self, config: Config) -> Any:
        if jax.process_count() == 1:  # generated once on one device (all its threads), copied
            data = datasets_from_seed(self.sweep.data_seed, config)
            return jax.device_put(data, self.replicated)
        key = _global_array(key_from_seed(self.sweep.data_seed), self.replicated)
        return jit_classic(make_datasets, out_shardings=self.replicated)(key, config)

    def _group_data(self, data_seeds: np.ndarray, cfg: Config, axes: Config) -> Any:
        """Each group's data sets [groups, ...]: from its data seed and its first member's
        config (a group's members differ only in fields that do not change the data; with a
        swept stimulus field, groups have one member)."""
        keys = _global_array(jax.vmap(jax.random.key)(data_seeds), self.sharded)
        first = jax.tree.map(lambda leaf, ax: leaf if ax is None else leaf[:, 0], cfg, axes,
                             is_leaf=lambda x: x is None)
        generate = jax.vmap(make_datasets, in_axes=(0, axes))
        return jit_classic(generate, out_shardings=self.sharded)(keys, first)

    # -- one chunk ---------------------------------------------------------------------------

    def _run_chunk(self, chunk: _Chunk, layout: _Layout, data: Any, folder: Path | None,
                   timing: dict[str, float]) -> Any:
        axes, data_axis, keys, cfg, n_real = (layout.axes, layout.data_axis, chunk.keys,
                                              chunk.cfg, chunk.n_real)
        start = time.perf_counter()
        init, new_init = compiled_piece("init", axes, data_axis, (keys, data, cfg), self.sharded)
        template = init.out_info
        state_args = (template, data, cfg)
        epoch_step, new_epoch = compiled_piece("epoch", axes, data_axis, state_args,
                                               self.sharded)
        finish_program, new_finish = compiled_piece("finish", axes, data_axis, state_args,
                                                    self.sharded)
        if new_init or new_epoch or new_finish:
            timing["compile"] += time.perf_counter() - start
        start = time.perf_counter()
        n_epochs = cfg.training.n_epochs
        state_file = None if folder is None else folder / f"chunk-{chunk.index:04d}.state"
        if state_file is not None and state_file.is_file():
            host_state, meta = checkpoint.load(state_file, template)
            state = jax.tree.map(lambda x: _global_array(x, self.sharded), host_state)
            self.on_progress(n_real * int(meta["epoch"]))
        else:
            state = init(keys, data, cfg)
        self.schedule.written(epochs_done(state))

        def after_epoch(state: TrainState) -> None:
            self.on_progress(n_real)
            epoch = epochs_done(state)
            if state_file is not None and self._agree(self.schedule.due(epoch)):
                self._save_state(state_file, state, epoch)

        def stop() -> bool:
            return self.should_stop is not None and self._agree(self.should_stop())

        state, interrupted = drive_epochs(state, lambda s: epoch_step(s, data, cfg), n_epochs,
                                          on_epoch=after_epoch, should_stop=stop)
        epoch = epochs_done(state)
        if interrupted:
            if state_file is not None:
                self._save_state(state_file, state, epoch)
            raise Interrupted(epoch, None if state_file is None else str(state_file))
        self.on_progress(n_real * (n_epochs - epoch))  # epochs skipped after every stop
        result = _to_host(finish_program(state, data, cfg))
        timing["run"] += time.perf_counter() - start
        return result

    def _save_state(self, path: Path, state: TrainState, epoch: int) -> None:
        host = _to_host(state)  # every process takes part in the gather
        if self.lead:
            checkpoint.save(path, host, {"epoch": epoch})
        self.schedule.written(epoch)

    def _agree(self, flag: bool) -> bool:
        """``flag`` of any process (so that every process takes the same branch)."""
        if jax.process_count() == 1:
            return bool(flag)
        return bool(np.max(multihost_utils.process_allgather(np.int32(flag))))

    def _result_template(self, layout: _Layout, chunk: _Chunk, shared: Any) -> Any:
        """Shapes and dtypes of a finished chunk's results (to check a saved one against)."""
        data = shared if shared is not None else jax.eval_shape(
            lambda: self.data(layout, chunk, None))
        state = jax.eval_shape(vmap_groups(_init_member, layout.axes, layout.data_axis),
                               chunk.keys, data, chunk.cfg)
        return jax.eval_shape(vmap_groups(_finish_member, layout.axes, layout.data_axis, True),
                              state, data, chunk.cfg)




def _global_array(value: Any, sharding: NamedSharding) -> jax.Array:
    """Place a host value (the same on every process) as a global array with ``sharding``."""
    if jax.process_count() == 1:
        return jax.device_put(value, sharding)
    host = np.asarray(value) if not jnp.issubdtype(value.dtype, jax.dtypes.prng_key) else None
    if host is None:  # typed keys: rebuild from their raw data
        raw = np.asarray(jax.random.key_data(value))
        impl = jax.random.key_impl(value)
        data = jax.make_array_from_callback(raw.shape, _raw_sharding(sharding, raw.ndim -
                                                                       value.ndim),
                                            lambda index: raw[index])
        return jax.random.wrap_key_data(data, impl=impl)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def _raw_sharding(sharding: NamedSharding, extra_dims: int) -> NamedSharding:
    spec = tuple(sharding.spec) + (None,) * extra_dims
    return NamedSharding(sharding.mesh, PartitionSpec(*spec))


def _to_host(tree: Any) -> Any:
    """Every leaf as a NumPy array on this host (gathered from all processes if needed)."""
    if jax.process_count() > 1:
        tree = multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree.map(np.asarray, tree)
