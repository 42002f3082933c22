"""course_lib.gradcheck: finite differences and rel_error, against closed-form gradients."""

import numpy as np
import pytest

from course_lib.gradcheck import numerical_gradient, rel_error


def test_numerical_gradient_of_a_quadratic_matches_the_closed_form() -> None:
    # oracle: d/dx sum(A x * x) = (A + A^T) x
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    x = rng.normal(size=4)
    numeric = numerical_gradient(lambda v: float(v @ a @ v), x.copy())
    assert rel_error(numeric, (a + a.T) @ x) < 1e-8


def test_numerical_gradient_restores_its_input_and_works_through_a_closure() -> None:
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    numeric = numerical_gradient(lambda _: float(np.sum(np.sin(x))), x)  # closure over x
    np.testing.assert_array_equal(x, before)
    assert rel_error(numeric, np.cos(x)) < 1e-8


def test_numerical_gradient_rejects_float32() -> None:
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda v: float(v.sum()), np.zeros(3, dtype=np.float32))


def test_rel_error_is_zero_for_equal_arrays_and_near_one_for_opposite_signs() -> None:
    a = np.array([1.0, -2.0, 3.0])
    assert rel_error(a, a.copy()) == 0.0
    assert rel_error(a, -a) == pytest.approx(1.0)
    assert rel_error(np.array([1.0]), np.array([1.0 + 1e-9])) < 1e-9


def test_rel_error_refuses_different_shapes() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(3), np.zeros(4))
