"""Sensitivity of the output to the hidden → output weights: the Hessian of an output-
perturbation objective.

    D(Δ) = mean over steps, samples and classes of (u_t(W2 + Δ) − u_t(W2))²,

u_t the output membranes. D(0) = 0 and ∇D(0) = 0, so the Hessian at Δ = 0 says how fast the
output moves away along each direction of weight space: large eigenvalues are directions the
network is sensitive to, near-zero ones are free (silent units' rows, for one). The output
layer is linear in W2, so D is exactly quadratic and the Hessian is block-diagonal over
classes: 2/(T·B·C)·Σ_{t,b} z_tb z_tbᵀ per class, z the leaky-filtered hidden spikes.
:func:`output_hessian` computes it in that form; the tests check it against a NumPy loop
and against ``jax.hessian`` of :func:`output_change` (which a nonlinear readout would
use).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Float

from sslax.config import Config
from sslax.network import Params, forward, network_values
from sslax.neurons import decay, leaky_integrator


def output_change(delta: Float[ArrayLike, "hidden classes"],
                  hidden_spikes: Float[ArrayLike, "time batch hidden"],
                  w_out: Float[ArrayLike, "hidden classes"], a_out: ArrayLike) -> Array:
    """D(Δ): mean squared change of the output membranes when W2 becomes W2 + Δ."""
    def membranes(w: Array) -> Array:
        return leaky_integrator(jnp.einsum("tbh,hc->tbc", hidden_spikes, w), a=a_out)

    w_out = jnp.asarray(w_out)
    return jnp.mean(jnp.square(membranes(w_out + delta) - membranes(w_out)))


class Sensitivity(NamedTuple):
    """The Hessian of :func:`output_change` at Δ = 0 and its spectrum.

    Attributes:
        hessian: [hidden·classes, hidden·classes], index h·classes + c for W2[h, c].
        eigenvalues: in decreasing order, [hidden·classes].
        eigenvectors: columns matching ``eigenvalues``, [hidden·classes, hidden·classes].
    """

    hessian: Array
    eigenvalues: Array
    eigenvectors: Array


def sensitivity_unavailable(config: Config) -> str | None:
    """Why the output Hessian does not apply to ``config``'s network (``None`` if it does):
    the objective is defined on leaky-integrator output membranes."""
    if config.network.readout == "spike_count":
        return ("the spike_count readout has spiking output units: the output-"
                "perturbation objective is defined on leaky-integrator membranes")
    return None


def output_hessian(params: Params, spikes: Float[ArrayLike, "time batch inputs"],
                   config: Config) -> Array:
    """The Hessian of :func:`output_change` at Δ = 0 on the input ``spikes``,
    [hidden·classes, hidden·classes] (pure and jittable). Needs a leaky-integrator output
    layer (:func:`sensitivity_unavailable`; ValueError otherwise).

    D is exactly quadratic: Δ moves membrane c by z_c·Δ[:, c], z_c the hidden spikes
    filtered by class c's leaky integrator, so the Hessian is 2/(T·B·C)·Σ_{t,b} z_c z_cᵀ in
    the block of class c and zero between classes. Computed in that form (an automatic
    Hessian would redo the hidden × class product once per weight; the tests compare it
    with ``jax.hessian`` of :func:`output_change`)."""
    if (reason := sensitivity_unavailable(config)) is not None:
        raise ValueError(reason)
    values = network_values(params, config)
    hidden = forward(params, spikes, config).hidden_spikes
    n_steps, n_batch, n_hidden = hidden.shape
    n_classes = jnp.shape(values.w_out)[1]
    a_out = jnp.broadcast_to(decay(values.tau_output, config.stimulus.dt), (n_classes,))
    z = jax.vmap(lambda a: leaky_integrator(hidden, a=a))(a_out)  # [classes, T, B, hidden]
    blocks = jnp.einsum("ctbh,ctbk->chk", z, z) * (2.0 / (n_steps * n_batch * n_classes))
    hessian = jnp.einsum("chk,cd->hckd", blocks, jnp.eye(n_classes, dtype=blocks.dtype))
    return hessian.reshape(n_hidden * n_classes, n_hidden * n_classes)


def spectrum(hessian: Float[ArrayLike, "n n"]) -> Sensitivity:
    """A symmetric Hessian with its eigenvalues (decreasing) and eigenvectors."""
    eigenvalues, eigenvectors = jnp.linalg.eigh(hessian)
    return Sensitivity(jnp.asarray(hessian), eigenvalues[::-1], eigenvectors[:, ::-1])


def output_sensitivity(params: Params, spikes: Float[ArrayLike, "time batch inputs"],
                       config: Config) -> Sensitivity:
    """:func:`output_hessian` and its :func:`spectrum` (pure and jittable)."""
    return spectrum(output_hessian(params, spikes, config))
