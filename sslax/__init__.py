"""sslax: spiking neural networks for sound localisation, in JAX.

The public face; the modules, bottom to top, are ``config``, ``stimulus``, ``surrogate``,
``constraints``, ``neurons``, ``synapses``, ``regularisers``, ``network``, ``metrics``,
``training``, ``checkpoint``, ``sweep``, then ``rundir``, ``plotting``, ``experiments`` and
``cli`` (docs/design.md).
"""

from sslax.config import Config, ConfigError, NetworkConfig, StimulusConfig, TrainingConfig
from sslax.metrics import Evaluation, evaluate
from sslax.network import (
    NetworkValues,
    Outputs,
    Params,
    forward,
    init_params,
    loss_fn,
    network_values,
    predict,
)
from sslax.presets import PRESETS
from sslax.stimulus import Dataset, batch_inputs, class_to_ipd, ipd_to_class, make_dataset
from sslax.surrogate import spike
from sslax.training import (
    Interrupted,
    Run,
    Trainer,
    TrainResult,
    TrainState,
    fit,
    make_datasets,
    make_train,
)

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "Config",
    "ConfigError",
    "Dataset",
    "Evaluation",
    "Interrupted",
    "NetworkConfig",
    "NetworkValues",
    "Outputs",
    "Params",
    "Run",
    "StimulusConfig",
    "TrainResult",
    "TrainState",
    "Trainer",
    "TrainingConfig",
    "batch_inputs",
    "class_to_ipd",
    "evaluate",
    "fit",
    "forward",
    "init_params",
    "ipd_to_class",
    "loss_fn",
    "make_dataset",
    "make_datasets",
    "make_train",
    "network_values",
    "predict",
    "spike",
]
