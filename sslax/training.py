"""Training as one pure function: ``make_train(config) -> train(key, data_key, hparams)``.

The whole run (data generation, initialisation, every epoch and batch, validation, early
stopping and keeping the best parameters) is a single jittable function with ``lax.scan``
over epochs and batches, so ``jax.jit(jax.vmap(train))`` trains an ensemble in one compile.
The structure (sizes, modes) comes from the config's static fields; its numeric leaves
(τ, learning rate, surrogate slope, rates …) are traced, so new values never recompile.

Keys are split by role:

- ``data_key`` → training, validation and test sets (shared by every network that uses it);
- ``key`` (the network seed) → initial weights, the order of samples in each epoch, and in
  ``fresh`` data mode the samples themselves.

Progress is reported once per epoch through ``jax.debug.callback`` to whatever reporter is
active (see :func:`progress_reporter`); nothing inside the loop waits for the host.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct
from jax import Array, lax

from sslax.config import Config, ConfigError
from sslax.metrics import Evaluation, evaluate
from sslax.network import Params, init_params, loss_fn, predict
from sslax.stimulus import Dataset, batch_inputs, draw_like, ipd_to_class, make_dataset


class Datasets(NamedTuple):
    """The data sets of a run (``valid`` is ``None`` without a validation set)."""

    train: Dataset
    valid: Dataset | None
    test: Dataset


class EpochMetrics(NamedTuple):
    """Per-epoch training curves, each [epochs]; NaN for epochs skipped after early stopping.

    Attributes:
        train_loss: mean cross-entropy over the epoch's batches (while training).
        train_accuracy: mean batch accuracy over the epoch (while training).
        valid_loss: cross-entropy on the validation set after the epoch (NaN without one).
        valid_accuracy: accuracy on the validation set after the epoch (NaN without one).
    """

    train_loss: Array
    train_accuracy: Array
    valid_loss: Array
    valid_accuracy: Array


@struct.dataclass
class TrainResult:
    """What :func:`make_train`'s ``train`` returns.

    Attributes:
        params: parameters after the last epoch run.
        best_params: a copy of the parameters with the lowest validation loss (the final
            ones when there is no validation set).
        best_epoch: index of the epoch that produced ``best_params``.
        n_epochs_run: epochs actually run (fewer than ``n_epochs`` after early stopping).
        history: :class:`EpochMetrics`, each field [n_epochs].
        train_eval: metrics of ``best_params`` on the training set (in ``fresh`` data mode,
            on a set drawn like the training batches).
        test_eval: metrics of ``best_params`` on the test set.
    """

    params: Params
    best_params: Params
    best_epoch: Array
    n_epochs_run: Array
    history: EpochMetrics
    train_eval: Evaluation | None
    test_eval: Evaluation | None


def evaluation_phase_offset(config: Config) -> str:
    """φ0 mode of validation and test sets: per sample in ``per_sample`` mode, else per set."""
    return "per_sample" if config.stimulus.phase_offset == "per_sample" else "per_dataset"


def make_datasets(data_key: Array, config: Config) -> Datasets:
    """Generate the training, validation and test sets of a run from ``data_key``.

    The training set of ``per_epoch`` φ0 mode keeps only its frozen noise keys (spikes are
    regenerated per batch with a new φ0); other sets store their spikes as
    ``config.training.spike_storage`` says.
    """
    stim, tr = config.stimulus, config.training
    k_train, k_valid, k_test = jax.random.split(data_key, 3)
    eval_mode = evaluation_phase_offset(config)  # also the training set's initial φ0 draw
    train = make_dataset(
        k_train, tr.n_train, stim, eval_mode, store_spikes=stim.phase_offset != "per_epoch",
        spike_storage=tr.spike_storage,
    )
    storage = tr.spike_storage
    valid = (make_dataset(k_valid, tr.n_valid, stim, eval_mode, spike_storage=storage)
             if tr.n_valid > 0 else None)
    test = make_dataset(k_test, tr.n_test, stim, eval_mode, spike_storage=storage)
    return Datasets(train, valid, test)


def optimizer(config: Config) -> optax.GradientTransformation:
    """Adam with the config's (possibly traced) learning rate."""
    return optax.adam(config.training.learning_rate)


class _State(NamedTuple):
    params: Params
    opt_state: Any
    best_params: Params
    best_loss: Array
    best_epoch: Array
    n_epochs_run: Array
    stopped: Array
    valid_history: Array


def make_train(config: Config) -> Callable[[Array, Array, Config | None], TrainResult]:
    """Build ``train(key, data_key, hparams=None) -> TrainResult`` for ``config``'s structure.

    ``hparams`` is a :class:`Config` with the same static fields whose numeric leaves may
    differ (or be traced / batched under ``vmap``); ``None`` uses ``config`` itself.
    The returned function is pure and jittable; it does not jit itself.
    """
    config.validate()
    structure = jax.tree.structure(config)

    def train(key: Array, data_key: Array, hparams: Config | None = None) -> TrainResult:
        cfg = config if hparams is None else hparams
        if jax.tree.structure(cfg) != structure:
            raise ConfigError(
                "hparams must have the static fields of the config given to "
                "make_train (sizes, step counts, option names)"
            )
        return train_with_data_key(key, data_key, cfg)

    return train


def train_with_data_key(key: Array, data_key: Array, cfg: Config) -> TrainResult:
    """The whole run: data sets from ``data_key`` (:func:`make_datasets`), then
    :func:`train_on_data`. What ``make_train``'s ``train`` calls, without its checks."""
    return train_on_data(key, make_datasets(data_key, cfg), cfg)


def train_on_data(key: Array, data: Datasets, cfg: Config,
                  evaluate_best: bool = True) -> TrainResult:
    """The whole training run on given data sets (pure, jittable); ``train`` generates
    ``data`` with :func:`make_datasets` and calls this. ``key`` is the network key.
    ``evaluate_best=False`` skips the final train/test evaluation (both are then ``None``).
    """
    stim, tr = cfg.stimulus, cfg.training
    k_init, k_order, k_phase, k_fresh = jax.random.split(key, 4)
    fresh = tr.data_mode == "fresh"
    train_labels = ipd_to_class(data.train.ipd, stim.n_classes)
    tx = optimizer(cfg)
    params = init_params(k_init, cfg)
    n_batches, batch = tr.n_batches, tr.batch_size

    def sgd_step(carry: tuple[Params, Any], batch_data: tuple[Array, Array]) -> tuple[Any, Any]:
        params, opt_state = carry
        x, y = batch_data
        (loss, out), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, y, cfg)
        updates, opt_state = tx.update(grads, opt_state, params)
        correct = jnp.mean(predict(out.scores) == y)
        return (optax.apply_updates(params, updates), opt_state), (loss, correct)

    def run_epoch(state: _State, epoch: Array) -> tuple[_State, EpochMetrics]:
        if fresh:

            def step(carry: Any, i: Array) -> tuple[Any, Any]:
                k = jax.random.fold_in(k_fresh, epoch * n_batches + i)
                d = draw_like(
                    k, batch, data.train, per_sample_phase=stim.phase_offset != "per_dataset"
                )
                x = batch_inputs(d, jnp.arange(batch), stim)
                return sgd_step(carry, (x, ipd_to_class(d.ipd, stim.n_classes)))

            xs: Any = jnp.arange(n_batches)
        else:
            order = jax.random.permutation(jax.random.fold_in(k_order, epoch), tr.n_train)
            xs = order[: n_batches * batch].reshape(n_batches, batch)
            phi0 = None
            if stim.phase_offset == "per_epoch":  # new φ0 per sample, same frozen noise
                phi0 = (
                    2
                    * math.pi
                    * jax.random.uniform(jax.random.fold_in(k_phase, epoch), (tr.n_train,))
                )

            def step(carry: Any, index: Array) -> tuple[Any, Any]:
                x = batch_inputs(data.train, index, stim, None if phi0 is None else phi0[index])
                return sgd_step(carry, (x, train_labels[index]))

        (params, opt_state), (losses, correct) = lax.scan(step, (state.params, state.opt_state), xs)
        if data.valid is not None:
            ev = evaluate(params, data.valid, cfg, evaluation_batch(cfg))
            valid_loss, valid_acc = ev.loss, ev.accuracy
            improved = valid_loss < state.best_loss
        else:
            valid_loss = valid_acc = jnp.asarray(jnp.nan)
            improved = jnp.asarray(True)
        best_params = jax.tree.map(
            lambda new, old: jnp.where(improved, new, old), params, state.best_params
        )
        history = state.valid_history.at[epoch].set(valid_loss)
        stopped = state.stopped
        if tr.patience > 0:
            window = lax.dynamic_slice(
                history, (jnp.maximum(epoch - tr.patience + 1, 0),), (tr.patience,)
            )
            stopped = (epoch + 1 >= tr.patience) & (jnp.argmin(window) == 0)
        metrics = EpochMetrics(jnp.mean(losses), jnp.mean(correct), valid_loss, valid_acc)
        new_state = _State(
            params,
            opt_state,
            best_params,
            jnp.where(improved, valid_loss, state.best_loss),
            jnp.where(improved, epoch, state.best_epoch),
            state.n_epochs_run + 1,
            stopped,
            history,
        )
        return new_state, metrics

    def skip_epoch(state: _State, epoch: Array) -> tuple[_State, EpochMetrics]:
        nan = jnp.asarray(jnp.nan)
        return state, EpochMetrics(nan, nan, nan, nan)

    def epoch_or_skip(state: _State, epoch: Array) -> tuple[_State, EpochMetrics]:
        skipped = state.stopped
        if tr.patience == 0:
            state, metrics = run_epoch(state, epoch)
        else:  # under vmap both branches run and a select keeps each member's own
            state, metrics = lax.cond(skipped, skip_epoch, run_epoch, state, epoch)
        jax.debug.callback(_report_epoch, epoch, metrics, skipped)
        return state, metrics

    init = _State(
        params,
        tx.init(params),
        params,
        jnp.asarray(jnp.inf),
        jnp.asarray(0),
        jnp.asarray(0),
        jnp.asarray(False),
        jnp.full((tr.n_epochs,), jnp.inf),
    )
    final, history = lax.scan(epoch_or_skip, init, jnp.arange(tr.n_epochs))
    train_eval, test_eval = (evaluate_splits(final.best_params, data, cfg) if evaluate_best
                             else (None, None))
    return TrainResult(final.params, final.best_params, final.best_epoch, final.n_epochs_run,
                       history, train_eval, test_eval)


def evaluation_batch(config: Config) -> int:
    """Samples per chunk when evaluating (bounds memory only; never changes a result)."""
    return max(config.training.batch_size, 256)


def evaluate_splits(params: Params, data: Datasets, config: Config) -> tuple[Evaluation,
                                                                             Evaluation]:
    """Metrics of ``params`` on the training and the test set of ``data``."""
    return (evaluate(params, data.train, config, evaluation_batch(config)),
            evaluate(params, data.test, config, evaluation_batch(config)))


# ---------------------------------------------------------------------------------------------
# progress: a host-side sink that the compiled program reports to once per epoch
# ---------------------------------------------------------------------------------------------

# The compiled program keeps the callback it was traced with, so the callback is one
# module-level dispatcher and the reporters live on a host-side stack (XLA may run it on
# another thread, where a ContextVar would not be visible).
_REPORTERS: list[Callable[[int, EpochMetrics | None], None]] = []


def _report_epoch(epoch: Any, metrics: EpochMetrics, skipped: Any) -> None:
    if _REPORTERS:
        _REPORTERS[-1](int(epoch), None if bool(skipped) else metrics)


@contextlib.contextmanager
def progress_reporter(callback: Callable[[int, EpochMetrics | None], None]) -> Iterator[None]:
    """Within this block, every epoch of a running ``train`` calls ``callback(epoch, metrics)``
    (``metrics`` is ``None`` for an epoch skipped after early stopping)."""
    _REPORTERS.append(callback)
    try:
        yield
    finally:
        _REPORTERS.remove(callback)


# ---------------------------------------------------------------------------------------------
# the high-level entry point
# ---------------------------------------------------------------------------------------------


class Run(NamedTuple):
    """A trained network and how it was made (what ``sslax train`` saves).

    Attributes:
        config: the experiment config.
        seed: network seed (initialisation and data order).
        data_seed: data seed (training, validation and test sets).
        result: the :class:`TrainResult`, with its train and test evaluations.
    """

    config: Config
    seed: int
    data_seed: int
    result: TrainResult

    @property
    def train_eval(self) -> Evaluation:
        return self.result.train_eval

    @property
    def test_eval(self) -> Evaluation:
        return self.result.test_eval


def evaluate_run(config: Config, params: Params, data_seed: int) -> tuple[Evaluation, Evaluation]:
    """Metrics of ``params`` on the training and test sets that ``data_seed`` generates
    (exactly the evaluation that training reports for its best parameters)."""
    return _evaluate_split_jit(params, jax.random.key(data_seed), config)


def _evaluate_splits(
    params: Params, data_key: Array, config: Config
) -> tuple[Evaluation, Evaluation]:
    return evaluate_splits(params, make_datasets(data_key, config), config)


_train_jit = jax.jit(train_with_data_key)
_evaluate_split_jit = jax.jit(_evaluate_splits)


def fit(
    config: Config,
    seed: int = 0,
    data_seed: int = 0,
    on_epoch: Callable[[int, EpochMetrics | None], None] | None = None,
) -> Run:
    """Validate ``config``, train one network and evaluate its best parameters.

    One compiled program per config structure: calling again with other numeric values
    (τ, learning rate, slope …) reuses it. ``on_epoch(epoch, metrics)`` is called after
    every epoch while the program runs.
    """
    config.validate()
    check_seed("seed", seed)
    check_seed("data_seed", data_seed)
    reporter = progress_reporter(on_epoch) if on_epoch else contextlib.nullcontext()
    with reporter:
        result = _train_jit(jax.random.key(seed), jax.random.key(data_seed), config)
        result = jax.block_until_ready(result)
    return Run(config, seed, data_seed, result)


def check_seed(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise ConfigError(
            f"{name} = {value!r} is not allowed: expected a whole number in [0, 2**32)"
        )
