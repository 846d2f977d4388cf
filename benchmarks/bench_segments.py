"""What driving epochs from the host costs: one compiled program for the whole run against
one compiled epoch at a time (with and without a checkpoint after every epoch).

``sslax train`` and ``sslax sweep`` run the pure epoch function
(:func:`sslax.training.train_epoch`) one epoch per call so that they can report progress,
stop at an epoch boundary and write checkpoints. This measures, in one process and
interleaved, the training throughput of:

- **one program**: ``jit(train_on_data)`` over every epoch (``evaluate_best=False``);
- **host-driven**: the same epochs through :class:`sslax.training.Trainer`, one call per
  epoch with a host sync after each (progress, the stopping test);
- **host-driven + checkpoints**: the same, writing a checkpoint (with fsync) after every
  epoch, the most frequent schedule ``sslax train`` offers.

Quick-start network (30 hidden, 4 096 training and 4 096 validation samples per epoch, no
early stopping so that every variant runs every epoch). Reports medians over repeats and
the ratio to the one-program time.

    python benchmarks/bench_segments.py [--epochs 5] [--repeats 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from statistics import median

import jax

from sslax import PRESETS, checkpoint, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config = PRESETS["quickstart"].replace_fields(n_epochs=args.epochs, patience=0)
    trainer = training.Trainer(config, seed=0, data_seed=0)
    one_program = jax.jit(lambda key, data: training.train_on_data(key, data, config,
                                                                   evaluate_best=False))
    folder = Path(tempfile.mkdtemp())

    def run_one_program() -> None:
        jax.block_until_ready(one_program(jax.random.key(0), trainer.data))

    def run_host_driven() -> None:
        state, _ = trainer.run(trainer.initial_state())
        jax.block_until_ready(state)

    def run_with_checkpoints() -> None:
        def save(state: training.TrainState) -> None:
            checkpoint.save(folder / "state", state, {"epoch": int(state.epoch)})

        state, _ = trainer.run(trainer.initial_state(), on_epoch=save)
        jax.block_until_ready(state)

    variants = {"one program": run_one_program, "host-driven": run_host_driven,
                "host-driven + checkpoint every epoch": run_with_checkpoints}
    for run in variants.values():  # compile
        run()
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for repeat in range(args.repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)
    samples = args.epochs * config.training.n_train
    reference = median(times["one program"])
    print(f"# quick-start network, {args.epochs} epochs × {config.training.n_train} samples, "
          f"{args.repeats} interleaved repeats; jax {jax.__version__}")
    print("| variant | median [s] | samples/s | vs one program |")
    print("|---|---|---|---|")
    for name, values in times.items():
        m = median(values)
        print(f"| {name} | {m:.2f} | {samples / m:,.0f} | {reference / m:.3f}× "
              f"({100 * (m / reference - 1):+.1f} % time) |")


if __name__ == "__main__":
    main()
