"""The IPD network: input spikes → LIF hidden layer → leaky-integrator outputs → class scores.

Weights are stored (in, out) and applied once over the whole sequence (one matrix product
for all time steps: the input does not depend on the state). Parameters are a Flax pytree;
constraints such as Dale's law will enter as a reparameterisation inside
:func:`effective_weights`, leaving the dynamics untouched.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import struct
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Float, Int

from sslax.config import Config, Leaf, NetworkConfig
from sslax.neurons import (
    decay,
    leaky_integrator,
    lif_layer,
    lif_layer_with_readout,
    mean_membrane_weights,
)


@struct.dataclass
class Params:
    """Trainable parameters.

    Attributes:
        w_in: input → hidden weights [inputs, hidden].
        w_out: hidden → output weights [hidden, classes].
    """

    w_in: Leaf
    w_out: Leaf


class Outputs(NamedTuple):
    """What one forward pass returns.

    Attributes:
        scores: class scores from the readout of the output membranes [batch, classes].
        hidden_spikes: hidden spike train s_0 … s_{T−1} [time, batch, hidden].
        membranes: output membranes u_0 … u_{T−1} [time, batch, classes], or ``None`` when
            the readout was computed in closed form (``mean``/``sum`` readouts).
    """

    scores: Leaf
    hidden_spikes: Leaf
    membranes: Leaf


def init_params(key: Array, config: Config) -> Params:
    """Uniform initialisation U(−b, b) of both weight matrices.

    ``init = "parity"`` reproduces the notebooks, whose PyTorch fan-in of an (in, out)
    tensor is its number of OUTPUTS: b = 1/√N_h for ``w_in`` and 1/√N_c for ``w_out``.
    ``init = "output_fan_in"`` uses 1/√N_c for both (reported of the starting notebook).
    ``init = "fan_in"`` is the conventional b = 1/√(fan-in): 1/√N_in and 1/√N_h.
    """
    n_in, n_hidden = config.stimulus.n_inputs, config.network.n_hidden
    n_out = config.stimulus.n_classes
    if config.network.init == "parity":
        b_in, b_out = n_hidden**-0.5, n_out**-0.5
    elif config.network.init == "output_fan_in":
        b_in, b_out = n_out**-0.5, n_out**-0.5
    else:
        b_in, b_out = n_in**-0.5, n_hidden**-0.5
    k_in, k_out = jax.random.split(key)
    return Params(
        w_in=jax.random.uniform(k_in, (n_in, n_hidden), minval=-b_in, maxval=b_in),
        w_out=jax.random.uniform(k_out, (n_hidden, n_out), minval=-b_out, maxval=b_out),
    )


def effective_weights(params: Params, network: NetworkConfig) -> Params:
    """The weights the dynamics use. The identity today; reparameterisations go here."""
    return params


def forward(
    params: Params, spikes: Float[ArrayLike, "time batch inputs"], config: Config
) -> Outputs:
    """Simulate the network on time-major input spikes and read out class scores.

    Readouts (``config.network.readout``): ``mean`` = mean_t u_t (the original),
    ``sum`` = Σ_t u_t, ``max`` = max_t u_t. For ``mean``/``sum`` the linear output layer is
    summed in closed form (:func:`sslax.neurons.mean_membrane_weights`), which equals the
    scan exactly in exact arithmetic; ``max`` runs the output scan.
    """
    net, n_steps = config.network, config.stimulus.n_steps
    w = effective_weights(params, net)
    h = jnp.einsum("tbi,ih->tbh", jnp.asarray(spikes), w.w_in)
    lif = dict(a=decay(net.tau_hidden, config.stimulus.dt), threshold=net.threshold,
               slope=net.surrogate_slope, surrogate=net.surrogate,
               update_order=net.update_order, reset=net.reset)
    a_out = decay(net.tau_out, config.stimulus.dt)
    if net.readout == "max":
        hidden = lif_layer(h, **lif)
        membranes = leaky_integrator(jnp.einsum("tbh,hc->tbc", hidden, w.w_out), a=a_out)
        return Outputs(jnp.max(membranes, axis=0), hidden, membranes)
    weights = mean_membrane_weights(a_out, n_steps)
    if net.readout == "sum":
        weights = weights * n_steps
    hidden, weighted_count = lif_layer_with_readout(h, weights, **lif)
    return Outputs(weighted_count @ w.w_out, hidden, None)


def output_membranes(
    params: Params, spikes: Float[ArrayLike, "time batch inputs"], config: Config
) -> Float[Array, "time batch classes"]:
    """The full output membrane trace u_0 … u_{T−1} (for plots and analysis)."""
    out = forward(params, spikes, config)
    if out.membranes is not None:
        return out.membranes
    w = effective_weights(params, config.network)
    a_out = decay(config.network.tau_out, config.stimulus.dt)
    return leaky_integrator(jnp.einsum("tbh,hc->tbc", out.hidden_spikes, w.w_out), a=a_out)


def cross_entropy(scores: Float[Array, "batch classes"], labels: Int[ArrayLike, " batch"]) -> Array:
    """Mean negative log-likelihood of log_softmax(scores) at the true labels."""
    log_p = jax.nn.log_softmax(scores, axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_p, jnp.asarray(labels)[:, None], axis=-1))


def loss_fn(
    params: Params,
    spikes: Float[ArrayLike, "time batch inputs"],
    labels: Int[ArrayLike, " batch"],
    config: Config,
) -> tuple[Array, Outputs]:
    """Training loss (cross-entropy of the readout) and the forward outputs."""
    out = forward(params, spikes, config)
    return cross_entropy(out.scores, labels), out


def predict(scores: Float[Array, "batch classes"]) -> Int[Array, " batch"]:
    """Predicted class: argmax of the readout (for ``mean`` = argmax of Σ_t u_t, the original)."""
    return jnp.argmax(scores, axis=-1)
