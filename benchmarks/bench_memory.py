"""Peak memory of one training step on long sequences: T = 1 000 and T = 5 000 steps.

The 250 Hz task runs at dt = 0.1 ms, so 100 ms of stimulus are T = 1 000 steps; longer
stimuli grow T further. Memory of backpropagation through time grows with T: this measures
the peak resident memory (RSS) of one Adam step (forward, backward through the fused LIF
layer, update) of the 250 Hz network with 30 hidden units and a batch of 64, each T in a
fresh process so that one measurement cannot hide in another's peak. The baseline is the
same process after importing, compiling and creating the batch (the input spikes are
[T, 64, 200] booleans, 12.8 MB at T = 1 000); the peak is reset after compiling (Linux's
``clear_refs``), so "added by the step" is what the step itself needs.

    python benchmarks/bench_memory.py [--steps 1000 5000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys


def peak_rss_mb() -> float:
    """Peak resident memory of this process [MB] (since the last :func:`reset_peak`)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Restart the peak at the current resident memory (Linux ≥ 4.0); False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def measure(n_steps: int) -> dict:
    """In this process: peak RSS before and after one training step with T = n_steps."""
    import jax
    import jax.numpy as jnp
    import optax

    from sslax import PRESETS
    from sslax.network import init_params, loss_fn

    config = PRESETS["250hz"].replace_fields(n_hidden=30, duration=n_steps * 1e-4,
                                             batch_size=64)
    params = init_params(jax.random.key(0), config)
    spikes = jax.random.bernoulli(jax.random.key(1), 0.2, (n_steps, 64, 200))
    labels = jnp.arange(64) % 12
    tx = optax.adam(0.01)

    @jax.jit
    def step(params, opt_state, spikes):
        def loss(trained):
            return loss_fn(params.replace(trained=trained), spikes.astype(jnp.float32), labels,
                           config)[0]

        value, grads = jax.value_and_grad(loss)(params.trained)
        updates, opt_state = tx.update(grads, opt_state)
        return params.replace(trained=optax.apply_updates(params.trained, updates)), value

    opt_state = tx.init(params.trained)
    compiled = step.lower(params, opt_state, spikes).compile()
    jax.block_until_ready(spikes)
    compile_peak = peak_rss_mb()
    reset = reset_peak()  # so that the step's peak is not hidden under compilation's
    baseline = peak_rss_mb()
    out = jax.block_until_ready(compiled(params, opt_state, spikes))
    peak = peak_rss_mb()
    memory = compiled.memory_analysis()
    temp = getattr(memory, "temp_size_in_bytes", None)
    return {"n_steps": n_steps, "baseline_rss_mb": round(baseline, 1),
            "compile_peak_mb": round(compile_peak, 1), "peak_reset": reset,
            "peak_rss_mb": round(peak, 1), "step_rss_mb": round(peak - baseline, 1),
            "xla_temp_mb": None if temp is None else round(temp / 1e6, 1),
            "loss": float(out[1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(measure(args.worker)))
        return
    rows = []
    for n_steps in args.steps:
        out = subprocess.run([sys.executable, __file__, "--worker", str(n_steps)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| T | RSS before the step [MB] | peak during the step [MB] | added by the step [MB] "
          "| XLA temporaries [MB] | peak while compiling [MB] |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['n_steps']} | {row['baseline_rss_mb']:.0f} | {row['peak_rss_mb']:.0f} | "
              f"{row['step_rss_mb']:.0f} | {row['xla_temp_mb']} | "
              f"{row['compile_peak_mb']:.0f} |")
    if not all(row["peak_reset"] for row in rows):
        print("(the peak could not be reset: step peaks include compilation's)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
