"""Ensembles and sweeps: many networks trained in one compiled program.

A :class:`Sweep` is a base config, a list of network seeds and a grid of values for config
fields. Every combination of (seed, grid values) is one *member*. Numeric (leaf) fields are
batched: all members of one network structure train in a single ``jit(vmap(train))`` call,
compiled once however many values there are. Structural (static) fields given several values
run as an outer loop, one compile per structure.

- A member's seed sets its initialisation and the order of its samples (and, in ``fresh``
  data mode, its samples). The data sets come from ``data_seed`` and are shared by all
  members (generated once per device, not copied per member) unless ``shared_data=False``,
  when member ``seed`` uses data seed ``data_seed + seed``. Either way member k equals a
  single :func:`sslax.fit` with the same seed, data seed and values.
- Members with the same seed share their initialisation, data order and data, so they run
  in *groups*: consecutive grid points of one seed, an inner ``vmap`` over the values inside
  the outer one over groups. Work that no swept value changes is then done once per group:
  each batch's input spikes are gathered once, and the input layer of all the group's
  members is one matrix product with them (members next to units, [time, batch, members,
  units]), which the LIF loops consume as one wider layer
  (:func:`sslax.neurons.members_as_units`) instead of transposing members to the front.
  On the 2-core CPU this halves the τ sweep's time (80 networks: 117 s, against 215 s as a
  flat ensemble). Values are unchanged. A swept stimulus field gives every member its own
  input, so such sweeps run in groups of one.
- Grids larger than fit in memory at once run in chunks of equal size (one compile); the
  chunk size is chosen from an estimate of the memory per member unless given.
- With several devices (GPUs, TPU cores, or ``--xla_force_host_platform_device_count`` CPU
  devices) the member axis is sharded over a 1-D :class:`jax.sharding.Mesh`; in a
  multi-process run (``jax.distributed.initialize``) the mesh spans every process's devices
  and every process receives the whole result.
- Results come back as an ``xarray.Dataset`` with named axes (``seed`` and each swept field,
  plus ``epoch`` for curves) and the stacked parameters, from which any member can be pulled
  out as a :class:`sslax.training.Run`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from sslax.config import Config, ConfigError, section_of
from sslax.neurons import members_as_units
from sslax.training import (
    EpochMetrics,
    Run,
    TrainResult,
    check_seed,
    make_datasets,
    progress_reporter,
    train_on_data,
    train_with_data_key,
)

MEMBER_AXIS = "members"


def is_static_field(name: str) -> bool:
    """True if config field ``name`` is structural (its values need separate compiles)."""
    section = section_of(name)
    cls = type(getattr(Config(), section))
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    return bool(field.metadata.get("static", False))


@dataclasses.dataclass(frozen=True)
class Sweep:
    """What to train: a base config, seeds and a grid of field values.

    Attributes:
        config: the base config; fields not in ``grid`` keep its values.
        seeds: network seeds (initialisation and data order), one member per seed and grid
            point.
        grid: field name → values. Numeric fields are batched in one compile; structural
            fields (sizes, options) run as an outer loop, one compile each. Grid axes are
            ordered as given.
        data_seed: seed of the data sets.
        shared_data: all members share the data sets of ``data_seed`` (default); ``False``
            gives member ``seed`` the data seed ``data_seed + seed``.
    """

    config: Config
    seeds: tuple[int, ...] = (0,)
    grid: dict[str, tuple[Any, ...]] = dataclasses.field(default_factory=dict)
    data_seed: int = 0
    shared_data: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "grid", {k: tuple(v) for k, v in self.grid.items()})
        if not self.seeds:
            raise ConfigError("seeds = () is not allowed: give at least one seed")
        for seed in self.seeds:
            check_seed("seed", seed)
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds = {self.seeds!r} is not allowed: seeds must be distinct")
        check_seed("data_seed", self.data_seed)
        if not self.shared_data:
            check_seed("data_seed + seed", self.data_seed + max(self.seeds))
        self.config.validate()
        for name, values in self.grid.items():
            section_of(name)  # raises for an unknown field
            if not values:
                raise ConfigError(f"{name} = () is not allowed: give at least one value")
            if len(set(map(repr, values))) != len(values):
                raise ConfigError(f"{name} = {values!r} is not allowed: values must be distinct")
            for value in values:  # each value validated as the config would validate it
                self.config.replace_fields(**{name: value})
        for structure in self.structures():  # combinations must be valid together too
            self.config_for_structure(structure)

    @property
    def numeric_fields(self) -> tuple[str, ...]:
        """Swept fields that are batched (traced leaves)."""
        return tuple(n for n in self.grid if not is_static_field(n))

    @property
    def structural_fields(self) -> tuple[str, ...]:
        """Swept fields that need one compile per value."""
        return tuple(n for n in self.grid if is_static_field(n))

    def structures(self) -> list[dict[str, Any]]:
        """Every combination of structural values (one compile each)."""
        names = self.structural_fields
        return [dict(zip(names, combo, strict=True))
                for combo in itertools.product(*(self.grid[n] for n in names))]

    def config_for_structure(self, structure: dict[str, Any]) -> Config:
        return self.config.replace_fields(**structure)

    def members(self) -> list[dict[str, Any]]:
        """One dict per member of a structure: ``seed`` and each numeric field's value,
        seeds outermost, then grid axes in order (C order of the result arrays)."""
        names = self.numeric_fields
        return [dict(zip(("seed", *names), combo, strict=True)) for combo in
                itertools.product(self.seeds, *(self.grid[n] for n in names))]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the member grid of one structure: (seeds, *numeric field values)."""
        return (len(self.seeds), *(len(self.grid[n]) for n in self.numeric_fields))

    def data_seed_of(self, seed: int) -> int:
        return self.data_seed if self.shared_data else self.data_seed + seed


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


# ---------------------------------------------------------------------------------------------
# batched configs
# ---------------------------------------------------------------------------------------------


def _field_name(path: tuple[Any, ...]) -> str:
    return path[-1].name


def stack_members(config: Config, members: Sequence[dict[str, Any]],
                  fields: Sequence[str]) -> tuple[Config, Config]:
    """The config with each swept leaf replaced by a [members] array, and its vmap axes.

    Returns ``(stacked, axes)``: ``axes`` has the config's structure with 0 at swept leaves
    and ``None`` elsewhere, for ``jax.vmap(in_axes=...)``.
    """
    values = {f: np.asarray([m[f] for m in members], dtype=np.float32) for f in fields}
    stacked = config.replace_fields(**values) if values else config
    axes = jax.tree_util.tree_map_with_path(
        lambda path, _: 0 if _field_name(path) in fields else None, stacked)
    return stacked, axes


# ---------------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------------


def vmap_groups(run: Callable[..., Any], axes: Config,
                data_axis: int | None = None) -> Callable[..., Any]:
    """``vmap`` over groups of ``vmap`` over each group's grid points.

    ``run(key, data, config)`` trains one member. The result takes network keys [groups],
    the data (batched over groups when ``data_axis`` is 0) and the config with swept leaves
    [groups, group size] (``axes``: 0 at swept leaves). A group's members share its key and
    data, so the inner ``vmap`` leaves what depends only on them unbatched, and runs its LIF
    loops with the members merged into units (:func:`sslax.neurons.members_as_units`).
    Without swept leaves every group has one member.
    """
    if any(ax is not None for ax in jax.tree.leaves(axes, is_leaf=lambda x: x is None)):

        def run_as_units(*args: Any) -> Any:
            with members_as_units():  # one projection per batch: merge members into units
                return run(*args)

        per_group = jax.vmap(run_as_units, in_axes=(None, None, axes))
    else:  # seeds only: groups of one member

        def per_group(*args: Any) -> Any:
            return jax.tree.map(lambda x: x[None], run(*args))

    return jax.vmap(per_group, in_axes=(0, data_axis, axes))


def _ensemble(axes: Config, data_mode: str) -> Callable[..., TrainResult]:
    """The jitted :func:`vmap_groups` of the run. ``data_mode``: ``"given"`` (shared data
    sets passed in, generated once outside), ``"shared_key"`` (one data key, data generated
    inside) or ``"member_keys"`` (a data key per group)."""
    run = train_on_data if data_mode == "given" else train_with_data_key
    return jax.jit(vmap_groups(run, axes, 0 if data_mode == "member_keys" else None))


def group_size(n_values: int, chunk_size: int, n_devices: int) -> int:
    """Members per group: the largest divisor of the number of grid points (per seed) that
    also divides ``chunk_size / n_devices``, so that every chunk holds whole groups and every
    device the same number of them. Any such choice pads the same members (chunks are
    ``chunk_size`` members either way), so the largest shares the most work."""
    per_device = chunk_size // n_devices
    return max(g for g in range(1, n_values + 1) if n_values % g == 0 and per_device % g == 0)


# Compiled ensemble programs, keyed by everything that fixes the program: the config's
# structure and which leaves are batched, and the shapes, dtypes and shardings of the
# arguments. Values never enter the key, so a new grid of the same shape reuses the program.
_COMPILED: dict[Any, Any] = {}


def compiled_ensemble(axes: Config, data_mode: str, args: tuple[Any, ...]) -> tuple[Any, bool]:
    """The compiled ensemble program for these arguments; ``(program, newly_compiled)``."""
    leaves, treedef = jax.tree.flatten(args)
    key = (jax.tree.structure(axes),
           tuple(jax.tree.leaves(axes, is_leaf=lambda x: x is None)), data_mode, treedef,
           tuple((np.shape(x), type(x).__name__, str(jax.numpy.result_type(x)),
                  getattr(x, "sharding", None)) for x in leaves))
    if key in _COMPILED:
        return _COMPILED[key], False
    _COMPILED[key] = _ensemble(axes, data_mode).lower(*args).compile()
    return _COMPILED[key], True


def compile_count() -> int:
    """Number of distinct ensemble programs compiled in this process."""
    return len(_COMPILED)


def bytes_per_member(config: Config) -> int:
    """Rough peak memory of one member while training [bytes]: activations of one batch
    (forward and backward, a dozen [time, batch, hidden] arrays plus the float32 input),
    evaluation chunks, parameters with Adam moments and the per-member sample orders."""
    stim, net, tr = config.stimulus, config.network, config.training
    t, b, h = stim.n_steps, tr.batch_size, net.n_hidden
    activations = 4 * t * b * (stim.n_inputs + 12 * h)
    evaluation = 4 * t * max(b, 256) * (stim.n_inputs + 4 * h)
    params = 4 * 4 * (stim.n_inputs * h + h * stim.n_classes)
    return activations + evaluation + params + 8 * tr.n_train


def auto_chunk_size(config: Config, n_members: int, n_devices: int,
                    memory_bytes: int | None = None) -> int:
    """Members per compiled call: as many as fit in a quarter of the memory, a multiple of
    the device count, at most the (padded) number of members."""
    if memory_bytes is None:
        memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    fit = max(1, int(0.25 * memory_bytes * n_devices) // bytes_per_member(config))
    size = min(fit, n_members)
    return max(n_devices, size // n_devices * n_devices)


@dataclasses.dataclass
class SweepResult:
    """Results of a sweep for one network structure.

    Attributes:
        sweep: the sweep.
        structure: values of the structural fields of this result.
        config: the config with swept numeric fields stacked ([members] arrays).
        members: one dict per member (``seed`` and swept values), in member order.
        result: the stacked :class:`TrainResult` (leading axis: members), as NumPy arrays.
        compile_s: compile time of the ensemble program [s] (0 when it was reused).
        train_s: time spent training after compiling [s].
    """

    sweep: Sweep
    structure: dict[str, Any]
    config: Config
    members: list[dict[str, Any]]
    result: TrainResult
    compile_s: float
    train_s: float

    @property
    def n_members(self) -> int:
        return len(self.members)

    def index(self, **where: Any) -> int:
        """Member index with these seed / field values (all of them must be given)."""
        matches = [i for i, m in enumerate(self.members)
                   if all(np.isclose(m[k], v) if k != "seed" else m[k] == v
                          for k, v in where.items())]
        if len(matches) != 1:
            raise KeyError(f"{where} matches {len(matches)} members; give seed and every "
                           f"swept field ({', '.join(self.members[0])})")
        return matches[0]

    def member(self, index: int) -> Run:
        """Member ``index`` as a single :class:`Run` (save, load and analyse it as one)."""
        member = self.members[index]
        values = {f: member[f] for f in self.sweep.numeric_fields}
        config = self.sweep.config_for_structure(self.structure).replace_fields(**values)
        seed = int(member["seed"])
        result = jax.tree.map(lambda x: x[index], self.result)
        return Run(config, seed, self.sweep.data_seed_of(seed), result)

    def to_xarray(self) -> Any:
        """Metrics with named axes: ``seed``, each swept numeric field, and ``epoch``."""
        import xarray as xr

        shape = self.sweep.shape
        dims = ("seed", *self.sweep.numeric_fields)
        coords = {"seed": list(self.sweep.seeds),
                  **{n: list(self.sweep.grid[n]) for n in self.sweep.numeric_fields}}
        r = self.result
        data: dict[str, Any] = {}
        for split, ev in (("train", r.train_eval), ("test", r.test_eval)):
            for name in ("accuracy", "mae_a", "mae_b", "loss"):
                data[f"{split}_{name}"] = (dims, np.asarray(getattr(ev, name)).reshape(shape))
            rate = np.asarray(ev.firing_rate).mean(axis=-1)
            data[f"{split}_firing_rate"] = (dims, rate.reshape(shape))
        data["best_epoch"] = (dims, np.asarray(r.best_epoch).reshape(shape))
        data["n_epochs_run"] = (dims, np.asarray(r.n_epochs_run).reshape(shape))
        for name in EpochMetrics._fields:
            values = np.asarray(getattr(r.history, name))
            data[f"history_{name}"] = ((*dims, "epoch"), values.reshape(*shape, -1))
        coords["epoch"] = list(range(np.asarray(r.history.train_loss).shape[-1]))
        attrs = {"structure": repr(self.structure), "data_seed": self.sweep.data_seed,
                 "n_classes": self.config.stimulus.n_classes,
                 "shared_data": int(self.sweep.shared_data),
                 "compile_s": self.compile_s, "train_s": self.train_s}
        return xr.Dataset(data, coords=coords, attrs=attrs)


def run_sweep(sweep: Sweep, chunk_size: int | None = None,
              devices: Sequence[Any] | None = None,
              on_epoch: Callable[[int, EpochMetrics | None], None] | None = None,
              on_chunk: Callable[[int, int], None] | None = None) -> list[SweepResult]:
    """Train every member of ``sweep``; one :class:`SweepResult` per structure.

    Args:
        sweep: what to train.
        chunk_size: members per compiled call (a multiple of the device count); default:
            :func:`auto_chunk_size`. Every chunk has the same size (the last is padded), so
            one compile serves them all.
        devices: devices for the member axis; default all of ``jax.devices()`` (every
            process's, in a multi-process run).
        on_epoch: progress callback per member and epoch (see
            :func:`sslax.training.progress_reporter`).
        on_chunk: called with (chunks done, chunks in all) after each chunk.
    """
    devices = list(jax.devices() if devices is None else devices)
    mesh = Mesh(np.asarray(devices), (MEMBER_AXIS,))
    return [_run_structure(sweep, structure, chunk_size, mesh, on_epoch, on_chunk)
            for structure in sweep.structures()]


def _run_structure(sweep: Sweep, structure: dict[str, Any], chunk_size: int | None,
                   mesh: Mesh, on_epoch: Callable[[int, EpochMetrics | None], None] | None,
                   on_chunk: Callable[[int, int], None] | None) -> SweepResult:
    """All members of one network structure: padded to whole chunks, one program."""
    import time

    n_dev = mesh.size
    config = sweep.config_for_structure(structure)
    members = sweep.members()
    size = chunk_size or auto_chunk_size(config, len(members), n_dev)
    if size % n_dev:
        raise ConfigError(f"chunk_size = {size} is not allowed: must be a multiple of the "
                          f"{n_dev} devices")
    n_chunks = math.ceil(len(members) / size)
    # A swept stimulus field gives each member its own input spikes: nothing to share.
    stimulus_swept = any(section_of(f) == "stimulus" for f in sweep.numeric_fields)
    group = 1 if stimulus_swept else group_size(math.prod(sweep.shape[1:]), size, n_dev)
    padded = members + [members[-1]] * (n_chunks * size - len(members))
    stacked, axes = stack_members(config, padded, sweep.numeric_fields)
    stacked = jax.tree.map(lambda leaf, ax: leaf if ax is None else leaf.reshape(-1, group),
                           stacked, axes, is_leaf=lambda x: x is None)
    seeds = np.asarray([m["seed"] for m in padded[::group]], dtype=np.uint32)
    data_seeds = np.asarray([sweep.data_seed_of(int(seed)) for seed in seeds], dtype=np.uint32)
    sharded = NamedSharding(mesh, PartitionSpec(MEMBER_AXIS))
    replicated = NamedSharding(mesh, PartitionSpec())
    # Shared data sets that no swept value changes are generated once, not once per chunk.
    if not sweep.shared_data:
        data_mode = "member_keys"
    elif stimulus_swept or jax.process_count() > 1:
        data_mode = "shared_key"
    else:
        data_mode = "given"
        datasets = jax.device_put(
            jax.jit(make_datasets)(jax.random.key(sweep.data_seed), config), replicated)

    def chunk_args(i: int) -> tuple[Any, Any, Config]:
        part = slice(i * size // group, (i + 1) * size // group)  # this chunk's groups
        key = _global_array(jax.vmap(jax.random.key)(seeds[part]), sharded)
        if data_mode == "given":
            data_key = datasets
        elif data_mode == "shared_key":
            data_key = _global_array(jax.random.key(sweep.data_seed), replicated)
        else:
            data_key = _global_array(jax.vmap(jax.random.key)(data_seeds[part]), sharded)
        cfg = jax.tree.map(
            lambda leaf, ax: leaf if ax is None else _global_array(jnp.asarray(leaf[part]),
                                                                   sharded),
            stacked, axes, is_leaf=lambda x: x is None)
        return key, data_key, cfg

    start = time.perf_counter()
    compiled, fresh = compiled_ensemble(axes, data_mode, chunk_args(0))
    compile_s = time.perf_counter() - start if fresh else 0.0
    start = time.perf_counter()
    chunks = []
    with progress_reporter(on_epoch) if on_epoch else contextlib.nullcontext():
        for i in range(n_chunks):
            chunks.append(_to_host(compiled(*chunk_args(i))))  # a sync between chunks only
            if on_chunk:
                on_chunk(i + 1, n_chunks)
    train_s = time.perf_counter() - start
    n = len(members)
    result = jax.tree.map(lambda *xs: np.concatenate(xs).reshape(-1, *xs[0].shape[2:])[:n],
                          *chunks)
    stacked_real, _ = stack_members(config, members, sweep.numeric_fields)
    return SweepResult(sweep, structure, stacked_real, members, result, compile_s, train_s)


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
