"""What learned delays cost per training epoch, against the plain network in the same run.

The DCLS preset's network (30 hidden LIF units, τ = 5 ms, T = 100, batch 64, 64 Adam steps an
epoch, no validation set, no input phase delays) without delays, with one delay per input
fibre (interpolated shift), and with DCLS synaptic delays in both layers (31 taps) computed
each of the three ways of :data:`sslax.delays.KERNEL_CURRENTS` (real FFTs, XLA's
convolution, shifted copies and one matrix product). Each config's epoch is compiled once
(untimed warm-up), then timed ``--repeats`` times in interleaved rounds. Reported: the median
epoch time, its ratio to the plain network's, and the compiled epoch's memory (XLA's
temporary buffers plus arguments and outputs, from its memory analysis), a close bound on
the peak memory of training.

    python benchmarks/bench_delays.py [--repeats 3] [--skip unfold]
"""

from __future__ import annotations

import argparse

import jax
import numpy as np
from epoch_timing import EPOCH, epoch_setting, interleaved_epoch_times, warm_case

from sslax import PRESETS
from sslax.training import datasets_from_seed, init_state

VARIANTS = {
    "no delays": dict(delays="none"),
    "fibre delays (interpolated shift)": dict(delays="fibre"),
    "DCLS, fft": dict(delays="dcls", delay_method="fft"),
    "DCLS, conv": dict(delays="dcls", delay_method="conv"),
    "DCLS, unfold": dict(delays="dcls", delay_method="unfold"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[],
                        help="skip DCLS methods by name (fft, conv, unfold)")
    args = parser.parse_args()
    base = PRESETS["dcls"].replace_fields(n_valid=0, patience=0, n_epochs=100)
    cases, memory = {}, {}
    for name, fields in VARIANTS.items():
        if any(name.endswith(skip) for skip in args.skip):
            continue
        config = base.replace_fields(**fields)
        data = datasets_from_seed(0, config)
        state = init_state(jax.random.key(0), config)
        stats = EPOCH.lower(state, data, config).compile().memory_analysis()
        memory[name] = (stats.temp_size_in_bytes + stats.argument_size_in_bytes
                        + stats.output_size_in_bytes) if stats is not None else float("nan")
        cases[name] = warm_case(config, data, state)
    times = interleaved_epoch_times(cases, args.repeats)
    names = list(cases)
    reference = np.median(times[names[0]])
    n_steps = base.training.n_batches
    print(epoch_setting(args.repeats, base))
    print("| model | median epoch [s] | per step [ms] | time vs no delays | memory [MB] |")
    print("|---|---|---|---|---|")
    for name in names:
        median = np.median(times[name])
        print(f"| {name} | {median:.2f} | {1e3 * median / n_steps:.1f} | "
              f"{median / reference:.1f}× | {memory[name] / 2**20:.0f} |")


if __name__ == "__main__":
    main()
