"""Training: pure pieces that compose into one function, and a host-side driver.

The pieces, each pure and jittable (and so vmappable over seeds and numeric fields):

- :func:`init_state` ``(key, config) -> TrainState``: initial parameters, optimiser state and
  bookkeeping of one network;
- :func:`train_epoch` ``(state, data, config) -> TrainState``: one epoch (every Adam step of
  it, the validation loss, the copy of the best parameters, early stopping, the non-finite
  guard), or nothing for a network that has stopped;
- :func:`finish` ``(state, data, config) -> TrainResult``: the evaluation of the best
  parameters on the training and test sets.

:func:`make_train` composes them into the whole run, ``train(key, data_key, hparams)``, for
``jax.jit(jax.vmap(train))``. :class:`Trainer` (and :func:`fit` on top of it) drives the
same pieces from the host one epoch at a time: it reports progress, stops at an epoch
boundary when asked, and hands every state to a callback that can write a checkpoint. The
state holds everything the future of a run depends on (including its key and the epoch
count, from which every later key is derived), so a run restored from a checkpoint ends
bit-identical to one that was never interrupted.

Keys are split by role:

- ``data_key`` → training, validation and test sets (shared by every network that uses it);
- ``key`` (the network seed) → initial weights and constants, the order of samples in each
  epoch, in ``fresh`` data mode the samples themselves, and a key per training step for
  stochastic terms of the loss.

Epochs are counted from 1: ``history`` row i holds epoch i + 1, ``best_epoch`` is the number
of the epoch that produced the best parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct
from jax import Array, lax

from sslax import emitters
from sslax.config import Config, ConfigError
from sslax.datagen import fill_spikes, host_slice
from sslax.metrics import Evaluation, evaluate
from sslax.network import PARAMETER_GROUPS, Params, init_params, loss_fn, predict
from sslax.stimulus import (
    Dataset,
    batch_inputs,
    draw_like,
    ipd_to_class,
    make_dataset,
    stored_spikes,
)
from sslax.threefry import (
    check_seed,
    fold_in,
    key_from_seed,
    permutation,
    split,
    uniform,
)

# fold_in tag of the per-step keys of the loss (a separate stream: the keys of everything
# else are unchanged by it)
_LOSS_STREAM = 0x10557


class Interrupted(Exception):
    """Training stopped at an epoch boundary because it was asked to.

    Attributes:
        epoch: epochs completed when it stopped.
        checkpoint: where the state was saved (``None``: it was not saved).
    """

    def __init__(self, epoch: int, checkpoint: str | None = None) -> None:
        super().__init__(f"stopped after epoch {epoch}")
        self.epoch, self.checkpoint = epoch, checkpoint


class Datasets(NamedTuple):
    """The data sets of a run (``valid`` is ``None`` without a validation set)."""

    train: Dataset
    valid: Dataset | None
    test: Dataset


class EpochMetrics(NamedTuple):
    """Per-epoch training curves, each [epochs]; NaN for epochs not run.

    Attributes:
        train_loss: mean training loss over the epoch's batches (while training): the
            cross-entropy, plus the rate penalty when the config has one.
        train_accuracy: mean batch accuracy over the epoch (while training).
        valid_loss: cross-entropy on the validation set after the epoch (NaN without one).
        valid_accuracy: accuracy on the validation set after the epoch (NaN without one).
    """

    train_loss: Array
    train_accuracy: Array
    valid_loss: Array
    valid_accuracy: Array


class TrainState(NamedTuple):
    """Everything a run's future depends on (a checkpoint stores exactly this).

    ``key_data`` and ``epoch`` are the same for every member of a sweep's group (members
    with one seed), which lets the group share its batches (see :data:`GROUP_SHARED`).

    Attributes:
        params: current parameters.
        opt_state: optimiser state.
        best_params: a copy of the parameters with the lowest validation loss so far.
        best_loss: that validation loss (inf before the first epoch).
        best_epoch: the epoch that produced ``best_params`` (0: the initial parameters).
        epoch: epochs completed (run or skipped); the next epoch is ``epoch + 1``.
        n_epochs_run: epochs actually trained.
        stopped: early stopping fired, or the loss became non-finite.
        diverged_epoch: the epoch whose loss became non-finite (0: none).
        history: per-epoch curves, [n_epochs] each, NaN for epochs not run.
        key_data: raw data of the network key (``jax.random.key_data``).
    """

    params: Params
    opt_state: Any
    best_params: Params
    best_loss: Array
    best_epoch: Array
    epoch: Array
    n_epochs_run: Array
    stopped: Array
    diverged_epoch: Array
    history: EpochMetrics
    key_data: Array


#: Fields of :class:`TrainState` that are equal for networks with the same seed in the same
#: epoch: what decides the order of samples (and, in ``fresh`` mode, the samples).
GROUP_SHARED = ("epoch", "key_data")


@struct.dataclass
class TrainResult:
    """What a training run returns.

    Attributes:
        params: parameters after the last epoch run (the last finite ones if the loss became
            non-finite).
        best_params: a copy of the parameters with the lowest validation loss (the final
            ones when there is no validation set).
        best_epoch: the epoch (from 1) that produced ``best_params``.
        n_epochs_run: epochs actually run (fewer than ``n_epochs`` after early stopping).
        diverged_epoch: the epoch in which the loss or the parameters became non-finite; the
            run stopped there and kept the parameters from before it. 0 if it never happened.
        history: :class:`EpochMetrics`, each field [n_epochs].
        train_eval: metrics of ``best_params`` on the training set (in ``fresh`` data mode,
            on a set drawn like the training batches).
        test_eval: metrics of ``best_params`` on the test set.
    """

    params: Params
    best_params: Params
    best_epoch: Array
    n_epochs_run: Array
    diverged_epoch: Array
    history: EpochMetrics
    train_eval: Evaluation | None
    test_eval: Evaluation | None


def evaluation_phase_offset(config: Config) -> str:
    """φ0 mode of validation and test sets: per sample in ``per_sample`` mode, else per set."""
    return "per_sample" if config.stimulus.phase_offset == "per_sample" else "per_dataset"


def make_datasets(data_key: Array, config: Config, store_spikes: bool = True) -> Datasets:
    """Generate the training, validation and test sets of a run from ``data_key``.

    The training set of ``per_epoch`` φ0 mode keeps only its frozen noise keys (spikes are
    regenerated per batch with a new φ0); other sets store their spikes as
    ``config.training.spike_storage`` says (``store_spikes=False``: none does; see
    :func:`datasets_from_seed`).
    """
    sets = _set_draws(data_key, config)
    if store_spikes:
        sets.update({name: _with_spikes(sets[name], config) for name in _spiked(sets, config)})
    return Datasets(sets["train"], sets.get("valid"), sets["test"])


def stores_training_spikes(config: Config) -> bool:
    """Whether the training set stores its spikes (not in ``per_epoch`` φ0 mode)."""
    return config.stimulus.phase_offset != "per_epoch"


def make_test_set(data_key: Array, config: Config, store_spikes: bool = True) -> Dataset:
    """The test set of :func:`make_datasets` alone (what analysis reads), without the
    others' spikes."""
    test = _set_draws(data_key, config)["test"]
    return _with_spikes(test, config) if store_spikes else test


SPLITS = ("train", "valid", "test")


def set_sizes(config: Config) -> dict[str, int]:
    """Samples in each set of :data:`SPLITS`."""
    tr = config.training
    return dict(zip(SPLITS, (tr.n_train, tr.n_valid, tr.n_test), strict=True))


def stacked_set_draws(data_key: Array, config: Config) -> Dataset:
    """The sets of a run without their spikes, stacked: set ``s`` of :data:`SPLITS` is
    :func:`make_dataset` from key ``s`` of ``split(data_key, 3)``, with the φ0 mode of
    :func:`evaluation_phase_offset` (also the training set's initial φ0 draw). Every leaf
    is [3, ...]; each set has as many samples as the largest, and is its first
    ``set_sizes(config)[s]`` of them.

    Drawn in one pass, each kind of draw is one compiled loop instead of three (in a program
    of its own, a third of the compile time), and the numbers are the same: every draw takes
    element *i* of its key's counter sequence, so the first *n* samples of a longer draw are
    a set of *n* (JAX's default partitionable Threefry scheme; tests compare them)."""
    longest = max(set_sizes(config).values())
    mode = evaluation_phase_offset(config)
    return jax.vmap(lambda key: make_dataset(key, longest, config.stimulus, mode,
                                             store_spikes=False))(split(data_key, 3))


def _set_draws(data_key: Array, config: Config) -> dict[str, Dataset]:
    """The sets of :func:`stacked_set_draws` cut to size, by name (an empty set left out)."""
    return _cut_sets(stacked_set_draws(data_key, config), config, lambda x, *index: x[index])


def _cut_sets(stacked: Dataset, config: Config,
              take: Callable[..., Array]) -> dict[str, Dataset]:
    """Set ``i`` of ``stacked`` (:func:`stacked_set_draws`), its first ``n`` samples, for
    each non-empty set by name; ``take(x, *index)`` is ``x[index]`` (in a program, or on
    the host)."""
    return {name: stacked.replace(delays=take(stacked.delays, i)).map_samples(
                lambda x, i=i, n=n: take(x, i, slice(n)))
            for i, (name, n) in enumerate(set_sizes(config).items()) if n > 0}


def _spiked(sets: dict[str, Dataset], config: Config) -> list[str]:
    """The names of ``sets`` whose spikes are stored."""
    return [name for name in sets if name != "train" or stores_training_spikes(config)]


def _with_spikes(data: Dataset, config: Config) -> Dataset:
    return data.replace(spikes=stored_spikes(data, config.stimulus,
                                             config.training.spike_storage))


def optimizer(config: Config, params: Params) -> optax.GradientTransformation:
    """Adam per parameter group (:data:`sslax.network.PARAMETER_GROUPS`), each with its
    learning rate: the weights ``learning_rate``, learned time constants
    ``learning_rate_tau``, learned delays ``learning_rate_delays``. Adam acts elementwise,
    so splitting it into groups with equal rates changes nothing."""
    rates = {"weights": config.training.learning_rate,
             "tau": config.training.tau_learning_rate,
             "delays": config.training.delay_learning_rate}
    labels = {name: PARAMETER_GROUPS[name] for name in params.trained}
    used = sorted(set(labels.values()))
    return optax.multi_transform({group: optax.adam(rates[group]) for group in used}, labels)


def initial_params(key: Array, config: Config) -> Params:
    """The parameters a run with network key ``key`` starts from."""
    return init_params(split(key, 4)[0], config)


def init_state(key: Array, config: Config) -> TrainState:
    """The state of a network before its first epoch (``key``: the network key)."""
    params = initial_params(key, config)
    opt_state = optimizer(config, params).init(params.trained)
    # explicit dtypes: a weakly typed leaf would make the first epoch's program differ from
    # the others' (and compile twice)
    real = jax.dtypes.canonicalize_dtype(float)
    nan = jnp.full(config.training.n_epochs, jnp.nan, real)
    zero = jnp.zeros((), jnp.int32)
    return TrainState(
        params=params,
        opt_state=opt_state,
        best_params=jax.tree.map(jnp.copy, params),
        best_loss=jnp.full((), jnp.inf, real),
        best_epoch=zero,
        epoch=zero,
        n_epochs_run=zero,
        stopped=jnp.zeros((), bool),
        diverged_epoch=zero,
        history=EpochMetrics(nan, nan, nan, nan),
        key_data=jax.random.key_data(key),
    )


def _where(condition: Array, new: Any, old: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(condition, a, b), new, old)


def _all_finite(tree: Any) -> Array:
    return jnp.all(jnp.asarray([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def train_epoch(state: TrainState, data: Datasets, config: Config) -> TrainState:
    """Run epoch ``state.epoch + 1`` (or skip it if the network has stopped).

    The epoch's Adam steps go over a fresh permutation of the training set (or fresh
    samples); then the validation loss decides whether the parameters are the best so far
    (they are *copied*) and whether early stopping fires: the lowest of the last ``patience``
    validation losses is the oldest of them. If a training loss, the validation loss or a
    parameter became non-finite, the epoch's updates are dropped, the run stops and
    ``diverged_epoch`` records it.
    """
    stim, tr = config.stimulus, config.training
    n_batches, batch = tr.n_batches, tr.batch_size
    fresh = tr.data_mode == "fresh"

    def run(state: TrainState) -> TrainState:
        epoch = state.epoch  # index of this epoch; its number is epoch + 1
        key = jax.random.wrap_key_data(state.key_data)
        _, k_order, k_phase, k_fresh = split(key, 4)
        k_loss = fold_in(fold_in(key, _LOSS_STREAM), epoch)
        tx = optimizer(config, state.params)

        def sgd_step(carry: tuple[Params, Any], batch_data: tuple[Array, Array, Array]
                     ) -> tuple[Any, Any]:
            params, opt_state = carry
            x, y, step = batch_data

            def loss(trained: dict[str, Array]) -> tuple[Array, Any]:
                return loss_fn(params.replace(trained=trained), x, y, config,
                               fold_in(k_loss, step), epoch=epoch)

            (value, out), grads = jax.value_and_grad(loss, has_aux=True)(params.trained)
            updates, opt_state = tx.update(grads, opt_state, params.trained)
            trained = optax.apply_updates(params.trained, updates)
            correct = jnp.mean(predict(out.scores) == y)
            return (params.replace(trained=trained), opt_state), (value, correct)

        if fresh:

            def step(carry: Any, i: Array) -> tuple[Any, Any]:
                k = fold_in(k_fresh, epoch * n_batches + i)
                d = draw_like(
                    k, batch, data.train, per_sample_phase=stim.phase_offset != "per_dataset"
                )
                x = batch_inputs(d, jnp.arange(batch), stim)
                return sgd_step(carry, (x, ipd_to_class(d.ipd, stim.n_classes), i))

            xs: Any = jnp.arange(n_batches)
        else:
            labels = ipd_to_class(data.train.ipd, stim.n_classes)
            order = permutation(fold_in(k_order, epoch), tr.n_train)
            xs = (order[: n_batches * batch].reshape(n_batches, batch), jnp.arange(n_batches))
            phi0 = None
            if stim.phase_offset == "per_epoch":  # new φ0 per sample, same frozen noise
                phi0 = 2 * math.pi * uniform(fold_in(k_phase, epoch), (tr.n_train,),
                                             dtype=float)

            def step(carry: Any, index_step: tuple[Array, Array]) -> tuple[Any, Any]:
                index, i = index_step
                x = batch_inputs(data.train, index, stim, None if phi0 is None else phi0[index])
                return sgd_step(carry, (x, labels[index], i))

        (params, opt_state), (losses, correct) = lax.scan(
            step, (state.params, state.opt_state), xs)
        finite = jnp.all(jnp.isfinite(losses)) & _all_finite(params.trained)
        if data.valid is not None:
            ev = evaluate(params, data.valid, config, evaluation_batch(config))
            valid_loss, valid_acc = ev.loss, ev.accuracy
            finite = finite & jnp.isfinite(valid_loss)
            improved = finite & (valid_loss < state.best_loss)
        else:
            valid_loss = valid_acc = jnp.asarray(jnp.nan)
            improved = finite
        params = _where(finite, params, state.params)
        opt_state = _where(finite, opt_state, state.opt_state)
        metrics = EpochMetrics(jnp.mean(losses), jnp.mean(correct), valid_loss, valid_acc)
        history = jax.tree.map(lambda h, m: h.at[epoch].set(m), state.history, metrics)
        stopped = ~finite
        if tr.patience > 0:
            # the last `patience` validation losses up to this epoch (inf before epoch 1)
            padded = jnp.concatenate([jnp.full(tr.patience, jnp.inf), history.valid_loss])
            window = lax.dynamic_slice(padded, (epoch + 1,), (tr.patience,))
            stopped = stopped | ((epoch + 1 >= tr.patience) & (jnp.argmin(window) == 0))
        return TrainState(
            params=params,
            opt_state=opt_state,
            best_params=_where(improved, params, state.best_params),
            best_loss=jnp.where(improved, valid_loss, state.best_loss),
            best_epoch=jnp.where(improved, epoch + 1, state.best_epoch),
            epoch=epoch + 1,
            n_epochs_run=state.n_epochs_run + 1,
            stopped=stopped,
            diverged_epoch=jnp.where(finite, state.diverged_epoch, epoch + 1),
            history=history,
            key_data=state.key_data,
        )

    # A stopped network keeps its state. A select rather than a cond: under vmap a cond
    # becomes a select anyway, and the host never runs an epoch for a single stopped network.
    # The epoch counter and the data key are not selected: they are the same either way,
    # and a select on a member's `stopped` would batch them, so that members sharing them
    # (one group of a sweep) would no longer share their sample order and batches.
    ran = run(state)
    kept = _where(state.stopped, state, ran)
    return kept._replace(**{name: getattr(ran, name) for name in GROUP_SHARED})


def finish(state: TrainState, data: Datasets, config: Config,
           evaluate_best: bool = True) -> TrainResult:
    """The result of a run from its last state: the metrics of its best parameters on the
    training and test sets (``evaluate_best=False`` skips them; both are then ``None``)."""
    train_eval, test_eval = (evaluate_splits(state.best_params, data, config) if evaluate_best
                             else (None, None))
    return TrainResult(state.params, state.best_params, state.best_epoch, state.n_epochs_run,
                       state.diverged_epoch, state.history, train_eval, test_eval)


def train_on_data(key: Array, data: Datasets, cfg: Config,
                  evaluate_best: bool = True) -> TrainResult:
    """The whole training run on given data sets (pure, jittable); ``key`` is the network
    key. What :func:`make_train`'s ``train`` calls after generating the data."""
    state = lax.fori_loop(0, cfg.training.n_epochs,
                          lambda _, s: train_epoch(s, data, cfg), init_state(key, cfg))
    return finish(state, data, cfg, evaluate_best)


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


def evaluation_batch(config: Config) -> int:
    """Samples per chunk when evaluating (bounds memory only; never changes a result)."""
    return max(config.training.batch_size, 256)


def evaluate_splits(params: Params, data: Datasets, config: Config) -> tuple[Evaluation,
                                                                             Evaluation]:
    """Metrics of ``params`` on the training and the test set of ``data``."""
    return (evaluate(params, data.train, config, evaluation_batch(config)),
            evaluate(params, data.test, config, evaluation_batch(config)))


# ---------------------------------------------------------------------------------------------
# driving epochs from the host
# ---------------------------------------------------------------------------------------------


@jax.jit
def _status(state: TrainState) -> tuple[Array, Array]:
    """Epochs completed and whether every network has stopped (one network or an ensemble,
    whose members go through epochs in lockstep)."""
    return jnp.max(state.epoch), jnp.all(state.stopped)


def epochs_done(state: TrainState) -> int:
    """Epochs completed by the network(s) of ``state`` (a host sync)."""
    return int(_status(state)[0])


def epochs_left(state: TrainState, n_epochs: int) -> bool:
    """Whether any network of ``state`` still has epochs to run (a host sync)."""
    epoch, stopped = _status(state)
    return int(epoch) < n_epochs and not bool(stopped)


def drive_epochs(
    state: TrainState,
    epoch_step: Callable[[TrainState], TrainState],
    n_epochs: int,
    *,
    on_epoch: Callable[[TrainState], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[TrainState, bool]:
    """Run ``epoch_step`` until every network has stopped or ``n_epochs`` epochs are done.

    After each epoch ``on_epoch(state)`` runs (report progress, write a checkpoint); then,
    if more epochs are due, ``should_stop()`` may end the loop at this epoch boundary.
    Returns the last state and whether ``should_stop`` ended it. The loop's only decisions
    come from the state, so any run continued from a saved state retraces the same epochs.
    """
    while epochs_left(state, n_epochs):
        if should_stop is not None and should_stop():
            return state, True
        state = epoch_step(state)
        if on_epoch is not None:
            on_epoch(state)
    return state, False


_draws_jit = emitters.jit_classic(stacked_set_draws)


def datasets_from_seed(data_seed: int, config: Config) -> Datasets:
    """The data sets of data seed ``data_seed``: those of :func:`make_datasets`, spike for
    spike, with the spikes generated on every CPU core (:func:`sslax.datagen.fill_spikes`)."""
    # each set cut from the stacked draws on the host (see sslax.datagen.host_slice)
    sets = _cut_sets(_draws_jit(key_from_seed(data_seed), config), config, host_slice)
    stored = _spiked(sets, config)
    filled = fill_spikes([sets[name] for name in stored], config.stimulus,
                         config.training.spike_storage)
    sets.update(zip(stored, filled, strict=True))
    return Datasets(sets["train"], sets.get("valid"), sets["test"])


_init_jit = emitters.jit_classic(init_state)
_epoch_jit = jax.jit(train_epoch, donate_argnums=0)
_finish_jit = emitters.jit_classic(finish)  # same numbers as jax.jit, compiled faster


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


class Trainer:
    """Trains one network from the host, epoch by epoch, with one compiled program per
    piece (initialisation, epoch, evaluation) and per config structure.

    ``trainer.run(trainer.initial_state())`` then ``trainer.finish(state)`` is a whole run;
    any state it passes to ``on_epoch`` (or one restored from a checkpoint of it) can be
    given to ``run`` again to continue, with bit-identical results.
    """

    def __init__(self, config: Config, seed: int = 0, data_seed: int = 0) -> None:
        config.validate()
        check_seed("seed", seed)
        check_seed("data_seed", data_seed)
        self.config, self.seed, self.data_seed = config, seed, data_seed
        self.data = datasets_from_seed(data_seed, config)

    def initial_state(self) -> TrainState:
        return _init_jit(key_from_seed(self.seed), self.config)

    def state_template(self) -> Any:
        """Shapes and dtypes of this run's state (to check a restored checkpoint against)."""
        return jax.eval_shape(init_state, key_from_seed(self.seed), self.config)

    def run(
        self,
        state: TrainState,
        on_epoch: Callable[[TrainState], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[TrainState, bool]:
        """Continue training from ``state``; see :func:`drive_epochs`."""
        return drive_epochs(state, lambda s: _epoch_jit(s, self.data, self.config),
                            self.config.training.n_epochs, on_epoch=on_epoch,
                            should_stop=should_stop)

    def finish(self, state: TrainState) -> Run:
        """Evaluate the best parameters and return the :class:`Run`."""
        result = jax.block_until_ready(_finish_jit(state, self.data, self.config))
        return Run(self.config, self.seed, self.data_seed, result)


def epoch_metrics(state: TrainState) -> tuple[int, EpochMetrics]:
    """The number of the epoch a network's ``state`` just completed and that epoch's metrics,
    as host values: what a progress report shows."""
    epoch = int(state.epoch)
    history = jax.device_get(state.history)
    return epoch, EpochMetrics(*(h[epoch - 1] for h in history))


def fit(
    config: Config,
    seed: int = 0,
    data_seed: int = 0,
    on_epoch: Callable[[int, EpochMetrics], None] | None = None,
) -> Run:
    """Validate ``config``, train one network and evaluate its best parameters.

    One compiled program per config structure: calling again with other numeric values
    (τ, learning rate, slope …) reuses it. ``on_epoch(epoch, metrics)`` is called after
    every epoch with the epoch's number (from 1) and its :class:`EpochMetrics` (host
    values).
    """
    trainer = Trainer(config, seed, data_seed)
    report = None if on_epoch is None else (lambda state: on_epoch(*epoch_metrics(state)))
    state, _ = trainer.run(trainer.initial_state(), on_epoch=report)
    return trainer.finish(state)


def evaluate_run(config: Config, params: Params, data_seed: int) -> tuple[Evaluation, Evaluation]:
    """Metrics of ``params`` on the training and test sets that ``data_seed`` generates
    (exactly the evaluation that training reports for its best parameters)."""
    data = datasets_from_seed(data_seed, config)
    return _evaluate_splits_jit(params, data, config)


_evaluate_splits_jit = emitters.jit_classic(evaluate_splits)  # as _finish_jit
