"""Config validation (every bad field names itself and its value), round trips, and the
pytree contract: numeric hyperparameters are leaves, structure fields are static."""

from __future__ import annotations

import dataclasses
import json
import math

import jax
import numpy as np
import pytest

from sslax.config import (
    Config,
    ConfigError,
    ConfigWarning,
    NetworkConfig,
    StimulusConfig,
    TrainingConfig,
    section_of,
)

NAN, INF = float("nan"), float("inf")

# (fields to replace, the field the error must name, the bad value it must show)
BAD = [
    # non-positive time constants and steps
    (dict(tau_hidden=0.0), "tau_hidden", 0.0),
    (dict(tau_hidden=-5e-3), "tau_hidden", -5e-3),
    (dict(tau_output=0.0), "tau_output", 0.0),
    (dict(tau_output=-1e-3), "tau_output", -1e-3),
    (dict(dt=0.0), "dt", 0.0),
    (dict(dt=-1e-3), "dt", -1e-3),
    (dict(duration=0.0), "duration", 0.0),
    (dict(duration=-0.1), "duration", -0.1),
    # step structure
    (dict(dt=0.1), "dt", 0.1),  # dt == duration
    (dict(dt=0.2), "dt", 0.2),  # dt > duration
    (dict(duration=0.1005), "duration", 0.1005),
    (dict(dt=3e-3), "duration", 0.1),  # 0.1 / 0.003 is not whole
    (dict(rate_max=1001.0), "rate_max", 1001.0),  # rate_max * dt > 1
    (dict(dt=1e-2, duration=0.1, rate_max=200.0), "rate_max", 200.0),
    (dict(rate_max=-1.0), "rate_max", -1.0),
    # sizes
    (dict(n_hidden=0), "n_hidden", 0),
    (dict(n_hidden=-3), "n_hidden", -3),
    (dict(fibres_per_ear=0), "fibres_per_ear", 0),
    (dict(n_classes=1), "n_classes", 1),
    (dict(n_classes=0), "n_classes", 0),
    (dict(batch_size=0), "batch_size", 0),
    (dict(n_train=0), "n_train", 0),
    (dict(n_epochs=0), "n_epochs", 0),
    (dict(n_test=0), "n_test", 0),
    (dict(n_valid=-1), "n_valid", -1),
    (dict(patience=-1), "patience", -1),
    # option names
    (dict(surrogate="atan"), "surrogate", "atan"),
    (dict(update_order="euler"), "update_order", "euler"),
    (dict(reset="zero"), "reset", "zero"),
    (dict(readout="last"), "readout", "last"),
    (dict(init="xavier"), "init", "xavier"),
    (dict(data_mode="stream"), "data_mode", "stream"),
    (dict(phase_offset="per_batch"), "phase_offset", "per_batch"),
    (dict(surrogate="Sigmoid"), "surrogate", "Sigmoid"),
    # NaN and infinity in numeric fields
    *[
        (dict(**{f: NAN}), f, NAN)
        for f in (
            "tau_hidden",
            "tau_output",
            "threshold",
            "surrogate_slope",
            "frequency",
            "rate_max",
            "envelope_power",
            "phase_jitter",
            "learning_rate",
            "dt",
            "duration",
        )
    ],
    (dict(tau_hidden=INF), "tau_hidden", INF),
    (dict(learning_rate=INF), "learning_rate", INF),
    # cross-field rules
    (dict(exact_rates=True, envelope_power=3.0), "exact_rates", True),
    (dict(n_valid=0, patience=5), "patience", 5),
    (dict(n_train=32, batch_size=64), "n_train", 32),
    # signs, types
    (dict(phase_jitter=-0.1), "phase_jitter", -0.1),
    (dict(learning_rate=0.0), "learning_rate", 0.0),
    (dict(surrogate_slope=0.0), "surrogate_slope", 0.0),
    (dict(threshold=-1.0), "threshold", -1.0),
    (dict(frequency=0.0), "frequency", 0.0),
    (dict(envelope_power=-1.0), "envelope_power", -1.0),
    (dict(n_hidden=True), "n_hidden", True),
    (dict(fibres_per_ear=True), "fibres_per_ear", True),
    (dict(n_epochs=False), "n_epochs", False),
    (dict(batch_size=True), "batch_size", True),
    (dict(n_hidden=30.0), "n_hidden", 30.0),
    (dict(n_classes=12.5), "n_classes", 12.5),
    (dict(tau_hidden="5ms"), "tau_hidden", "5ms"),
    (dict(tau_hidden=True), "tau_hidden", True),
    (dict(phase_delays=1), "phase_delays", 1),
    (dict(exact_rates="yes"), "exact_rates", "yes"),
    (dict(tau_hidden=np.array([2e-3, -1e-3])), "tau_hidden", None),
]


def _case_id(case):
    fields, name, _ = case
    return "-".join(f"{k}={v!r}" for k, v in fields.items())[:60]


@pytest.mark.parametrize(("fields", "name", "value"), BAD, ids=[_case_id(c) for c in BAD])
def test_bad_field_raises_naming_field_and_value(fields, name, value):
    with pytest.raises(ConfigError) as info:
        Config().replace_fields(**fields)
    message = str(info.value)
    assert name in message
    if value is not None:
        assert repr(value) in message or str(value) in message, message


@pytest.mark.parametrize(("fields", "name", "value"), BAD, ids=[_case_id(c) for c in BAD])
def test_sections_validate_on_construction(fields, name, value):
    """The same errors come from building the section directly (not only via replace)."""
    sections = {section_of(k) for k in fields}
    assert sections == {section_of(name)}  # every case is about one section
    cls = {"stimulus": StimulusConfig, "network": NetworkConfig, "training": TrainingConfig}[
        section_of(name)
    ]
    with pytest.raises(ConfigError, match=name):
        cls(**fields)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_valid_edge_cases_accepted():
    Config().replace_fields(rate_max=1000.0)  # rate_max * dt == 1 exactly
    Config().replace_fields(n_classes=2, n_hidden=1, fibres_per_ear=1, n_valid=0, patience=0)
    Config().replace_fields(exact_rates=True)  # envelope_power 2 is the default
    Config().replace_fields(dt=1e-4, duration=0.1, frequency=250.0)  # T = 1000
    Config().replace_fields(n_train=64, batch_size=64)
    Config().replace_fields(n_hidden=3, tau_hidden=np.array([1e-3, 2e-3, 5e-3]))  # per unit


def test_sections_must_have_right_types():
    with pytest.raises(ConfigError, match="network"):
        Config(network=StimulusConfig())


def test_to_dict_from_dict_round_trip():
    cfg = Config().replace_fields(
        tau_hidden=2e-3,
        tau_output=7e-3,
        n_hidden=8,
        readout="max",
        phase_offset="per_epoch",
        exact_rates=True,
        frequency=50.0,
        learning_rate=1e-3,
        data_mode="fresh",
    )
    data = cfg.to_dict()
    assert set(data) == {"stimulus", "network", "training"}
    assert data["network"]["tau_output"] == 7e-3
    assert Config.from_dict(data) == cfg
    # through JSON as well
    assert Config.from_dict(json.loads(json.dumps(data))) == cfg
    # the default (tau_output None) round-trips too
    assert Config.from_dict(json.loads(json.dumps(Config().to_dict()))) == Config()
    # missing keys take defaults, with one warning that names them
    with pytest.warns(ConfigWarning, match=r"network\.tau_hidden, .*training\.n_epochs"):
        loaded = Config.from_dict({"network": {"n_hidden": 8}}, source="old.json")
    assert loaded == Config().replace_fields(n_hidden=8)


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="n_hiden"):
        Config.from_dict({"network": {"n_hiden": 8}})
    with pytest.raises(ConfigError, match="optimiser"):
        Config.from_dict({"optimiser": {}})
    with pytest.raises(ConfigError, match="tau_hidden"):
        Config.from_dict({"network": {"tau_hidden": -1.0}})


def test_replace_fields():
    cfg = Config().replace_fields(tau_hidden=2e-3, n_epochs=3, fibres_per_ear=4)
    assert cfg.network.tau_hidden == 2e-3
    assert cfg.training.n_epochs == 3
    assert cfg.stimulus.fibres_per_ear == 4
    assert cfg.stimulus.n_inputs == 8
    # other fields untouched, original unchanged (frozen)
    assert cfg.network.n_hidden == Config().network.n_hidden
    assert Config().network.tau_hidden == 5e-3
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.network.tau_hidden = 1.0
    with pytest.raises(ConfigError, match="not_a_field"):
        Config().replace_fields(not_a_field=1)
    assert [section_of(n) for n in ("dt", "tau_hidden", "patience")] == [
        "stimulus",
        "network",
        "training",
    ]


def test_derived_properties():
    cfg = Config().replace_fields(dt=1e-4, duration=0.1, n_train=100, batch_size=32)
    assert cfg.stimulus.n_steps == 1000
    assert cfg.training.n_batches == 3
    assert cfg.network.tau_out == cfg.network.tau_hidden
    assert cfg.replace_fields(tau_output=9e-3).network.tau_out == 9e-3


# ---------------------------------------------------------------------------------------------
# pytree contract
# ---------------------------------------------------------------------------------------------

LEAF_FIELDS = {
    "stimulus": {"frequency", "rate_max", "envelope_power", "phase_jitter"},
    "network": {"tau_hidden", "tau_hidden_ratio", "tau_hidden_cv", "inhibitory_fraction",
                "threshold", "surrogate_slope", "adaptation_strength", "psp_tau_rise_min",
                "psp_tau_rise_max", "psp_tau_decay_min", "psp_tau_decay_max",
                "delay_sigma_floor", "delay_anneal_fraction"},
    "training": {"learning_rate", "rate_penalty", "rate_lower", "rate_upper"},
}


def _leaf_names(cfg):
    paths = jax.tree_util.tree_flatten_with_path(cfg)[0]
    return {(p[0].name, p[1].name) for p, _ in paths}


def test_leaves_are_exactly_the_numeric_hyperparameters():
    expected = {(s, f) for s, fields in LEAF_FIELDS.items() for f in fields}
    assert _leaf_names(Config()) == expected
    # an explicit output τ is a leaf too (None is an empty subtree)
    with_out = Config().replace_fields(tau_output=3e-3)
    assert _leaf_names(with_out) == expected | {("network", "tau_output")}
    cfg = Config()
    for path, leaf in jax.tree_util.tree_flatten_with_path(cfg)[0]:
        assert leaf == getattr(getattr(cfg, path[0].name), path[1].name)


def test_static_fields_are_structure():
    base = jax.tree.structure(Config())
    for fields in (
        dict(n_hidden=7),
        dict(surrogate="superspike"),
        dict(dt=5e-4),
        dict(duration=0.05),
        dict(readout="sum"),
        dict(n_epochs=2),
        dict(phase_offset="per_sample"),
        dict(exact_rates=True),
        dict(phase_delays=False),
        dict(data_mode="fresh"),
        dict(n_classes=6),
        dict(neuron="adaptive"),
        dict(synapse="filter_and_fire"),
        dict(contacts=2),
        dict(rate_regulariser="band"),
        dict(dropout_hidden=0.5),
    ):
        assert jax.tree.structure(Config().replace_fields(**fields)) != base, fields
    for fields in (
        dict(tau_hidden=1e-3),
        dict(learning_rate=0.1),
        dict(surrogate_slope=9.0),
        dict(rate_max=300.0),
        dict(frequency=50.0),
        dict(phase_jitter=0.1),
    ):
        assert jax.tree.structure(Config().replace_fields(**fields)) == base, fields


def test_tree_map_does_not_validate():
    zeros = jax.tree.map(lambda _: 0, Config())  # tau = 0 would be invalid if validated
    assert zeros.network.tau_hidden == 0
    assert zeros.training.learning_rate == 0
    assert zeros.network.n_hidden == Config().network.n_hidden  # structure kept
    nans = jax.tree.map(lambda _: math.nan, Config())
    assert math.isnan(nans.stimulus.rate_max)
    # but explicit validation of such a config does raise
    with pytest.raises(ConfigError):
        zeros.validate()


def test_config_passes_through_jit_and_vmap():
    @jax.jit
    def decay(cfg):
        return jax.numpy.exp(-cfg.stimulus.dt / cfg.network.tau_hidden)

    taus = jax.numpy.array([1e-3, 2e-3, 4e-3])
    cfgs = jax.tree.map(lambda x: jax.numpy.full((3,), x), Config())
    cfgs = jax.tree_util.tree_map_with_path(
        lambda p, x: taus if p[-1].name == "tau_hidden" else x, cfgs
    )
    out = jax.vmap(decay)(cfgs)
    np.testing.assert_allclose(np.asarray(out), np.exp(-1e-3 / np.asarray(taus)), rtol=1e-6)


def test_array_leaf_round_trips_through_dict():
    """Per-neuron (heterogeneous) τ is a valid leaf; its dict/JSON form must load back.

    Library bug if this fails: ``to_dict`` writes the array as a list, which ``from_dict``
    rejects ("expected a number"), so a heterogeneous-τ config cannot be reloaded.
    """
    taus = np.array([1e-3, 2e-3, 5e-3])
    cfg = Config().replace_fields(n_hidden=3, tau_hidden=taus)
    back = Config.from_dict(json.loads(json.dumps(cfg.to_dict())))
    np.testing.assert_array_equal(np.asarray(back.network.tau_hidden), taus)
    assert jax.tree.structure(back) == jax.tree.structure(cfg)
