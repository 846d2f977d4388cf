"""How a sweep's members are batched: stacked configs, and groups of members that share
their initialisation, data order and data.

Members with the same seed run in *groups*: consecutive grid points of one seed, an inner
``vmap`` over the values inside the outer one over groups. Work that no swept value changes
is then done once per group: each batch's input spikes are gathered once, and the input
layer of all the group's members is one matrix product with them (members next to units,
[time, batch, members, units]), which the LIF loops consume as one wider layer
(:func:`sslax.neurons.members_as_units`) instead of transposing members to the front.
Values are unchanged. A swept stimulus field gives every member its own input, so such
sweeps run in groups of one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from sslax.config import Config
from sslax.neurons import members_as_units


def _field_name(path: tuple[Any, ...]) -> str:
    return path[-1].name


def stack_members(config: Config, members: Sequence[dict[str, Any]],
                  fields: Sequence[str]) -> tuple[Config, Config]:
    """The config with each swept leaf replaced by a [members] array, and its vmap axes.

    Returns ``(stacked, axes)``: ``axes`` has the config's structure with 0 at swept leaves
    and ``None`` elsewhere, for ``jax.vmap(in_axes=...)``.
    """
    dtype = jax.dtypes.canonicalize_dtype(np.float64)  # float32, or float64 under x64
    values = {f: np.asarray([m[f] for m in members], dtype=dtype) for f in fields}
    # a valid member's config first (a field that was None becomes a leaf), then the stacks,
    # which are not valid values of a single config and so bypass its validation
    first = config.replace_fields(**{f: members[0][f] for f in fields}) if fields else config
    stacked = jax.tree_util.tree_map_with_path(
        lambda path, leaf: values.get(_field_name(path), leaf), first)
    axes = jax.tree_util.tree_map_with_path(
        lambda path, _: 0 if _field_name(path) in fields else None, stacked)
    return stacked, axes


def pad_members(tree: Any, n: int) -> Any:
    """Stacked members [members, ...] padded to ``n`` by repeating the last one (NumPy)."""
    return jax.tree.map(lambda x: np.concatenate([x, np.repeat(x[-1:], n - len(x), axis=0)]),
                        tree)


def has_swept_leaves(axes: Config) -> bool:
    return any(ax is not None for ax in jax.tree.leaves(axes, is_leaf=lambda x: x is None))


def vmap_groups(fn: Callable[..., Any], axes: Config, data_axis: int | None = None,
                per_member_first: bool = False,
                group_shared: tuple[str, ...] = ()) -> Callable[..., Any]:
    """``vmap`` over groups of ``vmap`` over each group's grid points.

    ``fn(first, data, config)`` handles one member. The result takes ``first`` [groups] (a
    network key shared by a group's members) or, with ``per_member_first``, [groups, group
    size] (one training state per member); the data (batched over groups when
    ``data_axis`` is 0); and the config with swept leaves [groups, group size] (``axes``: 0
    at swept leaves). A group's members share its key and data, so the inner ``vmap`` leaves
    what depends only on them unbatched, and runs the LIF loops with the members merged into
    units (:func:`sslax.neurons.members_as_units`). Without swept leaves every group has one
    member. Every output has the axes [groups, group size, ...].

    ``group_shared`` names fields of a per-member ``first`` (a NamedTuple such as a training
    state) that are equal for a group's members; they enter the inner ``vmap`` unbatched
    (member 0's), so that what depends only on them (a group's sample order, its batches)
    is computed once per group.
    """
    if has_swept_leaves(axes):

        def run_as_units(*args: Any) -> Any:
            with members_as_units():  # one projection per batch: merge members into units
                return fn(*args)

        if per_member_first and group_shared:

            def per_group(first: Any, data: Any, config: Config) -> Any:
                shared = {name: getattr(first, name)[0] for name in group_shared}
                first = first._replace(**shared)
                first_axes = first._replace(**{name: 0 for name in first._fields
                                               if name not in group_shared},
                                            **{name: None for name in group_shared})
                return jax.vmap(run_as_units, in_axes=(first_axes, None, axes))(first, data,
                                                                                config)
        else:
            per_group = jax.vmap(run_as_units, in_axes=(0 if per_member_first else None, None,
                                                        axes))
    else:  # seeds only: groups of one member

        def per_group(first: Any, data: Any, config: Config) -> Any:
            if per_member_first:
                first = jax.tree.map(lambda x: x[0], first)
            return jax.tree.map(lambda x: x[None], fn(first, data, config))

    return jax.vmap(per_group, in_axes=(0, data_axis, axes))


def group_size(n_values: int, chunk_size: int, n_devices: int) -> int:
    """Members per group: the largest divisor of the number of grid points (per seed) that
    also divides ``chunk_size / n_devices``, so that every chunk holds whole groups and every
    device the same number of them. Any such choice pads the same members (chunks are
    ``chunk_size`` members either way), so the largest shares the most work."""
    per_device = chunk_size // n_devices
    return max(g for g in range(1, n_values + 1) if n_values % g == 0 and per_device % g == 0)
