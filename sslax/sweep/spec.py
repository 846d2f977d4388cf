"""What a sweep trains (:class:`Sweep`) and what comes back (:class:`SweepResult`)."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import jax
import numpy as np

from sslax.config import DISPLAY_UNITS, Config, ConfigError, section_of
from sslax.training import EpochMetrics, Run, TrainResult, check_seed


def is_static_field(name: str) -> bool:
    """True if config field ``name`` is structural (its values need separate compiles)."""
    section = section_of(name)
    cls = type(getattr(Config(), section))
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    return bool(field.metadata.get("static", False))


def structure_tag(index: int, structure: dict[str, Any]) -> str:
    """The file-name tag of one structure of a sweep (``all`` without structural fields)."""
    if not structure:
        return "all"
    return f"{index}-" + "-".join(f"{k}={v}" for k, v in structure.items())


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


@dataclasses.dataclass
class SweepResult:
    """Results of a sweep for one network structure.

    Attributes:
        sweep: the sweep.
        structure: values of the structural fields of this result.
        config: the config with swept numeric fields stacked ([members] arrays).
        members: one dict per member (``seed`` and swept values), in member order.
        result: the stacked :class:`TrainResult` (leading axis: members), as NumPy arrays.
        compile_s: compile time of the ensemble programs [s] (0 when they were reused).
        train_s: time spent training and evaluating after compiling [s].
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
        """Metrics with named axes: ``seed``, each swept numeric field, ``epoch`` (numbered
        from 1) and, for the per-unit firing rates [Hz], ``hidden``. Coordinates are SI
        values; those with a unit carry it in their ``units`` attribute."""
        import xarray as xr

        shape = self.sweep.shape
        dims = ("seed", *self.sweep.numeric_fields)
        coords: dict[str, Any] = {"seed": list(self.sweep.seeds)}
        coords.update({n: list(self.sweep.grid[n]) for n in self.sweep.numeric_fields})
        r = self.result
        data: dict[str, Any] = {}
        for split, ev in (("train", r.train_eval), ("test", r.test_eval)):
            for name in ("accuracy", "mae_a", "mae_b", "loss"):
                data[f"{split}_{name}"] = (dims, np.asarray(getattr(ev, name)).reshape(shape))
            unit_rates = np.asarray(ev.firing_rate)
            n_units = unit_rates.shape[-1]  # 0 for a network without hidden units
            mean_rate = (unit_rates.mean(axis=-1) if n_units
                         else np.full(unit_rates.shape[:-1], np.nan))
            data[f"{split}_firing_rate"] = (dims, mean_rate.reshape(shape))
            data[f"{split}_unit_firing_rate"] = ((*dims, "hidden"),
                                                 unit_rates.reshape(*shape, n_units))
        data["best_epoch"] = (dims, np.asarray(r.best_epoch).reshape(shape))
        data["n_epochs_run"] = (dims, np.asarray(r.n_epochs_run).reshape(shape))
        data["diverged_epoch"] = (dims, np.asarray(r.diverged_epoch).reshape(shape))
        for name in EpochMetrics._fields:
            values = np.asarray(getattr(r.history, name))
            data[f"history_{name}"] = ((*dims, "epoch"), values.reshape(*shape, -1))
        coords["epoch"] = list(range(1, np.asarray(r.history.train_loss).shape[-1] + 1))
        attrs = {"structure": repr(self.structure), "data_seed": self.sweep.data_seed,
                 "n_classes": self.config.stimulus.n_classes,
                 "shared_data": int(self.sweep.shared_data),
                 "compile_s": self.compile_s, "train_s": self.train_s}
        dataset = xr.Dataset(data, coords=coords, attrs=attrs)
        for name in self.sweep.numeric_fields:
            if name in DISPLAY_UNITS:
                dataset[name].attrs["units"] = {"ms": "s"}.get(DISPLAY_UNITS[name][0],
                                                               DISPLAY_UNITS[name][0])
        return dataset
