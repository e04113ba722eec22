"""Two-variable test functions for drawing optimizer paths, and the loop that drives an optimizer.

Each function is a small object: ``f(x, y)`` (vectorized, so it evaluates whole grids for contour
plots), ``f.gradient(x, y) -> (dx, dy)``, ``f.hessian(x, y)`` (shape ``(..., 2, 2)``, for Newton's
method and for reading off curvature), ``f.minimum`` (the minimizer, or ``None`` for the saddle),
``f.xlim`` / ``f.ylim`` (a plot range that shows the interesting part) and ``f.start`` (a starting
point that makes the optimizers' differences visible).

- ``saito``  Saito's f(x, y) = x²/20 + y² — curvature 20× larger along y than along x.
- ``quadratic(lambda1, lambda2)``  ½(λ₁x² + λ₂y²): Hessian eigenvalues λ₁, λ₂ on the axes.
- ``rotated_quadratic(lambda1, lambda2, angle)``  the same bowl turned by ``angle`` radians, so the
  valley no longer follows an axis (per-coordinate methods such as AdaGrad/Adam lose their edge).
- ``rosenbrock``  (a=1, b=100; ``Rosenbrock(a, b)`` for others) a curved, flat-bottomed valley;
  minimum at (a, a²).
- ``beale``  steep walls and flat plateaus; minimum at (3, 0.5).
- ``saddle``  x² − y²: a stationary point at the origin that is not a minimum.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Beale", "Function2D", "Quadratic", "Rosenbrock", "Saddle", "Saito", "beale", "quadratic", "rosenbrock",
           "rotated_quadratic", "run_optimizer", "saddle", "saito"]


class Function2D:
    """Base class: subclasses define ``__call__``, ``gradient`` and ``hessian_entries``."""

    name = "f"
    formula = ""
    minimum: tuple[float, float] | None = None
    xlim = (-2.0, 2.0)
    ylim = (-2.0, 2.0)
    start = (-1.5, 1.5)

    def __call__(self, x, y):
        raise NotImplementedError

    def gradient(self, x, y):
        raise NotImplementedError

    def hessian_entries(self, x, y):
        """(f_xx, f_xy, f_yy) at (x, y)."""
        raise NotImplementedError

    def hessian(self, x, y) -> np.ndarray:
        """Matrix of second derivatives, shape ``broadcast(x, y).shape + (2, 2)``."""
        x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        fxx, fxy, fyy = (np.broadcast_to(v, x.shape) for v in self.hessian_entries(x, y))
        return np.stack([np.stack([fxx, fxy], -1), np.stack([fxy, fyy], -1)], -2)

    def gradient_at(self, point) -> np.ndarray:
        """The gradient at ``point = (x, y)`` as an array of shape (2,)."""
        return np.array(self.gradient(*np.asarray(point, dtype=float)), dtype=float)

    def hessian_at(self, point) -> np.ndarray:
        """The Hessian at ``point = (x, y)``, shape (2, 2) — with :meth:`gradient_at`, what Newton needs."""
        return self.hessian(*np.asarray(point, dtype=float))

    @property
    def plot_range(self):
        """``(xlim, ylim)``, read by ``lib.plots.contour_paths``."""
        return self.xlim, self.ylim

    @property
    def minimum_value(self) -> float | None:
        return None if self.minimum is None else float(self(*self.minimum))

    def grid(self, n: int = 200):
        """``(X, Y, Z)`` on an n×n grid over ``xlim`` × ``ylim``, ready for ``ax.contour``."""
        X, Y = np.meshgrid(np.linspace(*self.xlim, n), np.linspace(*self.ylim, n))
        return X, Y, self(X, Y)

    def __repr__(self) -> str:
        return f"{self.name}: {self.formula}"


class Quadratic(Function2D):
    """f(x, y) = ½ pᵀ A p with A = R diag(λ₁, λ₂) Rᵀ and R the rotation by ``angle``.

    The ½ makes A the Hessian: its eigenvalues are λ₁ (along the direction at ``angle``) and λ₂,
    and gradient descent on it converges for a learning rate below 2/max(λ₁, λ₂).
    """

    def __init__(self, lambda1: float, lambda2: float, angle: float = 0.0, *, name: str | None = None,
                 xlim=(-5.0, 5.0), ylim=(-5.0, 5.0), start=(-4.0, 3.0)):
        if lambda1 < 0 or lambda2 < 0:
            raise ValueError(f"a convex quadratic needs lambda1, lambda2 ≥ 0; got {lambda1}, {lambda2}.")
        self.lambda1, self.lambda2, self.angle = float(lambda1), float(lambda2), float(angle)
        c, s = math.cos(angle), math.sin(angle)
        # A = R diag(λ1, λ2) Rᵀ written out, so evaluation is three multiply-adds per point.
        self.a = lambda1 * c * c + lambda2 * s * s
        self.b = (lambda1 - lambda2) * c * s
        self.c = lambda1 * s * s + lambda2 * c * c
        self.minimum = (0.0, 0.0)
        self.xlim, self.ylim, self.start = tuple(xlim), tuple(ylim), tuple(start)
        if name is None:
            rotation = f", angle={angle:.3g}" if angle else ""
            name = f"quadratic(λ1={lambda1:g}, λ2={lambda2:g}{rotation})"
        self.name = name
        self.formula = "½ pᵀ A p" if angle else f"½({lambda1:g}·x² + {lambda2:g}·y²)"

    @property
    def condition_number(self) -> float:
        return max(self.lambda1, self.lambda2) / min(self.lambda1, self.lambda2)

    def __call__(self, x, y):
        x, y = np.asarray(x), np.asarray(y)
        return 0.5 * (self.a * x * x + 2 * self.b * x * y + self.c * y * y)

    def gradient(self, x, y):
        x, y = np.asarray(x), np.asarray(y)
        return self.a * x + self.b * y, self.b * x + self.c * y

    def hessian_entries(self, x, y):
        return np.asarray(self.a), np.asarray(self.b), np.asarray(self.c)


class Saito(Quadratic):
    """Saito's f(x, y) = x²/20 + y², the book's figure 6-2: a bowl stretched along x."""

    def __init__(self):
        super().__init__(0.1, 2.0, name="saito", xlim=(-10.0, 10.0), ylim=(-5.0, 5.0), start=(-7.0, 2.0))
        self.formula = "x²/20 + y²"


class Rosenbrock(Function2D):
    """f(x, y) = (a − x)² + b(y − x²)²: a long curved valley, minimum (a, a²) with value 0."""

    def __init__(self, a: float = 1.0, b: float = 100.0):
        self.a, self.b = float(a), float(b)
        self.name = "rosenbrock" if (a, b) == (1, 100) else f"rosenbrock(a={a:g}, b={b:g})"
        self.formula = f"({a:g} − x)² + {b:g}(y − x²)²"
        self.minimum = (self.a, self.a ** 2)
        scale = max(1.0, abs(self.a))  # the valley's extent grows with a; (a=1) gives the classic window
        self.xlim, self.ylim = (-2 * scale, 2 * scale), (-scale, self.a ** 2 + 2 * scale)
        self.start = (-1.5 * scale, 2 * scale)

    def __call__(self, x, y):
        x, y = np.asarray(x), np.asarray(y)
        return (self.a - x) ** 2 + self.b * (y - x * x) ** 2

    def gradient(self, x, y):
        x, y = np.asarray(x), np.asarray(y)
        valley = y - x * x
        return -2 * (self.a - x) - 4 * self.b * x * valley, 2 * self.b * valley

    def hessian_entries(self, x, y):
        x, y = np.asarray(x), np.asarray(y)
        return 2 - 4 * self.b * (y - 3 * x * x), -4 * self.b * x, np.asarray(2 * self.b)


class Beale(Function2D):
    """f(x, y) = Σᵢ (cᵢ − x + x yⁱ)², c = (1.5, 2.25, 2.625), i = 1, 2, 3: minimum (3, 0.5), value 0."""

    name = "beale"
    formula = "(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²"
    minimum = (3.0, 0.5)
    xlim, ylim, start = (-4.5, 4.5), (-4.5, 4.5), (1.0, 1.5)
    _c = (1.5, 2.25, 2.625)

    def _terms(self, x, y):
        # (uᵢ, ∂uᵢ/∂x, ∂uᵢ/∂y, ∂²uᵢ/∂x∂y, ∂²uᵢ/∂y²) for uᵢ = cᵢ − x + x yⁱ
        for i, c in enumerate(self._c, start=1):
            yield (c - x + x * y ** i, y ** i - 1, i * x * y ** (i - 1), i * y ** (i - 1),
                   i * (i - 1) * x * y ** (i - 2) if i > 1 else 0 * x)

    def __call__(self, x, y):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        return sum(u * u for u, *_ in self._terms(x, y))

    def gradient(self, x, y):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        terms = list(self._terms(x, y))
        return sum(2 * u * ux for u, ux, *_ in terms), sum(2 * u * uy for u, _, uy, *_ in terms)

    def hessian_entries(self, x, y):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        terms = list(self._terms(x, y))
        fxx = sum(2 * ux * ux for _, ux, *_ in terms)
        fxy = sum(2 * (ux * uy + u * uxy) for u, ux, uy, uxy, _ in terms)
        fyy = sum(2 * (uy * uy + u * uyy) for u, _, uy, _, uyy in terms)
        return fxx, fxy, fyy


class Saddle(Function2D):
    """f(x, y) = x² − y²: the gradient vanishes at the origin, which is a saddle, not a minimum
    (``minimum`` is None; ``stationary_point`` is (0, 0)). Started exactly on the x-axis, gradient
    descent converges to the saddle; the default start is slightly off it, so escaping is visible."""

    name = "saddle"
    formula = "x² − y²"
    minimum = None
    stationary_point = (0.0, 0.0)
    xlim, ylim, start = (-1.5, 1.5), (-1.5, 1.5), (-1.0, 1e-3)

    def __call__(self, x, y):
        x, y = np.asarray(x), np.asarray(y)
        return x * x - y * y

    def gradient(self, x, y):
        return 2 * np.asarray(x), -2 * np.asarray(y)

    def hessian_entries(self, x, y):
        return np.asarray(2.0), np.asarray(0.0), np.asarray(-2.0)


saito = Saito()
rosenbrock = Rosenbrock()
beale = Beale()
saddle = Saddle()


def quadratic(lambda1: float = 1.0, lambda2: float = 10.0, **options) -> Quadratic:
    """Axis-aligned ½(λ₁x² + λ₂y²); condition number max(λ)/min(λ). ``options``: name, xlim, ylim, start."""
    return Quadratic(lambda1, lambda2, 0.0, **options)


def rotated_quadratic(lambda1: float = 1.0, lambda2: float = 10.0, angle: float = math.pi / 4,
                      **options) -> Quadratic:
    """The quadratic with its λ₁ axis turned by ``angle`` radians (counter-clockwise from x)."""
    return Quadratic(lambda1, lambda2, angle, **options)


def run_optimizer(optimizer, function: Function2D, start=None, steps: int = 30, *, schedule=None) -> np.ndarray:
    """Drive ``optimizer`` (anything with ``update(params, grads)``) from ``start`` for ``steps`` steps on
    ``function``; returns the path, an array of shape (steps + 1, 2) starting with ``start``.

    The point is held as ``params = {"xy": array([x, y])}`` and updated in place, exactly as a network's
    weights are. ``schedule(step) -> lr`` (optional) sets ``optimizer.lr`` before each step. Use a
    fresh optimizer per run: optimizers keep state (velocity, moments) per key. A step whose gradient
    is not finite raises ``ValueError`` saying at which step the path diverged.
    """
    if steps < 0:
        raise ValueError(f"steps must be ≥ 0, got {steps}.")
    point = np.array(function.start if start is None else start, dtype=np.float64)
    if point.shape != (2,):
        raise ValueError(f"start must be a point (x, y), got shape {point.shape}.")
    params = {"xy": point}
    path = np.empty((steps + 1, 2))
    path[0] = point
    for step in range(steps):
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below, once
            gradient = function.gradient_at(params["xy"])
        if not np.all(np.isfinite(gradient)):
            raise ValueError(f"{function.name}: the path diverged before step {step} (at {params['xy']}); "
                             f"lower the learning rate.")
        if schedule is not None:
            optimizer.lr = schedule(step)
        optimizer.update(params, {"xy": gradient})
        path[step + 1] = params["xy"]
    return path
