"""Is the base model's compiled program the same in two checkouts of sslax?

A refactoring that adds options around the base model should not change what the base model
runs. This compiles the whole training run of a preset (``make_train`` under ``jax.jit``:
data generation, every epoch and batch, evaluation) with this checkout and with another one,
each in its own process, and compares XLA's optimised programs with their source-location
tables removed. Identical programs run at identical speed on the same machine, so this
settles "no speed regression" without timing noise; when they differ, time them with
``bench_train.py`` in both checkouts.

    python benchmarks/compare_programs.py OTHER_CHECKOUT [--preset starting-notebook]

(``git worktree add /tmp/before HEAD~1`` makes an earlier checkout to compare with.)
Exit status 0 when the programs are identical, 1 when they differ.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

DUMP = """
import sys, jax
from sslax import PRESETS
from sslax.training import make_train
config = PRESETS[sys.argv[1]]
train = make_train(config)
program = jax.jit(train).lower(jax.random.key(0), jax.random.key(1)).compile()
open(sys.argv[2], "w").write(program.as_text())
"""

# the tables of file names, function names, locations and stack frames, and references to
# them, name the checkout's paths: everything else is the program
_TABLE_HEADERS = {"FileNames", "FunctionNames", "FileLocations", "StackFrames"}


def program_text(checkout: Path, preset: str) -> str:
    """The optimised program of ``preset``'s training run compiled by ``checkout``'s sslax,
    without source locations."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "program.txt"
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        subprocess.run([sys.executable, "-c", DUMP, preset, str(path)], check=True, env=env,
                       cwd=folder)
        lines = path.read_text().splitlines()
    kept = [line for line in lines
            if line.strip() not in _TABLE_HEADERS and not re.match(r"^\d+ ", line)]
    return re.sub(r",? ?stack_frame_id=\d+", "", "\n".join(kept))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="another sslax checkout (its root folder)")
    parser.add_argument("--preset", default="starting-notebook")
    args = parser.parse_args()
    this, other = program_text(HERE, args.preset), program_text(args.other, args.preset)
    if this == other:
        print(f"identical: the {args.preset} training program of {HERE} and {args.other} "
              f"({len(this.splitlines())} lines of optimised HLO)")
        return
    diff = list(difflib.unified_diff(other.splitlines(), this.splitlines(), str(args.other),
                                     str(HERE), lineterm="", n=0))
    print(f"different: {len(diff)} diff lines; the first ones:")
    print("\n".join(diff[:40]))
    raise SystemExit(1)


if __name__ == "__main__":
    main()
