"""Seed-parity with the original notebook model (docs/science.md §3).

An independent plain-NumPy copy of the original PyTorch loop (batch-major, a Python loop
over time), with a hand-written BPTT reverse pass, is compared with ``sslax.network``:
identical hidden spikes, equal scores and equal gradients. When PyTorch is installed, the
original code itself (with its ``SurrGradSpike`` autograd function) is compared too.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sslax.config import Config
from sslax.network import Params, forward, init_params, loss_fn, output_membranes, predict

N_IN, N_HIDDEN, N_CLASSES, N_STEPS, BATCH = 200, 30, 12, 100, 8
TAU, DT, BETA = 20e-3, 1e-3, 5.0
ALPHA = float(np.exp(-DT / TAU))


# ---------------------------------------------------------------------------------------------
# the reference: the original notebook's loop, in NumPy float64
# ---------------------------------------------------------------------------------------------


def snn_np(x, w1, w2, alpha=ALPHA):
    """The original ``snn``: x [batch, time, inputs] -> (S, V, U), each [batch, time, ·].

    V holds the hidden membranes v_0 … v_{T-1} (v_t is the one tested for s_{t+1}).
    """
    batch, n_steps = x.shape[:2]
    v = np.zeros((batch, w1.shape[1]))
    s = np.zeros_like(v)
    s_rec, v_rec = [s], [v]
    h = x @ w1
    for t in range(n_steps - 1):
        new_v = (alpha * v + h[:, t, :]) * (1 - s)
        s = (v - 1 > 0).astype(np.float64)
        v = new_v
        s_rec.append(s)
        v_rec.append(v)
    spikes = np.stack(s_rec, axis=1)
    u = np.zeros((batch, w2.shape[1]))
    u_rec = [u]
    o = spikes @ w2
    for t in range(n_steps - 1):
        u = alpha * u + o[:, t, :]
        u_rec.append(u)
    return spikes, np.stack(v_rec, axis=1), np.stack(u_rec, axis=1)


def log_softmax_np(m):
    z = m - m.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def readout_np(u, readout):
    if readout == "mean":
        return u.mean(axis=1)
    if readout == "sum":
        return u.sum(axis=1)
    return u.max(axis=1)


def nll_np(m, y):
    return -np.mean(log_softmax_np(m)[np.arange(len(y)), y])


def grads_np(x, w1, w2, y, readout="mean", alpha=ALPHA, beta=BETA):
    """Hand-written BPTT of the reference loop (what autograd does on the original code).

    dH/dv is replaced by β·σ(βv')(1 − σ(βv')) with v' = v − 1, and the reset factor (1 − s)
    is differentiated through. Returns (loss, dL/dW1, dL/dW2).
    """
    spikes, v, u = snn_np(x, w1, w2, alpha)
    batch, n_steps = x.shape[:2]
    m = readout_np(u, readout)
    y_onehot = np.eye(w2.shape[1])[y]
    g_m = (np.exp(log_softmax_np(m)) - y_onehot) / batch  # d mean-NLL / d m
    direct = g_m / n_steps if readout == "mean" else g_m  # dL/du_t from the readout
    # output layer: u_{t+1} = α u_t + o_t, t = 0 … T-2
    g_o = np.zeros((batch, n_steps, w2.shape[1]))
    g_u_next = direct.copy()  # total dL/du_{T-1}
    for t in range(n_steps - 2, -1, -1):
        g_o[:, t] = g_u_next
        g_u_next = direct + alpha * g_u_next  # total dL/du_t
    g_w2 = np.einsum("bth,btc->hc", spikes, g_o)
    g_s = g_o @ w2.T  # dL/ds_t through the readout, [batch, time, hidden]
    # hidden layer: v_{t+1} = (α v_t + h_t)(1 - s_t), s_{t+1} = H(v_t - 1), t = 0 … T-2
    h = x @ w1
    g_h = np.zeros_like(h)
    g_v_next = np.zeros((batch, w1.shape[1]))  # dL/dv_{T-1} = 0: it is never tested
    for t in range(n_steps - 2, -1, -1):
        g_h[:, t] = g_v_next * (1 - spikes[:, t])
        g_s[:, t] += -g_v_next * (alpha * v[:, t] + h[:, t])
        sig = 1 / (1 + np.exp(-beta * (v[:, t] - 1)))
        g_v_next = g_v_next * alpha * (1 - spikes[:, t]) + g_s[:, t + 1] * beta * sig * (1 - sig)
    g_w1 = np.einsum("bti,bth->ih", x, g_h)
    return nll_np(m, y), g_w1, g_w2


# ---------------------------------------------------------------------------------------------
# the problem: random weights and Bernoulli inputs with every threshold test well decided
# ---------------------------------------------------------------------------------------------


def parity_config(readout="mean"):
    return Config().replace_fields(
        n_hidden=N_HIDDEN,
        tau_hidden=TAU,
        readout=readout,
        surrogate="sigmoid",
        surrogate_slope=BETA,
    )


@pytest.fixture(scope="module")
def problem():
    """Weights and inputs (float32 values) whose membranes never sit within 1e-4 of the
    threshold, so float32 and float64 simulations must agree spike for spike."""
    for seed in range(20):
        rng = np.random.default_rng(seed)
        x = (rng.random((BATCH, N_STEPS, N_IN)) < 0.2).astype(np.float32)
        w1 = rng.normal(0.0, 0.08, (N_IN, N_HIDDEN)).astype(np.float32)
        w2 = rng.normal(0.0, 0.5, (N_HIDDEN, N_CLASSES)).astype(np.float32)
        y = rng.integers(0, N_CLASSES, BATCH)
        spikes, v, _ = snn_np(x.astype(np.float64), w1.astype(np.float64), w2.astype(np.float64))
        margin = np.abs(v[:, :-1] - 1).min()
        if margin > 1e-4:
            return dict(x=x, w1=w1, w2=w2, y=y, spikes=spikes)
    raise AssertionError("no well-conditioned parity problem found")


def sslax_inputs(problem):
    params = Params({"w_in": jnp.asarray(problem["w1"]), "w_out": jnp.asarray(problem["w2"])})
    x_tm = jnp.asarray(np.swapaxes(problem["x"], 0, 1))  # sslax is time-major
    return params, x_tm


def test_problem_exercises_spiking(problem):
    s = problem["spikes"]
    assert s.sum() > 500
    assert (s.sum(axis=(0, 1)) > 0).sum() >= N_HIDDEN // 3  # many units spike
    # doublets (a spike right after a spike) are a signature of the parity order
    assert (s[:, 1:] * s[:, :-1]).sum() > 0


def test_hidden_spikes_and_mean_scores_match_reference(problem):
    params, x_tm = sslax_inputs(problem)
    x64 = problem["x"].astype(np.float64)
    spikes_ref, _, u_ref = snn_np(
        x64, problem["w1"].astype(np.float64), problem["w2"].astype(np.float64)
    )
    out = forward(params, x_tm, parity_config("mean"))
    assert out.hidden_spikes.shape == (N_STEPS, BATCH, N_HIDDEN)
    assert out.scores.shape == (BATCH, N_CLASSES)
    np.testing.assert_array_equal(np.swapaxes(np.asarray(out.hidden_spikes), 0, 1), spikes_ref)
    np.testing.assert_allclose(np.asarray(out.scores), u_ref.mean(axis=1), rtol=1e-5, atol=1e-5)
    # the full output trace too, and the prediction = argmax of the time-summed membrane
    u = np.asarray(output_membranes(params, x_tm, parity_config("mean")))
    np.testing.assert_allclose(np.swapaxes(u, 0, 1), u_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(predict(out.scores)), u_ref.sum(axis=1).argmax(-1))


@pytest.mark.parametrize("readout", ["sum", "max"])
def test_other_readouts_match_reference(problem, readout):
    params, x_tm = sslax_inputs(problem)
    x64 = problem["x"].astype(np.float64)
    _, _, u_ref = snn_np(x64, problem["w1"].astype(np.float64), problem["w2"].astype(np.float64))
    out = forward(params, x_tm, parity_config(readout))
    expected = readout_np(u_ref, readout)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(np.asarray(out.scores), expected, rtol=1e-5, atol=1e-6 * scale)
    np.testing.assert_array_equal(
        np.swapaxes(np.asarray(out.hidden_spikes), 0, 1), problem["spikes"]
    )


@pytest.mark.parametrize("readout", ["mean", "sum"])
def test_gradients_match_hand_bptt(problem, readout):
    params, x_tm = sslax_inputs(problem)
    cfg = parity_config(readout)
    (loss, _), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, x_tm, jnp.asarray(problem["y"]), cfg
    )
    loss_ref, g_w1, g_w2 = grads_np(
        problem["x"].astype(np.float64),
        problem["w1"].astype(np.float64),
        problem["w2"].astype(np.float64),
        problem["y"],
        readout,
    )
    assert float(loss) == pytest.approx(loss_ref, rel=1e-5)
    assert np.abs(g_w1).max() > 1e-4  # the surrogate path carries gradient to W1
    for got, want in ((grads.trained["w_in"], g_w1), (grads.trained["w_out"], g_w2)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_parity_init_bounds():
    """Parity init: U(±1/√N_h) for W1 and U(±1/√N_c) for W2 (PyTorch's fan-in of (in, out));
    fan_in init: U(±1/√N_in) and U(±1/√N_h); output_fan_in: U(±1/√N_c) for both."""
    cfg = parity_config()
    for init, b_in, b_out in (
        ("parity", N_HIDDEN**-0.5, N_CLASSES**-0.5),
        ("fan_in", N_IN**-0.5, N_HIDDEN**-0.5),
        ("output_fan_in", N_CLASSES**-0.5, N_CLASSES**-0.5),
    ):
        p = init_params(jax.random.key(3), cfg.replace_fields(init=init))
        w_in, w_out = np.asarray(p.trained["w_in"]), np.asarray(p.trained["w_out"])
        assert w_in.shape == (N_IN, N_HIDDEN)
        assert w_out.shape == (N_HIDDEN, N_CLASSES)
        assert np.abs(w_in).max() <= b_in
        assert np.abs(w_in).max() > 0.99 * b_in  # 6 000 draws reach the bound
        assert np.abs(w_out).max() <= b_out
        assert np.abs(w_out).max() > 0.9 * b_out
        assert abs(w_in.mean()) < 0.05 * b_in
        assert np.std(w_in) == pytest.approx(b_in / np.sqrt(3), rel=0.05)


# ---------------------------------------------------------------------------------------------
# the original PyTorch code (optional)
# ---------------------------------------------------------------------------------------------


def torch_original(torch, x, w1, w2, y, beta=BETA, readout="mean"):
    """The notebook's ``snn`` and loss, verbatim in structure, in float32 on the CPU."""

    class SurrGradSpike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            out = torch.zeros_like(input)
            out[input > 0] = 1.0
            return out

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad = (
                grad_input * beta * torch.sigmoid(beta * input) * (1 - torch.sigmoid(beta * input))
            )
            return grad

    spike_fn = SurrGradSpike.apply
    input_spikes = torch.tensor(x)
    W1 = torch.tensor(w1, requires_grad=True)
    W2 = torch.tensor(w2, requires_grad=True)
    batch_size, duration_steps = x.shape[:2]
    alpha = float(np.exp(-DT / TAU))
    v = torch.zeros((batch_size, W1.shape[1]))
    s = torch.zeros((batch_size, W1.shape[1]))
    s_rec = [s]
    h = torch.einsum("abc,cd->abd", (input_spikes, W1))
    for t in range(duration_steps - 1):
        new_v = (alpha * v + h[:, t, :]) * (1 - s)
        s = spike_fn(v - 1)
        v = new_v
        s_rec.append(s)
    s_rec = torch.stack(s_rec, dim=1)
    v = torch.zeros((batch_size, W2.shape[1]))
    v_rec = [v]
    h = torch.einsum("abc,cd->abd", (s_rec, W2))
    for t in range(duration_steps - 1):
        v = alpha * v + h[:, t, :]
        v_rec.append(v)
    v_rec = torch.stack(v_rec, dim=1)
    m = torch.mean(v_rec, 1) if readout == "mean" else torch.max(v_rec, 1)[0]
    log_p_y = torch.nn.LogSoftmax(dim=1)(m)
    loss = torch.nn.NLLLoss()(log_p_y, torch.tensor(y))
    loss.backward()
    return (
        s_rec.detach().numpy(),
        m.detach().numpy(),
        float(loss.detach()),
        W1.grad.numpy(),
        W2.grad.numpy(),
    )


@pytest.mark.torch
def test_matches_original_pytorch(problem):
    torch = pytest.importorskip("torch")
    params, x_tm = sslax_inputs(problem)
    spikes, m, loss_t, g_w1, g_w2 = torch_original(
        torch, problem["x"], problem["w1"], problem["w2"], problem["y"]
    )
    np.testing.assert_array_equal(spikes, problem["spikes"])  # torch == NumPy reference
    cfg = parity_config("mean")
    (loss, out), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, x_tm, jnp.asarray(problem["y"]), cfg
    )
    np.testing.assert_array_equal(np.swapaxes(np.asarray(out.hidden_spikes), 0, 1), spikes)
    np.testing.assert_allclose(np.asarray(out.scores), m, rtol=1e-5, atol=1e-5)
    assert float(loss) == pytest.approx(loss_t, rel=1e-5)
    for got, want in ((grads.trained["w_in"], g_w1), (grads.trained["w_out"], g_w2)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


@pytest.mark.torch
def test_max_readout_matches_original_pytorch(problem):
    torch = pytest.importorskip("torch")
    params, x_tm = sslax_inputs(problem)
    _, m, _, _, _ = torch_original(
        torch, problem["x"], problem["w1"], problem["w2"], problem["y"], readout="max"
    )
    out = forward(params, x_tm, parity_config("max"))
    np.testing.assert_allclose(np.asarray(out.scores), m, rtol=1e-5, atol=1e-5)


def test_vmap_over_tau_matches_separate_runs(problem):
    """τ is a config leaf: one vmapped forward over three τ equals three separate ones (and
    each equals the reference loop at its own decay)."""
    params, x_tm = sslax_inputs(problem)
    taus = np.array([5e-3, 10e-3, 20e-3])
    cfg = parity_config("mean")
    batched = jax.tree_util.tree_map_with_path(
        lambda p, leaf: jnp.asarray(taus) if p[-1].name == "tau_hidden" else jnp.full((3,), leaf),
        cfg,
    )
    scores = jax.vmap(lambda c: forward(params, x_tm, c).scores)(batched)
    assert scores.shape == (3, BATCH, N_CLASSES)
    for i, tau in enumerate(taus):
        single = forward(params, x_tm, cfg.replace_fields(tau_hidden=float(tau))).scores
        np.testing.assert_allclose(np.asarray(scores[i]), np.asarray(single), rtol=1e-6, atol=1e-6)
    # tau = 20 ms is the parity problem itself
    np.testing.assert_allclose(
        np.asarray(scores[2]), np.asarray(forward(params, x_tm, cfg).scores), rtol=1e-6, atol=1e-6
    )
    assert not np.allclose(np.asarray(scores[0]), np.asarray(scores[2]))
