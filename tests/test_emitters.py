"""The programs sslax compiles with XLA's classic CPU emitters (those that only draw, and the
final evaluation) give the same numbers as under the default emitters (what makes that
choice safe)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from conftest import tiny_config

from sslax import emitters
from sslax.stimulus import stored_spikes
from sslax.training import finish, init_state, make_datasets, stacked_set_draws, train_epoch

# the level sslax's programs are compiled at outside the tests (conftest lowers it)
PRODUCTION = {"xla_backend_optimization_level": 3}


def leaves(tree):
    return [np.asarray(jax.random.key_data(x) if jax.dtypes.issubdtype(
        x.dtype, jax.dtypes.prng_key) else x) for x in jax.tree.leaves(tree)]


@pytest.mark.parametrize("overrides", [
    dict(),
    dict(tau_hidden_distribution="gamma", learn_tau="both", dale="abs"),
    dict(spike_storage="bits", fast_rates=True, phase_offset="per_sample"),
])
def test_classic_programs_give_the_same_numbers_under_both_emitters(overrides):
    options = emitters.classic_options()
    if options is None:
        pytest.skip("this XLA has no choice of CPU emitters")
    config = tiny_config(n_train=96, n_valid=32, n_test=32, **overrides)
    key = jax.random.key(11)
    draws = jax.jit(stacked_set_draws).lower(key, config)
    data = draws.compile(PRODUCTION)(key, config).map_samples(lambda x: x[0])
    data = data.replace(delays=data.delays[0])
    spikes = jax.jit(stored_spikes, static_argnames=("spike_storage", "chunk_size")).lower(
        data, config.stimulus, config.training.spike_storage, 32)
    init = jax.jit(init_state).lower(key, config)
    # the final evaluation of a network after one epoch, on sets with stored spikes
    sets = jax.jit(make_datasets)(key, config)
    trained = jax.jit(train_epoch)(jax.jit(init_state)(key, config), sets, config)
    evaluation = jax.jit(finish).lower(trained, sets, config)
    for lowered, args in ((draws, (key, config)), (spikes, (data, config.stimulus)),
                          (init, (key, config)), (evaluation, (trained, sets, config))):
        default = lowered.compile(PRODUCTION)(*args)
        classic = lowered.compile({**PRODUCTION, **options})(*args)
        for a, b in zip(leaves(default), leaves(classic), strict=True):
            np.testing.assert_array_equal(a, b)


def test_jit_classic_is_plain_jit_where_xla_lacks_the_options(monkeypatch):
    monkeypatch.setattr(emitters, "CPU_OPTIONS", {"xla_no_such_option_anywhere": 1})
    emitters.classic_options.cache_clear()
    try:
        assert emitters.classic_options() is None
        double = emitters.jit_classic(lambda x: 2 * x)
        assert int(double(21)) == 42
    finally:
        emitters.classic_options.cache_clear()
