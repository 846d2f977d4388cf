"""sslax: spiking neural networks for sound localisation, in JAX.

The public face; the modules, bottom to top, are ``config``, ``stimulus``, ``surrogate``,
``neurons``, ``network``, ``metrics``, ``training``, then ``rundir``, ``plotting``, ``cli``.
"""

from sslax.config import Config, ConfigError, NetworkConfig, StimulusConfig, TrainingConfig
from sslax.metrics import Evaluation, evaluate
from sslax.network import Outputs, Params, forward, init_params, loss_fn, predict
from sslax.presets import PRESETS
from sslax.stimulus import Dataset, batch_inputs, class_to_ipd, ipd_to_class, make_dataset
from sslax.surrogate import spike
from sslax.training import Run, TrainResult, fit, make_datasets, make_train

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "Config",
    "ConfigError",
    "Dataset",
    "Evaluation",
    "NetworkConfig",
    "Outputs",
    "Params",
    "Run",
    "StimulusConfig",
    "TrainResult",
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
    "predict",
    "spike",
]
