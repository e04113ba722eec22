"""Gradient descent and momentum on a quadratic: the theory, and an interactive lab.

On f(x) = ½ Σᵢ λᵢ xᵢ² every eigendirection evolves on its own, so the whole behaviour of an
optimizer is a scalar recursion per eigenvalue λ:

- gradient descent, x ← x − α∇f:           xₖ₊₁ = (1 − αλ) xₖ,
  stable iff 0 < αλ < 2; best constant step α* = 2/(λ₁+λₙ), rate (κ−1)/(κ+1), κ = λₙ/λ₁;
- momentum (heavy ball, the course's form v ← βv − α∇f, x ← x + v):
  xₖ₊₁ = (1 + β − αλ) xₖ − β xₖ₋₁, whose characteristic roots z solve z² − (1+β−αλ) z + β = 0;
  stable iff 0 ≤ β < 1 and 0 < αλ < 2 + 2β; best α* = (2/(√λ₁+√λₙ))², β* = ((√λₙ−√λ₁)/(√λₙ+√λ₁))²,
  rate (√κ−1)/(√κ+1).

The "rate" is the spectral radius ρ: the error shrinks like ρᵏ (times a polynomial in k when roots
coincide, as they do at the momentum optimum). :func:`lab` puts sliders on α, β and κ; everything it
draws is computed by the pure functions above it, which the tests check against simulation.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "gd_rate", "momentum_rate", "worst_rate", "is_stable", "optimal_gd", "optimal_momentum",
    "simulate", "measured_rate", "eigenvalues_for", "rate_map",
]


def gd_rate(alpha, lam):
    """Per-step contraction |1 − αλ| of gradient descent along an eigendirection with eigenvalue λ."""
    return np.abs(1.0 - np.asarray(alpha, dtype=float) * np.asarray(lam, dtype=float))


def momentum_rate(alpha, beta, lam):
    """Spectral radius of the heavy-ball recursion along eigenvalue λ (broadcasts over all arguments).

    The roots of z² − b z + β = 0 with b = 1 + β − αλ are complex when b² < 4β; then both have modulus √β.
    Otherwise the larger modulus is (|b| + √(b² − 4β))/2. β = 0 gives back |1 − αλ|.
    """
    alpha, beta, lam = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (alpha, beta, lam)))
    b = 1.0 + beta - alpha * lam
    discriminant = b * b - 4.0 * beta
    real_roots = (np.abs(b) + np.sqrt(np.maximum(discriminant, 0.0))) / 2.0
    return np.where(discriminant >= 0.0, real_roots, np.sqrt(np.abs(beta)))


def worst_rate(alpha, beta, lam_min, lam_max):
    """The rate over every eigenvalue in [λ₁, λₙ]: the worse of the two ends.

    ρ(λ) is √β in the complex-root band and grows monotonically on either side of it, so its maximum over
    an interval sits at an end point (the tests check this against a dense grid of λ).
    """
    return np.maximum(momentum_rate(alpha, beta, lam_min), momentum_rate(alpha, beta, lam_max))


def is_stable(alpha, beta, lam):
    """The analytic stability condition 0 ≤ β < 1 and 0 < αλ < 2 + 2β."""
    alpha, beta, lam = (np.asarray(v, dtype=float) for v in (alpha, beta, lam))
    return (beta >= 0) & (beta < 1) & (alpha * lam > 0) & (alpha * lam < 2 + 2 * beta)


def optimal_gd(lam_min: float, lam_max: float) -> tuple[float, float]:
    """(α*, rate) of gradient descent: α* = 2/(λ₁+λₙ), rate = (κ−1)/(κ+1)."""
    _check_eigenvalues(lam_min, lam_max)
    kappa = lam_max / lam_min
    return 2.0 / (lam_min + lam_max), (kappa - 1.0) / (kappa + 1.0)


def optimal_momentum(lam_min: float, lam_max: float) -> tuple[float, float, float]:
    """(α*, β*, rate) of heavy-ball momentum (Polyak): α* = (2/(√λ₁+√λₙ))², β* = ((√λₙ−√λ₁)/(√λₙ+√λ₁))²,
    rate = (√κ−1)/(√κ+1) = √β*."""
    _check_eigenvalues(lam_min, lam_max)
    root_min, root_max = math.sqrt(lam_min), math.sqrt(lam_max)
    alpha = (2.0 / (root_min + root_max)) ** 2
    rate = (root_max - root_min) / (root_max + root_min)
    return alpha, rate**2, rate


def _check_eigenvalues(lam_min: float, lam_max: float) -> None:
    if not (0 < lam_min <= lam_max):
        raise ValueError(f"need 0 < lam_min <= lam_max, got lam_min={lam_min}, lam_max={lam_max}")


def eigenvalues_for(kappa: float, count: int = 3) -> np.ndarray:
    """``count`` eigenvalues spaced geometrically from 1/κ to 1 (λₙ = 1, so α is measured in units of 1/λₙ)."""
    if kappa < 1:
        raise ValueError(f"the condition number κ is at least 1, got {kappa}")
    return np.geomspace(1.0 / kappa, 1.0, count)


def simulate(eigenvalues, alpha: float, beta: float = 0.0, steps: int = 100, x0=None) -> np.ndarray:
    """|xᵢ| after each step of momentum (β = 0: gradient descent) on ½ Σ λᵢ xᵢ², starting at x0 (default
    all ones) with zero velocity. Returns shape (steps + 1, len(eigenvalues)); row 0 is the start.

    The update is exactly ``lib.optimizers.Momentum`` (v ← βv − α∇f, x ← x + v); a test checks that.
    """
    lam = np.asarray(eigenvalues, dtype=float)
    x = np.ones_like(lam) if x0 is None else np.array(x0, dtype=float)
    velocity = np.zeros_like(x)
    errors = np.empty((steps + 1, lam.size))
    errors[0] = np.abs(x)
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, steps + 1):
            velocity = beta * velocity - alpha * lam * x
            x = x + velocity
            errors[step] = np.abs(x)
    return errors


def measured_rate(errors: np.ndarray, tail: float = 0.5) -> float:
    """The per-step rate read off a simulation: (‖e_K‖/‖e_J‖)^(1/(K−J)) over the last ``tail`` fraction of
    the steps (the norm over eigendirections, so oscillating components do not fake a zero)."""
    norms = np.linalg.norm(np.atleast_2d(errors), axis=1)
    # Stop before the error underflows to zero (a fast rate over many steps reaches 1e-300).
    representable = np.nonzero(norms > 1e-250)[0]
    last = int(representable[-1]) if representable.size else 0
    first = int(round(last * (1 - tail)))
    if last - first < 1:
        raise ValueError("need at least two steps to measure a rate")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return float((norms[last] / norms[first]) ** (1.0 / (last - first)))


def rate_map(lam_min: float, lam_max: float, alphas, betas) -> np.ndarray:
    """Worst-case rate over the grid (β rows, α columns); values ≥ 1 are unstable."""
    alpha_grid, beta_grid = np.meshgrid(np.asarray(alphas, dtype=float), np.asarray(betas, dtype=float))
    return worst_rate(alpha_grid, beta_grid, lam_min, lam_max)
