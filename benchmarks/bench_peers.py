"""sslax beside the peer libraries on one workload, in one process: medians, ratios, and an
equivalence check of spikes and gradients where the equations are the same.

The workload is the base model's training step ("W2" of the peer benchmark; the same inputs
and initial weights for every framework): batch 64, T = 100 steps, 200 Bernoulli(0.2) input
fibres → 30 LIF units (a = exp(−1 ms / 5 ms), threshold 1) → 12 leaky integrators (the same
a), cross-entropy of the time mean of the output membranes u_0 … u_{T−1}, one Adam step
(lr 10⁻³) per call; and the same for 64 models on one batch. Each framework is used the
way its documentation shows, and skipped when it is not installed:

=============  ======================================================================
framework      hidden neuron (S = spike, U = membrane, h = input current)
=============  ======================================================================
sslax          parity order (the original model): S_{t+1} = H(U_t − 1),
               U_{t+1} = (a·U_t + h_t)(1 − S_t); sigmoid surrogate, slope 5
plain JAX      the same, two ``lax.scan`` loops and a ``custom_vjp`` spike
plain PyTorch  the same, the original notebook's loop with an autograd ``Function``
snnTorch       ``snn.Leaky(reset_mechanism="zero")``: U_t = a(1 − S_{t−1})U_{t−1} + h_t,
               S_t = H(U_t − 1) (sslax's ``textbook`` order); ``surrogate.sigmoid(5)``;
               snnTorch detaches the reset from the graph, so only its forward pass is
               sslax's
Norse          ``LIFBoxCell``: Euler step U ← U + k(h/k − U) with k = 1 − a, then
               S = H(U − 1) and U ← (1 − S)U (``textbook`` order up to rounding);
               Norse has no sigmoid surrogate: its SuperSpike, 1/(1 + |x|)² (Norse
               ignores the slope it is given)
Spyx           ``spyx.nn.LIF`` with a sigmoid ``spyx.axn.custom`` surrogate:
               S_{t+1} = H(U_t − 1), U_{t+1} = a·U_t + h_t − S_{t+1} (no sslax equivalent:
               timed, not checked)
=============  ======================================================================

The output integrators are each library's own (``snn.Leaky(reset_mechanism="none")``,
``LIBoxCell``, ``spyx.nn.LI``) or plain tensor code. The check runs every checked
framework and sslax *configured with that framework's equations* on weights rounded to
multiples of 2⁻⁷ (so that x·W1 is exact in float32 whatever the summation order), and
reports how many hidden spikes differ, and the largest relative differences of the scores
and of ∂L/∂W1. Timing: interleaved rounds (each framework in turn, order rotating), medians.

Install the peers (optional, never needed by sslax)::

    pip install torch==2.13.0 snntorch==1.0.0 spyx==1.0.0
    pip install --no-deps norse==1.1.0 nirtorch==2.6

    python benchmarks/bench_peers.py [--rounds 5] [--members 64] [--check-only]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from bench_step import (
    BATCH,
    N_HIDDEN,
    N_OUT,
    A,
    T,
    adam_step,
    reference_loss,
    sslax_loss,
    stepper,
    workload,
)
from epoch_timing import interleaved_calls
from jax import lax

import sslax
from sslax.neurons import members_as_units

SLOPE = 5.0
Call = Callable[[], object]


@dataclass(frozen=True)
class Checked:
    """One framework's forward and gradient on the check weights, as numpy arrays."""

    spikes: np.ndarray  # hidden spikes [time, batch, hidden]
    scores: np.ndarray  # [batch, classes]
    grad_w1: np.ndarray  # ∂L/∂W1 [inputs, hidden]


@dataclass(frozen=True)
class Framework:
    """How to time and check one framework.

    Attributes:
        name: as printed.
        module: the import that must succeed for it to run (``None``: always).
        step: (x [B,T,I], y [B], W1, W2, members) → a zero-argument blocking Adam step;
            W1/W2 have a leading member axis when ``members`` is not ``None``.
        check: (x, y, W1, W2) → :class:`Checked`, or ``None`` if not checked.
        equations: the sslax config with this framework's equations (for the check).
        same_gradient: whether its backward pass is sslax's too (else only the forward is
            compared, and the gradient difference is reported).
    """

    name: str
    module: str | None
    step: Callable[..., Call]
    check: Callable[..., Checked] | None = None
    equations: sslax.Config | None = None
    same_gradient: bool = True


def config(order: str = "parity", surrogate: str = "sigmoid",
           slope: float = SLOPE) -> sslax.Config:
    """sslax's config of the workload with the given update order and surrogate."""
    return sslax.Config(network=sslax.NetworkConfig(tau_hidden=5e-3, update_order=order,
                                                    surrogate=surrogate,
                                                    surrogate_slope=slope))


# ---------------------------------------------------------------------------------------
# sslax and plain JAX
# ---------------------------------------------------------------------------------------


def sslax_step(x, y, w1, w2, members):
    x, y, w = jnp.asarray(x), jnp.asarray(y), (jnp.asarray(w1), jnp.asarray(w2))
    if members is None:
        return stepper(adam_step(sslax_loss), w, x, y)
    step = adam_step(sslax_loss)

    def run(ws, os_, xx, yy):
        with members_as_units():
            return jax.vmap(step, in_axes=(0, 0, None, None))(ws, os_, xx, yy)

    return stepper(run, w, x, y, batched=True)


def sslax_checked(x, y, w1, w2, cfg: sslax.Config) -> Checked:
    xt = jnp.swapaxes(jnp.asarray(x), 0, 1)

    def loss(w1_):
        params = sslax.Params(trained={"w_in": w1_, "w_out": jnp.asarray(w2)})
        value, _ = sslax.loss_fn(params, xt, jnp.asarray(y), cfg)
        return value, sslax.forward(params, xt, cfg)

    (_, out), grad = jax.jit(jax.value_and_grad(loss, has_aux=True))(jnp.asarray(w1))
    return Checked(np.asarray(out.hidden_spikes), np.asarray(out.scores), np.asarray(grad))


def jax_step(x, y, w1, w2, members):
    x, y, w = jnp.asarray(x), jnp.asarray(y), (jnp.asarray(w1), jnp.asarray(w2))
    step = adam_step(reference_loss)
    if members is None:
        return stepper(step, w, x, y)

    def mapped(ws, os_, xx, yy):  # lax.map: the fastest plain-JAX ensemble on a CPU
        return lax.map(lambda wo: step(wo[0], wo[1], xx, yy), (ws, os_))

    return stepper(mapped, w, x, y, batched=True)


def jax_checked(x, y, w1, w2) -> Checked:
    xt = jnp.swapaxes(jnp.asarray(x), 0, 1)
    w2 = jnp.asarray(w2)

    def spikes_of(w1_):  # the reference's hidden loop, recording its spikes
        h = jnp.dot(xt, w1_)
        zeros = jnp.zeros(h.shape[1:], h.dtype)

        def hidden(carry, h_t):
            v, s = carry
            return ((A * v + h_t) * (1.0 - s), (v - 1.0 > 0).astype(v.dtype)), s

        return lax.scan(hidden, (zeros, zeros), h)[1]

    grad = jax.grad(reference_loss)((jnp.asarray(w1), w2), jnp.asarray(x), jnp.asarray(y))[0]
    spikes = spikes_of(jnp.asarray(w1))
    current = jnp.dot(spikes, w2)
    u = lax.scan(lambda u, o: (A * u + o, u), jnp.zeros(current.shape[1:]), current)[1]
    return Checked(np.asarray(spikes), np.asarray(u.mean(axis=0)), np.asarray(grad))


# ---------------------------------------------------------------------------------------
# PyTorch, snnTorch, Norse (weights with an optional leading member axis)
# ---------------------------------------------------------------------------------------


def torch_setup():
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    return torch


def torch_cross_entropy(torch, scores, y):
    """Mean cross-entropy per member, summed over members (members stay independent)."""
    log_p = torch.log_softmax(scores, dim=-1)
    picked = torch.gather(log_p, -1, y.expand(*scores.shape[:-1]).unsqueeze(-1))
    return -picked.squeeze(-1).mean(dim=-1).sum()


def torch_input_current(torch, x_tbi, w1):
    """h [time, (members,) batch, hidden] = x·W1."""
    if w1.dim() == 3:
        return torch.einsum("tbi,mih->tmbh", x_tbi, w1)
    return x_tbi @ w1


def torch_integrate(torch, spikes, w2):
    """Leaky-integrator readout in plain tensor code: u_{t+1} = a·u_t + s_t·W2;
    scores = mean of u_0 … u_{T−1}."""
    u = torch.zeros((*spikes[0].shape[:-1], w2.shape[-1]))
    total = torch.zeros_like(u)
    for s in spikes:
        total = total + u
        u = A * u + s @ w2
    return total / len(spikes)


def torch_parity(torch) -> Callable:
    """The original notebook's loop (parity order): forward(x, W1, W2) → (spikes, scores)."""
    from torch_reference import spike_fn  # the notebook's sigmoid-surrogate spike (slope 5)

    def forward(x_tbi, w1, w2):
        h = torch_input_current(torch, x_tbi, w1)
        v = torch.zeros(h.shape[1:])
        s = torch.zeros(h.shape[1:])
        spikes = []
        for h_t in h.unbind(0):
            spikes.append(s)
            v, s = (A * v + h_t) * (1.0 - s), spike_fn(v - 1.0)
        return spikes, torch_integrate(torch, spikes, w2)

    return forward


def run_cells(torch, h, w2, hidden, readout, hidden_state, readout_state):
    """A library's hidden cell and output integrator over time: ``hidden(h_t, state)`` →
    (spikes, state), ``readout(current, state)`` → (u, state). Returns the hidden spikes
    and the scores, the mean of u_0 … u_{T−1}."""
    u = torch.zeros((*h.shape[1:-1], w2.shape[-1]))
    total = torch.zeros_like(u)
    spikes = []
    for h_t in h.unbind(0):
        spk, hidden_state = hidden(h_t, hidden_state)
        spikes.append(spk)
        total = total + u
        u, readout_state = readout(spk @ w2, readout_state)
    return spikes, total / len(spikes)


def snntorch_network(torch) -> Callable:
    """snnTorch neurons, built once: forward(x, W1, W2) → (spikes, scores)."""
    import snntorch as snn
    from snntorch import surrogate

    hidden = snn.Leaky(beta=A, threshold=1.0, reset_mechanism="zero",
                       spike_grad=surrogate.sigmoid(slope=SLOPE))
    readout = snn.Leaky(beta=A, reset_mechanism="none")

    def integrate(current, u):
        u = readout(current, u)[1]
        return u, u

    def forward(x_tbi, w1, w2):
        h = torch_input_current(torch, x_tbi, w1)
        return run_cells(torch, h, w2, hidden, integrate, torch.zeros(h.shape[1:]),
                         torch.zeros((*h.shape[1:-1], w2.shape[-1])))

    return forward


def norse_network(torch) -> Callable:
    """Norse cells, built once: forward(x, W1, W2) → (spikes, scores)."""
    import norse.torch as norse

    k = 1.0 - A  # dt/τ of the Euler step that decays by a
    hidden = norse.LIFBoxCell(norse.LIFBoxParameters(
        tau_mem_inv=torch.as_tensor(k / 1e-3), v_th=torch.as_tensor(1.0),
        v_reset=torch.as_tensor(0.0), method="super"), dt=1e-3)
    readout = norse.LIBoxCell(norse.LIBoxParameters(tau_mem_inv=torch.as_tensor(k / 1e-3)),
                              dt=1e-3)

    def forward(x_tbi, w1, w2):
        h = torch_input_current(torch, x_tbi, w1) / k
        return run_cells(torch, h, w2, hidden, lambda current, s: readout(current / k, s),
                         None, None)

    return forward


def torch_framework(network: Callable) -> tuple[Callable, Callable]:
    """(step, check) of a torch-based network: network(torch) → forward(x [T,B,I], W1, W2)
    → (spikes, scores)."""

    def tensors(x, y, w1, w2):
        torch = torch_setup()
        xt = torch.from_numpy(np.ascontiguousarray(np.swapaxes(np.asarray(x), 0, 1)))
        w = [torch.tensor(np.asarray(a), requires_grad=True) for a in (w1, w2)]
        return torch, xt, torch.from_numpy(np.asarray(y).astype(np.int64)), w

    def step(x, y, w1, w2, members):
        torch, xt, yt, w = tensors(x, y, w1, w2)
        adam = torch.optim.Adam(w, lr=1e-3)
        forward = network(torch)

        def call():
            adam.zero_grad()
            loss = torch_cross_entropy(torch, forward(xt, *w)[1], yt)
            loss.backward()
            adam.step()
            return loss.detach().item()

        return call

    def check(x, y, w1, w2) -> Checked:
        torch, xt, yt, w = tensors(x, y, w1, w2)
        spikes, scores = network(torch)(xt, *w)
        torch_cross_entropy(torch, scores, yt).backward()
        return Checked(torch.stack(spikes).detach().numpy(), scores.detach().numpy(),
                       w[0].grad.numpy())

    return step, check


# ---------------------------------------------------------------------------------------
# Spyx (JAX, flax nnx modules)
# ---------------------------------------------------------------------------------------


def spyx_loss_fn():
    import spyx
    from flax import nnx

    def sigmoid_surrogate(v):
        s = jax.nn.sigmoid(SLOPE * v)
        return SLOPE * s * (1.0 - s)

    rngs = nnx.Rngs(0)
    lif = spyx.nn.LIF((N_HIDDEN,), beta=A, threshold=1.0,
                      activation=spyx.axn.custom(bwd=sigmoid_surrogate), rngs=rngs)
    li = spyx.nn.LI((N_OUT,), beta=A, rngs=rngs)

    def loss(weights, x, y):
        w1, w2 = weights
        h = jnp.swapaxes(x, 0, 1) @ w1

        def step(carry, h_t):
            v, u = carry
            spk, v = lif(h_t, v)
            _, u_next = li(spk @ w2, u)
            return (v, u_next), u

        carry = (lif.initial_state(x.shape[0]), li.initial_state(x.shape[0]))
        u = lax.scan(step, carry, h)[1]
        log_p = jax.nn.log_softmax(u.mean(axis=0), axis=-1)
        return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))

    return loss


def spyx_step(x, y, w1, w2, members):
    x, y, w = jnp.asarray(x), jnp.asarray(y), (jnp.asarray(w1), jnp.asarray(w2))
    step = adam_step(spyx_loss_fn())
    if members is None:
        return stepper(step, w, x, y)
    return stepper(jax.vmap(step, in_axes=(0, 0, None, None)), w, x, y, batched=True)


# ---------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------


def frameworks() -> list[Framework]:
    torch_step, torch_check = torch_framework(torch_parity)
    snn_step, snn_check = torch_framework(snntorch_network)
    norse_step, norse_check = torch_framework(norse_network)
    return [
        Framework("sslax", None, sslax_step),
        Framework("plain JAX", None, jax_step, jax_checked, config()),
        Framework("plain PyTorch", "torch", torch_step, torch_check, config()),
        Framework("snnTorch", "snntorch", snn_step, snn_check, config("textbook"),
                  same_gradient=False),
        Framework("Norse", "norse", norse_step, norse_check,
                  config("textbook", "superspike", slope=1.0)),
        Framework("Spyx", "spyx", spyx_step),
    ]


def installed(framework: Framework) -> bool:
    return framework.module is None or importlib.util.find_spec(framework.module) is not None


def check_weights() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The workload with weights rounded to multiples of 2⁻⁷."""
    x, y, (w1, w2) = workload()
    w1, w2 = (np.round(np.asarray(w) * 128) / 128 for w in (w1, w2))
    return np.asarray(x), np.asarray(y), w1.astype(np.float32), w2.astype(np.float32)


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def equivalence(found: list[Framework]) -> list[str]:
    """Markdown rows: each checked framework against sslax with its equations."""
    data = check_weights()
    rows = []
    for fw in found[1:]:  # sslax itself first
        if fw.check is None:
            rows.append(f"| {fw.name} | — | not checked (no sslax equivalent) | | | |")
            continue
        theirs, ours = fw.check(*data), sslax_checked(*data, fw.equations)
        net = fw.equations.network
        differ = int(np.sum(theirs.spikes != ours.spikes))
        scores = relative(theirs.scores, ours.scores)
        grad = relative(theirs.grad_w1, ours.grad_w1)
        same = differ == 0 and scores < 1e-5 and (grad < 1e-5 or not fw.same_gradient)
        rows.append(f"| {fw.name} | {net.update_order}, {net.surrogate} {net.surrogate_slope:g}"
                    f" | {differ} of {int(ours.spikes.sum())} | {scores:.1e} | {grad:.1e}"
                    f"{'' if fw.same_gradient else ' (its reset is detached)'} | "
                    f"{'yes' if same else 'NO'} |")
    return rows


def timings(found: list[Framework], members: int | None, rounds: int) -> dict[str, float]:
    """Median milliseconds per Adam step of each framework."""
    x, y, (w1, w2) = workload(members)
    calls = {fw.name: fw.step(np.asarray(x), np.asarray(y), np.asarray(w1), np.asarray(w2),
                              members) for fw in found}
    per_round = 10 if members is None else 2
    return {name: 1e3 * s for name, s in
            interleaved_calls(calls, rounds, per_round, warmup=2).items()}


def table(times: dict[str, float]) -> list[str]:
    peers = {k: v for k, v in times.items() if k != "sslax"}
    best = min(peers, key=peers.get) if peers else None
    rows = []
    for name, ms in times.items():
        vs_jax = times["plain JAX"] / ms
        rows.append(f"| {name} | {ms:.2f} | {vs_jax:.2f}× | "
                    + (f"{peers[best] / ms:.2f}× |" if best else "— |"))
    if best:
        rows.append(f"\nsslax against the fastest peer ({best}): "
                    f"**{peers[best] / times['sslax']:.2f}×**")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--members", type=int, default=64, help="models in the ensemble step")
    parser.add_argument("--check-only", action="store_true", help="the equivalence check only")
    args = parser.parse_args()
    found = [fw for fw in frameworks() if installed(fw)]
    missing = [fw.name for fw in frameworks() if not installed(fw)]
    print(f"jax {jax.__version__} on {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; batch {BATCH}, T = {T}; not installed: "
          f"{', '.join(missing) or 'none'}")
    print("\n## Equivalence (weights on a 2⁻⁷ grid), against sslax with the same equations\n")
    print("| framework | sslax config | hidden spikes differing | scores, max rel diff | "
          "∂L/∂W1, max rel diff | same |")
    print("|---|---|---|---|---|---|")
    rows = equivalence(found)
    print("\n".join(rows))
    if args.check_only:
        failed = [r for r in rows if r.endswith("NO |")]
        print("FAIL" if failed else "PASS")
        raise SystemExit(1 if failed else 0)
    for members in (None, args.members):
        what = "one model" if members is None else f"{members} models on one batch"
        print(f"\n## One Adam step, {what} ({args.rounds} interleaved rounds, medians)\n")
        print("| framework | ms per step | speed vs plain JAX | speed vs the fastest peer |")
        print("|---|---|---|---|")
        print("\n".join(table(timings(found, members, args.rounds))))


if __name__ == "__main__":
    main()
