"""PyTorch re-implementation of the original "starting notebook" (the baseline of the benchmark).

This is Dan Goodman's Cosyne 2022 tutorial model of IPD sound localisation ("Starting
Notebook"), kept as close to the notebook's code as a module allows: the same numpy stimulus,
the same ``SurrGradSpike`` autograd function (sigmoid surrogate, β = 5), the same ``snn``
function with its two Python loops over time and ``h[:, t, :]`` indexing, the same weight
initialisation and the same Adam / LogSoftmax / NLLLoss training loop that calls
``loss.item()`` once per batch.

Deliberate deviations from the notebook (none changes what is computed per sample):

- **Random numbers.** The notebook draws from numpy's global RNG (``np.random.rand``) and
  torch's global RNG. Here every function that draws takes an explicit
  ``np.random.default_rng(seed)`` generator object (``rng``), and the weight initialisation an
  optional ``torch.Generator``, so that runs are reproducible without global state. The order
  of draws is the notebook's: IPDs, then one phase offset per :func:`input_signal` call, then
  the Poisson noise.
- **Batches** come from ``torch.utils.data.DataLoader(TensorDataset(x, y), batch_size=64,
  shuffle=True)`` instead of the notebook's hand-written permutation generator (same samples
  per epoch: 4 096 / 64 = 64 full batches).
- :func:`train` takes class labels ``y`` (apply :func:`discretise` to the IPDs first) and
  returns the weights and the per-batch losses; :func:`snn` reads the batch size from its
  input instead of the global ``batch_size`` and can optionally return the hidden spikes.
- :func:`evaluate` returns only the accuracy (the notebook also tallied a confusion matrix
  and IPD errors).

Known cost of the faithful loop: indexing ``h[:, t, :]`` of a tensor that requires grad makes
every step's backward materialise a zero tensor of the full [batch, time, units] shape
(about 25 % of an Adam step on a 2-core CPU compared with ``unbind``-style iteration). The
benchmark keeps the notebook's indexing on purpose.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# ------------------------------------------------------------------------------------------
# constants (the notebook's names and values)
# ------------------------------------------------------------------------------------------
ms = 1e-3
Hz = 1.0
dt = 1 * ms
duration = 100 * ms
duration_steps = int(np.round(duration / dt))  # T = 100
f = 20 * Hz
rate_max = 600 * Hz
anf_per_ear = 100
envelope_power = 2
num_inputs = 2 * anf_per_ear  # 200
num_hidden = 30
num_classes = 12
beta = 5  # surrogate slope
dtype = torch.float32
device = torch.device("cpu")


# ------------------------------------------------------------------------------------------
# stimulus
# ------------------------------------------------------------------------------------------
def input_signal(ipd: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson input spikes [samples, time, inputs] (bool) for IPDs ``ipd`` [rad].

    One random phase offset φ0 per call (per generated data set), as in the notebook.
    """
    num_samples = len(ipd)
    T = np.arange(duration_steps) * dt  # array of times
    phi = 2 * np.pi * (f * T + rng.random())  # phases at those times, random offset
    theta = np.zeros((num_samples, duration_steps, 2 * anf_per_ear))
    phase_delays = np.linspace(0, np.pi / 2, anf_per_ear)
    theta[:, :, :anf_per_ear] = phi[np.newaxis, :, np.newaxis] + phase_delays[np.newaxis,
                                                                              np.newaxis, :]
    theta[:, :, anf_per_ear:] = (phi[np.newaxis, :, np.newaxis]
                                 + phase_delays[np.newaxis, np.newaxis, :]
                                 + ipd[:, np.newaxis, np.newaxis])
    spikes = (rng.random((num_samples, duration_steps, 2 * anf_per_ear))
              < rate_max * dt * (0.5 * (1 + np.sin(theta))) ** envelope_power)
    return spikes


def random_ipd_input_signal(num_samples: int, rng: np.random.Generator, tensor: bool = True):
    """Draw ``num_samples`` IPDs uniformly in (−π/2, π/2) and their input spikes.

    Returns ``(ipd, spikes)`` in the notebook's order: float32 torch tensors [samples] and
    [samples, time, inputs] when ``tensor`` (the default), else numpy arrays.
    """
    ipd = rng.random(num_samples) * np.pi - np.pi / 2  # uniformly random in (-pi/2, pi/2)
    spikes = input_signal(ipd, rng)
    if tensor:
        ipd = torch.tensor(ipd, device=device, dtype=dtype)
        spikes = torch.tensor(spikes, device=device, dtype=dtype)
    return ipd, spikes


def discretise(ipds: torch.Tensor) -> torch.Tensor:
    """Class index floor((ipd + π/2)·N_c/π) (int64)."""
    return ((ipds + np.pi / 2) * num_classes / np.pi).long()


# ------------------------------------------------------------------------------------------
# network
# ------------------------------------------------------------------------------------------
class SurrGradSpike(torch.autograd.Function):
    """Heaviside forward (``x > 0``); sigmoid-derivative surrogate backward, slope β = 5."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        out = torch.zeros_like(input)
        out[input > 0] = 1.0
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        grad = grad_output * beta * torch.sigmoid(beta * input) * (1 - torch.sigmoid(beta * input))
        return grad


spike_fn = SurrGradSpike.apply


def snn(input_spikes: torch.Tensor, W1: torch.Tensor, W2: torch.Tensor, tau: float = 20 * ms,
        return_hidden: bool = False):
    """The notebook's network: returns output membranes [batch, time, classes].

    ``input_spikes`` is [batch, time, inputs]. With ``return_hidden`` also returns the hidden
    spike record [batch, time, hidden] (s_0 = 0 first), which the notebook computed but did
    not return.
    """
    batch_size = input_spikes.shape[0]
    n_steps = input_spikes.shape[1]
    # First layer: input to hidden
    v = torch.zeros((batch_size, num_hidden), device=device, dtype=dtype)
    s = torch.zeros((batch_size, num_hidden), device=device, dtype=dtype)
    s_rec = [s]
    h = torch.einsum("abc,cd->abd", (input_spikes, W1))
    alpha = np.exp(-dt / tau)
    for t in range(n_steps - 1):
        new_v = (alpha * v + h[:, t, :]) * (1 - s)  # multiply by 0 after a spike
        s = spike_fn(v - 1)  # threshold of 1
        v = new_v
        s_rec.append(s)
    s_rec = torch.stack(s_rec, dim=1)
    # Second layer: hidden to output
    v = torch.zeros((batch_size, num_classes), device=device, dtype=dtype)
    v_rec = [v]
    h = torch.einsum("abc,cd->abd", (s_rec, W2))
    alpha = np.exp(-dt / tau)
    for t in range(n_steps - 1):
        v = alpha * v + h[:, t, :]
        v_rec.append(v)
    v_rec = torch.stack(v_rec, dim=1)
    # Return recorded membrane potential of output
    if return_hidden:
        return v_rec, s_rec
    return v_rec


def init_weights(generator: torch.Generator | None = None):
    """W1 [inputs, hidden] and W2 [hidden, classes] as ``nn.Parameter``, drawn U(±1/√12).

    The notebook computes both bounds from the fan-in of ``W``, the (inputs, classes) weight
    matrix of its earlier membrane-only model; PyTorch's fan-in of a 2-D tensor is its number
    of columns, 12, so both matrices get 1/√12 (sslax's ``init = "output_fan_in"``).
    """
    W = torch.empty((num_inputs, num_classes), device=device, dtype=dtype)
    W1 = nn.Parameter(torch.empty((num_inputs, num_hidden), device=device, dtype=dtype,
                                  requires_grad=True))
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(W)
    bound = 1 / np.sqrt(fan_in)
    nn.init.uniform_(W1, -bound, bound, generator=generator)
    W2 = nn.Parameter(torch.empty((num_hidden, num_classes), device=device, dtype=dtype,
                                  requires_grad=True))
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(W)
    bound = 1 / np.sqrt(fan_in)
    nn.init.uniform_(W2, -bound, bound, generator=generator)
    return W1, W2


# ------------------------------------------------------------------------------------------
# training and evaluation
# ------------------------------------------------------------------------------------------
def train(x_train: torch.Tensor, y_train: torch.Tensor, lr: float = 0.01, n_epochs: int = 10,
          batch_size: int = 64, tau: float = 20 * ms, seed: int | None = None,
          verbose: bool = False):
    """Train a fresh network (notebook init) with Adam; returns ``(W1, W2, loss_hist)``.

    ``x_train`` [samples, time, inputs] float32; ``y_train`` class labels (int64).
    ``loss_hist`` holds ``loss.item()`` of every batch. ``seed`` seeds the weight init and the
    shuffling (torch generators), ``None`` uses torch's global RNG like the notebook.
    """
    gen_init = gen_shuffle = None
    if seed is not None:
        gen_init = torch.Generator().manual_seed(seed)
        gen_shuffle = torch.Generator().manual_seed(seed + 1)
    W1, W2 = init_weights(gen_init)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_train, y_train),
                                         batch_size=batch_size, shuffle=True,
                                         generator=gen_shuffle)
    optimizer = torch.optim.Adam([W1, W2], lr=lr)
    log_softmax_fn = nn.LogSoftmax(dim=1)
    loss_fn = nn.NLLLoss()
    loss_hist = []
    for e in range(n_epochs):
        for x_local, y_local in loader:
            output = snn(x_local, W1, W2, tau)
            m = torch.mean(output, 1)  # mean over time
            log_p_y = log_softmax_fn(m)
            loss = loss_fn(log_p_y, y_local)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_hist.append(loss.item())
        if verbose:
            n_batches = len(loader)
            print(f"Epoch {e + 1}: loss={np.mean(loss_hist[-n_batches:]):.5f}")
    return W1, W2, loss_hist


def evaluate(x: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, W2: torch.Tensor,
             tau: float = 20 * ms, batch_size: int = 64) -> float:
    """Accuracy of argmax_k Σ_t u_k(t) against class labels ``y`` (batches, no grad)."""
    correct = 0
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            output = snn(x[start:start + batch_size], W1, W2, tau)
            m = torch.sum(output, 1)  # sum over time
            _, am = torch.max(m, 1)  # argmax over output units
            correct += int((am == y[start:start + batch_size]).sum())
    return correct / x.shape[0]
