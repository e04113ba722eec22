"""lib.second_order: Newton's method, the L-BFGS two-loop recursion, and the softmax-regression objective."""

from __future__ import annotations

import numpy as np
import pytest

from lib import gradcheck
from lib import second_order as so


def random_spd(n, seed, condition=50.0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return q @ np.diag(np.geomspace(1.0, condition, n)) @ q.T


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_newton_solves_a_quadratic_in_one_step(seed):
    A = random_spd(6, seed)
    b = np.random.default_rng(seed + 10).standard_normal(6)
    path = so.newton_path(lambda x: A @ x - b, lambda x: A, np.zeros(6), 1)
    np.testing.assert_allclose(path[-1], np.linalg.solve(A, b), rtol=1e-10)


def test_newton_on_log_bowl_converges_inside_and_diverges_outside():
    bowl = so.LogBowl()
    inside = so.newton_path(bowl.grad, bowl.hess, 0.5, 6)[:, 0]
    outside = so.newton_path(bowl.grad, bowl.hess, 1.5, 6)[:, 0]
    assert abs(inside[-1]) < 1e-12
    assert np.all(np.diff(np.abs(outside)) > 0) and abs(outside[-1]) > 100
    # The step formula of the docstring: x − x(1+x²)/(1−x²).
    x = 1.5
    assert outside[1] == pytest.approx(x - x * (1 + x * x) / (1 - x * x))


def test_log_bowl_derivatives():
    bowl = so.LogBowl()
    for x in (-2.0, -0.3, 0.7, 1.9):
        point = np.array([x])
        assert bowl.grad(x) == pytest.approx(gradcheck.numerical_gradient(lambda: float(bowl(point[0])), point)[0], rel=1e-6)
        assert bowl.hess(x) == pytest.approx((bowl.grad(x + 1e-5) - bowl.grad(x - 1e-5)) / 2e-5, rel=1e-5)


def test_two_loop_recursion_equals_the_bfgs_inverse_hessian():
    """The recursion applies the BFGS inverse-Hessian update (from H₀ = γI) to the gradient; build that
    matrix explicitly and compare."""
    rng = np.random.default_rng(3)
    A = random_spd(5, 3)
    s_list = [rng.standard_normal(5) for _ in range(4)]
    y_list = [A @ s for s in s_list]
    g = rng.standard_normal(5)
    gamma = (s_list[-1] @ y_list[-1]) / (y_list[-1] @ y_list[-1])
    H = gamma * np.eye(5)
    for s, y in zip(s_list, y_list):
        rho = 1.0 / (y @ s)
        V = np.eye(5) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    np.testing.assert_allclose(so.two_loop_direction(g, s_list, y_list), -H @ g, rtol=1e-10)
    np.testing.assert_allclose(so.two_loop_direction(g, [], []), -g)


def test_two_loop_with_n_pairs_recovers_the_exact_newton_step():
    A = random_spd(4, 5)
    rng = np.random.default_rng(5)
    s_list = [rng.standard_normal(4) for _ in range(4)]
    y_list = [A @ s for s in s_list]
    g = rng.standard_normal(4)
    # With n independent pairs from a quadratic the BFGS matrix satisfies all secant equations; the last
    # pair's equation H y = s holds exactly.
    np.testing.assert_allclose(-so.two_loop_direction(y_list[-1], s_list, y_list), s_list[-1], rtol=1e-8)
    assert np.all(np.isfinite(so.two_loop_direction(g, s_list, y_list)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lbfgs_minimizes_a_quadratic_far_faster_than_its_iteration_count(seed):
    A = random_spd(30, seed, condition=1000.0)
    b = np.random.default_rng(seed).standard_normal(30)
    x_star = np.linalg.solve(A, b)

    def fun(x):
        return 0.5 * x @ A @ x - b @ x, A @ x - b

    result = so.lbfgs(fun, np.zeros(30), memory=10, iterations=200)
    assert np.linalg.norm(result.x - x_star) < 1e-6 * np.linalg.norm(x_star)
    assert all(later <= earlier + 1e-12 for earlier, later in zip(result.losses, result.losses[1:]))


def test_lbfgs_on_rosenbrock():
    def fun(p):
        x, y = p
        return (1 - x) ** 2 + 100 * (y - x * x) ** 2, np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])

    result = so.lbfgs(fun, np.array([-1.5, 2.0]), iterations=200)
    np.testing.assert_allclose(result.x, [1.0, 1.0], atol=1e-5)


def test_softmax_regression_gradient():
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((20, 4)), rng.integers(0, 3, 20)
    t[:3] = [0, 1, 2]
    model = so.SoftmaxRegression(x, t, weight_decay=0.1)
    w = rng.standard_normal(model.size)
    loss, grad = model.loss_and_grad(w)
    numerical = gradcheck.numerical_gradient(lambda: model.loss(w), w)
    assert gradcheck.relative_error(grad, numerical) < 1e-7
    batch = np.array([1, 5, 7])
    _, grad_batch = so.SoftmaxRegression(x[batch], t[batch], 0.1).loss_and_grad(w)
    np.testing.assert_allclose(model.loss_and_grad(w, batch)[1], grad_batch)
    assert model.loss(model.initial()) == pytest.approx(np.log(3))


def test_minibatch_lbfgs_records_full_losses_and_budget():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 5))
    t = np.argmax(x[:, :3], axis=1)  # learnable labels
    model = so.SoftmaxRegression(x, t)
    batches = [rng.choice(200, 16, replace=False) for _ in range(20)]
    result = so.minibatch_lbfgs(model.loss_and_grad, model.loss, model.initial(), batches)
    assert len(result.losses) == 21 and result.evaluations[0] == 0
    assert np.all(np.diff(result.evaluations) >= 1)
    assert result.losses[-1] < result.losses[0]
