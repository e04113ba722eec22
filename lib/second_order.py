"""Second-order methods: Newton's method and L-BFGS (the two-loop recursion), in plain numpy.

SciPy is not a dependency of the course, so L-BFGS is written out here; it is short, and reading it is
the point. Newton rescales the gradient by the inverse Hessian, x ← x − H⁻¹∇f: one step lands on the
minimum of a quadratic, but H⁻¹ costs O(n³) and where f is not convex the step can point uphill or
toward a maximum. L-BFGS builds an approximation of H⁻¹∇f from the last m pairs
sₖ = xₖ₊₁ − xₖ, yₖ = ∇fₖ₊₁ − ∇fₖ, in O(mn) per step, and needs a line search. With mini-batches the
yₖ compare gradients of different batches, so the curvature pairs are mostly noise — the reason deep
learning uses first-order methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from lib.data import count_classes
from lib.layers import log_softmax

__all__ = [
    "newton_path", "LogBowl", "two_loop_direction", "lbfgs", "minibatch_lbfgs", "LBFGSResult",
    "SoftmaxRegression",
]


def newton_path(grad: Callable, hess: Callable, x0, steps: int) -> np.ndarray:
    """Points of Newton's method x ← x − H(x)⁻¹ ∇f(x); shape (steps + 1, n). Stops early (repeating the
    last point) once an iterate is not finite, so a divergent run still returns a full array."""
    x = np.atleast_1d(np.array(x0, dtype=float))
    path = np.empty((steps + 1, x.size))
    path[0] = x
    for step in range(1, steps + 1):
        if np.all(np.isfinite(x)):
            with np.errstate(over="ignore", invalid="ignore"):
                x = x - np.linalg.solve(np.atleast_2d(hess(x)), np.atleast_1d(grad(x)))
        path[step] = x
    return path


class LogBowl:
    """f(x) = log(1 + x²): minimum at 0, convex only for |x| < 1. Newton's step is x ← x − x(1+x²)/(1−x²);
    from |x₀| > 1 the Hessian is negative, the step points away from the minimum and the iterates run off."""

    minimum = 0.0

    def __call__(self, x):
        return np.log1p(np.asarray(x, dtype=float) ** 2)

    def grad(self, x):
        x = np.asarray(x, dtype=float)
        return 2 * x / (1 + x * x)

    def hess(self, x):
        x = np.asarray(x, dtype=float)
        return 2 * (1 - x * x) / (1 + x * x) ** 2


def two_loop_direction(grad: np.ndarray, s_history: list[np.ndarray], y_history: list[np.ndarray]) -> np.ndarray:
    """−H̃∇f by the L-BFGS two-loop recursion (Nocedal & Wright, Algorithm 7.4), with the initial inverse
    Hessian γI, γ = sᵀy / yᵀy of the newest pair. Pairs are oldest first; without pairs it is −∇f."""
    q = np.array(grad, dtype=float)
    rhos = [1.0 / float(y @ s) for s, y in zip(s_history, y_history)]
    alphas = []
    for s, y, rho in reversed(list(zip(s_history, y_history, rhos))):
        alpha = rho * float(s @ q)
        q -= alpha * y
        alphas.append(alpha)
    if s_history:
        q *= float(s_history[-1] @ y_history[-1]) / float(y_history[-1] @ y_history[-1])
    for (s, y, rho), alpha in zip(zip(s_history, y_history, rhos), reversed(alphas)):
        beta = rho * float(y @ q)
        q += (alpha - beta) * s
    return -q


@dataclass
class LBFGSResult:
    x: np.ndarray
    losses: list[float] = field(default_factory=list)  # f after each iteration (index 0: the start)
    evaluations: list[int] = field(default_factory=list)  # gradient evaluations used so far, per entry
    skipped_pairs: int = 0  # pairs dropped because sᵀy ≤ 0 (no positive curvature seen)


def _backtracking(fun, x, f, g, direction, *, step=1.0, shrink=0.5, c1=1e-4, max_halvings=30):
    """Armijo backtracking: the first step in 1, ½, ¼ … with f(x + t d) ≤ f + c₁ t ∇fᵀd.
    Returns (t, f_new, g_new, evaluations); t = 0 when no step decreases f."""
    slope = float(g @ direction)
    for evaluation in range(1, max_halvings + 1):
        f_new, g_new = fun(x + step * direction)
        if np.isfinite(f_new) and f_new <= f + c1 * step * slope:
            return step, f_new, g_new, evaluation
        step *= shrink
    return 0.0, f, g, max_halvings


def _remember_pair(s: np.ndarray, y: np.ndarray, s_history: list, y_history: list, memory: int,
                   result: LBFGSResult) -> None:
    """Keep the newest ``memory`` curvature pairs; a pair with sᵀy ≤ 0 would make the implied
    Hessian indefinite, so it is skipped (and counted)."""
    if float(s @ y) > 1e-12 * np.linalg.norm(s) * np.linalg.norm(y):
        s_history.append(s)
        y_history.append(y)
        if len(s_history) > memory:
            s_history.pop(0)
            y_history.pop(0)
    else:
        result.skipped_pairs += 1


def lbfgs(fun: Callable, x0, *, memory: int = 10, iterations: int = 100, tol: float = 1e-10) -> LBFGSResult:
    """Minimize ``fun(x) -> (f, grad)`` with L-BFGS and an Armijo backtracking line search.

    Pairs with sᵀy ≤ 1e-12·|s||y| are skipped (they would make H̃ indefinite); a direction that is not a
    descent direction is replaced by −∇f.
    """
    x = np.array(x0, dtype=float)
    f, g = fun(x)
    result = LBFGSResult(x=x, losses=[float(f)], evaluations=[1])
    s_history: list[np.ndarray] = []
    y_history: list[np.ndarray] = []
    for _ in range(iterations):
        if np.linalg.norm(g) < tol:
            break
        direction = two_loop_direction(g, s_history, y_history)
        if float(g @ direction) >= 0:
            direction = -g
        step, f_new, g_new, used = _backtracking(fun, x, f, g, direction)
        if step == 0.0:
            break
        s, y = step * direction, g_new - g
        _remember_pair(s, y, s_history, y_history, memory, result)
        x, f, g = x + s, f_new, g_new
        result.losses.append(float(f))
        result.evaluations.append(result.evaluations[-1] + used)
    result.x = x
    return result


def minibatch_lbfgs(batch_fun: Callable, full_fun: Callable, x0, batches, *, memory: int = 10) -> LBFGSResult:
    """L-BFGS run naively on mini-batches: step k evaluates ``batch_fun(x, batch_k) -> (f, grad)``, does its
    line search on that batch, and forms yₖ from the gradients of two different batches — as full-batch
    code does when it is fed mini-batches. ``losses`` records ``full_fun(x)`` (the full-batch loss) after
    each step, ``evaluations`` the mini-batch gradient evaluations used."""
    x = np.array(x0, dtype=float)
    result = LBFGSResult(x=x, losses=[float(full_fun(x))], evaluations=[0])
    s_history: list[np.ndarray] = []
    y_history: list[np.ndarray] = []
    previous_grad = None
    last_step = None
    for batch in batches:
        def on_batch(point, batch=batch):
            return batch_fun(point, batch)
        f, g = on_batch(x)
        used = 1
        if last_step is not None:
            s, y = last_step, g - previous_grad
            _remember_pair(s, y, s_history, y_history, memory, result)
        direction = two_loop_direction(g, s_history, y_history)
        if float(g @ direction) >= 0:
            direction = -g
        step, _, _, line_search_evaluations = _backtracking(on_batch, x, f, g, direction)
        used += line_search_evaluations
        last_step = step * direction if step > 0 else None
        previous_grad = g
        if last_step is not None:
            x = x + last_step
        result.losses.append(float(full_fun(x)))
        result.evaluations.append(result.evaluations[-1] + used)
    result.x = x
    return result


class SoftmaxRegression:
    """Multinomial logistic regression with L2 penalty on a flat parameter vector w = [W.ravel(), b]:
    f(w) = mean cross-entropy + ½ λ |W|². Convex, smooth — a fair full-batch test for L-BFGS vs Adam."""

    def __init__(self, x: np.ndarray, t: np.ndarray, weight_decay: float = 1e-3):
        self.x = np.asarray(x, dtype=float)
        self.t = np.asarray(t)
        if self.t.ndim != 1:
            raise ValueError("labels must be class indices (one_hot_label=False)")
        self.classes = count_classes(self.t)
        self.features = self.x.shape[1]
        self.size = self.features * self.classes + self.classes
        self.weight_decay = weight_decay

    def initial(self) -> np.ndarray:
        return np.zeros(self.size)

    def _unpack(self, w):
        W = w[: self.features * self.classes].reshape(self.features, self.classes)
        return W, w[self.features * self.classes:]

    def loss_and_grad(self, w: np.ndarray, batch: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """(f, ∇f) on all samples, or on the sample indices ``batch``."""
        x, t = (self.x, self.t) if batch is None else (self.x[batch], self.t[batch])
        W, b = self._unpack(w)
        log_probs = log_softmax(x @ W + b)
        n = x.shape[0]
        loss = -log_probs[np.arange(n), t].mean() + 0.5 * self.weight_decay * float(np.sum(W * W))
        dscores = np.exp(log_probs)
        dscores[np.arange(n), t] -= 1.0
        dscores /= n
        grad_W = x.T @ dscores + self.weight_decay * W
        return float(loss), np.concatenate([grad_W.ravel(), dscores.sum(axis=0)])

    def loss(self, w: np.ndarray) -> float:
        """f(w) on all samples, without the gradient (half the work; for recording curves)."""
        W, b = self._unpack(w)
        log_probs = log_softmax(self.x @ W + b)
        n = self.x.shape[0]
        return float(-log_probs[np.arange(n), self.t].mean() + 0.5 * self.weight_decay * np.sum(W * W))

    def accuracy(self, x: np.ndarray, t: np.ndarray, w: np.ndarray) -> float:
        W, b = self._unpack(w)
        return float(np.mean(np.argmax(np.asarray(x) @ W + b, axis=1) == np.asarray(t)))
