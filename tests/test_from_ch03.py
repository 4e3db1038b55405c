"""Laws that chapter 3 (gradient checking) states about backprop_utils.gradcheck, for all inputs."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backprop_utils.gradcheck import numerical_gradient, rel_error

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)
vectors = arrays(np.float64, st.integers(1, 8), elements=finite)


@settings(max_examples=60, deadline=None)
@given(a=vectors, data=st.data())
def test_rel_error_is_the_assignments_formula_with_sum_of_magnitudes(a, data):
    b = data.draw(arrays(np.float64, a.shape, elements=finite))
    expected = np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))
    assert rel_error(a, b) == expected


@settings(max_examples=60, deadline=None)
@given(a=vectors, data=st.data())
def test_rel_error_is_between_half_and_all_of_the_notes_max_magnitude_version(a, data):
    b = data.draw(arrays(np.float64, a.shape, elements=finite))
    largest = np.maximum(np.abs(a), np.abs(b))
    keep = largest > 1e-8  # where the floor of rel_error is not in play
    if keep.any():
        ours = rel_error(a[keep], b[keep])
        notes = np.max(np.abs(a - b)[keep] / largest[keep])
        assert notes / 2 <= ours * (1 + 1e-12) and ours <= notes * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(value=st.floats(-2.0, 2.0), step=st.floats(1e-3, 1e-1))
def test_numerical_gradient_error_of_a_cubic_is_h_squared_times_the_third_derivative(value, step):
    # f(x) = x^3: the centred error is exactly h^2 f'''/6 = h^2 (a one-sided difference
    # would be off by 3 x h + h^2, first order in h)
    x = np.array([value])
    estimate = numerical_gradient(lambda v: float(v[0] ** 3), x, step)[0]
    stored_step = ((value + step) - (value - step)) / 2
    assert abs(estimate - (3 * value**2 + stored_step**2)) < 1e-9
