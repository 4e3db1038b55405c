"""Tests of backprop_utils.experiments: predicting with batch statistics, and the experiments."""

import copy

import numpy as np
import pytest

from backprop_utils.experiments import (
    batch_statistics_predict,
    inference_modes,
    running_statistics_early,
)
from backprop_utils.network import FullyConnectedNet


def _net(batchnorm=True, seed=0):
    net = FullyConnectedNet(4, [6, 5], 3, batchnorm=batchnorm, seed=seed)
    rng = np.random.default_rng(seed)
    for name in net.params:
        if name.startswith(("gamma", "beta")):
            net.params[name] += rng.normal(scale=0.3, size=net.params[name].shape)
    return net


def test_one_batch_matches_the_networks_training_mode_forward():
    net, X = _net(), np.random.default_rng(1).normal(size=(7, 4))
    scores, _ = copy.deepcopy(net)._forward(X, train=True)
    np.testing.assert_array_equal(batch_statistics_predict(net, X, 7), scores.argmax(axis=1))


def test_running_statistics_are_neither_used_nor_changed():
    net, X = _net(), np.random.default_rng(2).normal(size=(8, 4))
    before = batch_statistics_predict(net, X, 4)
    for layer in net.bn_layers:
        layer.running_mean = layer.running_mean + 5.0
    np.testing.assert_array_equal(batch_statistics_predict(net, X, 4), before)
    assert all(np.all(layer.running_mean == 5.0) for layer in net.bn_layers)


def test_batches_are_consecutive_rows():
    net, X = _net(), np.random.default_rng(3).normal(size=(8, 4))
    whole = batch_statistics_predict(net, X, 4)
    np.testing.assert_array_equal(whole[:4], batch_statistics_predict(net, X[:4], 4))
    np.testing.assert_array_equal(whole[4:], batch_statistics_predict(net, X[4:], 4))


def test_a_last_single_row_joins_the_batch_before_it():
    net, X = _net(), np.random.default_rng(4).normal(size=(5, 4))
    labels = batch_statistics_predict(net, X, 2)
    np.testing.assert_array_equal(labels[2:], batch_statistics_predict(net, X[2:], 3))


def test_prediction_depends_on_the_companions():
    net, X = _net(), np.random.default_rng(5).normal(size=(40, 4))
    other = X.copy()
    other[1::2] += 3.0  # every second row changed, every first row the same
    changed = batch_statistics_predict(net, X, 2) != batch_statistics_predict(net, other, 2)
    assert changed[::2].any()


def test_refuses_a_network_without_batch_norm():
    with pytest.raises(ValueError, match="batch norm"):
        batch_statistics_predict(_net(batchnorm=False), np.zeros((4, 4)), 2)


def test_refuses_something_that_is_not_a_network():
    with pytest.raises(TypeError, match="FullyConnectedNet"):
        batch_statistics_predict("net", np.zeros((4, 4)), 2)


def test_refuses_a_batch_size_of_one():
    with pytest.raises(ValueError, match="batch_size"):
        batch_statistics_predict(_net(), np.zeros((4, 4)), 1)


def test_refuses_a_batch_size_that_is_not_an_integer():
    with pytest.raises(TypeError, match="batch_size"):
        batch_statistics_predict(_net(), np.zeros((4, 4)), 2.0)


def test_refuses_x_of_the_wrong_width():
    with pytest.raises(ValueError, match="shape"):
        batch_statistics_predict(_net(), np.zeros((4, 3)), 2)


def test_refuses_a_single_sample():
    with pytest.raises(ValueError, match="N >= 2"):
        batch_statistics_predict(_net(), np.zeros((1, 4)), 2)


def test_inference_modes_reports_every_mode_as_an_accuracy():
    accuracies = inference_modes(0, batch_sizes=(2, 32), epochs=1)
    assert list(accuracies) == ["running", "batch 2", "batch 32", "sorted 32"]
    assert all(0.0 <= value <= 1.0 for value in accuracies.values())


def test_inference_modes_is_deterministic():
    assert inference_modes(3, batch_sizes=(4,), epochs=1) == inference_modes(
        3, batch_sizes=(4,), epochs=1
    )


def test_inference_modes_refuses_a_batch_size_of_one():
    with pytest.raises(ValueError, match="batch_sizes"):
        inference_modes(0, batch_sizes=(1,), epochs=1)


def test_inference_modes_refuses_a_negative_seed():
    with pytest.raises(ValueError, match="seed"):
        inference_modes(-1, epochs=1)


def test_the_momentum_of_the_running_statistics_changes_no_weight():
    fast = running_statistics_early(1, 0.9, epochs=1, every=10)
    slow = running_statistics_early(1, 0.99, epochs=1, every=10)
    for name, value in fast["params"].items():
        np.testing.assert_array_equal(value, slow["params"][name])
    assert not np.allclose(fast["var_ratio"][1:], slow["var_ratio"][1:])


def test_running_statistics_early_measures_every_few_steps():
    history = running_statistics_early(0, 0.9, epochs=1, every=10)
    np.testing.assert_array_equal(history["step"], [0, 10, 20, 30])
    assert history["var_ratio"].shape == history["accuracy"].shape == (4,)


def test_with_momentum_one_the_running_variance_never_moves():
    history = running_statistics_early(0, 1.0, epochs=1, every=13)
    ratio = history["var_ratio"]
    assert ratio[0] > 0 and np.all(ratio[1:] != ratio[0])  # the data's variance changes ...
    # ... but the running variance stays 1: the ratio is 1 / (training-set variance)
    assert np.all(ratio < 1.0)


def test_running_statistics_early_refuses_a_momentum_above_one():
    with pytest.raises(ValueError, match="momentum"):
        running_statistics_early(0, 1.5, epochs=1)


def test_running_statistics_early_refuses_a_momentum_that_is_not_a_number():
    with pytest.raises(TypeError, match="momentum"):
        running_statistics_early(0, "0.9", epochs=1)


# active_units (chapter 12) -----------------------------------------------------------------------


def _active_units(*args):
    from backprop_utils.experiments import active_units

    return active_units(*args)


def test_active_units_counts_units_positive_on_some_sample():
    net = FullyConnectedNet(2, [3, 2], 3, batchnorm=False, seed=0)
    net.params["W1"] = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]])
    net.params["b1"] = np.array([0.0, 0.0, -1.0])
    net.params["W2"] = np.ones((3, 2))
    net.params["b2"] = np.array([0.0, -100.0])
    X = np.array([[1.0, 0.0], [2.0, 5.0]])
    # unit 0 is positive on both rows, unit 1 on none, unit 2 on none; layer 2: only unit 0
    np.testing.assert_allclose(_active_units(net, X), [1 / 3, 1 / 2])


def test_a_dead_layer_leaves_every_later_layer_without_active_units():
    net = FullyConnectedNet(2, [4, 4, 4], 3, seed=1)
    net.params["b2"][:] = -1e6
    fractions = _active_units(net, np.random.default_rng(0).normal(size=(20, 2)))
    assert fractions[0] > 0 and fractions[1] == 0 and fractions[2] == 0


def test_batch_norm_with_unit_gamma_and_zero_beta_keeps_every_unit_active():
    net = FullyConnectedNet(2, [8, 8], 3, batchnorm=True, seed=2)
    X = np.random.default_rng(3).normal(size=(16, 2))
    np.testing.assert_array_equal(_active_units(net, X), [1.0, 1.0])


def test_active_units_changes_nothing_in_the_network():
    net = _net()
    before = copy.deepcopy(net)
    _active_units(net, np.random.default_rng(4).normal(size=(9, 4)))
    for name, value in before.params.items():
        np.testing.assert_array_equal(net.params[name], value)
    for layer, old in zip(net.bn_layers, before.bn_layers, strict=True):
        np.testing.assert_array_equal(layer.running_mean, old.running_mean)
        np.testing.assert_array_equal(layer.running_var, old.running_var)


def test_active_units_refuses_something_that_is_not_a_network():
    with pytest.raises(TypeError, match="FullyConnectedNet"):
        _active_units("net", np.zeros((3, 4)))


def test_active_units_refuses_x_of_the_wrong_width():
    with pytest.raises(ValueError, match="shape"):
        _active_units(_net(), np.zeros((3, 5)))


def test_active_units_refuses_a_single_sample():
    with pytest.raises(ValueError, match="N >= 2"):
        _active_units(_net(), np.zeros((1, 4)))


def test_active_units_refuses_nan():
    X = np.zeros((3, 4))
    X[1, 2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        _active_units(_net(), X)
