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
    "simulate", "measured_rate", "eigenvalues_for", "rate_map", "lab_figure", "lab",
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


# ---------------------------------------------------------------------------------------------- the lab

ALPHA_MAX = 4.0  # in units of 1/λₙ: momentum is stable up to (2 + 2β)/λₙ < 4/λₙ


def lab_figure(alpha: float, beta: float, kappa: float, *, steps: int = 150, fig=None):
    """The lab's picture for one setting: error per eigendirection (left) and the rate map over (α, β)
    with the stability boundary αλₙ = 2 + 2β, the current setting and the two optima (right).
    Eigenvalues are 1/κ, 1/√κ and 1 (so α is in units of 1/λₙ)."""
    import matplotlib.pyplot as plt

    if fig is None:
        fig = plt.figure(figsize=(11, 4), dpi=80)
    fig.clf()
    ax_err, ax_map = fig.subplots(1, 2)
    lam = eigenvalues_for(kappa, 3)
    errors = simulate(lam, alpha, beta, steps)
    for index, value in enumerate(lam):
        curve = np.where(np.isfinite(errors[:, index]), errors[:, index], np.nan)
        ax_err.semilogy(curve, label=f"λ = {value:.3g}  (rate {momentum_rate(alpha, beta, value):.3f})",
                        color=f"C{index}")
    ax_err.set_ylim(1e-8, 1e3)
    ax_err.set_xlabel("step")
    ax_err.set_ylabel("|error| along the eigendirection")
    rate = float(worst_rate(alpha, beta, lam[0], lam[-1]))
    ax_err.set_title(f"α = {alpha:.3f}, β = {beta:.3f}, κ = {kappa:.0f}: worst rate {rate:.4f}")
    ax_err.legend(fontsize="small", loc="lower left")
    ax_err.grid(alpha=0.3)

    alphas = np.linspace(0.005, ALPHA_MAX, 160)
    betas = np.linspace(0.0, 0.995, 120)
    rates = rate_map(lam[0], lam[-1], alphas, betas)
    # Steps per tenfold error reduction: a readable scale where the rate itself is squeezed near 1.
    with np.errstate(divide="ignore"):
        steps_per_digit = np.where(rates < 1, np.log(0.1) / np.log(np.minimum(rates, 1 - 1e-12)), np.nan)
    image = ax_map.imshow(np.log10(steps_per_digit), origin="lower", aspect="auto", cmap="viridis_r",
                          extent=(alphas[0], alphas[-1], betas[0], betas[-1]), interpolation="nearest")
    fig.colorbar(image, ax=ax_map, label="log₁₀ steps per 10× error reduction")
    ax_map.plot((2 + 2 * betas) / lam[-1], betas, "k--", linewidth=1.2, label="stability edge αλₙ = 2 + 2β")
    alpha_gd, _ = optimal_gd(lam[0], lam[-1])
    alpha_hb, beta_hb, _ = optimal_momentum(lam[0], lam[-1])
    ax_map.plot(alpha_gd, 0, "s", color="white", markeredgecolor="black", label="best GD")
    ax_map.plot(alpha_hb, beta_hb, "*", color="white", markeredgecolor="black", markersize=12, label="best momentum")
    ax_map.plot(alpha, beta, "o", color="red", markeredgecolor="black", label="current")
    ax_map.set_xlim(0, ALPHA_MAX)
    ax_map.set_ylim(0, 1)
    ax_map.set_xlabel("α  (× 1/λₙ)")
    ax_map.set_ylabel("β")
    ax_map.set_title("rate map over (α, β); grey: unstable")
    ax_map.set_facecolor("0.85")
    ax_map.legend(fontsize="x-small", loc="upper left")
    # Fixed margins: tight_layout measures every text and costs a second per redraw.
    fig.subplots_adjust(left=0.07, right=0.97, bottom=0.13, top=0.91, wspace=0.25)
    return fig


def lab(kappa: float = 100.0, alpha: float = 1.0, beta: float = 0.0, steps: int = 150):
    """Sliders for α, β and κ, buttons that set the optimal GD or momentum values, and the
    :func:`lab_figure` redrawn inside an ``ipywidgets.Output`` on every change. Returns the widget."""
    import ipywidgets as widgets

    from lib.plots import show_in_output

    alpha_slider = widgets.FloatSlider(value=alpha, min=0.01, max=ALPHA_MAX, step=0.01, description="α",
                                       continuous_update=False, readout_format=".3f")
    beta_slider = widgets.FloatSlider(value=beta, min=0.0, max=0.99, step=0.005, description="β",
                                      continuous_update=False, readout_format=".3f")
    kappa_slider = widgets.FloatLogSlider(value=kappa, base=10, min=0, max=4, step=0.05, description="κ",
                                          continuous_update=False, readout_format=".0f")
    button_layout = widgets.Layout(width="200px")
    best_gd = widgets.Button(description="set optimal GD", layout=button_layout)
    best_momentum = widgets.Button(description="set optimal momentum", layout=button_layout)
    output = widgets.Output()

    suspended = []  # non-empty while a button moves both sliders, so the figure is drawn once, consistent

    def redraw(_change=None):
        if suspended:
            return
        fig = lab_figure(alpha_slider.value, beta_slider.value, kappa_slider.value, steps=steps)
        show_in_output(output, fig, "quadratic lab figure")

    def set_values(new_alpha: float, new_beta: float) -> None:
        suspended.append(True)
        try:
            alpha_slider.value, beta_slider.value = new_alpha, new_beta
        finally:
            suspended.clear()
        redraw()

    def on_best_gd(_button):
        lam = eigenvalues_for(kappa_slider.value, 3)
        set_values(optimal_gd(lam[0], lam[-1])[0], 0.0)

    def on_best_momentum(_button):
        lam = eigenvalues_for(kappa_slider.value, 3)
        new_alpha, new_beta, _ = optimal_momentum(lam[0], lam[-1])
        set_values(new_alpha, new_beta)

    for slider in (alpha_slider, beta_slider, kappa_slider):
        slider.observe(redraw, "value")
    best_gd.on_click(on_best_gd)
    best_momentum.on_click(on_best_momentum)
    redraw()
    controls = widgets.HBox([widgets.VBox([alpha_slider, beta_slider, kappa_slider]),
                             widgets.VBox([best_gd, best_momentum])])
    return widgets.VBox([controls, output])
