"""Seeded toy data sets and a loader for a small real data set.

Every function is deterministic given its ``seed``: the same arguments give the same arrays,
bit for bit. Features are float64, labels int64. Nothing is downloaded: the digits come from
the copy that ships inside scikit-learn, read without importing scikit-learn.
"""

import importlib.util
from numbers import Integral, Real
from pathlib import Path

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


def _split_sizes(n_images: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """The sizes of the test and validation splits; raise if they leave no training image.

    Each split holds its fraction of the images, rounded, and at least one. Fractions whose
    sum is below 1 can still round to every image (0.5 and 0.4999 of 1797 are 899 and 898):
    such fractions are refused, naming them, rather than shrunk in silence.
    """
    n_test, n_val = (max(1, round(f * n_images)) for f in (test_fraction, val_fraction))
    if n_test + n_val >= n_images:
        raise ValueError(
            f"val_fraction = {val_fraction} and test_fraction = {test_fraction} leave no image "
            f"for training: they round to {n_val} validation and {n_test} test images of the "
            f"{n_images}; lower them"
        )
    return n_test, n_val


def _digits_file() -> Path:
    """Path of the digits table that ships with scikit-learn, found without importing it.

    Importing scikit-learn takes about two seconds; locating its package directory takes
    none. The table has one row per image: 64 pixel intensities 0..16, then the digit.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise ImportError("load_digits_splits needs scikit-learn, which ships the digits data")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"the digits data are not where scikit-learn keeps them: {path}")
    return path


def _evenly_spaced(n_items: int, n_picked: int) -> np.ndarray:
    """Boolean mask of ``n_picked`` of ``n_items`` positions, spread evenly along them.

    Position p is picked when ``floor((p + 1) * n_picked / n_items)`` steps up, so any run of
    k consecutive positions holds within 1 of ``k * n_picked / n_items`` picked ones.
    """
    steps = (np.arange(n_items + 1) * n_picked) // n_items
    return np.diff(steps) == 1


def _stratified_parts(
    y: np.ndarray, sizes: tuple[int, int], rng: np.random.Generator
) -> list[np.ndarray]:
    """Split the indices of ``y`` into parts of ``sizes`` and the rest, class by class.

    The samples are put in class order, shuffled within each class, and each part takes
    evenly spaced positions of that order: every class then lands in every part in its
    overall proportion, to within 1 per part and class. Each part is shuffled at the end.
    """
    order = np.concatenate([rng.permutation(np.flatnonzero(y == label)) for label in np.unique(y)])
    parts = []
    for size in sizes:
        picked = _evenly_spaced(order.size, size)
        parts.append(rng.permutation(order[picked]))
        order = order[~picked]
    parts.append(rng.permutation(order))
    return parts


def load_digits_splits(
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    standardize: bool = True,
) -> dict[str, np.ndarray]:
    """The 8x8 handwritten digits of scikit-learn, split into train, validation and test.

    The 1797 images (Alpaydin and Kaynak, 1998) ship inside scikit-learn, so nothing is
    downloaded; they are read from its data file without importing scikit-learn. The split is
    stratified: the test split holds ``round(test_fraction * 1797)`` images (at least 1) and the
    validation split ``round(val_fraction * 1797)``, and each split holds every digit in its overall
    proportion to within 2 images. With ``standardize`` each feature is shifted and scaled by
    the mean and standard deviation of the *training* split only (a pixel that is constant in
    the training split is only shifted), so no statistic leaks from validation or test data.

    Parameters
    ----------
    seed : int
        At least 0.
        Seed of ``np.random.default_rng``, which shuffles the images before splitting.
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
        If ``seed < 0``, a fraction is outside (0, 1), or the fractions sum to 1 or more or
        round to every image, leaving the training split empty.
    ImportError
        If scikit-learn, which holds the data, is not installed.
    """
    _check_split_args(seed, val_fraction, test_fraction, standardize)
    table = np.loadtxt(_digits_file(), delimiter=",")
    X, y = table[:, :-1], table[:, -1].astype(np.int64)
    n_test, n_val = _split_sizes(y.size, val_fraction, test_fraction)
    test, val, train = _stratified_parts(y, (n_test, n_val), np.random.default_rng(seed))
    X_train, X_val, X_test = X[train], X[val], X[test]
    if standardize:
        mean = X_train.mean(axis=0)
        std = X_train.std(axis=0)
        std[std == 0.0] = 1.0
        X_train, X_val, X_test = ((part - mean) / std for part in (X_train, X_val, X_test))
    return {
        "X_train": X_train,
        "y_train": y[train],
        "X_val": X_val,
        "y_val": y[val],
        "X_test": X_test,
        "y_test": y[test],
    }
