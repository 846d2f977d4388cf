"""Training as one pure function: compiles once per structure, keeps a COPY of the best
parameters, stops early by the documented rule, is deterministic, and learns.

Compilation dominates the cost here, so the tests share a handful of compiled programs:
one ``jit(make_train(BASE))`` for most tests, one per data/φ0 mode, and ``fit`` on LEARN.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tiny_config
from jax import lax

from sslax import training
from sslax.config import Config, ConfigError
from sslax.metrics import evaluate
from sslax.training import fit, make_train
from sslax.training import make_datasets as _make_datasets

# The conftest's tiny sizes (T = 25, batch 4, 8 batches an epoch, 16 validation samples),
# 8 epochs with early stopping after 2.
BASE = tiny_config(n_epochs=8, patience=2, tau_hidden=3e-3)
KEY, DATA_KEY = jax.random.key(0), jax.random.key(100)
make_datasets = jax.jit(_make_datasets)  # one compile instead of many eager ones


@pytest.fixture(scope="module")
def base_train():
    """``jit(make_train(BASE))`` wrapped in a trace counter, shared by the tests below."""
    count = {"traces": 0}
    train = make_train(BASE)

    def counted(key, data_key, hparams):
        count["traces"] += 1  # runs only while tracing
        return train(key, data_key, hparams)

    return jax.jit(counted), count


def leaves_equal(a, b):
    return all(
        np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def stopping_rule_np(valid_loss, patience, n_epochs):
    """Epochs run under "stop when the lowest of the last ``patience`` validation losses is
    the oldest of them" (checked after each epoch), from the recorded losses."""
    for epoch in range(n_epochs):
        if epoch + 1 >= patience:
            window = valid_loss[epoch - patience + 1 : epoch + 1]
            if np.argmin(window) == 0:
                return epoch + 1
    return n_epochs


# ---------------------------------------------------------------------------------------------
# (a) compiles once
# ---------------------------------------------------------------------------------------------


def test_make_train_compiles_once_across_hyperparameters(base_train):
    train, count = base_train
    hparams = [
        BASE,
        BASE.replace_fields(tau_hidden=2e-3),
        BASE.replace_fields(learning_rate=0.03),
        BASE.replace_fields(surrogate_slope=10.0),
    ]
    results = [train(KEY, DATA_KEY, hp) for hp in hparams]
    assert count["traces"] == 1
    assert train._cache_size() == 1
    # each hyperparameter really reached the compiled program
    for i in range(len(results)):
        for j in range(i + 1, len(results)):
            assert not leaves_equal(results[i].params, results[j].params), (i, j)


def test_make_train_rejects_other_structure():
    train = make_train(BASE)
    with pytest.raises(ConfigError, match="static"):
        train(KEY, DATA_KEY, BASE.replace_fields(n_hidden=7))
    with pytest.raises(ConfigError, match="static"):
        train(KEY, DATA_KEY, BASE.replace_fields(tau_output=2e-3))  # adds a leaf


def test_make_train_validates_config():
    bad = jax.tree.map(lambda x: x, BASE)  # a config is rebuilt without validation...
    bad = jax.tree_util.tree_map_with_path(
        lambda p, x: -1.0 if p[-1].name == "tau_hidden" else x, bad
    )
    with pytest.raises(ConfigError, match="tau_hidden"):
        make_train(bad)  # ...but make_train validates it


# ---------------------------------------------------------------------------------------------
# (b), (c) best parameters are a copy; the early-stopping rule
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(base_train):
    """Runs of BASE at several learning rates and seeds (one compiled program)."""
    train, _ = base_train
    out = []
    for lr in (0.01, 0.05, 0.2):
        for seed in (0, 1):
            hp = BASE.replace_fields(learning_rate=lr)
            out.append((hp, jax.device_get(train(jax.random.key(seed), DATA_KEY, hp))))
    return out


def test_early_stopping_follows_rule(runs):
    n_epochs, patience = BASE.training.n_epochs, BASE.training.patience
    stopped_early = 0
    for _, result in runs:
        history = result.history
        n_run = int(result.n_epochs_run)
        valid = np.asarray(history.valid_loss)
        assert valid.shape == (n_epochs,)
        assert n_run == stopping_rule_np(valid, patience, n_epochs)
        for field in history:  # every curve is finite exactly for the epochs run
            field = np.asarray(field)
            assert np.all(np.isfinite(field[:n_run]))
            assert np.all(np.isnan(field[n_run:]))
        assert int(result.best_epoch) == int(np.argmin(valid[:n_run])) + 1  # from 1
        stopped_early += n_run < n_epochs
    assert stopped_early >= 2  # the rule was actually exercised


def test_best_params_are_a_copy_of_the_best_epoch(runs):
    """Evaluating best_params on the validation set reproduces the validation loss recorded
    at best_epoch; the final params reproduce the last epoch's. A kept *reference* (the
    notebook's bug) would make both equal to the last epoch's."""
    hp, result = next((hp, r) for hp, r in runs if int(r.best_epoch) < int(r.n_epochs_run))
    valid = make_datasets(DATA_KEY, hp).valid
    history = np.asarray(result.history.valid_loss)
    best, last = int(result.best_epoch) - 1, int(result.n_epochs_run) - 1  # row indices
    assert history[best] < history[last]
    evaluate_jit = jax.jit(evaluate, static_argnames="batch_size")
    best_loss = float(evaluate_jit(result.best_params, valid, hp, batch_size=256).loss)
    last_loss = float(evaluate_jit(result.params, valid, hp, batch_size=256).loss)
    assert best_loss == pytest.approx(history[best], rel=1e-5)
    assert last_loss == pytest.approx(history[last], rel=1e-5)
    assert not leaves_equal(result.best_params, result.params)


@pytest.fixture(scope="module")
def ensemble(runs):
    """The lr = 0.2 runs of seeds 0 and 1 again, as one ``jit(vmap(train))`` ensemble."""
    hp = BASE.replace_fields(learning_rate=0.2)
    singles = [r for h, r in runs if h == hp]
    keys = jnp.stack([jax.random.key(0), jax.random.key(1)])
    train = jax.jit(jax.vmap(make_train(BASE), in_axes=(0, None, None)))
    return jax.device_get(train(keys, DATA_KEY, hp)), singles


def test_vmapped_ensemble_equals_single_runs(ensemble):
    result, singles = ensemble
    assert result.params.trained["w_in"].shape == (2, 16, 6)
    for i, single in enumerate(singles):
        member = jax.tree.map(lambda x, i=i: x[i], result)
        assert int(member.n_epochs_run) == int(single.n_epochs_run)
        assert int(member.best_epoch) == int(single.best_epoch)
        for got, want in zip(jax.tree.leaves(member), jax.tree.leaves(single), strict=True):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5)


def test_host_driven_epochs_equal_the_pure_run(runs):
    """The host loop (one compiled epoch at a time, stopping once every member stopped)
    gives exactly what the pure one-program run gives, for an ensemble of two members that
    stop at different epochs."""
    hp = BASE.replace_fields(learning_rate=0.2)
    singles = [r for h, r in runs if h == hp]
    assert len({int(r.n_epochs_run) for r in singles}) == 2  # they stop at different epochs
    data = make_datasets(DATA_KEY, hp)
    keys = jnp.stack([jax.random.key(0), jax.random.key(1)])
    init = jax.jit(jax.vmap(training.init_state, in_axes=(0, None)))
    epoch = jax.jit(jax.vmap(training.train_epoch, in_axes=(0, None, None)))
    seen = []
    state, interrupted = training.drive_epochs(
        init(keys, hp), lambda s: epoch(s, data, hp), hp.training.n_epochs,
        on_epoch=lambda s: seen.append(int(jnp.max(s.epoch))))
    assert not interrupted
    last = max(int(r.n_epochs_run) for r in singles)
    assert seen == list(range(1, last + 1))  # no epoch after the last member stopped
    for i, single in enumerate(singles):
        member = jax.tree.map(lambda x, i=i: np.asarray(x[i]), state)
        assert int(member.n_epochs_run) == int(single.n_epochs_run)
        np.testing.assert_allclose(member.best_params.trained["w_in"],
                                   single.best_params.trained["w_in"], rtol=1e-5, atol=1e-6)


def test_group_shared_fields_stay_unbatched_through_epochs():
    """Members that share their epoch counter and data key (one group of a sweep) still
    share them after epochs in which some of them stopped: else each member would gather
    its own batches. vmap refuses an out_axes of None for a batched output."""
    data = make_datasets(DATA_KEY, BASE)
    state = training.init_state(KEY, BASE)
    members = jax.tree.map(lambda x: jnp.stack([x, x]), state)
    members = members._replace(stopped=jnp.array([False, True]),
                               **{name: getattr(state, name) for name in training.GROUP_SHARED})
    axes = state._replace(**{name: None if name in training.GROUP_SHARED else 0
                             for name in state._fields})
    epoch = jax.vmap(training.train_epoch, in_axes=(axes, None, None), out_axes=axes)
    two = jax.jit(lambda s: lax.fori_loop(0, 2, lambda _, s: epoch(s, data, BASE), s))(members)
    assert int(two.epoch) == 2
    assert int(two.n_epochs_run[0]) == 2 and int(two.n_epochs_run[1]) == 0


def test_drive_epochs_stops_at_an_epoch_boundary_when_asked(base_train):
    trainer = training.Trainer(BASE, seed=0, data_seed=100)
    calls = []
    state, interrupted = trainer.run(trainer.initial_state(),
                                     should_stop=lambda: calls.append(1) or len(calls) > 2)
    assert interrupted
    assert int(state.epoch) == 2  # asked before epochs 1, 2 and 3; the third said stop
    state, interrupted = trainer.run(state)  # and continues from there
    assert not interrupted
    again = training.fit(BASE, seed=0, data_seed=100).result
    np.testing.assert_array_equal(np.asarray(trainer.finish(state).result.best_params
                                             .trained["w_in"]),
                                  np.asarray(again.best_params.trained["w_in"]))


# ---------------------------------------------------------------------------------------------
# (d) determinism and the roles of the two keys
# ---------------------------------------------------------------------------------------------


def test_same_seeds_give_identical_results(base_train, runs):
    train, _ = base_train
    hp, first = runs[0]
    again = jax.device_get(train(jax.random.key(0), DATA_KEY, hp))
    assert leaves_equal(first, again)


def test_network_seed_changes_params(runs):
    (_, a), (_, b) = runs[0], runs[1]  # same data and lr, seeds 0 and 1
    assert not np.allclose(np.asarray(a.params.trained["w_in"]),
                           np.asarray(b.params.trained["w_in"]))


def test_data_seed_alone_changes_data(base_train):
    """Initial weights depend on the network key only; the data on the data key only."""
    train, _ = base_train
    frozen = BASE.replace_fields(learning_rate=1e-12)  # final params = initial params
    a = train(KEY, DATA_KEY, frozen)
    b = train(KEY, jax.random.key(101), frozen)
    c = train(jax.random.key(1), DATA_KEY, frozen)
    w_in = {name: np.asarray(r.params.trained["w_in"])
            for name, r in zip("abc", (a, b, c), strict=True)}
    np.testing.assert_allclose(w_in["a"], w_in["b"], atol=1e-9)
    assert not np.allclose(w_in["a"], w_in["c"])
    assert not np.array_equal(np.asarray(a.history.valid_loss), np.asarray(b.history.valid_loss))
    d1, d2 = make_datasets(DATA_KEY, BASE), make_datasets(jax.random.key(101), BASE)
    for name in ("train", "valid", "test"):
        assert not np.array_equal(
            np.asarray(getattr(d1, name).ipd), np.asarray(getattr(d2, name).ipd)
        )
    np.testing.assert_array_equal(
        np.asarray(make_datasets(DATA_KEY, BASE).train.spikes), np.asarray(d1.train.spikes)
    )
    assert d1.train.ipd.shape == (32,) and d1.valid.ipd.shape == (16,)
    assert d1.test.ipd.shape == (16,)


# ---------------------------------------------------------------------------------------------
# (e) the other data and φ0 modes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "modes",
    [
        dict(data_mode="fresh", phase_offset="per_sample"),
        dict(data_mode="fixed", phase_offset="per_epoch"),
    ],
    ids=["fresh-per_sample", "fixed-per_epoch"],
)
def test_other_modes_train(modes):
    cfg = BASE.replace_fields(n_valid=0, patience=0, n_epochs=4, learning_rate=0.03, **modes)
    train = jax.jit(make_train(cfg))
    result = train(KEY, DATA_KEY, cfg)
    history = result.history
    for field in ("train_loss", "train_accuracy"):
        values = np.asarray(getattr(history, field))
        assert values.shape == (4,)
        assert np.all(np.isfinite(values))
    assert np.all(np.isnan(np.asarray(history.valid_loss)))  # no validation set
    assert int(result.n_epochs_run) == 4
    assert int(result.best_epoch) == 4  # the last epoch (epochs count from 1)
    assert leaves_equal(result.best_params, result.params)  # best = final without validation
    loss = np.asarray(history.train_loss)
    assert loss[-1] < loss[0]
    assert np.all(loss < 2 * np.log(12))
    # these modes must not show the network the same inputs every epoch: with learning
    # switched off, the per-epoch training loss still changes from epoch to epoch
    frozen = cfg.replace_fields(learning_rate=1e-12)
    loss = np.asarray(train(KEY, DATA_KEY, frozen).history.train_loss)
    assert len(np.unique(loss)) == 4


def test_fixed_per_dataset_mode_repeats_the_data(base_train):
    """The contrast to the test above: the original mode reuses one fixed set (reshuffled),
    so with learning off every epoch sees the same samples and the same mean loss."""
    train, _ = base_train
    frozen = BASE.replace_fields(learning_rate=1e-12)
    loss = np.asarray(train(KEY, DATA_KEY, frozen).history.train_loss)
    n_run = int(np.isfinite(loss).sum())
    assert n_run >= 2
    np.testing.assert_allclose(loss[:n_run], loss[0], rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# (f) it learns; fit reuses its compiled program
# ---------------------------------------------------------------------------------------------

LEARN = Config().replace_fields(
    fibres_per_ear=8,
    n_hidden=8,
    frequency=50.0,
    duration=0.03,
    tau_hidden=2e-3,
    n_train=1024,
    batch_size=32,
    n_epochs=15,
    n_valid=0,
    patience=0,
    n_test=512,
    learning_rate=0.01,
)


def compiled_cache_sizes():
    """Cache size of every module-level jitted function of sslax.training."""
    return {
        name: f._cache_size()
        for name, f in vars(training).items()
        if name.endswith("_jit") and hasattr(f, "_cache_size")
    }


def test_fit_learns_above_chance_and_does_not_recompile():
    seen = []
    run = fit(LEARN, seed=0, data_seed=0, on_epoch=lambda e, m: seen.append((e, m)))
    chance = 1 / LEARN.stimulus.n_classes
    assert float(run.test_eval.accuracy) > 2 * chance
    assert float(run.train_eval.accuracy) > 2 * chance
    acc = np.asarray(run.result.history.train_accuracy)
    assert acc[-3:].mean() > acc[:3].mean() + 0.1
    # progress reached the host once per epoch, in order (from 1), with the recorded metrics
    assert [e for e, _ in seen] == list(range(1, 16))
    np.testing.assert_allclose(
        [float(m.train_loss) for _, m in seen], np.asarray(run.result.history.train_loss), rtol=1e-6
    )

    sizes = compiled_cache_sizes()
    assert sizes["_epoch_jit"] >= 1
    other = fit(
        LEARN.replace_fields(tau_hidden=1e-3, learning_rate=0.02, surrogate_slope=8.0),
        seed=0,
        data_seed=0,
    )
    assert compiled_cache_sizes() == sizes
    assert not leaves_equal(run.result.params, other.result.params)
