"""lib.functions: values against the textbook formulas, gradients and Hessians against centered
differences, minima, and run_optimizer against paths worked out by hand."""

import math

import numpy as np
import pytest

from lib import functions as fn

FUNCTIONS = {
    "saito": fn.saito,
    "quadratic": fn.quadratic(0.5, 8.0),
    "rotated": fn.rotated_quadratic(1.0, 10.0, 0.6),
    "rosenbrock": fn.rosenbrock,
    "rosenbrock(2, 5)": fn.Rosenbrock(2.0, 5.0),
    "beale": fn.beale,
    "saddle": fn.saddle,
}
FORMULAS = {
    "saito": lambda x, y: x ** 2 / 20 + y ** 2,
    "quadratic": lambda x, y: 0.25 * x ** 2 + 4 * y ** 2,
    "rosenbrock": lambda x, y: (1 - x) ** 2 + 100 * (y - x ** 2) ** 2,
    "rosenbrock(2, 5)": lambda x, y: (2 - x) ** 2 + 5 * (y - x ** 2) ** 2,
    "beale": lambda x, y: (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2 + (2.625 - x + x * y ** 3) ** 2,
    "saddle": lambda x, y: x ** 2 - y ** 2,
}
functions = pytest.mark.parametrize("name", FUNCTIONS)


def points_in_range(function, seed, n=6):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(*function.xlim, n), rng.uniform(*function.ylim, n)])


def centered(g, point, h):
    """Centered differences of g (scalar- or vector-valued) at a 2-D point, one column per coordinate."""
    columns = []
    for axis in range(2):
        step = np.zeros(2)
        step[axis] = h
        columns.append((np.asarray(g(point + step)) - np.asarray(g(point - step))) / (2 * h))
    return np.stack(columns, axis=-1)


def relative_error(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))


@pytest.mark.parametrize("name", FORMULAS)
def test_values_match_the_formulas(name):
    function, formula = FUNCTIONS[name], FORMULAS[name]
    points = points_in_range(function, seed=0, n=20)
    np.testing.assert_allclose(function(points[:, 0], points[:, 1]), formula(points[:, 0], points[:, 1]), rtol=1e-12)


def test_rotated_quadratic_has_the_requested_eigenpairs():
    lambda1, lambda2, angle = 1.0, 10.0, 0.6
    hessian = fn.rotated_quadratic(lambda1, lambda2, angle).hessian(0.3, -0.2)
    direction = np.array([math.cos(angle), math.sin(angle)])
    np.testing.assert_allclose(hessian @ direction, lambda1 * direction, atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(hessian), [lambda1, lambda2], atol=1e-12)
    assert fn.rotated_quadratic(lambda1, lambda2, angle).condition_number == 10.0
    with pytest.raises(ValueError, match="lambda1, lambda2"):
        fn.quadratic(-1.0, 2.0)


@functions
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_matches_centered_differences(name, seed):
    function = FUNCTIONS[name]
    for point in points_in_range(function, seed):
        numeric = centered(lambda p: function(*p), point, h=1e-6)
        assert relative_error(function.gradient_at(point), numeric) < 1e-6, point


@functions
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hessian_matches_centered_differences_of_the_gradient(name, seed):
    function = FUNCTIONS[name]
    for point in points_in_range(function, seed):
        hessian = function.hessian_at(point)
        assert hessian.shape == (2, 2)
        np.testing.assert_allclose(hessian, hessian.T, rtol=0, atol=0)
        assert relative_error(hessian, centered(function.gradient_at, point, h=1e-6)) < 1e-6, point


@functions
def test_functions_are_vectorized_over_grids(name):
    function = FUNCTIONS[name]
    X, Y, Z = function.grid(7)
    assert Z.shape == (7, 7)
    np.testing.assert_allclose(Z[3, 5], function(float(X[3, 5]), float(Y[3, 5])))
    dx, dy = function.gradient(X, Y)
    assert dx.shape == dy.shape == (7, 7)
    np.testing.assert_allclose([dx[2, 4], dy[2, 4]], function.gradient_at((X[2, 4], Y[2, 4])))
    hessians = function.hessian(X, Y)
    assert hessians.shape == (7, 7, 2, 2)
    np.testing.assert_allclose(hessians[6, 1], function.hessian_at((X[6, 1], Y[6, 1])))


@pytest.mark.parametrize("name", [n for n in FUNCTIONS if n != "saddle"])
def test_minimum_is_a_stationary_point_with_positive_curvature_below_the_whole_grid(name):
    function = FUNCTIONS[name]
    assert function.minimum_value == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(function.gradient_at(function.minimum), 0.0, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(function.hessian_at(function.minimum)) > 0)
    assert function.minimum_value <= function.grid(101)[2].min()
    (x0, x1), (y0, y1) = function.plot_range
    assert x0 < function.minimum[0] < x1 and y0 < function.minimum[1] < y1
    assert x0 < function.start[0] < x1 and y0 < function.start[1] < y1
    assert function(*function.start) > function.minimum_value + 1


def test_rosenbrock_minimum_moves_with_a():
    assert fn.Rosenbrock(2.0, 5.0).minimum == (2.0, 4.0)


def test_saddle_has_a_stationary_point_that_is_not_a_minimum():
    assert fn.saddle.minimum is None
    np.testing.assert_array_equal(fn.saddle.gradient_at(fn.saddle.stationary_point), [0.0, 0.0])
    np.testing.assert_array_equal(np.linalg.eigvalsh(fn.saddle.hessian_at((0.0, 0.0))), [-2.0, 2.0])


# ---------------------------------------------------------------------------------- run_optimizer

class PlainSGD:
    """Independent of lib.optimizers: x ← x − lr·g, recording the lr of every step."""

    def __init__(self, lr):
        self.lr, self.used = lr, []

    def update(self, params, grads):
        assert set(params) == {"xy"} and params["xy"].shape == (2,)
        self.used.append(self.lr)
        params["xy"] -= self.lr * grads["xy"]


@pytest.mark.parametrize("lr", [0.05, 0.15, 0.19])
def test_gradient_descent_path_is_the_closed_form_on_a_rotated_quadratic(lr):
    function = fn.rotated_quadratic(1.0, 10.0, 0.6)
    start = np.array([-4.0, 3.0])
    path = fn.run_optimizer(PlainSGD(lr), function, start, steps=12)
    assert path.shape == (13, 2)
    np.testing.assert_array_equal(start, [-4.0, 3.0])  # the caller's start is not moved
    step_matrix = np.eye(2) - lr * function.hessian_at((0.0, 0.0))
    expected = np.array([np.linalg.matrix_power(step_matrix, k) @ start for k in range(13)])
    np.testing.assert_allclose(path, expected, rtol=1e-12, atol=1e-12)


def test_run_optimizer_defaults_schedule_and_errors():
    path = fn.run_optimizer(PlainSGD(0.1), fn.saito, steps=0)
    np.testing.assert_array_equal(path, [fn.saito.start])
    optimizer = PlainSGD(1.0)
    fn.run_optimizer(optimizer, fn.saito, (1.0, 1.0), steps=4, schedule=lambda step: 0.1 / (step + 1))
    assert optimizer.used == [0.1, 0.05, 0.1 / 3, 0.025]
    with pytest.raises(ValueError, match="steps"):
        fn.run_optimizer(PlainSGD(0.1), fn.saito, (1.0, 1.0), steps=-1)
    with pytest.raises(ValueError, match="shape"):
        fn.run_optimizer(PlainSGD(0.1), fn.saito, (1.0, 1.0, 1.0), steps=3)
    with pytest.raises(ValueError, match="diverged before step"):
        fn.run_optimizer(PlainSGD(1.0), fn.rosenbrock, (-1.5, 2.0), steps=20)


def test_run_optimizer_drives_lib_momentum_like_the_hand_recursion():
    optimizers = pytest.importorskip("lib.optimizers")
    lr, momentum = 0.08, 0.7
    path = fn.run_optimizer(optimizers.Momentum(lr=lr, momentum=momentum), fn.saito, (-7.0, 2.0), steps=6)
    point, velocity = np.array([-7.0, 2.0]), np.zeros(2)
    for k in range(6):
        velocity = momentum * velocity - lr * np.array([point[0] / 10, 2 * point[1]])
        point = point + velocity
        np.testing.assert_allclose(path[k + 1], point, rtol=1e-12)


def test_one_newton_step_solves_a_quadratic_and_a_few_solve_rosenbrock():
    quadratic = fn.rotated_quadratic(1.0, 50.0, 1.1)
    start = np.array([3.0, -2.0])
    newton = start - np.linalg.solve(quadratic.hessian_at(start), quadratic.gradient_at(start))
    np.testing.assert_allclose(newton, 0.0, atol=1e-12)
    point = np.array(fn.rosenbrock.start)
    for _ in range(8):
        point = point - np.linalg.solve(fn.rosenbrock.hessian_at(point), fn.rosenbrock.gradient_at(point))
    np.testing.assert_allclose(point, fn.rosenbrock.minimum, atol=1e-10)
