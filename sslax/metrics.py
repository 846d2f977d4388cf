"""Metrics of docs/science.md §5, each named and defined, and evaluation of a network on a
data set.

- **accuracy**: fraction of samples whose predicted class equals the true class.
- **MAE-A** [deg]: mean |α − midpoint(predicted class)|, α the true continuous IPD. A perfect
  classifier still scores π/(4·N_c) on average (3.75° for 12 classes).
- **MAE-B** [deg]: mean |midpoint(true class) − midpoint(predicted class)|; perfect = 0°.
- **confusion matrix**: counts indexed [estimated, true], each column (true class) normalised
  to sum to 1 (a class with no samples gives a zero column).
- **per-class accuracy**: the diagonal of the normalised confusion matrix.
- **hidden firing rate** [Hz]: spikes of each hidden unit per second of stimulus, averaged
  over samples.

The paper mixed MAE-A and MAE-B; sslax always reports both under these names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Float, Int

from sslax.config import Config, Leaf
from sslax.network import Params, cross_entropy, forward, predict
from sslax.stimulus import Dataset, batch_inputs, class_to_ipd, ipd_to_class

RAD_TO_DEG = 180.0 / math.pi


def accuracy(predicted: Int[ArrayLike, " n"], labels: Int[ArrayLike, " n"]) -> Array:
    """Fraction of correct predictions."""
    return jnp.mean(jnp.asarray(predicted) == jnp.asarray(labels))


def mae_a(predicted: Int[ArrayLike, " n"], ipd: Float[ArrayLike, " n"], n_classes: int) -> Array:
    """MAE-A [deg]: mean |true continuous IPD − midpoint of the predicted class|."""
    return RAD_TO_DEG * jnp.mean(jnp.abs(jnp.asarray(ipd) - class_to_ipd(predicted, n_classes)))


def mae_b(predicted: Int[ArrayLike, " n"], labels: Int[ArrayLike, " n"], n_classes: int) -> Array:
    """MAE-B [deg]: mean |midpoint of the true class − midpoint of the predicted class|."""
    error = class_to_ipd(labels, n_classes) - class_to_ipd(predicted, n_classes)
    return RAD_TO_DEG * jnp.mean(jnp.abs(error))


def confusion_matrix(
    predicted: Int[ArrayLike, " n"], labels: Int[ArrayLike, " n"], n_classes: int
) -> Float[Array, "estimated true"]:
    """Confusion matrix [estimated, true], each true-class column normalised to sum to 1."""
    counts = jnp.zeros((n_classes, n_classes)).at[jnp.asarray(predicted),
                                                   jnp.asarray(labels)].add(1.0)
    totals = counts.sum(axis=0, keepdims=True)
    return counts / jnp.maximum(totals, 1.0)


def per_class_accuracy(confusion: Float[Array, "estimated true"]) -> Float[Array, " classes"]:
    """Accuracy within each true class (the confusion matrix's diagonal)."""
    return jnp.diagonal(confusion)


@struct.dataclass
class Evaluation:
    """Metrics of a network on one data set (see the module docstring for definitions).

    Attributes:
        loss: mean cross-entropy.
        accuracy: fraction correct.
        mae_a: MAE-A [deg].
        mae_b: MAE-B [deg].
        confusion: normalised confusion matrix [estimated, true].
        per_class_accuracy: [classes].
        firing_rate: mean rate of each hidden unit [Hz], shape [hidden].
        predicted: predicted class of each sample [samples].
        ipd: true IPD of each sample [rad] [samples].
    """

    loss: Leaf
    accuracy: Leaf
    mae_a: Leaf
    mae_b: Leaf
    confusion: Leaf
    per_class_accuracy: Leaf
    firing_rate: Leaf
    predicted: Leaf
    ipd: Leaf

    def summary(self) -> dict[str, float]:
        """The scalar metrics as Python floats (a host transfer: call outside compiled code)."""
        return {"loss": float(self.loss), "accuracy": float(self.accuracy),
                "mae_a_deg": float(self.mae_a), "mae_b_deg": float(self.mae_b),
                "mean_firing_rate_hz": float(jnp.mean(self.firing_rate))}


def over_samples(fn: Callable[[Array], Any], n_samples: int, batch_size: int) -> Any:
    """``fn`` applied to every sample index in chunks of ``batch_size`` (``lax.map``), its
    outputs (a pytree of [chunk, ...] arrays) joined to [n_samples, ...].

    The last chunk is padded by repeating samples from the start; the padding is sliced off,
    so ``batch_size`` bounds memory and never changes a result.
    """
    size = min(batch_size, n_samples)
    n_chunks = -(-n_samples // size)
    index = jnp.arange(n_chunks * size) % n_samples
    out = jax.lax.map(fn, index.reshape(n_chunks, size))
    return jax.tree.map(lambda x: x.reshape(n_chunks * size, *x.shape[2:])[:n_samples], out)


def evaluate(params: Params, data: Dataset, config: Config, batch_size: int = 256) -> Evaluation:
    """Run the network over every sample of ``data`` (in chunks) and compute all metrics.

    Pure and jittable; ``batch_size`` only bounds memory, never changes a result.
    """
    n_classes = config.stimulus.n_classes

    def chunk(index: Array) -> tuple[Array, Array]:
        out = forward(params, batch_inputs(data, index, config.stimulus), config)
        return out.scores, out.hidden_spikes.sum(axis=0)

    scores, spike_counts = over_samples(chunk, data.n_samples, batch_size)
    labels = ipd_to_class(data.ipd, n_classes)
    predicted = predict(scores)
    confusion = confusion_matrix(predicted, labels, n_classes)
    return Evaluation(
        loss=cross_entropy(scores, labels),
        accuracy=accuracy(predicted, labels),
        mae_a=mae_a(predicted, data.ipd, n_classes),
        mae_b=mae_b(predicted, labels, n_classes),
        confusion=confusion,
        per_class_accuracy=per_class_accuracy(confusion),
        firing_rate=jnp.mean(spike_counts, axis=0) / config.stimulus.duration,
        predicted=predicted,
        ipd=data.ipd,
    )
