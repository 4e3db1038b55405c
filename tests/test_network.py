"""Tests of backprop_utils.network: gradients, training, predictions and input validation."""

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_utils import network
from backprop_utils.data import make_spiral
from backprop_utils.gradcheck import numerical_gradient, rel_error
from backprop_utils.network import (
    FullyConnectedNet,
    TwoLayerNet,
    plot_network_graph,
    probe_gradient_direction,
    train,
)

matplotlib.use("Agg")


def tiny_problem(n_samples, n_features, n_classes, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    y = rng.integers(0, n_classes, n_samples)
    return X, y


def with_random_shifts(net, seed):
    """Give biases, gamma and beta random values, so that no ReLU input sits exactly on 0."""
    rng = np.random.default_rng(seed)
    for name, param in net.params.items():
        if not name.startswith("W"):
            param += 0.1 * rng.standard_normal(param.shape)
    return net


def max_gradient_error(net, X, y):
    """Largest relative error between the analytic and the numerical gradient, per parameter."""
    _, grads = net.loss(X, y)
    errors = {}
    for name, param in net.params.items():
        numeric = numerical_gradient(lambda _: net.loss(X, y)[0], param)
        errors[name] = rel_error(numeric, grads[name])
    return errors


# gradients ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("batchnorm", [False, True])
def test_two_layer_gradients_match_finite_differences(seed, batchnorm):
    X, y = tiny_problem(8, 4, 3, seed)
    net = with_random_shifts(TwoLayerNet(4, 6, 3, batchnorm=batchnorm, reg=0.1, seed=seed), seed)
    errors = max_gradient_error(net, X, y)
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    ("batchnorm", "shape"), [(False, (10, 5, [8, 6], 4)), (True, (12, 4, [5, 5], 3))]
)
def test_deeper_net_gradients_match_finite_differences(seed, batchnorm, shape):
    n_samples, n_features, hidden_dims, n_classes = shape
    X, y = tiny_problem(n_samples, n_features, n_classes, seed)
    net = FullyConnectedNet(n_features, hidden_dims, n_classes, batchnorm=batchnorm, reg=0.1)
    errors = max_gradient_error(with_random_shifts(net, seed), X, y)
    assert max(errors.values()) < 1e-7, errors


def test_a_wrong_backward_fails_the_gradient_check():
    # Guards the two tests above: a gradient off by a small term is caught.
    X, y = tiny_problem(8, 4, 3, 0)
    net = with_random_shifts(TwoLayerNet(4, 6, 3, reg=0.1), 0)
    _, grads = net.loss(X, y)
    numeric = numerical_gradient(lambda _: net.loss(X, y)[0], net.params["W1"])
    assert rel_error(numeric, grads["W1"] + 1e-4) > 1e-6


def test_gradients_have_the_keys_shapes_and_dtypes_of_the_params():
    X, y = tiny_problem(5, 3, 4, 0)
    for dtype in (np.float64, np.float32):
        net = FullyConnectedNet(3, [6, 5], 4, batchnorm=True, dtype=dtype)
        _, grads = net.loss(X, y)
        assert grads.keys() == net.params.keys()
        for name, grad in grads.items():
            assert grad.shape == net.params[name].shape
            assert grad.dtype == dtype


def test_batchnorm_net_has_no_bias_before_batchnorm():
    net = FullyConnectedNet(3, [6, 5], 4, batchnorm=True)
    assert sorted(net.params) == sorted(
        ["W1", "gamma1", "beta1", "W2", "gamma2", "beta2", "W3", "b3"]
    )


def test_l2_penalty_adds_half_reg_times_squared_weights():
    X, y = tiny_problem(6, 3, 3, 0)
    plain, regularized = TwoLayerNet(3, 5, 3, seed=4), TwoLayerNet(3, 5, 3, reg=0.3, seed=4)
    squares = sum(np.sum(plain.params[name] ** 2) for name in ("W1", "W2"))
    loss_plain, grads_plain = plain.loss(X, y)
    loss_reg, grads_reg = regularized.loss(X, y)
    assert loss_reg == pytest.approx(loss_plain + 0.15 * squares, rel=1e-12)
    np.testing.assert_allclose(grads_reg["W2"], grads_plain["W2"] + 0.3 * plain.params["W2"])
    np.testing.assert_array_equal(grads_reg["b2"], grads_plain["b2"])


@pytest.mark.parametrize("batchnorm", [False, True])
def test_only_batchnorm_makes_the_loss_blind_to_the_scale_of_hidden_weights(batchnorm):
    X, y = tiny_problem(16, 3, 3, 0)
    net = FullyConnectedNet(3, [6, 5], 3, batchnorm=batchnorm, seed=1)
    loss, grads = net.loss(X, y)
    net.params["W1"] *= 10.0
    loss_scaled, grads_scaled = net.loss(X, y)
    # With batch norm exact but for eps in var + eps; without it far from equal.
    invariant = loss_scaled == pytest.approx(loss, rel=1e-4)
    gradient_shrinks = np.allclose(grads_scaled["W1"], grads["W1"] / 10.0, rtol=1e-2, atol=1e-6)
    assert invariant == batchnorm
    assert gradient_shrinks == batchnorm


# construction ---------------------------------------------------------------------------------


def test_same_seed_gives_same_weights_and_other_seed_different():
    first, second = TwoLayerNet(4, 5, 3, seed=7), TwoLayerNet(4, 5, 3, seed=7)
    other = TwoLayerNet(4, 5, 3, seed=8)
    for name in first.params:
        np.testing.assert_array_equal(first.params[name], second.params[name])
    assert not np.array_equal(first.params["W1"], other.params["W1"])


def test_he_initialisation_has_variance_two_over_fan_in():
    net = FullyConnectedNet(400, [300], 10, seed=0)
    assert np.var(net.params["W1"]) == pytest.approx(2 / 400, rel=0.02)
    assert np.var(net.params["W2"]) == pytest.approx(2 / 300, rel=0.05)
    assert not net.params["b1"].any()


def test_weight_scale_sets_the_standard_deviation():
    net = FullyConnectedNet(400, [300], 10, weight_scale=0.01, seed=0)
    assert np.std(net.params["W1"]) == pytest.approx(0.01, rel=0.02)


def test_two_layer_net_is_a_fully_connected_net_with_one_hidden_layer():
    two, general = TwoLayerNet(4, 5, 3, seed=2), FullyConnectedNet(4, [5], 3, seed=2)
    assert isinstance(two, FullyConnectedNet)
    assert two.num_layers == 2
    for name in general.params:
        np.testing.assert_array_equal(two.params[name], general.params[name])


def test_zero_hidden_layers_is_a_linear_softmax_classifier():
    X, y = tiny_problem(5, 3, 4, 0)
    net = FullyConnectedNet(3, [], 4, seed=0)
    scores = net.loss(X)
    np.testing.assert_allclose(scores, X @ net.params["W1"] + net.params["b1"])


# scores and predictions -----------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(n_samples=st.integers(1, 9), batchnorm=st.booleans(), seed=st.integers(0, 100))
def test_predict_gives_one_label_in_range_per_sample(n_samples, batchnorm, seed):
    X, _ = tiny_problem(n_samples, 3, 4, seed)
    net = FullyConnectedNet(3, [5, 5], 4, batchnorm=batchnorm, seed=seed)
    labels = net.predict(X)
    assert labels.shape == (n_samples,)
    assert labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() < 4
    np.testing.assert_array_equal(labels, np.argmax(net.loss(X), axis=1))


def test_scores_of_a_float32_net_are_float32():
    X, _ = tiny_problem(5, 3, 4, 0)
    net = TwoLayerNet(3, 5, 4, dtype=np.float32)
    assert net.loss(X).dtype == np.float32


def test_inference_mode_uses_running_statistics_not_the_batch():
    X, y = tiny_problem(6, 3, 3, 0)
    net = TwoLayerNet(3, 5, 3, batchnorm=True, seed=0)
    net.loss(X, y)  # one training-mode pass updates the running statistics
    scores_one = net.loss(X[:1])
    scores_all = net.loss(X)
    np.testing.assert_allclose(scores_one[0], scores_all[0], rtol=1e-12)


def test_loss_does_not_modify_its_inputs():
    X, y = tiny_problem(6, 3, 3, 0)
    X_before, y_before = X.copy(), y.copy()
    TwoLayerNet(3, 5, 3, batchnorm=True).loss(X, y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


# training -------------------------------------------------------------------------------------


@pytest.mark.parametrize("batchnorm", [False, True])
def test_training_decreases_the_loss_on_a_tiny_problem(batchnorm):
    X, y = tiny_problem(40, 4, 3, 0)
    net = TwoLayerNet(4, 20, 3, batchnorm=batchnorm, seed=0)
    initial_loss, _ = net.loss(X, y)
    history = train(net, X, y, learning_rate=0.05, epochs=30, batch_size=10, progress=False)
    final_loss, _ = net.loss(X, y)
    assert final_loss < 0.5 * initial_loss
    assert history["loss"][-4:].mean() < history["loss"][:4].mean()
    assert history["train_acc"][-1] > 0.75  # random labels: chance is 1/3


def test_history_has_one_loss_per_step_and_one_accuracy_per_epoch():
    X, y = tiny_problem(50, 4, 3, 0)
    net = TwoLayerNet(4, 8, 3)
    history = train(net, X, y, X[:10], y[:10], epochs=3, batch_size=16, progress=False)
    assert history["loss"].shape == (3 * (50 // 16),)
    assert history["train_acc"].shape == (3,)
    assert history["val_acc"].shape == (3,)
    assert history["diverged"] is False


def test_training_is_reproducible_with_the_same_seed():
    X, y = tiny_problem(30, 4, 3, 0)
    runs = []
    for _ in range(2):
        net = TwoLayerNet(4, 8, 3, batchnorm=True, seed=3)
        runs.append(train(net, X, y, epochs=2, batch_size=8, seed=5, progress=False)["loss"])
    np.testing.assert_array_equal(runs[0], runs[1])


def test_lr_decay_scales_the_step_of_each_later_epoch():
    # One full batch per epoch and no momentum: epoch k steps by learning_rate * decay**k.
    X, y = tiny_problem(12, 4, 3, 0)
    net, by_hand = TwoLayerNet(4, 6, 3, reg=0.1, seed=2), TwoLayerNet(4, 6, 3, reg=0.1, seed=2)
    train(net, X, y, learning_rate=0.1, momentum=0.0, epochs=3, batch_size=12, lr_decay=0.5,
          progress=False)  # fmt: skip
    for rate in (0.1, 0.05, 0.025):
        _, grads = by_hand.loss(X, y)
        for name, param in by_hand.params.items():
            param -= rate * grads[name]
    for name, param in net.params.items():
        np.testing.assert_allclose(param, by_hand.params[name], rtol=1e-10, atol=1e-14)


def test_lr_decay_changes_the_training_only_after_the_first_epoch():
    X, y = tiny_problem(30, 4, 3, 0)
    losses = []
    for decay in (1.0, 0.5):
        net = TwoLayerNet(4, 8, 3, seed=1)
        history = train(net, X, y, epochs=3, batch_size=10, lr_decay=decay, progress=False)
        losses.append(history["loss"])
    # Epoch 1 has 3 steps at the full rate; the loss of step 4 is measured before that step.
    np.testing.assert_array_equal(losses[0][:4], losses[1][:4])
    assert not np.allclose(losses[0][-1], losses[1][-1])


def test_validation_accuracy_is_measured_on_the_validation_data():
    X, y = tiny_problem(40, 4, 3, 0)
    X_val, y_val = tiny_problem(15, 4, 3, 9)
    net = TwoLayerNet(4, 20, 3, seed=0)
    history = train(net, X, y, X_val, y_val, epochs=20, batch_size=10, progress=False)
    assert history["val_acc"][-1] == np.mean(net.predict(X_val) == y_val)
    assert history["train_acc"][-1] == np.mean(net.predict(X) == y)
    assert history["val_acc"][-1] != history["train_acc"][-1]  # the two sets can be told apart


def test_progress_bar_appears_once_training_outlasts_its_delay(monkeypatch, capsys):
    X, y = tiny_problem(30, 4, 3, 0)
    monkeypatch.setattr(network, "_PROGRESS_DELAY", 0.0)  # every run outlasts a delay of 0
    train(TwoLayerNet(4, 8, 3), X, y, epochs=2, batch_size=8, progress=True)
    bar = capsys.readouterr().err
    assert "6/6" in bar and "step" in bar  # 2 epochs of 30 // 8 steps


def test_progress_bar_stays_hidden_for_a_short_run_or_when_disabled(monkeypatch, capsys):
    X, y = tiny_problem(30, 4, 3, 0)
    train(TwoLayerNet(4, 8, 3), X, y, epochs=2, batch_size=8, progress=True)  # under 2 s
    monkeypatch.setattr(network, "_PROGRESS_DELAY", 0.0)
    train(TwoLayerNet(4, 8, 3), X, y, epochs=2, batch_size=8, progress=False)
    assert capsys.readouterr().err == ""


def test_a_huge_learning_rate_is_reported_as_diverged_not_raised():
    X, y = tiny_problem(30, 4, 3, 0)
    # With learning_rate * reg >> 2 each step multiplies the weights by about -1e4: overflow.
    net = FullyConnectedNet(4, [8, 8], 3, reg=1.0, seed=0)
    history = train(net, X, y, learning_rate=1e4, epochs=50, batch_size=10, progress=False)
    assert history["diverged"] is True
    assert len(history["loss"]) < 50 * 3
    assert np.isfinite(history["loss"]).all()


def test_callback_runs_every_nth_step():
    X, y = tiny_problem(40, 4, 3, 0)
    net = TwoLayerNet(4, 8, 3)
    history = train(
        net, X, y, epochs=2, batch_size=10, progress=False,
        callback=lambda net, X_batch, y_batch: X_batch.shape[0], callback_every=3,
    )  # fmt: skip
    assert history["callback"] == [10, 10, 10]  # steps 0, 3, 6 of 8


# probing along the gradient -------------------------------------------------------------------


def test_probe_leaves_the_network_unchanged():
    X, y = tiny_problem(12, 3, 3, 0)
    net = FullyConnectedNet(3, [6, 6], 3, batchnorm=True, seed=0)
    params = {name: param.copy() for name, param in net.params.items()}
    running = [bn.running_mean.copy() for bn in net.bn_layers]
    probe_gradient_direction(net, X, y, [0.1, 1.0])
    for name, param in net.params.items():
        np.testing.assert_array_equal(param, params[name])
    for bn, mean in zip(net.bn_layers, running, strict=True):
        np.testing.assert_array_equal(bn.running_mean, mean)


def test_probe_matches_a_step_taken_by_hand():
    X, y = tiny_problem(12, 3, 3, 0)
    net = FullyConnectedNet(3, [6, 6], 3, seed=0)
    probe = probe_gradient_direction(net, X, y, [0.5])
    loss0, grads0 = net.loss(X, y)
    for name, param in net.params.items():
        param -= 0.5 * grads0[name]
    loss, grads = net.loss(X, y)
    change = np.sqrt(sum(np.sum((grads[k] - grads0[k]) ** 2) for k in grads))
    assert probe["loss0"] == pytest.approx(loss0)
    assert probe["loss"][0] == pytest.approx(loss)
    assert probe["grad_change"][0] == pytest.approx(change)


def test_probe_with_a_tiny_step_sees_the_same_gradient():
    X, y = tiny_problem(12, 3, 3, 0)
    net = with_random_shifts(FullyConnectedNet(3, [6, 6], 3, seed=0), 0)
    probe = probe_gradient_direction(net, X, y, [1e-9])
    assert probe["grad_cosine"][0] == pytest.approx(1.0, abs=1e-9)
    assert probe["loss"][0] < probe["loss0"]


# the figure -----------------------------------------------------------------------------------


@pytest.mark.parametrize("batchnorm", [False, True])
def test_graph_figure_labels_every_layer(batchnorm):
    fig, ax = plot_network_graph(TwoLayerNet(64, 100, 10, batchnorm=batchnorm))
    texts = " ".join(text.get_text() for text in ax.texts)
    for word in ("affine", "ReLU", "softmax", "dscores"):
        assert word in texts
    assert ("batch norm" in texts) == batchnorm
    matplotlib.pyplot.close(fig)


# bad input ------------------------------------------------------------------------------------


@pytest.fixture
def net():
    return TwoLayerNet(4, 5, 3, seed=0)


def test_wrong_feature_count_raises(net):
    with pytest.raises(ValueError, match="shape"):
        net.loss(np.zeros((2, 5)), np.zeros(2, dtype=int))


def test_one_dimensional_X_raises(net):
    with pytest.raises(ValueError, match="X must have shape"):
        net.predict(np.zeros(4))


def test_empty_batch_raises(net):
    with pytest.raises(ValueError, match="empty"):
        net.predict(np.zeros((0, 4)))


def test_non_finite_X_raises(net):
    with pytest.raises(ValueError, match="finite"):
        net.predict(np.array([[0.0, np.nan, 0.0, 0.0]]))


def test_non_numeric_X_raises(net):
    with pytest.raises(TypeError, match="X must be a real numeric"):
        net.predict(np.array([["a", "b", "c", "d"]]))


def test_label_out_of_range_raises(net):
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        net.loss(np.zeros((2, 4)), np.array([0, 3]))


def test_negative_label_raises(net):
    with pytest.raises(ValueError, match="labels"):
        net.loss(np.zeros((2, 4)), np.array([-1, 0]))


def test_float_labels_raise(net):
    with pytest.raises(TypeError, match="integer"):
        net.loss(np.zeros((2, 4)), np.array([0.0, 1.0]))


def test_label_count_mismatch_raises(net):
    with pytest.raises(ValueError, match="one label per row"):
        net.loss(np.zeros((2, 4)), np.array([0, 1, 2]))


def test_single_sample_in_training_mode_with_batchnorm_raises():
    net = TwoLayerNet(4, 5, 3, batchnorm=True)
    with pytest.raises(ValueError, match="at least 2 samples"):
        net.loss(np.zeros((1, 4)), np.array([0]))


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"input_dim": 0}, "input_dim"),
        ({"hidden_dim": 0}, "hidden_dim"),
        ({"num_classes": 1}, "num_classes"),
        ({"reg": -1.0}, "reg"),
        ({"reg": float("nan")}, "reg"),
        ({"weight_scale": 0.0}, "weight_scale"),
        ({"seed": -1}, "seed"),
    ],
)
def test_out_of_range_constructor_argument_raises_value_error(kwargs, word):
    arguments = {"input_dim": 4, "hidden_dim": 5, "num_classes": 3, **kwargs}
    with pytest.raises(ValueError, match=word):
        TwoLayerNet(**arguments)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"input_dim": 4.0}, "input_dim"),
        ({"num_classes": True}, "num_classes"),
        ({"batchnorm": "yes"}, "batchnorm"),
        ({"reg": "0.1"}, "reg"),
        ({"dtype": np.int64}, "dtype"),
    ],
)
def test_wrongly_typed_constructor_argument_raises_type_error(kwargs, word):
    arguments = {"input_dim": 4, "hidden_dim": 5, "num_classes": 3, **kwargs}
    with pytest.raises(TypeError, match=word):
        TwoLayerNet(**arguments)


def test_hidden_dims_as_a_number_raises():
    with pytest.raises(TypeError, match="hidden_dims"):
        FullyConnectedNet(4, 5, 3)


def test_diverged_parameters_raise_floating_point_error(net):
    net.params["W2"][0, 0] = np.inf
    with pytest.raises(FloatingPointError, match="W2"):
        net.predict(np.zeros((2, 4)))


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"momentum": 1.0}, "momentum"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr_decay": 0.0}, "lr_decay"),
        ({"lr_decay": 1.5}, "lr_decay"),
        ({"callback_every": 0}, "callback_every"),
    ],
)
def test_out_of_range_training_argument_raises_value_error(net, kwargs, word):
    X, y = tiny_problem(10, 4, 3, 0)
    with pytest.raises(ValueError, match=word):
        train(net, X, y, progress=False, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"X_val": np.zeros((3, 5)), "y_val": np.zeros(3, dtype=int)}, "X_val must have shape"),
        ({"X_val": np.zeros((3, 4)), "y_val": np.zeros(2, dtype=int)}, "y_val must have shape"),
        ({"X_val": np.zeros((3, 4)), "y_val": np.array([0, 1, 7])}, "y_val must hold"),
        ({"X_train": np.zeros((3, 5))}, "X_train must have shape"),
        ({"y_train": np.zeros(10)}, "y_train must be an integer"),
    ],
)
def test_bad_training_or_validation_data_is_named_in_the_error(net, kwargs, word):
    X, y = tiny_problem(10, 4, 3, 0)
    arguments = {"X_train": X, "y_train": y, **kwargs}
    with pytest.raises((ValueError, TypeError), match=word):
        train(net, progress=False, **arguments)


def test_validation_labels_without_validation_features_raise(net):
    X, y = tiny_problem(10, 4, 3, 0)
    with pytest.raises(ValueError, match="together"):
        train(net, X, y, y_val=y, progress=False)


def test_training_something_else_than_a_network_raises():
    X, y = tiny_problem(10, 4, 3, 0)
    with pytest.raises(TypeError, match="FullyConnectedNet"):
        train(object(), X, y, progress=False)


def test_non_bool_progress_raises(net):
    X, y = tiny_problem(10, 4, 3, 0)
    with pytest.raises(TypeError, match="progress"):
        train(net, X, y, progress="no")


def test_non_callable_callback_raises(net):
    X, y = tiny_problem(10, 4, 3, 0)
    with pytest.raises(TypeError, match="callback"):
        train(net, X, y, callback=3, progress=False)


def test_probe_with_a_non_positive_step_raises(net):
    X, y = tiny_problem(10, 4, 3, 0)
    with pytest.raises(ValueError, match="step_sizes"):
        probe_gradient_direction(net, X, y, [0.1, 0.0])


def test_probe_with_no_steps_raises(net):
    X, y = tiny_problem(10, 4, 3, 0)
    with pytest.raises(ValueError, match="step_sizes"):
        probe_gradient_direction(net, X, y, [])


def test_progress_bar_does_not_change_the_training():
    X, y = tiny_problem(30, 4, 3, 0)
    losses = []
    for progress in (False, True):
        net = TwoLayerNet(4, 8, 3, seed=1)
        losses.append(train(net, X, y, epochs=2, batch_size=8, progress=progress)["loss"])
    np.testing.assert_array_equal(losses[0], losses[1])


# --- the edges of issue 15 --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_batchnorm_network_that_overflows_is_reported_as_diverged_not_raised(dtype):
    # batch norm's own error, "x is too large: its batch variance overflows", named its x
    X, y = make_spiral(50, 3)
    net = TwoLayerNet(2, 20, 3, batchnorm=True, dtype=dtype)
    history = train(net, X, y, learning_rate=1e10, epochs=3, batch_size=10, progress=False)
    assert history["diverged"] is True


def test_batchnorm_variance_overflow_inside_the_network_is_a_floating_point_error():
    net = TwoLayerNet(2, 3, 2, batchnorm=True)
    net.params["W1"][...] = [[1e200, 1.0, 1.0], [0.0, 1.0, 1.0]]
    X = np.array([[1e-40, 0.0], [-1e-40, 0.0], [0.0, 1.0]])  # hidden +-1e160: finite
    with pytest.raises(FloatingPointError, match="batch norm 1 overflowed"):
        net.loss(X, np.array([0, 1, 0]))


def test_an_overflowing_affine_layer_before_batchnorm_is_a_floating_point_error():
    net = TwoLayerNet(2, 3, 2, batchnorm=True)
    net.params["W1"][...] = 1e300
    with pytest.raises(FloatingPointError, match="affine layer 1 overflowed"):
        net.loss(np.full((2, 2), 1e10), np.array([0, 1]))


def test_running_variance_beyond_float32_in_a_float32_network_is_a_floating_point_error():
    net = TwoLayerNet(2, 3, 2, batchnorm=True, dtype=np.float32)
    net.bn_layers[0].running_var = np.full(3, 1e40)
    with pytest.raises(FloatingPointError, match="batch norm 1 overflowed.*running_var"):
        net.predict(np.ones((2, 2)))


def test_batch_size_of_one_with_batchnorm_raises_naming_batch_size():
    X, y = tiny_problem(10, 4, 3, 0)
    with pytest.raises(ValueError, match="batch_size must be at least 2"):
        train(TwoLayerNet(4, 5, 3, batchnorm=True), X, y, batch_size=1, progress=False)


def test_a_single_training_sample_with_batchnorm_raises_naming_x_train():
    X, y = tiny_problem(1, 4, 3, 0)
    with pytest.raises(ValueError, match="X_train holds a single sample"):
        train(TwoLayerNet(4, 5, 3, batchnorm=True), X, y, progress=False)


def test_batch_size_of_one_without_batchnorm_is_allowed():
    X, y = tiny_problem(6, 4, 3, 0)
    history = train(TwoLayerNet(4, 5, 3), X, y, batch_size=1, epochs=1, progress=False)
    assert history["loss"].size == 6


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_no_penalty_is_not_zero_times_infinity_for_huge_weights(dtype):
    # reg = 0: 0.5 * 0 * sum(W * W) was NaN once W * W overflowed, and loss() raised
    net = TwoLayerNet(2, 3, 2, dtype=dtype)
    net.params["W2"][...] = 1e155 if dtype == np.float64 else 1e20  # equal scores: loss log 2
    loss, _ = net.loss(np.ones((2, 2)), np.array([0, 1]))
    assert loss == pytest.approx(np.log(2), rel=1e-6)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (lambda p: p.tolist(), TypeError, r"params\['W1'\] must be a float numpy array"),
        (lambda p: p.astype(np.int64), TypeError, r"params\['W1'\] must be a float numpy array"),
        (lambda p: p[:1], ValueError, r"params\['W1'\] must have shape \(4, 5\)"),
        (lambda p: np.ma.masked_array(p), TypeError, r"params\['W1'\] must not be a masked"),
    ],
)
def test_a_parameter_set_by_hand_that_does_not_fit_raises_naming_it(value, error, message):
    # a list passed the old checks, and train's param += step extended it
    net = TwoLayerNet(4, 5, 3)
    net.params["W1"] = value(net.params["W1"])
    X, y = tiny_problem(4, 4, 3, 0)
    with pytest.raises(error, match=message):
        net.loss(X, y)
    with pytest.raises(error, match=message):
        train(net, X, y, progress=False)


def test_a_float32_parameter_in_a_float64_network_is_accepted():
    net = TwoLayerNet(4, 5, 3)
    net.params["W1"] = net.params["W1"].astype(np.float32)
    X, y = tiny_problem(4, 4, 3, 0)
    assert np.isfinite(net.loss(X, y)[0])


def test_params_that_lost_a_key_raise():
    net = TwoLayerNet(4, 5, 3)
    del net.params["b1"]
    with pytest.raises(ValueError, match="params must be a dict with the keys"):
        net.predict(np.zeros((2, 4)))


def test_a_read_only_parameter_raises_before_training_naming_it():
    net = TwoLayerNet(4, 5, 3)
    net.params["b2"].flags.writeable = False
    X, y = tiny_problem(4, 4, 3, 0)
    with pytest.raises(ValueError, match=r"params\['b2'\] is read-only"):
        train(net, X, y, progress=False)
    with pytest.raises(ValueError, match=r"params\['b2'\] is read-only"):
        probe_gradient_direction(net, X, y, [0.1])


@pytest.mark.parametrize("reg", [-1.0, np.nan, "0.1"])
def test_reg_set_by_hand_that_does_not_fit_raises(reg):
    net = TwoLayerNet(4, 5, 3)
    net.reg = reg
    with pytest.raises((TypeError, ValueError), match="reg must be a real number"):
        net.loss(*tiny_problem(4, 4, 3, 0))


@pytest.mark.parametrize("name", ["X", "y"])
def test_masked_data_is_refused_naming_it(name):
    X, y = tiny_problem(4, 4, 3, 0)
    data = {"X": X, "y": y}
    data[name] = np.ma.masked_array(data[name], mask=np.zeros(data[name].shape, dtype=bool))
    with pytest.raises(TypeError, match=f"^{name} must not be a masked array"):
        TwoLayerNet(4, 5, 3).loss(data["X"], data["y"])


def test_masked_training_data_is_refused_naming_it():
    X, y = tiny_problem(4, 4, 3, 0)
    with pytest.raises(TypeError, match="X_val must not be a masked array"):
        train(TwoLayerNet(4, 5, 3), X, y, np.ma.masked_array(X), y, progress=False)


def test_data_beyond_float32_in_a_float32_network_raises_naming_it():
    # cast to float32, 1e39 became infinity, and the network reported that it had diverged
    X, y = tiny_problem(4, 4, 3, 0)
    X[0, 0] = 1e39
    with pytest.raises(ValueError, match="X_train holds values beyond the range of float32"):
        train(TwoLayerNet(4, 5, 3, dtype=np.float32), X, y, progress=False)


def test_a_gradient_that_overflows_in_the_backward_pass_is_a_floating_point_error():
    # dhidden = dscores @ W2.T = 2/3 * 1.7e308 + 2/3 * 1.7e308 overflows; the layer's own
    # ValueError named its dout and cache.w
    net = TwoLayerNet(2, 2, 3)
    net.params["W1"][...] = -1.0  # every hidden unit is 0 after the ReLU: the scores are 0
    net.params["W2"][...] = [[-1.7e308, 1.7e308, 1.7e308]] * 2
    with pytest.raises(FloatingPointError, match="the backward pass overflowed"):
        net.loss(np.ones((1, 2)), np.array([0]))
    history = train(net, np.ones((2, 2)), np.array([0, 0]), batch_size=1, progress=False)
    assert history["diverged"] is True


def test_probe_refuses_masked_step_sizes():
    X, y = tiny_problem(4, 4, 3, 0)
    steps = np.ma.masked_array([0.1, 0.2], mask=[False, True])
    with pytest.raises(TypeError, match="step_sizes must not be a masked array"):
        probe_gradient_direction(TwoLayerNet(4, 5, 3), X, y, steps)
