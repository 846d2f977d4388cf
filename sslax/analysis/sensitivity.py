"""Sensitivity of the output to the hidden → output weights: the Hessian of an output-
perturbation objective.

    D(Δ) = mean over steps, samples and classes of (u_t(W2 + Δ) − u_t(W2))²,

u_t the output membranes. D(0) = 0 and ∇D(0) = 0, so the Hessian at Δ = 0 says how fast the
output moves away along each direction of weight space: large eigenvalues are directions the
network is sensitive to, near-zero ones are free (silent units' rows, for one). The output
layer is linear in W2, so D is exactly quadratic and the Hessian is block-diagonal over
classes: 2/(T·B·C)·Σ_{t,b} z_tb z_tbᵀ per class, z the leaky-filtered hidden spikes (tests
check this). It is computed by automatic differentiation all the same, so a nonlinear
readout would need no new code.
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


def output_sensitivity(params: Params, spikes: Float[ArrayLike, "time batch inputs"],
                       config: Config) -> Sensitivity:
    """Hessian of the output-perturbation objective with respect to W2 on the input
    ``spikes`` (pure and jittable). Needs a leaky-integrator output layer."""
    if config.network.readout == "spike_count":
        raise ValueError("the spike_count readout has spiking output units: the output-"
                         "perturbation objective is defined on leaky-integrator membranes")
    values = network_values(params, config)
    hidden = forward(params, spikes, config).hidden_spikes
    a_out = decay(values.tau_output, config.stimulus.dt)
    shape = jnp.shape(values.w_out)

    def objective(flat: Array) -> Array:
        return output_change(flat.reshape(shape), hidden, values.w_out, a_out)

    hessian = jax.hessian(objective)(jnp.zeros(shape[0] * shape[1], hidden.dtype))
    eigenvalues, eigenvectors = jnp.linalg.eigh(hessian)
    return Sensitivity(hessian, eigenvalues[::-1], eigenvectors[:, ::-1])
