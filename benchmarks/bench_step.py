"""One Adam step of the base model against plain JAX in the same run, and where its time goes.

The workload is the peer benchmark's "W2": batch 64, T = 100 steps, 200 Bernoulli(0.2)
inputs → 30 LIF units (τ = 5 ms, parity order, multiplicative reset, sigmoid surrogate of
slope 5) → 12 leaky integrators, cross-entropy of the time-mean output, one ``optax.adam``
step (lr 1e-3) per call; and "W2ens": 64 such models on the same batch per call. The
reference is the textbook plain-JAX formulation (two ``lax.scan``s and a ``custom_vjp``
spike), written here; for the ensemble also its ``lax.map`` over models, the fastest plain
form on one device. On a CPU the process has one JAX device per core, as ``sslax sweep``
has, and the ensemble is timed on one device and with its members split over the devices
(sslax's way of running many models, and the same split applied to plain JAX's
``lax.map``); one model always runs on one device. Before timing, sslax's loss and
gradients are checked against the reference.

Then the parts of sslax's step, timed alone: the input layer's matrix product
h = X·W1 ([6 400 × 200]·[200 × 30]) and its weight gradient Xᵀ·∂h, each in the layout
sslax uses and in the transposed one; the fused LIF loops forward and backward, for the 30
units and for a sweep group's 64 × 30 (members merged into the units axis); Adam. With
``--other CHECKOUT``, another checkout's fused LIF loops too, in the same rounds, after a
check that both give the same numbers, bit for bit.

    python benchmarks/bench_step.py [--rounds 10] [--other CHECKOUT]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np
import optax
from epoch_timing import blocking_call, interleaved_calls
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import sslax
from sslax.neurons import lif_parity_layer, members_as_units
from sslax.sweep import MEMBER_AXIS, use_cpu_cores_as_devices

Array = jax.Array
BATCH, T, N_IN, N_HIDDEN, N_OUT, P_IN = 64, 100, 200, 30, 12, 0.2
A = math.exp(-0.2)  # exp(−dt/τ), dt = 1 ms, τ = 5 ms
CONFIG = sslax.Config(network=sslax.NetworkConfig(tau_hidden=5e-3))
ADAM = optax.adam(1e-3)


def workload(ensemble: int | None = None) -> tuple[Array, Array, tuple[Array, Array]]:
    """Inputs [batch, time, inputs] in {0, 1}, labels, and initial (W1, W2)."""
    rng = np.random.default_rng(0)
    x = (rng.random((BATCH, T, N_IN)) < P_IN).astype(np.float32)
    y = rng.integers(0, N_OUT, BATCH)
    lead = () if ensemble is None else (ensemble,)
    w1 = (rng.standard_normal((*lead, N_IN, N_HIDDEN)) * 0.07).astype(np.float32)
    w2 = (rng.standard_normal((*lead, N_HIDDEN, N_OUT)) * 0.3).astype(np.float32)
    return jnp.asarray(x), jnp.asarray(y), (jnp.asarray(w1), jnp.asarray(w2))


@jax.custom_vjp
def _spike(v: Array) -> Array:
    return (v > 0).astype(v.dtype)


def _spike_fwd(v: Array) -> tuple[Array, Array]:
    return _spike(v), v


def _spike_bwd(v: Array, g: Array) -> tuple[Array]:
    s = jax.nn.sigmoid(5.0 * v)
    return (g * 5.0 * s * (1.0 - s),)


_spike.defvjp(_spike_fwd, _spike_bwd)


def reference_loss(weights: tuple[Array, Array], x: Array, y: Array) -> Array:
    """Plain JAX: v ← (a·v + h_t)(1 − s), s ← H(v − 1) from the previous v; u ← a·u + o_t;
    scores = mean_t u_t (u_0 = 0 … u_{T−1}: the same readout as sslax's)."""
    w1, w2 = weights
    h = jnp.dot(jnp.swapaxes(x, 0, 1), w1)
    zeros = jnp.zeros(h.shape[1:], h.dtype)

    def hidden(carry: tuple[Array, Array], h_t: Array) -> tuple[tuple[Array, Array], Array]:
        v, s = carry
        return ((A * v + h_t) * (1.0 - s), _spike(v - 1.0)), s

    _, spikes = lax.scan(hidden, (zeros, zeros), h)
    current = jnp.dot(spikes, w2)

    def output(u: Array, o_t: Array) -> tuple[Array, Array]:
        return A * u + o_t, u

    _, u = lax.scan(output, jnp.zeros(current.shape[1:], current.dtype), current)
    log_p = jax.nn.log_softmax(u.mean(axis=0), axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))


def sslax_loss(weights: tuple[Array, Array], x: Array, y: Array) -> Array:
    params = sslax.Params(trained={"w_in": weights[0], "w_out": weights[1]})
    return sslax.loss_fn(params, jnp.swapaxes(x, 0, 1), y, CONFIG)[0]


def adam_step(loss: Callable[..., Array]) -> Callable[..., tuple]:
    def step(weights: tuple, opt_state: tuple, x: Array, y: Array) -> tuple:
        value, grads = jax.value_and_grad(loss)(weights, x, y)
        updates, opt_state = ADAM.update(grads, opt_state, weights)
        return optax.apply_updates(weights, updates), opt_state, value

    return step


def stepper(step: Callable[..., tuple], weights: tuple, x: Array, y: Array,
            batched: bool = False, mesh: Mesh | None = None) -> Callable[[], object]:
    """A zero-argument call running one donated, compiled step from its own state; with
    ``mesh``, the members' weights are split over its devices and the batch is on each."""
    compiled = jax.jit(step, donate_argnums=(0, 1))
    init = jax.vmap(ADAM.init) if batched else ADAM.init
    weights = jax.tree.map(jnp.copy, weights)
    if mesh is not None:
        weights = jax.device_put(weights, NamedSharding(mesh, P(MEMBER_AXIS)))
        x, y = jax.device_put((x, y), NamedSharding(mesh, P()))
    state = {"w": weights, "o": init(weights)}

    def call() -> object:
        state["w"], state["o"], loss = compiled(state["w"], state["o"], x, y)
        return jax.block_until_ready(loss)

    return call


def check_equal(x: Array, y: Array, weights: tuple) -> None:
    ours = jax.jit(jax.value_and_grad(sslax_loss))(weights, x, y)
    ref = jax.jit(jax.value_and_grad(reference_loss))(weights, x, y)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


def fused_lif_module(checkout: str) -> ModuleType:
    """Another checkout's fused LIF loops (``sslax/neurons/_fused_lif.py``), loaded on
    their own beside this checkout's."""
    path = Path(checkout) / "sslax" / "neurons" / "_fused_lif.py"
    spec = importlib.util.spec_from_file_location("other_fused_lif", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--other {checkout}: no {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lif_loops(module: ModuleType, label: str, members: int = 1) -> dict[str, Callable]:
    """The fused LIF loops of ``module``, forward and forward + backward (r = Σ_t c_t·s_t
    into a weighted sum), for the W2 hidden layer; ``members`` > 1 as a sweep group runs
    them: one layer of ``members`` × 30 units (the members merged into the units axis)."""
    units = members * N_HIDDEN
    rng = np.random.default_rng(1)
    h = jnp.asarray(rng.normal(0.3, 0.8, (T, BATCH, units)).astype(np.float32))
    c = jnp.full((T,), 1.0 / T, jnp.float32)
    w = jnp.asarray(rng.normal(size=(BATCH, units)).astype(np.float32))

    def loss(hh: Array) -> Array:
        return jnp.sum(module.lif_parity_layer(hh, jnp.float32(A), 1.0, 5.0, c)[1] * w)

    size = f"{members} × {N_HIDDEN} units" if members > 1 else f"{N_HIDDEN} units"
    return {f"fused LIF loops, forward, {size}{label}": blocking_call(jax.jit(loss), h),
            f"fused LIF loops, forward + backward, {size}{label}":
                blocking_call(jax.jit(jax.grad(loss)), h)}


def check_same_numbers(ours: dict[str, Callable], theirs: dict[str, Callable]) -> None:
    """Print, for each pair of calls, whether they return the same arrays bit for bit."""
    for (name, a), b in zip(ours.items(), theirs.values(), strict=True):
        same = all(bool((x == y).all()) for x, y in zip(jax.tree.leaves(a()),
                                                        jax.tree.leaves(b()), strict=True))
        print(f"{name}: {'the same numbers' if same else 'OTHER NUMBERS'} in both checkouts")


def single(rounds: int, other: str | None = None) -> dict[str, float]:
    x, y, w = workload()
    check_equal(x, y, w)
    xt = jnp.swapaxes(x, 0, 1)
    dh = jax.random.normal(jax.random.key(0), (T, BATCH, N_HIDDEN))

    def block(f: Callable, *args: object) -> Callable[[], object]:
        return blocking_call(jax.jit(f), *args)

    def both_widths(module: ModuleType, label: str) -> dict[str, Callable]:
        return {**lif_loops(module, label), **lif_loops(module, label, members=64)}

    loops = both_widths(sys.modules[lif_parity_layer.__module__], "")
    if other is not None:
        theirs = both_widths(fused_lif_module(other), f" ({other})")
        check_same_numbers(loops, theirs)
        loops.update(theirs)
    calls = {
        "plain JAX step": stepper(adam_step(reference_loss), w, x, y),
        "sslax step": stepper(adam_step(sslax_loss), w, x, y),
        "sslax loss only": block(sslax_loss, w, x, y),
        "X·W1 [6400×200]·[200×30] (sslax's layout)": block(
            lambda a, b: jnp.einsum("tbi,ih->tbh", a, b), xt, w[0]),
        "W1ᵀ·Xᵀ (output units-major)": block(
            lambda a, b: jnp.einsum("tbi,ih->htb", a, b), xt, w[0]),
        "Xᵀ·∂h, ∂h [time, batch, units]": block(
            lambda a, b: jnp.einsum("tbi,tbh->ih", a, b), xt, dh),
        "∂hᵀ·X, ∂h [units, time·batch]": block(
            lambda a, b: jnp.einsum("tbi,htb->hi", a, b), xt, jnp.transpose(dh, (2, 0, 1))),
        **loops,
        "Adam update alone": block(lambda g, o, p: ADAM.update(g, o, p), w, ADAM.init(w), w),
    }
    return interleaved(calls, rounds, per_round=20)


def over_cores(run: Callable[..., tuple], mesh: Mesh) -> Callable[..., tuple]:
    """``run(weights, opt_state, x, y)`` of stacked members, each device running its share
    of the members on the whole batch: how ``sslax sweep`` splits the values of one seed
    over the cores (one group per device, :func:`sslax.sweep.group_size`)."""
    # check_vma off: scans that start from zeros (replicated) and carry member-dependent
    # values would need casts in code written for one device
    return jax.shard_map(run, mesh=mesh, in_specs=(P(MEMBER_AXIS), P(MEMBER_AXIS), P(), P()),
                         out_specs=P(MEMBER_AXIS), check_vma=False)


def ensemble(rounds: int, members: int = 64) -> dict[str, float]:
    x, y, w = workload(members)
    # on a CPU one device per core (use_cpu_cores_as_devices, in main), as `sslax sweep` has
    mesh = Mesh(np.asarray(jax.devices()), (MEMBER_AXIS,))

    def vmapped(step: Callable, merged: bool) -> Callable:
        def run(ws: tuple, os: tuple, xx: Array, yy: Array) -> tuple:
            if merged:
                with members_as_units():
                    return jax.vmap(step, in_axes=(0, 0, None, None))(ws, os, xx, yy)
            return jax.vmap(step, in_axes=(0, 0, None, None))(ws, os, xx, yy)

        return run

    def mapped(step: Callable) -> Callable:
        def run(ws: tuple, os: tuple, xx: Array, yy: Array) -> tuple:
            return lax.map(lambda wo: step(wo[0], wo[1], xx, yy), (ws, os))

        return run

    calls = {
        "plain JAX, vmap": stepper(vmapped(adam_step(reference_loss), False), w, x, y, True),
        "plain JAX, lax.map": stepper(mapped(adam_step(reference_loss)), w, x, y, True),
        "sslax, vmap (members as units)": stepper(vmapped(adam_step(sslax_loss), True), w, x,
                                                  y, True),
        f"plain JAX, lax.map, members over {mesh.size} devices":
            stepper(over_cores(mapped(adam_step(reference_loss)), mesh), w, x, y, True, mesh),
        f"sslax, members as units, over {mesh.size} devices (as `sslax sweep`)":
            stepper(over_cores(vmapped(adam_step(sslax_loss), True), mesh), w, x, y, True,
                    mesh),
    }
    return interleaved(calls, rounds, per_round=3)


def interleaved(calls: dict[str, Callable[[], object]], rounds: int,
                per_round: int) -> dict[str, float]:
    """Milliseconds per call (:func:`interleaved_calls`, after 3 warm-up calls each)."""
    return {name: 1e3 * s for name, s in
            interleaved_calls(calls, rounds, per_round, warmup=3).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--other", metavar="CHECKOUT",
                        help="another sslax checkout whose fused LIF loops to time alongside")
    args = parser.parse_args()
    use_cpu_cores_as_devices()  # the ensemble's members over the cores, as `sslax sweep`
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}; {args.rounds} interleaved "
          f"rounds, medians")
    one = single(args.rounds, args.other)
    ref = one["plain JAX step"]
    print("\n| one model: what | ms | vs plain JAX step |\n|---|---|---|")
    for name, ms in one.items():
        print(f"| {name} | {ms:.3f} | {ms / ref:.2f} |")
    many = ensemble(max(3, args.rounds // 2))
    best = min(ms for name, ms in many.items() if name.startswith("plain JAX"))
    print("\n| 64 models, one step: what | ms | vs best plain JAX |\n|---|---|---|")
    for name, ms in many.items():
        print(f"| {name} | {ms:.1f} | {ms / best:.2f} |")


if __name__ == "__main__":
    main()
