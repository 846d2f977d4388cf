"""Named starting configs of the original project's experiments (SCIENCE.md §1–2).

Each is a plain :class:`~sslax.config.Config`; ``sslax train --preset NAME`` starts from it
and any ``--FIELD VALUE`` flag overrides it.
"""

from __future__ import annotations

from sslax.config import Config, NetworkConfig, TrainingConfig

#: The quick-start notebook: τ = 5 ms, 30 hidden units, up to 50 epochs with early stopping
#: (patience 10) on a 4 096-sample validation set; 4 096 training and 2 048 test samples.
QUICKSTART = Config()

#: The starting notebook: τ = 20 ms, 30 hidden units, 10 epochs, no validation set,
#: φ0 drawn once per data set (train and test differ only in φ0: slow τ overfits).
STARTING_NOTEBOOK = Config(
    network=NetworkConfig(tau_hidden=20e-3),
    training=TrainingConfig(n_epochs=10, n_valid=0, patience=0),
)

PRESETS: dict[str, Config] = {
    "quickstart": QUICKSTART,
    "starting-notebook": STARTING_NOTEBOOK,
}
