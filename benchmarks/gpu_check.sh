#!/usr/bin/env bash
# sslax on a GPU in one go: does it run unchanged, and how fast is it there.
#
#   bash benchmarks/gpu_check.sh [OUT_DIR] [WHEELS_DIR]
#
# Run from the repository root on a machine whose python3 has JAX for its GPU
# (`pip install "jax[cuda12]"` or the CUDA 13 build) and sslax's dependencies; sslax itself
# is used from this checkout. WHEELS_DIR, if given, holds wheels of dependencies that
# python3 lacks, for a machine without network access, installed into a folder of their own
# first; for a Python 3.12 machine that has JAX, Flax and the scientific stack but not
# sslax's smaller dependencies, made elsewhere with
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 -d WHEELS_DIR \
#       tyro docstring-parser typeguard beartype
#
# Steps, each with a time limit so that the whole takes under about eight minutes:
#
#   1. the devices JAX sees;
#   2. the numerical tests (parity with plain loops, neurons, surrogates, stimulus, random
#      draws, training, the model seams, sweeps) on the GPU;
#   3. `sslax train` on its default settings (the quick start), as a new user runs it;
#   4. benchmarks/bench_step.py (one Adam step of the base model, and 64 models, against
#      plain JAX in the same process);
#   5. benchmarks/bench_ensemble.py (per-network throughput of 64-member ensembles and
#      sweeps against one network);
#   6. scripts/tau_sweep.py (80 networks × 10 epochs: the τ reproduction, timed).
#
# Everything is written to OUT_DIR/gpu-check.log (default OUT_DIR: gpu-check); the last
# lines are a table of each step's exit status and seconds.
set -uo pipefail
out=$(realpath -m "${1:-gpu-check}")
wheels=${2:+$(realpath "$2")}
cd "$(dirname "$0")/.."
mkdir -p "$out"
log="$out/gpu-check.log"
: >"$log"

if [[ -n "$wheels" ]]; then
    site="$out/site-packages"
    python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" \
        "$wheels"/*.whl >>"$log" 2>&1 || { echo "installing $wheels failed: see $log"; exit 1; }
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# several processes share the GPU (pytest workers): allocate as needed, not 75 % each
export XLA_PYTHON_CLIENT_PREALLOCATE=false

summary=()
step() {  # step NAME SECONDS COMMAND...: run it with a time limit, log it, note rc and time
    local name=$1 limit=$2
    shift 2
    echo "=== $name (limit ${limit} s): $*" | tee -a "$log"
    local start=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$log"
    local rc=${PIPESTATUS[0]}
    summary+=("| $name | $rc$([[ $rc == 124 ]] && echo ' (time limit)') | $((SECONDS - start)) |")
}

step devices 60 python3 -c "
import jax, sslax
print('jax', jax.__version__, 'backend', jax.default_backend(), jax.devices())"
command -v nvidia-smi >/dev/null && nvidia-smi -L 2>&1 | tee -a "$log"

step tests 180 python3 -m pytest -q -p no:cacheprovider -n 4 \
    tests/test_parity.py tests/test_neurons.py tests/test_surrogate.py \
    tests/test_stimulus.py tests/test_threefry.py tests/test_training.py \
    tests/test_model_seams.py tests/test_sweep.py
step "sslax train" 120 python3 -m sslax.cli train --out "$out/quick-start" --no-figures
step bench_step 90 python3 benchmarks/bench_step.py --rounds 5
step bench_ensemble 120 python3 benchmarks/bench_ensemble.py --repeats 3 --no-torch
step tau_sweep 150 python3 scripts/tau_sweep.py --out "$out/tau-sweep"

{
    echo
    echo "| step | exit status | seconds |"
    echo "|---|---|---|"
    printf '%s\n' "${summary[@]}"
} | tee -a "$log"
