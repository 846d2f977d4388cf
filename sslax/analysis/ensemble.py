"""Across an ensemble: do networks trained from different seeds find the same solution?

Hidden units have no identity across networks, so tuning curves are compared after matching
units one-to-one: for two networks, the matching of their spiking units that maximises the
summed Pearson correlation of the units' tuning curves (over classes; Hungarian algorithm),
scored by the mean correlation of the matched pairs.
"""

from __future__ import annotations

import math

import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Bool, Float


def tuning_correlation(a: Float[ArrayLike, "classes units_a"],
                       b: Float[ArrayLike, "classes units_b"]) -> np.ndarray:
    """Pearson correlation over classes of every unit of ``a`` with every unit of ``b``
    ([units_a, units_b]); a flat curve correlates 0 with everything."""
    def standardised(x: np.ndarray) -> np.ndarray:
        x = x - x.mean(axis=0)
        norm = np.linalg.norm(x, axis=0)
        return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)

    a, b = np.asarray(a, float), np.asarray(b, float)
    return standardised(a).T @ standardised(b)


def matched_similarity(a: Float[ArrayLike, "classes units_a"],
                       b: Float[ArrayLike, "classes units_b"]) -> float:
    """Mean correlation of the best one-to-one matching of ``a``'s units with ``b``'s
    (min(units) pairs); NaN when either has no units."""
    from scipy.optimize import linear_sum_assignment

    corr = tuning_correlation(a, b)
    if corr.size == 0:
        return math.nan
    rows, cols = linear_sum_assignment(corr, maximize=True)
    return float(corr[rows, cols].mean())


def similarity_matrix(tuning_means: Float[ArrayLike, "members classes hidden"],
                      spiking: Bool[ArrayLike, "members hidden"]) -> np.ndarray:
    """:func:`matched_similarity` of the spiking units' tuning curves of every pair of
    networks ([members, members], 1 on the diagonal)."""
    means, spiking = np.asarray(tuning_means), np.asarray(spiking, bool)
    n = means.shape[0]
    result = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            value = matched_similarity(means[i][:, spiking[i]], means[j][:, spiking[j]])
            result[i, j] = result[j, i] = value
    return result


def off_diagonal(matrix: Float[ArrayLike, "n n"]) -> np.ndarray:
    """The entries of a square matrix off its diagonal (pairs of different members)."""
    matrix = np.asarray(matrix)
    return matrix[~np.eye(matrix.shape[0], dtype=bool)]
