"""Gradient checking: a centered numerical gradient and the relative error used to compare it
with backpropagation.

A backward pass is trusted only after it agrees with the numerical gradient. In float64 with
``h = 1e-5`` the centered difference has truncation error O(h²) ≈ 1e-10 and rounding error
O(ε/h) ≈ 1e-11, so a correct backward pass typically agrees to a relative error below 1e-7;
a wrong one is usually off by more than 1e-3.
"""

from __future__ import annotations

import inspect

import numpy as np

__all__ = ["numerical_gradient", "relative_error", "default_step"]


def default_step(dtype) -> float:
    """Finite-difference step for a dtype: 1e-5 for float64, 1e-2 for float32 (and smaller floats).

    float32 has ε ≈ 1.2e-7, so a step of 1e-5 would leave a rounding error of order ε/h ≈ 1e-2;
    a float32 check is only a rough sanity check — do real checks in float64.
    """
    return 1e-5 if np.finfo(dtype).eps < 1e-10 else 1e-2


def numerical_gradient(f, x: np.ndarray, h: float | None = None) -> np.ndarray:
    """Centered-difference gradient of the scalar function ``f()`` with respect to the array ``x``.

    ``∂f/∂x_i ≈ (f(x + h·e_i) − f(x − h·e_i)) / (2h)``, one coordinate at a time.

    ``x`` is perturbed **in place** (so ``f`` may read it through a layer or network that holds the
    same array) and every element is restored exactly before returning, even if ``f`` raises.
    ``f`` may take no argument or one argument (``x`` itself), as in Saito's book.
    Returns an array of ``x``'s shape and dtype. ``h`` defaults to :func:`default_step`.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"numerical_gradient: x must be a floating-point numpy array, got "
                         f"{type(x).__name__} of dtype {getattr(x, 'dtype', None)}")
    if h is None:
        h = default_step(x.dtype)
    call = _as_call(f, x)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        try:
            x[index] = original + h
            f_plus = float(call())
            x[index] = original - h
            f_minus = float(call())
        finally:
            x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def _as_call(f, x):
    """Accept ``f()`` or ``f(x)`` (the book's ``lambda W: net.loss(x, t)`` style)."""
    try:
        params = inspect.signature(f).parameters.values()
        required = [p for p in params
                    if p.default is inspect.Parameter.empty
                    and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if not required:
            return f
    except (TypeError, ValueError):  # builtins without a signature: assume f(x)
        pass
    return lambda: f(x)


def relative_error(a, b) -> float:
    """Largest elementwise relative error between two arrays (e.g. analytic vs numerical gradient).

    Exactly: ``max_i |a_i − b_i| / max(1e-8, |a_i| + |b_i|)``.

    The denominator is per element, so a small gradient entry is judged on its own scale, and the
    1e-8 floor keeps entries where both gradients are ~0 from dividing by zero (for those the error
    is the absolute difference divided by 1e-8, so two values ~1e-12 apart still pass).
    Returns 0.0 for empty arrays. Shapes must match.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
