"""Neuron models behind one interface (:mod:`sslax.neurons.base`), time-major [time, batch,
units] throughout.

- :class:`LIF` (:mod:`sslax.neurons.lif`): the leaky integrate-and-fire hidden layer, in the
  original's update order or the textbook one, with a fused accelerator for the former;
- :class:`AdaptiveLIF` (:mod:`sslax.neurons.adaptive`): the LIF neuron with an adaptive
  threshold, through the plain scan;
- :class:`LeakyIntegrator` (:mod:`sslax.neurons.integrator`): the non-spiking output layer
  and its closed-form time-mean readout.

A new model is a new module with a frozen dataclass holding its options, a NamedTuple of its
parameters, ``initial_state`` and ``step``; :func:`run_layer` and :func:`scan_layer` run it.
"""

from sslax.neurons._fused_lif import lif_parity_layer, members_as_units
from sslax.neurons.adaptive import AdaptiveLIF, AdaptiveParams, AdaptiveState
from sslax.neurons.base import NeuronModel, run_layer, scan_layer
from sslax.neurons.integrator import (
    IntegratorParams,
    LeakyIntegrator,
    decay,
    leaky_integrator,
    leaky_integrator_step,
    mean_membrane_weights,
)
from sslax.neurons.lif import LIF, LIFParams, LIFState

__all__ = [
    "LIF",
    "AdaptiveLIF",
    "AdaptiveParams",
    "AdaptiveState",
    "IntegratorParams",
    "LIFParams",
    "LIFState",
    "LeakyIntegrator",
    "NeuronModel",
    "decay",
    "leaky_integrator",
    "leaky_integrator_step",
    "lif_parity_layer",
    "mean_membrane_weights",
    "members_as_units",
    "run_layer",
    "scan_layer",
]
