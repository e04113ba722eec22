import numpy as np
import pytest

from lib.gradcheck import default_step, numerical_gradient, relative_error


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numerical_gradient_matches_a_known_gradient(seed):
    x = np.random.default_rng(seed).standard_normal((3, 4))
    grad = numerical_gradient(lambda: np.sum(np.sin(x) * x**2), x)
    exact = np.cos(x) * x**2 + 2 * x * np.sin(x)
    assert relative_error(grad, exact) < 1e-7


def test_numerical_gradient_is_centered_not_forward():
    # f = x³ at x = 1: centered gives 3 + h² ≈ 3 (error 1e-10); forward difference gives 3 + 3h (error 3e-5).
    x = np.array([1.0])
    grad = numerical_gradient(lambda: float(x[0] ** 3), x)
    assert abs(grad[0] - 3.0) < 1e-8


def test_numerical_gradient_restores_x_exactly_and_accepts_the_book_signature():
    x = np.random.default_rng(0).standard_normal(5)
    before = x.copy()
    grad = numerical_gradient(lambda w: np.sum(w**2), x)   # f(x) form, as in Saito's book
    assert np.array_equal(x, before)
    assert relative_error(grad, 2 * before) < 1e-8


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.ones(3)
    calls = []

    def f():
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return x.sum()

    with pytest.raises(RuntimeError):
        numerical_gradient(f, x)
    assert np.array_equal(x, np.ones(3))


def test_numerical_gradient_keeps_float32_and_uses_a_larger_step():
    x = np.linspace(-1, 1, 4, dtype=np.float32)
    grad = numerical_gradient(lambda: float(np.sum(x.astype(np.float64) ** 2)), x)
    assert grad.dtype == np.float32
    assert default_step(np.float64) == 1e-5 and default_step(np.float32) > 1e-4
    assert np.allclose(grad, 2 * x, atol=1e-3)


def test_numerical_gradient_rejects_integer_arrays_and_handles_views():
    with pytest.raises(ValueError, match="floating"):
        numerical_gradient(lambda: 0.0, np.arange(3))
    base = np.arange(12.0).reshape(3, 4)
    view = base.T                                   # not contiguous: perturbed through the view
    grad = numerical_gradient(lambda: float(np.sum(base**2)), view)
    assert relative_error(grad, 2 * view) < 1e-8
    assert np.array_equal(base, np.arange(12.0).reshape(3, 4))


def test_relative_error_is_the_documented_elementwise_maximum():
    a = np.array([1.0, 0.0, 1e-12, -2.0])
    b = np.array([1.1, 0.0, 0.0, -2.0])
    # elementwise |a−b| / max(1e-8, |a|+|b|): 0.1/2.1, 0 (0/1e-8), 1e-12/1e-8, 0
    assert relative_error(a, b) == pytest.approx(0.1 / 2.1, rel=1e-12)
    assert relative_error(a[1:3], b[1:3]) == pytest.approx(1e-4, rel=1e-9)
    assert relative_error(a, b) == relative_error(b, a)
    assert relative_error(np.zeros(0), np.zeros(0)) == 0.0


def test_relative_error_is_scale_free_per_element():
    # A 1 % error on a tiny entry is caught even next to a large entry (a global norm would hide it).
    a = np.array([1000.0, 1e-3])
    b = np.array([1000.0, 1.01e-3])
    assert relative_error(a, b) > 4e-3


def test_relative_error_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        relative_error(np.zeros(2), np.zeros(3))
