"""Do two checkouts of sslax compute the same numbers, bit for bit?

A change meant to leave results alone (a faster kernel, fewer compiled programs, a
refactoring) must give every config the same data, initial parameters, training and
evaluation. For every preset and some variants of the quick start (learned and distributed
τ, Dale's law with learned τ, filter-and-fire synapses, φ0 per epoch, fresh data with and
without ``fast_rates``, dropout), this hashes four things: the data sets of data seed 3, the
initial state of network seed 5, the state after one epoch, and the final evaluation of
that state. The sets are small (256 training, 128 validation and 128 test samples), so a
checkout takes a minute or two. Each checkout runs in its own process; the table marks what
differs.

    python benchmarks/compare_results.py OTHER_CHECKOUT [--configs quickstart dcls ...]
    python benchmarks/compare_results.py --print          # this checkout's hashes only

(``git worktree add /tmp/before HEAD~1`` makes an earlier checkout to compare with.)
A hash is the first 16 hex digits of SHA-256 over the raw bytes of every leaf of the pytree
(random keys as their key data). Exit status 0 when every hash is identical, 1 otherwise.
:mod:`compare_programs` asks the narrower question whether a compiled program changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]

#: variants of the quick start, as ``Config.replace_fields`` arguments
VARIANTS: dict[str, dict[str, Any]] = {
    "gamma τ, learned": dict(tau_hidden_distribution="gamma", learn_tau="both"),
    "log-uniform τ": dict(tau_hidden_distribution="log_uniform"),
    "Dale, learned τ": dict(dale="abs", learn_tau="hidden", learned_tau_shape="unit"),
    "filter-and-fire": dict(synapse="filter_and_fire"),
    "φ0 per epoch": dict(phase_offset="per_epoch"),
    "fresh data": dict(data_mode="fresh", phase_offset="per_sample"),
    "fresh, fast_rates": dict(data_mode="fresh", fast_rates=True),
    "dropout": dict(dropout_connections=0.1, dropout_hidden=0.1),
}
SIZES = dict(n_train=256, n_valid=128, n_test=128, batch_size=64, n_epochs=2)
STAGES = ("data", "init", "epoch", "finish")
DATA_SEED, NETWORK_SEED = 3, 5


def digest(tree: Any) -> str:
    """First 16 hex digits of SHA-256 over the bytes of every leaf (keys as key data)."""
    import jax
    import numpy as np

    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()[:16]


def configs() -> dict[str, Any]:
    """Every preset, then the quick-start variants, at the small sizes above (a variant whose
    fields this checkout lacks is left out)."""
    from sslax import PRESETS

    cases = dict(PRESETS)
    for name, fields in VARIANTS.items():
        try:
            cases[name] = PRESETS["quickstart"].replace_fields(**fields)
        except ValueError:  # ConfigError: a field this checkout lacks
            continue
    return {name: config.replace_fields(**SIZES) for name, config in cases.items()}


def config_digests(config: Any) -> dict[str, str]:
    """The four hashes of one config."""
    import jax

    from sslax import training

    data = training.datasets_from_seed(DATA_SEED, config)
    state = jax.jit(training.init_state)(jax.random.key(NETWORK_SEED), config)
    trained = jax.jit(training.train_epoch)(state, data, config)
    evaluation = jax.jit(training.finish)(trained, data, config)
    return dict(zip(STAGES, map(digest, (data, state, trained, evaluation)), strict=True))


def child(names: list[str]) -> None:
    """Print one JSON line of hashes per config (run in the checkout's own process)."""
    import sslax

    print("SSLAX " + sslax.__file__, flush=True)
    cases = configs()
    for name in names or list(cases):
        result = config_digests(cases[name]) if name in cases else {"missing": name}
        print("DIGESTS " + json.dumps({name: result}), flush=True)


def digests_of(checkout: Path, names: list[str]) -> dict[str, dict[str, str]]:
    """Hashes of every config computed by ``checkout``'s sslax in a fresh process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(checkout), str(HERE / "benchmarks")) if p)}
    code = "import sys, compare_results as c; c.child(sys.argv[1:])"
    # run outside any checkout: `python -c` puts the working folder first on sys.path
    done = subprocess.run([sys.executable, "-c", code, *names], env=env, capture_output=True,
                          text=True, cwd=tempfile.gettempdir(), check=False)
    if done.returncode != 0:
        raise SystemExit(f"hashing in {checkout} failed:\n{done.stderr[-3000:]}")
    lines = done.stdout.splitlines()
    source = next(x for x in lines if x.startswith("SSLAX ")).removeprefix("SSLAX ")
    if not Path(source).resolve().is_relative_to(checkout.resolve()):
        raise SystemExit(f"expected the sslax of {checkout}, the child imported {source}")
    out: dict[str, dict[str, str]] = {}
    for line in lines:
        if line.startswith("DIGESTS "):
            out.update(json.loads(line.removeprefix("DIGESTS ")))
    return out


def table(this: dict[str, dict[str, str]], other: dict[str, dict[str, str]] | None) -> int:
    """Print the hashes (and, with ``other``, what differs); the number of differences."""
    print("| config | " + " | ".join(STAGES) + " |\n|---|" + "---|" * len(STAGES))
    differences = 0
    for name, mine in this.items():
        theirs = None if other is None else other.get(name)
        cells = []
        for stage in STAGES:
            value = mine.get(stage, "—")
            if theirs is not None and theirs.get(stage) != value:
                differences += 1
                value = f"**{value}** (other: {theirs.get(stage, 'missing')})"
            cells.append(value)
        print(f"| {name} | " + " | ".join(cells) + " |")
    return differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, nargs="?", help="another sslax checkout")
    parser.add_argument("--print", action="store_true", help="only this checkout's hashes")
    parser.add_argument("--configs", nargs="+", default=[], metavar="NAME",
                        help="these configs only (preset or variant names)")
    args = parser.parse_args()
    if args.other is None and not args.print:
        parser.error("give another checkout, or --print")
    this = digests_of(HERE, args.configs)
    if args.print:
        table(this, None)
        return
    other = digests_of(args.other.resolve(), args.configs)
    differences = table(this, other)
    print(f"\n{'identical' if not differences else f'{differences} hashes differ'}: {HERE} "
          f"against {args.other}")
    if differences:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
