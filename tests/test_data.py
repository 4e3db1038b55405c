"""Tests of backprop_utils.data: seeded toy data and the digits loader."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_utils import data
from backprop_utils.data import load_digits_splits, make_blobs, make_spiral

TOY_MAKERS = [make_spiral, make_blobs]


@pytest.fixture(scope="module")
def digits():
    return load_digits_splits(seed=0)


# --- toy data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", TOY_MAKERS)
def test_toy_data_is_deterministic_for_a_seed(make):
    X1, y1 = make(n_per_class=20, n_classes=3, seed=7)
    X2, y2 = make(n_per_class=20, n_classes=3, seed=7)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize("make", TOY_MAKERS)
def test_toy_data_changes_with_the_seed(make):
    X1, _ = make(n_per_class=20, n_classes=3, seed=0)
    X2, _ = make(n_per_class=20, n_classes=3, seed=1)
    assert not np.allclose(X1, X2)


@settings(max_examples=25, deadline=None)
@given(
    n_per_class=st.integers(1, 40),
    n_classes=st.integers(2, 6),
    make=st.sampled_from(TOY_MAKERS),
)
def test_toy_data_shapes_dtypes_and_class_balance(n_per_class, n_classes, make):
    X, y = make(n_per_class=n_per_class, n_classes=n_classes, seed=3)
    assert X.shape == (n_per_class * n_classes, 2)
    assert y.shape == (n_per_class * n_classes,)
    assert X.dtype == np.float64
    assert y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y, minlength=n_classes), n_per_class)
    assert np.isfinite(X).all()


def test_spiral_points_lie_in_the_unit_disc():
    X, _ = make_spiral(n_per_class=50, n_classes=4, noise=0.5, seed=0)
    assert np.all(np.linalg.norm(X, axis=1) <= 1.0 + 1e-12)


def test_spiral_without_noise_has_the_documented_radius_and_angle():
    X, y = make_spiral(n_per_class=5, n_classes=2, noise=0.0, seed=0)
    radius = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(radius, np.tile(np.linspace(0, 1, 5), 2), atol=1e-12)
    last_of_class_1 = X[9]
    angle = 4.0 * 1 + 4.0
    np.testing.assert_allclose(last_of_class_1, [np.sin(angle), np.cos(angle)], atol=1e-12)
    assert y[9] == 1


def test_blobs_without_spread_sit_on_their_centres():
    X, y = make_blobs(n_per_class=4, n_classes=4, spread=0.0, seed=0)
    expected = 3.0 * np.column_stack([np.cos(np.pi / 2 * y), np.sin(np.pi / 2 * y)])
    np.testing.assert_allclose(X, expected, atol=1e-12)


def test_blob_spread_scales_the_scatter_around_the_class_mean():
    X, y = make_blobs(n_per_class=2000, n_classes=2, spread=0.5, seed=0)
    for k in range(2):
        np.testing.assert_allclose(X[y == k].std(axis=0), 0.5, rtol=0.1)


@pytest.mark.parametrize("make", TOY_MAKERS)
@pytest.mark.parametrize("name", ["n_per_class", "n_classes", "seed"])
def test_toy_data_rejects_a_float_count_or_seed(make, name):
    with pytest.raises(TypeError, match=name):
        make(**{name: 2.0})


@pytest.mark.parametrize("make", TOY_MAKERS)
def test_toy_data_rejects_a_bool_count(make):
    with pytest.raises(TypeError, match="n_per_class"):
        make(n_per_class=True)


@pytest.mark.parametrize("make", TOY_MAKERS)
def test_toy_data_rejects_zero_points_per_class(make):
    with pytest.raises(ValueError, match="n_per_class"):
        make(n_per_class=0)


@pytest.mark.parametrize("make", TOY_MAKERS)
def test_toy_data_rejects_a_single_class(make):
    with pytest.raises(ValueError, match="n_classes"):
        make(n_classes=1)


@pytest.mark.parametrize("make", TOY_MAKERS)
def test_toy_data_rejects_a_negative_seed(make):
    with pytest.raises(ValueError, match="seed"):
        make(seed=-1)


@pytest.mark.parametrize("value", [-0.1, np.inf, np.nan])
def test_spiral_rejects_a_negative_or_non_finite_noise(value):
    with pytest.raises(ValueError, match="noise"):
        make_spiral(noise=value)


def test_spiral_rejects_a_string_noise():
    with pytest.raises(TypeError, match="noise"):
        make_spiral(noise="0.2")


@pytest.mark.parametrize("value", [-1.0, np.inf])
def test_blobs_reject_a_negative_or_non_finite_spread(value):
    with pytest.raises(ValueError, match="spread"):
        make_blobs(spread=value)


# --- digits -----------------------------------------------------------------------------------


def test_digits_splits_have_the_documented_keys_shapes_and_dtypes(digits):
    assert set(digits) == {"X_train", "y_train", "X_val", "y_val", "X_test", "y_test"}
    for part in ("train", "val", "test"):
        X, y = digits[f"X_{part}"], digits[f"y_{part}"]
        assert X.ndim == 2 and X.shape[1] == 64
        assert y.shape == (X.shape[0],)
        assert X.dtype == np.float64
        assert y.dtype == np.int64
    sizes = [digits[f"y_{part}"].size for part in ("train", "val", "test")]
    assert sum(sizes) == 1797


def test_digits_split_sizes_follow_the_fractions(digits):
    assert digits["y_test"].size == digits["y_val"].size == round(0.15 * 1797) == 270
    assert digits["y_train"].size == 1797 - 2 * 270
    small = load_digits_splits(val_fraction=0.1, test_fraction=0.2)
    assert (small["y_val"].size, small["y_test"].size) == (180, 359)


def test_digits_a_tiny_fraction_still_gives_one_image():
    splits = load_digits_splits(val_fraction=1e-6, test_fraction=1e-6)
    assert splits["y_val"].size == splits["y_test"].size == 1


def test_digits_loader_does_not_import_scikit_learn():
    # Importing scikit-learn costs about two seconds of every notebook that loads the digits.
    code = (
        "import sys; from backprop_utils.data import load_digits_splits; "
        "load_digits_splits(); assert 'sklearn' not in sys.modules, 'sklearn was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_digits_without_scikit_learn_raise_an_import_error(monkeypatch):
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="scikit-learn"):
        load_digits_splits()


def test_digits_splits_are_disjoint_and_cover_the_data_set():
    from sklearn.datasets import load_digits

    raw = load_digits_splits(seed=0, standardize=False)
    rows = np.concatenate([raw["X_train"], raw["X_val"], raw["X_test"]])
    labels = np.concatenate([raw["y_train"], raw["y_val"], raw["y_test"]])
    full = load_digits()
    # The digits set holds a few duplicate images, so compare multisets of (image, label) rows.
    got = np.column_stack([rows, labels])
    want = np.column_stack([full.data, full.target])
    np.testing.assert_array_equal(np.unique(got, axis=0), np.unique(want, axis=0))
    assert got.shape == want.shape


def test_digits_split_indices_do_not_overlap():
    raw = load_digits_splits(seed=0, standardize=False)
    keys = [
        {tuple(row) + (label,) for row, label in zip(raw[f"X_{p}"], raw[f"y_{p}"], strict=True)}
        for p in ("train", "val", "test")
    ]
    total = sum(len(k) for k in keys)
    assert len(keys[0] | keys[1] | keys[2]) == total


def test_digits_splits_are_stratified(digits):
    overall = np.bincount(
        np.concatenate([digits["y_train"], digits["y_val"], digits["y_test"]]), minlength=10
    )
    for part in ("train", "val", "test"):
        counts = np.bincount(digits[f"y_{part}"], minlength=10)
        expected = overall * digits[f"y_{part}"].size / overall.sum()
        # Two rounding steps (test split, then validation split) allow an error of 2 per class;
        # an unstratified split of this size is typically off by about 10.
        assert np.all(np.abs(counts - expected) <= 2.0)


def test_digits_standardization_uses_training_statistics_only(digits):
    raw = load_digits_splits(seed=0, standardize=False)
    mean = raw["X_train"].mean(axis=0)
    std = raw["X_train"].std(axis=0)
    std[std == 0] = 1.0
    for part in ("train", "val", "test"):
        np.testing.assert_allclose(digits[f"X_{part}"], (raw[f"X_{part}"] - mean) / std)
    varying = raw["X_train"].std(axis=0) > 0
    np.testing.assert_allclose(digits["X_train"].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(digits["X_train"][:, varying].std(axis=0), 1.0)


def test_digits_without_standardization_keep_the_pixel_range():
    raw = load_digits_splits(seed=0, standardize=False)
    assert raw["X_train"].min() == 0.0 and raw["X_train"].max() == 16.0


def test_digits_splits_are_deterministic_for_a_seed(digits):
    again = load_digits_splits(seed=0)
    for key, value in digits.items():
        np.testing.assert_array_equal(value, again[key])


def test_digits_splits_change_with_the_seed(digits):
    other = load_digits_splits(seed=1)
    assert not np.array_equal(digits["y_train"], other["y_train"])


@pytest.mark.parametrize("name", ["val_fraction", "test_fraction"])
@pytest.mark.parametrize("value", [0.0, 1.0, -0.2, 1.5])
def test_digits_reject_a_fraction_outside_the_open_unit_interval(name, value):
    with pytest.raises(ValueError, match=name):
        load_digits_splits(**{name: value})


def test_digits_reject_fractions_that_leave_no_training_split():
    with pytest.raises(ValueError, match="training"):
        load_digits_splits(val_fraction=0.5, test_fraction=0.5)


def test_digits_reject_a_string_fraction():
    with pytest.raises(TypeError, match="val_fraction"):
        load_digits_splits(val_fraction="0.1")


def test_digits_reject_a_non_bool_standardize():
    with pytest.raises(TypeError, match="standardize"):
        load_digits_splits(standardize=1)


def test_digits_reject_a_float_seed():
    with pytest.raises(TypeError, match="seed"):
        load_digits_splits(seed=0.5)


@pytest.mark.parametrize(
    ("val_fraction", "test_fraction"),
    [
        (1e-4, 0.9998),  # the test split rounds to all 1797 images: train and val were empty
        (1e-4, 0.9997),  # 1796 test images and the 1 validation image left nothing to train on
        (0.4, 0.5998),  # 719 + 1078 = 1797
    ],
)
def test_digits_reject_fractions_that_round_to_every_image(val_fraction, test_fraction):
    assert val_fraction + test_fraction < 1
    with pytest.raises(ValueError, match="val_fraction = .* and test_fraction = .* leave no image"):
        load_digits_splits(val_fraction=val_fraction, test_fraction=test_fraction)


def test_digits_fractions_that_leave_one_training_image_give_three_non_empty_splits():
    splits = load_digits_splits(val_fraction=0.4, test_fraction=0.5994)
    sizes = [splits[f"y_{part}"].size for part in ("train", "val", "test")]
    assert sizes == [1, 719, 1077]
    assert all(np.isfinite(splits[f"X_{part}"]).all() for part in ("train", "val", "test"))
