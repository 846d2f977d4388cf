"""What each model variant costs per training epoch, against the base model in the same run.

The quick-start network (30 hidden LIF units, τ = 5 ms, T = 100, batch 64, 64 Adam steps an
epoch, no validation set) and one variant at a time: the adaptive-threshold neuron, the
spiking and max-over-time readouts, hidden and connection dropout, the rate penalty,
filter-and-fire synapses (M = 1, 3) and per-epoch φ0 augmentation (spikes regenerated every
batch). Each config's epoch is compiled once (``jax.jit(train_epoch)``, untimed warm-up),
then every config is timed ``--repeats`` times in interleaved rounds (the order rotates each
round, so slow spells of a shared machine hit every config). Reported: the median epoch time
of each, and its ratio to the base model's median.

    python benchmarks/bench_variants.py [--repeats 7]
"""

from __future__ import annotations

import argparse

import numpy as np
from epoch_timing import epoch_setting, interleaved_epoch_times, warm_cases

from sslax import PRESETS

VARIANTS = {
    "base (LIF, mean readout)": {},
    "adaptive threshold": dict(neuron="adaptive"),
    "readout: spike count": dict(readout="spike_count"),
    "readout: max over time": dict(readout="max"),
    "hidden dropout 0.5": dict(dropout_hidden=0.5),
    "connection dropout 0.1": dict(dropout_connections=0.1),
    "rate penalty (band)": dict(rate_regulariser="band"),
    "filter-and-fire, M = 1": dict(synapse="filter_and_fire", contacts=1),
    "filter-and-fire, M = 3": dict(synapse="filter_and_fire", contacts=3),
    "φ0 per epoch (spikes per batch)": dict(phase_offset="per_epoch"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    base = PRESETS["quickstart"].replace_fields(n_valid=0, patience=0, n_epochs=100)
    times = interleaved_epoch_times(warm_cases(base, VARIANTS), args.repeats)
    names = list(times)
    reference = np.median(times[names[0]])
    n_steps = base.training.n_batches
    print(epoch_setting(args.repeats, base))
    print("| variant | median epoch [s] | per step [ms] | time vs base |")
    print("|---|---|---|---|")
    for name in names:
        median = np.median(times[name])
        print(f"| {name} | {median:.3f} | {1e3 * median / n_steps:.2f} | "
              f"{median / reference:.2f}× |")


if __name__ == "__main__":
    main()
