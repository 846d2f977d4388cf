"""Ablation: remove hidden units and measure the accuracy that is lost.

Removing a unit means its spikes never reach the output layer (``keep_hidden`` of
:func:`sslax.network.forward`); hidden units do not interact, so this equals deleting the
unit from both weight matrices, which is what the original did. Every set of removals is a
row of a ``keep`` matrix [removals, hidden] (1 kept, 0 removed), and all rows are evaluated
by one vectorised program: the hidden layer runs once per batch, only the readout runs per
row.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Bool, Float

from sslax.config import Config
from sslax.metrics import over_samples
from sslax.network import Params, forward, predict
from sslax.stimulus import Dataset, batch_inputs


def leave_one_out(n_hidden: int) -> Float[Array, "removals hidden"]:
    """Keep rows: row 0 removes nothing, row 1 + h removes unit h alone."""
    return jnp.concatenate([jnp.ones((1, n_hidden)), 1.0 - jnp.eye(n_hidden)])


def ablation_accuracy(params: Params, data: Dataset, config: Config,
                      keep: Float[ArrayLike, "removals hidden"],
                      batch_size: int = 256) -> Float[Array, " removals"]:
    """Accuracy on ``data`` of the network with each row of ``keep`` applied (pure and
    jittable)."""
    keep = jnp.asarray(keep)
    labels = data.labels(config.stimulus.n_classes)

    def chunk(index: Array) -> Array:
        x = batch_inputs(data, index, config.stimulus)

        def predicted(row: Array) -> Array:
            return predict(forward(params, x, config, keep_hidden=row).scores)

        return jax.vmap(predicted, out_axes=1)(keep) == labels[index][:, None]

    return jnp.mean(over_samples(chunk, data.n_samples, batch_size), axis=0)


def silent_units(hidden_counts: Float[ArrayLike, "samples hidden"]) -> Bool[Array, " hidden"]:
    """Units that never spike on any sample."""
    return jnp.sum(jnp.asarray(hidden_counts), axis=0) == 0


class Ablation(NamedTuple):
    """What removing hidden units does to the accuracy (fractions, not %).

    Attributes:
        baseline: accuracy of the intact network.
        without_unit: accuracy with unit h removed alone, [hidden].
        rank: units from the most to the least important (largest accuracy drop first; equal
            drops in index order), [hidden].
        silent: units that never spike on the data, [hidden].
        without_silent: accuracy with every silent unit removed at once.
        without_top: accuracy with the k most important units removed, k = 0 … hidden,
            [hidden + 1].
    """

    baseline: Array
    without_unit: Array
    rank: Array
    silent: Array
    without_silent: Array
    without_top: Array


def ablation_study(params: Params, data: Dataset, config: Config,
                   silent: Bool[ArrayLike, " hidden"], batch_size: int = 256) -> Ablation:
    """Leave-one-out ablation of every hidden unit, removal of all silent units, and
    cumulative removal in order of importance (pure and jittable: vmap it over networks)."""
    n_hidden = config.network.n_hidden
    silent = jnp.asarray(silent)
    first = jnp.concatenate([leave_one_out(n_hidden), (~silent)[None].astype(jnp.float32)])
    accuracy = ablation_accuracy(params, data, config, first, batch_size)
    baseline, without_unit, without_silent = accuracy[0], accuracy[1:-1], accuracy[-1]
    rank = jnp.argsort(without_unit, stable=True)  # the lowest accuracy = the largest drop
    position = jnp.argsort(rank)
    top = (position[None, :] >= jnp.arange(n_hidden + 1)[:, None]).astype(jnp.float32)
    without_top = ablation_accuracy(params, data, config, top, batch_size)
    return Ablation(baseline, without_unit, rank, silent, without_silent, without_top)
