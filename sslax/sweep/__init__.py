"""Ensembles and sweeps: many networks trained in one compiled program.

A :class:`Sweep` is a base config, a list of network seeds and a grid of values for config
fields. Every combination of (seed, grid values) is one *member*. Numeric (leaf) fields are
batched: all members of one network structure train in the same compiled programs,
compiled once however many values there are. Structural (static) fields given several values
run as an outer loop, one compile per structure.

- A member's seed sets its initialisation and the order of its samples (and, in ``fresh``
  data mode, its samples). The data sets come from ``data_seed`` and are shared by all
  members (generated once, not copied per member) unless ``shared_data=False``, when member
  ``seed`` uses data seed ``data_seed + seed``. Either way member k equals a single
  :func:`sslax.fit` with the same seed, data seed and values.
- :mod:`~sslax.sweep.spec`: what to run and what came back (:class:`Sweep`,
  :class:`SweepResult`, xarray datasets);
- :mod:`~sslax.sweep.batching`: how members are batched (stacked configs, groups of members
  that share their seed's work);
- :mod:`~sslax.sweep.runner`: where it runs (devices, chunks, compiled programs, processes,
  checkpoints and resuming).
"""

from sslax.sweep.batching import group_size, stack_members, vmap_groups
from sslax.sweep.runner import (
    MEMBER_AXIS,
    auto_chunk_size,
    bytes_per_member,
    chunk_layout,
    compile_count,
    evaluate_sweep,
    run_sweep,
    use_cpu_cores_as_devices,
)
from sslax.sweep.spec import Sweep, SweepResult, is_static_field, structure_tag

__all__ = [
    "MEMBER_AXIS",
    "Sweep",
    "SweepResult",
    "auto_chunk_size",
    "bytes_per_member",
    "chunk_layout",
    "compile_count",
    "evaluate_sweep",
    "group_size",
    "is_static_field",
    "run_sweep",
    "stack_members",
    "structure_tag",
    "use_cpu_cores_as_devices",
    "vmap_groups",
]
