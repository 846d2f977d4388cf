"""Tensor component analysis (TCA) of hidden-layer spike trains.

TCA (Williams et al. 2018, Neuron 98:1099) arranges neural activity as a three-way tensor
X[trial, neuron, time] and fits a non-negative CP (PARAFAC) decomposition

    X[i, j, t] ≈ Σ_r  w_r · a_r[i] · b_r[j] · c_r[t],

a sum of R rank-one components. Each component r is one "assembly": a neuron factor b_r (which
neurons take part), a time factor c_r (its time course within a trial) and a trial factor a_r
(how strongly it is expressed on each trial, to be read against the trial's IPD). Unlike PCA,
the components are not constrained to be orthogonal and the fit is essentially unique, so the
factors can be interpreted one by one. The rank R is chosen by fitting several random restarts
per rank (``rank_selection``): the reconstruction error should stop falling and the restarts
should keep agreeing with each other (``factor_similarity``) up to a useful rank.

Everything here takes and returns numpy arrays. The fits use tensorly (numpy backend), an
optional dependency (``pip install 'sslax[analysis]'``) imported only when a fit is asked for.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.signal import lfilter

TENSORLY_MISSING = "tensor component analysis needs tensorly: pip install 'sslax[analysis]'"


def _tensorly() -> Any:
    """The tensorly module, or an ImportError with one clear line if it is not installed."""
    try:
        import tensorly
        import tensorly.decomposition  # noqa: F401  (the fitting routines live here)
    except ImportError as err:
        raise ImportError(TENSORLY_MISSING) from err
    return tensorly


@contextmanager
def _numpy_backend(tl: Any) -> Iterator[None]:
    """Run the block on tensorly's numpy backend and restore the caller's backend afterwards."""
    if tl.get_backend() == "numpy":
        yield
        return
    with tl.backend_context("numpy"):
        yield


# --------------------------------------------------------------------------- smoothing


def smoothed_spike_tensor(spikes: np.ndarray, dt: float, tau_smooth: float) -> np.ndarray:
    """Causally smoothed spike trains as a [trials, neurons, time] tensor.

    Each spike train s_t is filtered by y_t = a·y_{t−1} + (1−a)·s_t with a = exp(−dt/τ),
    starting from y_{−1} = 0: an exponential kernel (1−a)·a^k of unit area, so a neuron spiking
    on every step gives y → 1.

    Args:
        spikes: [time, trials, neurons] spike trains (0/1, time-major as the network returns
            them); any non-negative values are filtered the same way.
        dt: time step [s].
        tau_smooth: smoothing time constant τ [s].

    Returns:
        [trials, neurons, time] float64 array (the TCA tensor's axis order).
    """
    spikes = np.asarray(spikes, dtype=np.float64)
    if spikes.ndim != 3:
        raise ValueError(f"spikes must be [time, trials, neurons], got shape {spikes.shape}")
    if not (dt > 0 and tau_smooth > 0):
        raise ValueError(f"dt and tau_smooth must be positive, got {dt=} and {tau_smooth=}")
    a = math.exp(-dt / tau_smooth)
    smoothed = lfilter([1.0 - a], [1.0, -a], spikes, axis=0)
    return np.ascontiguousarray(np.transpose(smoothed, (1, 2, 0)))


# --------------------------------------------------------------------------- CP fits


class CPFit(NamedTuple):
    """A CP decomposition of a [trials, neurons, time] tensor.

    Every factor column has unit Euclidean norm; ``weights`` carry the scale, and components
    are sorted by decreasing weight.

    Attributes:
        weights: [rank] component scale (units of the tensor).
        trial: [trials, rank] trial factors.
        neuron: [neurons, rank] neuron factors.
        time: [time, rank] time factors.
        relative_error: ‖X − X̂‖ / ‖X‖ (Frobenius norms) of the fit to its tensor X; NaN for
            factors that were not fitted to a tensor.
    """

    weights: np.ndarray
    trial: np.ndarray
    neuron: np.ndarray
    time: np.ndarray
    relative_error: float

    @property
    def rank(self) -> int:
        """Number of components."""
        return int(self.weights.shape[0])

    @property
    def factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(trial, neuron, time) factor matrices, in the tensor's axis order."""
        return self.trial, self.neuron, self.time


def normalised_cp(
    weights: np.ndarray | None,
    factors: Sequence[np.ndarray],
    relative_error: float = math.nan,
) -> CPFit:
    """A ``CPFit`` with unit-norm factor columns and components sorted by decreasing weight.

    Args:
        weights: [rank] component scales, or None for all ones.
        factors: (trial [trials, rank], neuron [neurons, rank], time [time, rank]) factors, of
            any column scale (the column norms move into the weights).
        relative_error: stored unchanged (NaN when the factors were not fitted).

    Returns:
        The same CP tensor in canonical form. A component with a zero column keeps zero
        columns and weight 0.
    """
    if len(factors) != 3:
        raise ValueError(f"need three factor matrices (trial, neuron, time), got {len(factors)}")
    mats = [np.asarray(f, dtype=np.float64) for f in factors]
    rank = mats[0].shape[1]
    if any(m.ndim != 2 or m.shape[1] != rank for m in mats):
        raise ValueError(f"factors must be 2-D with one column per component, got "
                         f"shapes {[m.shape for m in mats]}")
    w = np.ones(rank) if weights is None else np.asarray(weights, dtype=np.float64).copy()
    if w.shape != (rank,):
        raise ValueError(f"weights must have shape ({rank},), got {w.shape}")
    unit = []
    for m in mats:
        norms = np.linalg.norm(m, axis=0)
        w = w * norms
        unit.append(np.divide(m, norms, out=np.zeros_like(m), where=norms > 0))
    w = np.where(np.all([np.any(u != 0, axis=0) for u in unit], axis=0), w, 0.0)
    order = np.argsort(-w, kind="stable")
    return CPFit(w[order], *(u[:, order] for u in unit), relative_error=float(relative_error))


def reconstruct(fit: CPFit) -> np.ndarray:
    """The [trials, neurons, time] tensor of a fit.

    X̂[i, j, t] = Σ_r weights[r]·trial[i, r]·neuron[j, r]·time[t, r].
    """
    return np.einsum("r,ir,jr,tr->ijt", fit.weights, fit.trial, fit.neuron, fit.time)


def relative_error(tensor: np.ndarray, fit: CPFit) -> float:
    """‖X − X̂‖ / ‖X‖ (Frobenius norms) of ``fit`` to the [trials, neurons, time] ``tensor``."""
    tensor = np.asarray(tensor, dtype=np.float64)
    return float(np.linalg.norm(tensor - reconstruct(fit)) / np.linalg.norm(tensor))


def _check_tensor(tensor: np.ndarray) -> np.ndarray:
    tensor = np.asarray(tensor, dtype=np.float64)
    if tensor.ndim != 3:
        raise ValueError(f"tensor must be [trials, neurons, time], got shape {tensor.shape}")
    if not np.all(np.isfinite(tensor)):
        raise ValueError("tensor has non-finite entries")
    if np.any(tensor < 0):
        raise ValueError("non-negative CP needs a non-negative tensor")
    if not np.any(tensor > 0):
        raise ValueError("tensor is all zeros: nothing to decompose")
    return tensor


def fit_nonnegative_cp(
    tensor: np.ndarray,
    rank: int,
    seed: int = 0,
    n_iter_max: int = 1000,
    tol: float = 1e-9,
) -> CPFit:
    """Fit a non-negative CP decomposition of rank ``rank`` from a random start.

    Uses tensorly's hierarchical-ALS solver (``non_negative_parafac_hals``) on its numpy
    backend; the caller's tensorly backend is restored afterwards.

    HALS was chosen over the multiplicative updates of ``non_negative_parafac``, which stall:
    a factor entry driven to zero cannot recover. On the planted rank-3 tensor of the tests
    (10 random starts, tol 1e-9, similar cost per sweep), the multiplicative updates stopped
    on a plateau at relative error 0.34 or 0.52 in 2 starts and converged more loosely in the
    rest (0.0038), while HALS reached the noise floor (0.0037) and the planted factors
    (similarity > 0.999) in all 10.

    The default ``tol`` is far below tensorly's 1e-7: HALS can linger near a saddle where two
    components duplicate each other, the error falling by only ~1e-8 per sweep for a few
    dozen sweeps before it escapes, and tol 1e-7 stops there (1 in 20 rank-3 starts of the
    test tensor ended at relative error 0.34 instead of 0.004). The price is that over-ranked
    fits, which keep creeping down by fitting noise, usually run to ``n_iter_max``.

    Args:
        tensor: [trials, neurons, time] non-negative data (e.g. ``smoothed_spike_tensor``).
        rank: number of components R ≥ 1.
        seed: seed of the random (uniform, non-negative) initial factors.
        n_iter_max: most outer ALS sweeps over the three modes.
        tol: stop when the relative error changes by less than this between sweeps.

    Returns:
        The fit in canonical form (``CPFit``: unit-norm columns, sorted by decreasing weight),
        with its relative error recomputed exactly from the reconstruction.

    Raises:
        ImportError: tensorly is not installed.
        ValueError: the tensor is not 3-D, finite, non-negative and nonzero, or rank < 1.
    """
    tl = _tensorly()
    from tensorly.decomposition import non_negative_parafac_hals

    tensor = _check_tensor(tensor)
    if int(rank) != rank or rank < 1:
        raise ValueError(f"rank must be a positive integer, got {rank}")
    with _numpy_backend(tl):
        cp = non_negative_parafac_hals(
            tl.tensor(tensor),
            rank=int(rank),
            n_iter_max=n_iter_max,
            init="random",
            tol=tol,
            random_state=np.random.RandomState(seed),
        )
    weights, factors = cp
    fit = normalised_cp(np.asarray(weights), [np.asarray(f) for f in factors])
    return fit._replace(relative_error=relative_error(tensor, fit))


# --------------------------------------------------------------------------- comparing fits


def similarity_matrix(a: CPFit, b: CPFit) -> np.ndarray:
    """[rank_a, rank_b] similarity of every component of ``a`` to every component of ``b``.

    The similarity of two components is the product over the three modes (trial, neuron, time)
    of the cosine similarity of their factor columns, clipped to [0, 1] (non-negative factors
    give cosines in [0, 1] anyway). Columns are renormalised here, so ``a`` and ``b`` need not
    be in canonical form; a zero column has similarity 0 to everything.
    """
    sim = np.ones((a.rank, b.rank))
    for fa, fb in zip(a.factors, b.factors, strict=True):
        if fa.shape[0] != fb.shape[0]:
            raise ValueError(f"factor lengths differ: {fa.shape[0]} and {fb.shape[0]}")
        na = np.linalg.norm(fa, axis=0)
        nb = np.linalg.norm(fb, axis=0)
        ua = np.divide(fa, na, out=np.zeros_like(fa, dtype=np.float64), where=na > 0)
        ub = np.divide(fb, nb, out=np.zeros_like(fb, dtype=np.float64), where=nb > 0)
        sim = sim * (ua.T @ ub)
    return np.clip(sim, 0.0, 1.0)


def factor_similarity(a: CPFit, b: CPFit) -> float:
    """Factor match score of two CP fits of tensors of the same shape, in [0, 1].

    Components are matched one to one to maximise the total similarity (Hungarian algorithm
    on ``similarity_matrix``: the product over the three modes of the cosine similarities of
    the factor columns); the score is the mean similarity of the matched pairs. Fits of
    different ranks are compared on their min(rank_a, rank_b) best matches. There is no
    weight term: only the shapes of the factors count, not the components' scales.

    1 means the same components up to order and scale; near 0, unrelated components.
    """
    if a.rank == 0 or b.rank == 0:
        raise ValueError("cannot compare a fit with no components")
    sim = similarity_matrix(a, b)
    rows, cols = linear_sum_assignment(sim, maximize=True)
    return float(np.mean(sim[rows, cols]))


# --------------------------------------------------------------------------- rank selection


class RankSelection(NamedTuple):
    """Random restarts of non-negative CP fits over a range of ranks.

    Attributes:
        ranks: [R] the ranks fitted.
        errors: [R, restarts] relative reconstruction error ‖X − X̂‖/‖X‖ of each restart.
        similarity: [R, restarts] ``factor_similarity`` of each restart to the lowest-error
            restart of the same rank (that restart's own entry is 1).
        best: the lowest-error fit of each rank, in the order of ``ranks``.
    """

    ranks: np.ndarray
    errors: np.ndarray
    similarity: np.ndarray
    best: tuple[CPFit, ...]


def restart_seed(seed: int, rank: int, restart: int) -> int:
    """The initialisation seed of one restart: distinct for each (seed, rank, restart)."""
    return int(np.random.SeedSequence([seed, rank, restart]).generate_state(1)[0])


def rank_selection(
    tensor: np.ndarray,
    ranks: Sequence[int] = (1, 2, 3, 4, 5, 6),
    n_restarts: int = 4,
    seed: int = 0,
    n_iter_max: int = 1000,
    tol: float = 1e-9,
) -> RankSelection:
    """Fit ``n_restarts`` random restarts of ``fit_nonnegative_cp`` at each rank.

    Plot the result with ``sslax.analysis.tca_figures.plot_rank_selection``: choose a rank
    beyond which the error stops falling appreciably while the restarts still agree
    (similarity near 1); restarts that disagree mean the extra components are not unique.

    Args:
        tensor: [trials, neurons, time] non-negative data.
        ranks: ranks to fit (positive integers).
        n_restarts: random initialisations per rank (≥ 1).
        seed: base seed; each restart's seed is ``restart_seed(seed, rank, restart)``.
        n_iter_max, tol: passed to ``fit_nonnegative_cp``.

    Raises:
        ImportError: tensorly is not installed.
    """
    _tensorly()
    tensor = _check_tensor(tensor)
    ranks_arr = np.asarray(ranks, dtype=int)
    if ranks_arr.ndim != 1 or ranks_arr.size == 0 or np.any(ranks_arr < 1):
        raise ValueError(f"ranks must be a non-empty sequence of positive integers, got {ranks}")
    if n_restarts < 1:
        raise ValueError(f"n_restarts must be at least 1, got {n_restarts}")
    errors = np.empty((ranks_arr.size, n_restarts))
    similarity = np.empty((ranks_arr.size, n_restarts))
    best: list[CPFit] = []
    for i, rank in enumerate(ranks_arr):
        fits = [
            fit_nonnegative_cp(tensor, int(rank), seed=restart_seed(seed, int(rank), k),
                               n_iter_max=n_iter_max, tol=tol)
            for k in range(n_restarts)
        ]
        errors[i] = [f.relative_error for f in fits]
        k_best = int(np.argmin(errors[i]))
        similarity[i] = [factor_similarity(f, fits[k_best]) for f in fits]
        similarity[i, k_best] = 1.0  # exactly, not 1 − rounding
        best.append(fits[k_best])
    return RankSelection(ranks_arr, errors, similarity, tuple(best))
