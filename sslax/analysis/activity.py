"""What a trained network does on a data set, recorded for analysis.

- :func:`record_activity`: for every sample, each hidden unit's spike count and the readout's
  class scores (the whole set in chunks, one compiled program per network structure);
- :func:`record_traces`: the full spike trains and membranes of a few samples (rasters and
  membrane traces);
- :func:`samples_near`: which samples to show for chosen IPDs.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Float, Int

from sslax.config import Config
from sslax.metrics import over_samples
from sslax.network import (
    Params,
    forward,
    hidden_membranes,
    output_membranes,
    output_spikes,
)
from sslax.stimulus import Dataset, batch_inputs


class Activity(NamedTuple):
    """Per-sample responses of a network to a data set.

    Attributes:
        ipd: true IPD of each sample [rad], [samples].
        hidden_counts: spikes of each hidden unit in each sample, [samples, hidden].
        scores: the readout's class scores (for the ``mean`` readout the time-mean output
            membrane), [samples, classes].
    """

    ipd: Array
    hidden_counts: Array
    scores: Array


def record_activity(params: Params, data: Dataset, config: Config,
                    batch_size: int = 256) -> Activity:
    """Run the network over every sample of ``data`` and record :class:`Activity` (pure and
    jittable; ``batch_size`` bounds memory only)."""

    def chunk(index: Array) -> tuple[Array, Array]:
        out = forward(params, batch_inputs(data, index, config.stimulus), config)
        return out.hidden_spikes.sum(axis=0), out.scores

    counts, scores = over_samples(chunk, data.n_samples, batch_size)
    return Activity(data.ipd, counts, scores)


class Traces(NamedTuple):
    """Time courses of a few samples, all time-major.

    Attributes:
        hidden_spikes: [time, samples, hidden].
        hidden_membranes: hidden membrane v_t at the start of each step (after reset),
            [time, samples, hidden].
        output: output membranes u_t, or the output spikes of the ``spike_count`` readout,
            [time, samples, classes].
    """

    hidden_spikes: Array
    hidden_membranes: Array
    output: Array


def record_traces(params: Params, spikes: Float[ArrayLike, "time samples inputs"],
                  config: Config) -> Traces:
    """Full :class:`Traces` of the network driven by ``spikes`` (pure and jittable)."""
    out = forward(params, spikes, config)
    if config.network.readout == "spike_count":
        output = output_spikes(params, spikes, config)
    else:
        output = output_membranes(params, spikes, config)
    return Traces(out.hidden_spikes, hidden_membranes(params, spikes, config), output)


def samples_near(ipd: Float[ArrayLike, " samples"],
                 targets: Float[ArrayLike, " n"]) -> Int[np.ndarray, " n"]:
    """Index of the sample whose IPD is closest to each target IPD [rad]."""
    ipd, targets = np.asarray(ipd), np.asarray(targets)
    return np.argmin(np.abs(ipd[None, :] - targets[:, None]), axis=1)


def firing_rates(hidden_counts: Float[ArrayLike, "samples hidden"],
                 duration: float) -> Array:
    """Per-sample firing rate of each hidden unit [Hz]: spikes / stimulus duration [s]."""
    return jnp.asarray(hidden_counts) / duration
