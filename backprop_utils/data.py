"""Seeded toy data sets and a loader for a small real data set.

Every function is deterministic given its ``seed``: the same arguments give the same arrays,
bit for bit. Features are float64, labels int64. Nothing is downloaded: the digits come from
the copy that ships inside scikit-learn.
"""

from numbers import Integral, Real

import numpy as np


def _check_data_args(
    n_per_class: object = 1,
    n_classes: object = 2,
    seed: object = 0,
    **nonnegative: object,
) -> None:
    """Validate the arguments shared by the data functions.

    Raises
    ------
    TypeError
        If a count or the seed is not an integer, or a scale is not a real number.
    ValueError
        If ``n_per_class < 1``, ``n_classes < 2``, ``seed < 0`` or a scale is negative or not
        finite.
    """
    for name, value, low in (("n_per_class", n_per_class, 1), ("n_classes", n_classes, 2)):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError(f"{name} must be an integer >= {low}, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value}")
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise TypeError(f"seed must be a non-negative integer, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    for name, value in nonnegative.items():
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a real number >= 0, got {type(value).__name__}")
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite real number >= 0, got {value}")


def make_spiral(
    n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms in the plane, one arm per class.

    Arm ``k`` starts at the origin and winds outward to radius 1; its angle runs over an
    interval of width 4 radians that starts at ``4 k`` (so the arms are not linearly
    separable for ``n_classes >= 3``). Gaussian noise of standard deviation ``noise`` is added
    to the angle.

    Parameters
    ----------
    n_per_class : int
        At least 1.
        Points per class.
    n_classes : int
        At least 2.
        Number of classes (arms).
    noise : float
        At least 0.
        Standard deviation of the angular noise, in radians.
    seed : int
        At least 0.
        Seed of ``np.random.default_rng``.

    Returns
    -------
    X : ndarray
        Shape (n_per_class * n_classes, 2), float64.
        Points, ordered by class.
    y : ndarray
        Shape (n_per_class * n_classes,), int64.
        Class labels in ``0 .. n_classes - 1``, ``n_per_class`` of each.

    Raises
    ------
    TypeError
        If a count or the seed is not an integer, or ``noise`` is not a real number.
    ValueError
        If ``n_per_class < 1``, ``n_classes < 2``, ``seed < 0`` or ``noise`` is negative.
    """
    _check_data_args(n_per_class, n_classes, seed, noise=noise)
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    radius = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)
    step = np.tile(np.linspace(0.0, 4.0, n_per_class), n_classes)
    angle = 4.0 * y + step + noise * rng.standard_normal(y.size)
    X = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    return X, y


def make_blobs(
    n_per_class: int = 100, n_classes: int = 3, spread: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian blobs in the plane, one per class.

    The centre of class ``k`` lies on the circle of radius 3 at angle ``2 pi k / n_classes``;
    each point is its centre plus Gaussian noise of standard deviation ``spread`` per
    coordinate.

    Parameters
    ----------
    n_per_class : int
        At least 1.
        Points per class.
    n_classes : int
        At least 2.
        Number of classes (blobs).
    spread : float
        At least 0.
        Standard deviation of each coordinate around its centre.
    seed : int
        At least 0.
        Seed of ``np.random.default_rng``.

    Returns
    -------
    X : ndarray
        Shape (n_per_class * n_classes, 2), float64.
        Points, ordered by class.
    y : ndarray
        Shape (n_per_class * n_classes,), int64.
        Class labels in ``0 .. n_classes - 1``, ``n_per_class`` of each.

    Raises
    ------
    TypeError
        If a count or the seed is not an integer, or ``spread`` is not a real number.
    ValueError
        If ``n_per_class < 1``, ``n_classes < 2``, ``seed < 0`` or ``spread`` is negative.
    """
    _check_data_args(n_per_class, n_classes, seed, spread=spread)
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    angle = 2.0 * np.pi * y / n_classes
    centres = 3.0 * np.column_stack([np.cos(angle), np.sin(angle)])
    X = centres + spread * rng.standard_normal((y.size, 2))
    return X, y


def _check_split_args(
    seed: object, val_fraction: object, test_fraction: object, standardize: object
) -> None:
    """Validate the arguments of :func:`load_digits_splits`.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer, a fraction not a real number, or ``standardize`` not a
        bool.
    ValueError
        If ``seed < 0``, a fraction is outside (0, 1) or the two fractions sum to 1 or more.
    """
    _check_data_args(seed=seed)
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a real number in (0, 1), got {type(value).__name__}")
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must be a real number in (0, 1), got {value}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            "val_fraction + test_fraction must be < 1 to leave a training split, "
            f"got {val_fraction} + {test_fraction}"
        )
    if not isinstance(standardize, bool | np.bool_):
        raise TypeError(f"standardize must be a bool, got {type(standardize).__name__}")


def load_digits_splits(
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    standardize: bool = True,
) -> dict[str, np.ndarray]:
    """The 8x8 handwritten digits of scikit-learn, split into train, validation and test.

    The 1797 images (Alpaydin and Kaynak, 1998) ship inside scikit-learn, so nothing is
    downloaded. The split is stratified: each split holds the ten digits in (nearly) the
    proportions of the whole set. With ``standardize`` each feature is shifted and scaled by the
    mean and standard deviation of the *training* split only (a pixel that is constant in the
    training split is only shifted), so no statistic leaks from validation or test data.

    Parameters
    ----------
    seed : int
        At least 0.
        Seed of the shuffle before splitting.
    val_fraction, test_fraction : float
        Each in (0, 1), their sum less than 1.
        Fractions of the 1797 samples in the validation and test splits.
    standardize : bool
        Standardize the features with the training statistics; otherwise keep the raw pixel
        intensities 0..16.

    Returns
    -------
    splits : dict
        ``X_train``, ``X_val``, ``X_test``: ndarray, shape (n, 64), float64;
        ``y_train``, ``y_val``, ``y_test``: ndarray, shape (n,), int64, digits 0..9.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer, a fraction not a real number, or ``standardize`` not a
        bool.
    ValueError
        If ``seed < 0``, a fraction is outside (0, 1) or the fractions sum to 1 or more.
    """
    _check_split_args(seed, val_fraction, test_fraction, standardize)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = digits.data.astype(np.float64)
    y = digits.target.astype(np.int64)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_fraction, stratify=y, random_state=seed
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest,
        y_rest,
        test_size=val_fraction / (1.0 - test_fraction),
        stratify=y_rest,
        random_state=seed,
    )
    if standardize:
        mean = X_train.mean(axis=0)
        std = X_train.std(axis=0)
        std[std == 0.0] = 1.0
        X_train, X_val, X_test = ((part - mean) / std for part in (X_train, X_val, X_test))
    return {
        "X_train": X_train,
        "y_train": y_train,
        "X_val": X_val,
        "y_val": y_val,
        "X_test": X_test,
        "y_test": y_test,
    }
