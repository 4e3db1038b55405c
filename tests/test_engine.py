"""Tests of backprop_utils.engine: the gates, backward, topological order and bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_utils.engine import Value, topological_order, vmax, vsum


def centred_difference(f, inputs, k, h=1e-6):
    """d f / d inputs[k] by centred differences on plain floats."""
    plus, minus = list(inputs), list(inputs)
    plus[k] += h
    minus[k] -= h
    return (f(*plus) - f(*minus)) / (2 * h)


# Each gate: (build from Values, the same function on floats, inputs).
GATES = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, (1.5, -2.25)),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, (1.5, -2.25)),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, (1.5, -2.25)),
    "div": (lambda a, b: a / b, lambda a, b: a / b, (1.5, -2.25)),
    "neg": (lambda a: -a, lambda a: -a, (0.75,)),
    "exp": (lambda a: a.exp(), math.exp, (0.75,)),
    "log": (lambda a: a.log(), math.log, (0.75,)),
    "sqrt": (lambda a: a.sqrt(), math.sqrt, (0.75,)),
    "max": (lambda a, b, c: vmax(a, b, c), max, (0.5, 2.0, -1.0)),
    "vsum": (lambda a, b, c: vsum(a, b, c), lambda a, b, c: a + b + c, (0.5, 2.0, -1.0)),
}


@pytest.mark.parametrize("name", sorted(GATES))
def test_gate_forward_value_matches_float_arithmetic(name):
    build, on_floats, inputs = GATES[name]
    out = build(*(Value(x) for x in inputs))
    assert out.data == pytest.approx(on_floats(*inputs), rel=1e-15)


@pytest.mark.parametrize("name", sorted(GATES))
def test_gate_local_gradient_matches_finite_differences(name):
    build, on_floats, inputs = GATES[name]
    leaves = [Value(x) for x in inputs]
    build(*leaves).backward()
    for k, leaf in enumerate(leaves):
        numeric = centred_difference(on_floats, inputs, k)
        assert leaf.grad == pytest.approx(numeric, rel=1e-7, abs=1e-9), (name, k)


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(-5, 5, allow_subnormal=False),
    b=st.floats(0.5, 5, allow_subnormal=False),
    sign=st.sampled_from([-1.0, 1.0]),
)
def test_composite_gradient_matches_finite_differences(a, b, sign):
    def on_floats(a, b):
        return math.log(math.exp(a) + b * b) / (sign * b) - a * b

    leaf_a, leaf_b = Value(a), Value(b)
    out = (leaf_a.exp() + leaf_b * leaf_b).log() / (sign * leaf_b) - leaf_a * leaf_b
    out.backward()
    assert out.data == pytest.approx(on_floats(a, b), rel=1e-12, abs=1e-12)
    for k, leaf in enumerate((leaf_a, leaf_b)):
        numeric = centred_difference(on_floats, (a, b), k, h=1e-5)
        assert leaf.grad == pytest.approx(numeric, rel=1e-6, abs=1e-6)


def test_reflected_operators_with_numbers_make_constant_leaves():
    x = Value(2.0)
    assert (3 - x).data == 1.0
    assert (3 / x).data == 1.5
    assert (3 + x).data == 5.0
    assert (3 * x).data == 6.0
    out = np.float64(4.0) * x
    assert isinstance(out, Value)
    out.backward()
    assert x.grad == 4.0


@settings(max_examples=60, deadline=None)
@given(x=st.floats(1e-3, 1e3))
def test_sqrt_local_gradient_matches_finite_differences_for_any_positive_input(x):
    leaf = Value(x)
    out = leaf.sqrt()
    out.backward()
    step = 1e-6 * x  # relative step: sqrt is curved most near 0
    numeric = (math.sqrt(x + step) - math.sqrt(x - step)) / (2 * step)
    assert out.data == math.sqrt(x)
    assert leaf.grad == pytest.approx(numeric, rel=1e-7)


def test_max_routes_the_whole_gradient_to_the_first_largest_input_on_a_tie():
    first, second, third = Value(3.0), Value(3.0), Value(1.0)
    vmax(first, second, third).backward()
    assert (first.grad, second.grad, third.grad) == (1.0, 0.0, 0.0)


def test_max_of_one_value_passes_the_gradient_through():
    x = Value(-2.0)
    out = vmax(x)
    out.backward()
    assert out.data == -2.0 and x.grad == 1.0


def test_backward_twice_gives_the_same_gradients():
    x, y = Value(1.5), Value(-0.5)
    out = (x * y + x).exp()
    out.backward()
    first = (x.grad, y.grad)
    out.backward()
    assert (x.grad, y.grad) == first
    assert first != (0.0, 0.0)


def test_backward_from_a_different_root_resets_the_shared_nodes():
    x = Value(2.0)
    square = x * x
    cube = square * x
    cube.backward()
    square.backward()
    assert x.grad == 4.0  # d(x^2)/dx, not 4 + 12


def test_gradients_sum_at_a_fork():
    x, y, z = Value(2.0), Value(-3.0), Value(4.0)
    (x * y + x * z).backward()
    assert x.grad == y.data + z.data


def test_a_value_used_twice_by_one_gate_gets_both_contributions():
    x = Value(3.0)
    (x * x).backward()
    assert x.grad == 6.0


def test_backward_handles_a_chain_deeper_than_the_recursion_limit():
    x = Value(0.0)
    out = x
    for _ in range(5000):
        out = out + 1.0
    out.backward()
    assert out.data == 5000.0 and x.grad == 1.0


def test_topological_order_puts_every_parent_before_its_child_and_root_last():
    x, y = Value(1.0), Value(2.0)
    out = (x * y) + (x - y).exp()
    order = topological_order(out)
    position = {id(node): k for k, node in enumerate(order)}
    assert order[-1] is out
    assert len(position) == len(order) == 6
    for node in order:
        for parent in node.parents:
            assert position[id(parent)] < position[id(node)]


def test_value_rejects_a_string():
    with pytest.raises(TypeError, match="data"):
        Value("1.0")


def test_value_rejects_a_bool():
    with pytest.raises(TypeError, match="real number"):
        Value(True)


def test_value_rejects_nan():
    with pytest.raises(ValueError, match="finite"):
        Value(float("nan"))


def test_value_rejects_a_label_that_is_not_a_string():
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=3)


def test_value_rejects_an_unknown_op():
    with pytest.raises(ValueError, match="op"):
        Value(1.0, op="tanh")


def test_value_rejects_parents_and_local_grads_of_different_lengths():
    with pytest.raises(ValueError, match="same length"):
        Value(1.0, op="neg", parents=(Value(1.0),), local_grads=())


def test_value_rejects_a_parent_that_is_not_a_value():
    with pytest.raises(TypeError, match="parent"):
        Value(1.0, op="neg", parents=(1.0,), local_grads=(-1.0,))


def test_adding_a_string_raises_type_error():
    with pytest.raises(TypeError, match="operand"):
        Value(1.0) + "2"


def test_a_string_plus_a_value_raises_type_error():
    with pytest.raises(TypeError, match="operand"):
        "2" + Value(1.0)


def test_log_of_zero_raises():
    with pytest.raises(ValueError, match="positive"):
        Value(0.0).log()


def test_sqrt_of_zero_raises():
    with pytest.raises(ValueError, match="positive"):
        Value(0.0).sqrt()


def test_sqrt_of_a_negative_number_raises():
    with pytest.raises(ValueError, match="positive"):
        Value(-4.0).sqrt()


def test_exp_overflow_raises():
    with pytest.raises(ValueError, match="overflows"):
        Value(1000.0).exp()


def test_division_by_zero_raises():
    with pytest.raises(ValueError, match="divisor"):
        Value(1.0) / 0


def test_vmax_of_nothing_raises():
    with pytest.raises(ValueError, match="at least one"):
        vmax()


def test_vmax_of_a_list_asks_for_separate_arguments():
    with pytest.raises(TypeError, match=r"vmax\(\*values\)"):
        vmax([Value(1.0), Value(2.0)])


def test_vsum_of_a_string_raises():
    with pytest.raises(TypeError, match="vsum"):
        vsum(Value(1.0), "2")


def test_topological_order_rejects_a_number():
    with pytest.raises(TypeError, match="root"):
        topological_order(1.0)


# Overflow and underflow: a finite answer where there is one, else a ValueError ---------------


def test_dividing_tiny_numbers_gives_the_finite_quotient_and_its_gradients():
    a, b = Value(1e-300), Value(1e-170)
    quotient = a / b
    quotient.backward()
    assert quotient.data == pytest.approx(1e-130, rel=1e-15)
    assert a.grad == pytest.approx(1e170, rel=1e-15)
    assert b.grad == pytest.approx(-1e40, rel=1e-15)  # -a/b**2, with b**2 = 1e-340


def test_dividing_by_a_huge_number_gives_the_finite_quotient_and_its_gradients():
    a, b = Value(1.0), Value(1e200)
    quotient = a / b
    quotient.backward()
    assert quotient.data == 1e-200
    assert a.grad == 1e-200
    assert b.grad == 0.0  # -1e-400 rounds to zero in float64; b**2 = 1e400 would overflow


@settings(max_examples=100, deadline=None)
@given(
    a=st.floats(-1e100, 1e100, allow_subnormal=False),
    b=st.floats(1e-50, 1e50, allow_subnormal=False),
    sign=st.sampled_from([-1.0, 1.0]),
)
def test_quotient_local_gradients_are_one_over_b_and_minus_a_over_b_squared(a, b, sign):
    divisor = sign * b
    quotient = Value(a) / Value(divisor)
    assert quotient.local_grads[0] == 1 / divisor
    assert quotient.local_grads[1] == pytest.approx(-a / divisor**2, rel=1e-15, abs=1e-300)


def test_a_quotient_whose_local_gradient_overflows_raises_naming_the_operands():
    with pytest.raises(ValueError, match=r"local gradient of '/' at operands \(1, 1e-200\)"):
        Value(1.0) / Value(1e-200)  # d(a/b)/db = -1e400


def test_a_product_that_overflows_raises_naming_its_operands():
    with pytest.raises(ValueError, match=r"value of '\*' at operands \(1e\+200, -1e\+200\)"):
        Value(1e200) * Value(-1e200)


def test_a_sum_that_overflows_raises_naming_its_operands():
    with pytest.raises(ValueError, match=r"value of '\+' at operands \(1e\+308, 1e\+308\)"):
        Value(1e308) + 1e308


def test_a_difference_that_overflows_raises_naming_its_operands():
    with pytest.raises(ValueError, match="value of '-'.*overflows float64"):
        Value(1e308) - Value(-1e308)


def test_an_overflowing_vsum_raises_value_error_naming_its_operands():
    with pytest.raises(ValueError, match=r"'\+' at operands \(1e\+308, 1e\+308, 1\)"):
        vsum(1e308, 1e308, 1.0)


def test_an_overflowing_vsum_of_many_values_names_the_first_four():
    with pytest.raises(
        ValueError, match=r"operands \(1e\+308, 1e\+308, 1e\+308, 1e\+308, \.\.\.\)"
    ):
        vsum(*[Value(1e308) for _ in range(6)])


def test_exp_overflow_names_its_operand():
    with pytest.raises(ValueError, match=r"'exp' at operands \(710\)"):
        Value(710.0).exp()


def test_log_of_a_subnormal_number_raises_as_its_local_gradient_overflows():
    with pytest.raises(ValueError, match="local gradient of 'log'"):
        Value(5e-324).log()


def test_an_int_too_large_for_a_float_raises_value_error_naming_data():
    with pytest.raises(ValueError, match="data is too large for float64"):
        Value(10**400)


def test_an_int_operand_too_large_for_a_float_raises_value_error_naming_the_operand():
    with pytest.raises(ValueError, match="operand is too large for float64"):
        Value(1.0) * 10**400


def test_an_int_too_large_for_a_float_in_vsum_raises_value_error():
    with pytest.raises(ValueError, match="operand is too large"):
        vsum(Value(1.0), -(10**400))


def test_the_largest_float_is_a_valid_value():
    assert Value(1.7976931348623157e308).data == 1.7976931348623157e308
    assert Value(2**1023).data == 2.0**1023


def test_backward_raises_when_a_gradient_overflows():
    a, b = Value(1e300), Value(1e-300)
    out = (a * b) * 1e300  # d out / d b = 1e300 * 1e300
    with pytest.raises(ValueError, match="gradient overflows float64"):
        out.backward()


def test_backward_raises_instead_of_giving_nan_when_a_zero_meets_an_overflow():
    winner, loser = Value(1e-300), Value(-1.0)
    out = (vmax(winner, loser) * 1e300) * 1e300  # forward values 1e-300, 1, 1e300
    with pytest.raises(ValueError, match="gradient overflows"):
        out.backward()  # the max node's grad is 1e600; the loser's would be 0 * inf = nan
    assert math.isnan(loser.grad)  # what the check caught
