"""The trained weights, arranged to be read: effective matrices, hidden units re-ordered,
the input → output product and each unit's left- and right-ear weight profiles."""

from __future__ import annotations

import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Bool, Float, Int

from sslax.config import Config
from sslax.network import Params, network_values

#: Hidden-unit orderings (:func:`unit_order`).
ORDERINGS = ("input", "output")


def effective_weights(params: Params, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """The weights the dynamics use (after constraints): W1 [inputs, hidden] and W2
    [hidden, classes]. Filter-and-fire synapses are summed over their contacts (each
    contact's PSP kernel has unit peak, so the sum is the peak drive of one input spike)."""
    values = network_values(params, config)
    w_in = np.asarray(values.w_in)
    if w_in.ndim == 3:
        w_in = w_in.sum(axis=-1)
    return w_in, np.asarray(values.w_out)


def unit_order(w_in: Float[ArrayLike, "inputs hidden"], w_out: Float[ArrayLike, "hidden classes"],
               by: str = "input",
               last: Bool[ArrayLike, " hidden"] | None = None) -> Int[np.ndarray, " hidden"]:
    """An order of the hidden units for plotting (a permutation of their indices).

    ``input``: ascending weighted-mean input index of the unit's W1 column,
    mean_i(i·W1[i, h]) (the order of the original's first analysis). ``output``: descending
    weighted-mean output index of its W2 row, mean_c(c·W2[h, c]) (the order of its
    minimal-model analysis, which lines units up with the classes they drive). Units flagged
    in ``last`` (e.g. silent ones) go after all others, in the same order among themselves.
    """
    w_in, w_out = np.asarray(w_in), np.asarray(w_out)
    if by == "input":
        key = np.mean(np.arange(w_in.shape[0])[:, None] * w_in, axis=0)
    elif by == "output":
        key = -np.mean(np.arange(w_out.shape[1])[None, :] * w_out, axis=1)
    else:
        raise ValueError(f"by = {by!r}: expected one of {', '.join(ORDERINGS)}")
    flagged = np.zeros(key.shape, bool) if last is None else np.asarray(last, bool)
    return np.lexsort((key, flagged))


def ear_profiles(w_in: Float[ArrayLike, "inputs hidden"],
                 fibres_per_ear: int) -> Float[np.ndarray, "ears fibres hidden"]:
    """W1 split by ear: [0] the left ear's fibres, [1] the right ear's, each in order of
    phase delay ([2, fibres, hidden])."""
    w_in = np.asarray(w_in)
    return np.stack([w_in[:fibres_per_ear], w_in[fibres_per_ear:2 * fibres_per_ear]])
