"""The interface every neuron model implements, and running a model over time.

A neuron model is an object with

- ``initial_state(params, shape, dtype) -> state``: the state before the first step, for
  inputs of ``shape`` ([batch, units]);
- ``step(params, state, x_t) -> (state, y_t)``: one time step. ``functools.partial(model.step,
  params)`` is the ``lax.scan`` step ``(carry, x_t) -> (carry, y_t)``;

and, optionally, an accelerator ``layer(params, x, readout_weights) -> (y, r)`` that runs the
whole sequence faster than autodiff through the scan and returns the same values and
gradients (the LIF model has one: a fused loop with a hand-written backward pass). Models
without one run through :func:`scan_layer`.

``params`` is the model's own small pytree (a NamedTuple of arrays, e.g. decay, threshold,
surrogate slope); the options that fix the program (which surrogate, which reset) are fields
of the model object, which is a frozen dataclass.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol, runtime_checkable

import jax.numpy as jnp
from jax import Array, lax
from jax.typing import ArrayLike
from jaxtyping import Float


@runtime_checkable
class NeuronModel(Protocol):
    """A neuron model: see the module docstring."""

    def initial_state(self, params: Any, shape: tuple[int, ...], dtype: Any) -> Any: ...

    def step(self, params: Any, state: Any, x_t: Array) -> tuple[Any, Array]: ...


def scan_layer(model: NeuronModel, params: Any,
               x: Float[Array, "time batch units"]) -> Float[Array, "time batch units"]:
    """Run ``model`` over time with ``lax.scan``, differentiated by autodiff (the reference).

    Args:
        model: a neuron model.
        params: its parameters.
        x: input current per step [time, batch, units].

    Returns:
        The outputs y_t of every step [time, batch, units].
    """
    state = model.initial_state(params, x.shape[1:], x.dtype)
    _, outputs = lax.scan(partial(model.step, params), state, x)
    return outputs


def run_layer(
    model: NeuronModel,
    params: Any,
    x: Float[Array, "time batch units"],
    readout_weights: Float[ArrayLike, " time"],
) -> tuple[Float[Array, "time batch units"], Float[Array, "batch units"]]:
    """The outputs y_t of ``model`` over time and their time-weighted sum r = Σ_t c_t·y_t.

    With c from :func:`sslax.neurons.mean_membrane_weights`, ``r @ W_out`` is the mean
    membrane of a leaky-integrator output layer, so the network's readout never needs y.
    Uses the model's ``layer`` accelerator when it has one, else :func:`scan_layer`.
    """
    layer = getattr(model, "layer", None)
    if layer is not None:
        return layer(params, x, readout_weights)
    outputs = scan_layer(model, params, x)
    weights = jnp.asarray(readout_weights, outputs.dtype)
    return outputs, jnp.einsum("t,tbh->bh", weights, outputs)
