"""lib.quadratic: the formulas of the quadratic lab against simulation, and the lab's pure parts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib import functions, optimizers
from lib import quadratic as q


@pytest.mark.parametrize("kappa", [4.0, 50.0, 1000.0])
def test_gd_optimal_rate_matches_simulation(kappa):
    lam = q.eigenvalues_for(kappa, 5)
    alpha, rate = q.optimal_gd(lam[0], lam[-1])
    assert rate == pytest.approx((kappa - 1) / (kappa + 1))
    steps = int(max(300, 5 * kappa))  # long enough for the slow direction to dominate the norm
    assert q.measured_rate(q.simulate(lam, alpha, 0.0, steps)) == pytest.approx(rate, rel=1e-6)
    # Any other step is slower on this spectrum.
    for other in (0.9 * alpha, 1.1 * alpha):
        assert q.worst_rate(other, 0.0, lam[0], lam[-1]) > rate


@pytest.mark.parametrize("kappa", [4.0, 50.0, 1000.0])
def test_momentum_optimal_rate_matches_simulation(kappa):
    lam = q.eigenvalues_for(kappa, 5)
    alpha, beta, rate = q.optimal_momentum(lam[0], lam[-1])
    assert rate == pytest.approx((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1))
    assert beta == pytest.approx(rate**2)
    # A double root: rounding in the discriminant moves ρ by about √ε.
    assert q.worst_rate(alpha, beta, lam[0], lam[-1]) == pytest.approx(rate, rel=1e-6)
    # Repeated roots at the optimum make the error decay like k·ρᵏ: the measured rate approaches ρ from
    # above, within 1% after a few hundred steps.
    measured = q.measured_rate(q.simulate(lam, alpha, beta, 600))
    assert rate <= measured <= rate * 1.01
    # The optimum is a local minimum of the worst rate over (α, β).
    for da, db in [(1.01, 1), (0.99, 1), (1, 1.01), (1, 0.99)]:
        assert q.worst_rate(alpha * da, beta * db, lam[0], lam[-1]) >= rate - 1e-12


def test_spectral_radius_matches_simulated_rate_on_random_settings():
    rng = np.random.default_rng(0)
    for _ in range(30):
        lam, alpha, beta = rng.uniform(0.05, 1.0), rng.uniform(0.05, 3.5), rng.uniform(0.0, 0.95)
        predicted = float(q.momentum_rate(alpha, beta, lam))
        if abs(predicted - 1) < 0.02 or predicted < 0.3:
            continue  # too slow to tell or too fast to measure before underflow
        measured = q.measured_rate(q.simulate([lam], alpha, beta, 400))
        assert measured == pytest.approx(predicted, rel=0.02)


def test_stability_boundary_is_alpha_lambda_two_plus_two_beta():
    for beta in (0.0, 0.3, 0.8):
        edge = 2 + 2 * beta
        assert q.momentum_rate(edge * 0.999, beta, 1.0) < 1 and q.is_stable(edge * 0.999, beta, 1.0)
        assert q.momentum_rate(edge * 1.001, beta, 1.0) > 1 and not q.is_stable(edge * 1.001, beta, 1.0)
        assert q.simulate([1.0], edge * 1.01, beta, 400)[-1, 0] > 1  # it really diverges
    assert q.momentum_rate(1e-6, 0.5, 1.0) < 1  # tiny steps converge (slowly)


def test_worst_rate_sits_at_the_extreme_eigenvalues():
    rng = np.random.default_rng(1)
    for _ in range(40):
        alpha, beta = rng.uniform(0.01, 4.0), rng.uniform(0.0, 0.99)
        lam = np.geomspace(0.01, 1.0, 400)
        assert q.worst_rate(alpha, beta, 0.01, 1.0) == pytest.approx(np.max(q.momentum_rate(alpha, beta, lam)))


def test_gd_rate_is_momentum_rate_without_momentum():
    alpha, lam = np.linspace(0.01, 2.5, 50), 0.8
    np.testing.assert_allclose(q.momentum_rate(alpha, 0.0, lam), q.gd_rate(alpha, lam))


def test_simulate_is_lib_momentum_on_the_quadratic():
    lam1, lam2 = 0.05, 1.0
    bowl = functions.quadratic(lam1, lam2)
    path = functions.run_optimizer(optimizers.Momentum(lr=1.3, momentum=0.6), bowl, (1.0, 1.0), 40)
    np.testing.assert_allclose(np.abs(path), q.simulate([lam1, lam2], 1.3, 0.6, 40), rtol=1e-12, atol=1e-15)


def test_rate_map_marks_instability():
    rates = q.rate_map(0.01, 1.0, alphas=[1.0, 3.0, 4.5], betas=[0.0, 0.9])
    assert rates.shape == (2, 3)
    assert rates[0, 0] < 1 and rates[0, 1] > 1  # β = 0: stable below α = 2
    assert rates[1, 1] < 1 and rates[1, 2] > 1  # β = 0.9: stable below α = 3.8


def test_bad_eigenvalues_are_rejected():
    with pytest.raises(ValueError):
        q.optimal_gd(0.0, 1.0)
    with pytest.raises(ValueError):
        q.optimal_momentum(2.0, 1.0)
    with pytest.raises(ValueError):
        q.eigenvalues_for(0.5)


def test_chapter_1_lab_builds_and_reacts():
    import matplotlib

    matplotlib.use("Agg")
    from lib.chapters.ch01_optimizers import figures

    widget = figures.interactive_figure(kappa=100.0)
    (sliders, buttons), output = widget.children[0].children, widget.children[1]
    alpha, beta, kappa = sliders.children
    best_gd, best_momentum = buttons.children
    first = output.outputs[0]["data"]["image/png"]
    best_momentum.click()
    expected = q.optimal_momentum(0.01, 1.0)
    assert alpha.value == pytest.approx(expected[0], abs=0.01) and beta.value == pytest.approx(expected[1], abs=0.005)
    after_button = output.outputs[0]["data"]["image/png"]
    assert after_button != first and len(output.outputs) == 1  # replaced, not appended
    best_gd.click()
    assert beta.value == 0.0 and alpha.value == pytest.approx(2 / 1.01, abs=0.01)
    kappa.value = 10.0
    assert output.outputs[0]["data"]["image/png"] not in (first, after_button)


def test_chapter_1_lab_figure_draws_two_panels():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lib.chapters.ch01_optimizers import figures

    fig = figures.lab_figure(1.0, 0.5, 100.0, steps=50)
    assert len([ax for ax in fig.axes if ax.get_label() != "<colorbar>"]) >= 2
    plt.close(fig)
