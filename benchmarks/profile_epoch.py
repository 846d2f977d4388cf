"""Where a training epoch spends its time, kernel by kernel, from XLA's own profile.

Runs epochs of a preset (with any config fields changed) under ``jax.profiler.trace``, with
XLA's CPU backend recording every kernel it runs (``--xla_cpu_enable_xprof_traceme``), and
prints the kernels that take most time per epoch: milliseconds, runs per epoch, and the HLO
instruction each one is in the compiled epoch (shape and operation). Kernels inside a loop
(the LIF loops, the batch loop) are listed on their own and also inside the loop's total.

Recording costs about a microsecond per kernel run, so loops of many small kernels look
slower here than they are, and library calls more so: the input layer's products as YNNPACK
fusions (``ynn_fusion``) showed 120 ms per quick-start epoch here, yet compiling them as
XLA's own dots instead saved 17 ms of the epoch's 245 ms in wall time. Read the profile to
find the kernel behind a cost; time a change with the interleaved benchmarks.

    python benchmarks/profile_epoch.py [--preset quickstart] [--set phase_offset=per_epoch
        --set fast_rates=true ...] [--epochs 3] [--top 30]
"""

from __future__ import annotations

import os

# before JAX starts: the CPU backend records a trace event for every kernel it runs
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_cpu_enable_xprof_traceme=true").strip()

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402

from sslax import PRESETS  # noqa: E402
from sslax.training import datasets_from_seed, init_state, train_epoch  # noqa: E402


def parse_fields(pairs: list[str]) -> dict[str, object]:
    """``["n_hidden=50", "fast_rates=true", "phase_offset=per_epoch"]`` as config fields
    (numbers and true/false as JSON, anything else as a string)."""
    fields: dict[str, object] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set {pair!r}: expected NAME=VALUE")
        try:
            fields[name] = json.loads(text)
        except json.JSONDecodeError:
            fields[name] = text
    return fields


def kernel_times(trace_dir: Path) -> tuple[collections.Counter, collections.Counter]:
    """Total nanoseconds and number of runs of every XLA kernel in a profile."""
    (path,) = trace_dir.glob("**/*.xplane.pb")
    total: collections.Counter = collections.Counter()
    runs: collections.Counter = collections.Counter()
    for plane in jax.profiler.ProfileData.from_file(str(path)).planes:
        for line in plane.lines:
            if not line.name.startswith("tf_XLA"):  # XLA's worker threads
                continue
            for event in line.events:
                if not event.name.startswith(("ThunkExecutor", "end: ")):
                    total[event.name] += event.duration_ns
                    runs[event.name] += 1
    return total, runs


def instructions(hlo: str) -> dict[str, str]:
    """Each instruction's name → its operation, shape and the JAX operation it came from,
    from an optimised HLO module."""
    found = {}
    pattern = r"^\s+(?:ROOT )?%(\S+) = (\(.*?\)|\S+) ([\w-]+)\((.*)$"
    for name, shape, operation, rest in re.findall(pattern, hlo, re.M):
        source = re.search(r'op_name="([^"]*)"', rest)
        where = "/".join(source.group(1).split("/")[-3:]) if source else ""
        shape = "(tuple)" if shape.startswith("(") else shape.split("{")[0]
        found[name] = f"{operation} → {shape}" + (f" `{where}`" if where else "")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quickstart", choices=sorted(PRESETS))
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a config field to change (repeatable)")
    parser.add_argument("--compiler-option", action="append", default=[],
                        metavar="NAME=VALUE", help="an XLA option for the epoch's compile, "
                        "e.g. xla_cpu_experimental_ynn_fusion_type= (repeatable)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs profiled")
    parser.add_argument("--top", type=int, default=30, help="kernels listed")
    args = parser.parse_args()
    config = PRESETS[args.preset].replace_fields(**parse_fields(args.set))

    data = datasets_from_seed(0, config)
    state = jax.jit(init_state)(jax.random.key(0), config)
    options = {name: value for name, _, value in
               (pair.partition("=") for pair in args.compiler_option)}
    # compiled once: the program whose HLO names the kernels is the one that runs
    epoch = jax.jit(train_epoch, compiler_options=options or None).lower(
        state, data, config).compile()
    state = jax.block_until_ready(epoch(state, data, config))  # warm-up, outside the trace
    with tempfile.TemporaryDirectory() as folder:
        with jax.profiler.trace(folder):
            for _ in range(args.epochs):
                state = jax.block_until_ready(epoch(state, data, config))
        total, runs = kernel_times(Path(folder))
    names = instructions(epoch.as_text())
    changes = " ".join(args.set + args.compiler_option)
    print(f"# {args.preset} {changes}: kernels by time, per epoch (mean of {args.epochs}); "
          f"jax {jax.__version__}")
    print("| kernel | ms per epoch | runs per epoch | HLO |\n|---|---|---|---|")
    for name, ns in total.most_common(args.top):
        print(f"| {name} | {ns / 1e6 / args.epochs:.2f} | {runs[name] / args.epochs:g} | "
              f"{names.get(name, '')} |")


if __name__ == "__main__":
    main()
