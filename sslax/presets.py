"""Named starting configs of the original project's experiments (docs/science.md).

Each is a plain :class:`~sslax.config.Config`; ``sslax train --preset NAME`` starts from it
and any ``--FIELD VALUE`` flag overrides it.
"""

from __future__ import annotations

from sslax.config import Config, NetworkConfig, StimulusConfig, TrainingConfig

#: The quick-start notebook: τ = 5 ms, 30 hidden units, up to 50 epochs with early stopping
#: (patience 10) on a 4 096-sample validation set; 4 096 training and 2 048 test samples.
QUICKSTART = Config()

#: The starting notebook: τ = 20 ms, 30 hidden units, 10 epochs, no validation set,
#: φ0 drawn once per data set (train and test differ only in φ0: slow τ overfits). Both
#: weight matrices start U(±1/√12): the notebook took the bound from the fan-in of an
#: earlier (inputs, classes) tensor.
STARTING_NOTEBOOK = Config(
    network=NetworkConfig(tau_hidden=20e-3, init="output_fan_in"),
    training=TrainingConfig(n_epochs=10, n_valid=0, patience=0),
)

#: Dale's law as the original notebook: the quick-start network with W_eff = |W|·sign and
#: half of the input fibres and half of the hidden units inhibitory, drawn at random.
DALES_LAW = Config(network=NetworkConfig(dale="abs", inhibitory_fraction=0.5))

#: The 250 Hz task: f = 250 Hz, dt = 0.1 ms, 100 ms (T = 1 000 steps), hidden and output
#: τ = 0.5 ms (longer hidden time constants fail at this frequency), 5 hidden units as the
#: original notebook, otherwise the quick start.
TONE_250HZ = Config(
    stimulus=StimulusConfig(frequency=250.0, dt=1e-4, duration=0.1),
    network=NetworkConfig(n_hidden=5, tau_hidden=0.5e-3),
)

#: The paper's minimal model: a 50 Hz tone with exact per-step rates, 8 hidden units at
#: τ = 2 ms, the published rate penalty (units above 100 Hz pay ((r − 100)/100)², scaled by
#: ln 12), 16 384 training samples in batches of 128, 100 epochs of Adam at lr 0.001, no
#: validation set, 4 096 test samples.
MINIMAL_MODEL = Config(
    stimulus=StimulusConfig(frequency=50.0, exact_rates=True),
    network=NetworkConfig(n_hidden=8, tau_hidden=2e-3),
    training=TrainingConfig(n_epochs=100, batch_size=128, n_train=16384, n_valid=0,
                            n_test=4096, learning_rate=0.001, patience=0,
                            rate_regulariser="above_lower"),
)

#: DCLS delays as the original notebook: no input phase delays, frozen Poisson noise with a
#: new φ0 every epoch (the original drew one φ0 per epoch for all samples; sslax draws one
#: per sample); a weight and a learned delay
#: (0 … 30 ms, 31 taps) per synapse in both layers, Gaussian kernels narrowing from σ 15.27
#: to 0.5 steps over the first quarter of the epochs, rounded at evaluation; 30 hidden units
#: at τ 5 ms, He-uniform weights; Adam at 0.001 for the weights and 0.1 for the delays, up to
#: 150 epochs with early stopping. (The original also scheduled both learning rates per
#: epoch; sslax keeps them constant.)
DCLS = Config(
    stimulus=StimulusConfig(phase_delays=False, phase_offset="per_epoch"),
    network=NetworkConfig(delays="dcls", max_delay=0.03, init="he"),
    training=TrainingConfig(n_epochs=150, learning_rate=0.001, learning_rate_delays=0.1),
)

#: The delays-only task: no weights, no hidden layer; 36 classes of 5°, one pair of fibres
#: per class (each class sees its own Poisson trains), a 20 Hz tone with envelope power 10
#: for 50 ms, φ0 per sample, no phase delays; one learned delay per class on the right ear
#: (0 … 40 ms against a fixed 20 ms on the left, so ±20 ms relative, as the original's
#: ±20 steps); leaky integrators with τ 20 ms (the original annealed τ from 40 to 19 steps);
#: fresh samples for every batch of 200, 30 epochs of 20 Adam steps at 0.5 for the delays,
#: no validation set, 2 000 test samples.
DELAYS_ONLY = Config(
    stimulus=StimulusConfig(frequency=20.0, duration=0.05, envelope_power=10.0,
                            fibres_per_ear=36, n_classes=36, phase_delays=False,
                            phase_offset="per_sample"),
    network=NetworkConfig(architecture="delays_only", max_delay=0.04, tau_hidden=20e-3),
    training=TrainingConfig(n_epochs=30, batch_size=200, n_train=4000, n_valid=0, n_test=2000,
                            patience=0, data_mode="fresh", learning_rate_delays=0.5),
)

PRESETS: dict[str, Config] = {
    "quickstart": QUICKSTART,
    "starting-notebook": STARTING_NOTEBOOK,
    "dales-law": DALES_LAW,
    "250hz": TONE_250HZ,
    "minimal-model": MINIMAL_MODEL,
    "dcls": DCLS,
    "delays-only": DELAYS_ONLY,
}

PRESET_DESCRIPTIONS: dict[str, str] = {
    "quickstart": "τ 5 ms, 30 hidden, up to 50 epochs with early stopping (the default)",
    "starting-notebook": "τ 20 ms, 10 epochs, no validation set, U(±1/√12) weights",
    "dales-law": "the quick start under Dale's law, |W|·sign, half inhibitory",
    "250hz": "a 250 Hz tone at dt 0.1 ms (T = 1000), τ 0.5 ms, 5 hidden",
    "minimal-model": "the paper's network: 50 Hz, 8 hidden, τ 2 ms, rate penalty, 100 epochs",
    "dcls": "learned synaptic delays (0–30 ms) in both layers, no phase delays, 150 epochs",
    "delays-only": "36 classes from learned delays alone: no weights, no hidden layer",
}
