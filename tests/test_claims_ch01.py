"""Every claim chapter 1 (optimizers) states, asserted over three seeds with the functions the notebook
calls. Seed 0 is the notebook's setting; other seeds jitter the start point, the data split and the
initial weights. If a claim fails at some seed, the text changes, not the threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib import functions
from lib.chapters.ch01_optimizers import experiments
from lib import quadratic
from lib.data import load_dataset

SEEDS = [0, 1, 2]


# ----------------------------------------------------------------------- 1–2. paths on Saito's f

@pytest.mark.parametrize("seed", SEEDS)
def test_paths_on_saito(seed):
    start = experiments.start_point(functions.saito.start, seed)
    # The steepest-descent direction misses the minimum by more than 60° at the start.
    assert experiments.gradient_angle(functions.saito, start) > 60
    stats = {name: experiments.path_stats(path) for name, path in experiments.paths_on(functions.saito, seed=seed).items()}
    sgd = stats["SGD"]
    # ηλ_y = 0.95·2 = 1.9: y is multiplied by 1 − 1.9 = −0.9 each step, so SGD crosses the valley every step.
    assert sgd.y_sign_changes == 30
    others = [s.path_length for name, s in stats.items() if name != "SGD"]
    assert sgd.path_length > 2 * max(others)
    assert sgd.path_length > 3 * sgd.straight_distance
    book = {name: stats[name].final_distance for name in experiments.BOOK_PATH_OPTIMIZERS}
    assert min(book, key=book.get) == "AdaGrad"
    assert book["AdaGrad"] < 0.7 * min(v for k, v in book.items() if k != "AdaGrad")
    # Momentum has not settled: it ends farther from the minimum than SGD.
    assert stats["Momentum"].final_distance > 1.5 * sgd.final_distance


@pytest.mark.parametrize("seed", SEEDS)
def test_two_momentum_forms_give_the_same_path(seed):
    assert experiments.momentum_forms_gap(alpha=1.0, beta=0.9, seed=seed) < 1e-12
    assert experiments.momentum_forms_gap(alpha=0.3, beta=0.5, seed=seed) < 1e-12


@pytest.mark.parametrize("seed", SEEDS)
def test_bias_correction(seed):
    trace = experiments.bias_correction_trace(10, seed=seed)
    g = trace["g"]
    assert trace["m"][0] == pytest.approx(0.1 * g[0], rel=1e-12)  # raw m is 10× too small at step 1
    assert trace["v"][0] == pytest.approx(0.001 * g[0] ** 2, rel=1e-12)  # raw v is 1000× too small
    assert trace["m_hat"][0] == pytest.approx(g[0], rel=1e-12)
    assert trace["v_hat"][0] == pytest.approx(g[0] ** 2, rel=1e-12)
    # After 10 steps m still holds only 1 − 0.9¹⁰ ≈ 65% of the gradient's scale; m̂ sits at it.
    assert 0.55 < trace["m"][-1] / np.mean(g) < 0.75
    assert abs(trace["m_hat"][-1] / np.mean(g) - 1) < 0.1


# ------------------------------------------------------------------------------- 4. quadratic lab

@pytest.mark.parametrize("kappa", [100.0, 30.0, 400.0])
def test_quadratic_lab_numbers(kappa):
    lam = quadratic.eigenvalues_for(kappa, 3)
    alpha, rate = quadratic.optimal_gd(lam[0], lam[-1])
    measured = quadratic.measured_rate(quadratic.simulate(lam, alpha, 0.0, int(6 * kappa)))
    assert measured == pytest.approx(rate, rel=1e-4)
    alpha_hb, beta_hb, rate_hb = quadratic.optimal_momentum(lam[0], lam[-1])
    measured_hb = quadratic.measured_rate(quadratic.simulate(lam, alpha_hb, beta_hb, int(6 * kappa)))
    assert rate_hb <= measured_hb <= 1.01 * rate_hb
    # Steps per tenfold reduction: about κ/1.15 for GD, √κ/1.15 for momentum — √κ times fewer.
    gd_steps, hb_steps = math.log(0.1) / math.log(rate), math.log(0.1) / math.log(rate_hb)
    assert gd_steps / hb_steps == pytest.approx(math.sqrt(kappa), rel=0.05)
    # The knife edge: a step 0.1% too large costs several percent of rate.
    worse = float(quadratic.worst_rate(alpha_hb * 1.001, beta_hb, lam[0], lam[-1]))
    assert worse > rate_hb * 1.02


# ----------------------------------------------------------------------- 5. saddle and Beale

@pytest.mark.parametrize("seed", SEEDS)
def test_saddle_escape(seed):
    paths = experiments.paths_on(functions.saddle, experiments.SADDLE_OPTIMIZERS, start=experiments.saddle_start(seed), steps=40)
    steps = experiments.saddle_escape_steps(paths)
    for name in ("AdaGrad", "RMSprop", "Adam"):
        assert steps[name] is not None and steps[name] <= 10
    assert steps["SGD"] is None
    for name in ("Momentum", "Nesterov"):
        assert steps[name] is None or steps[name] >= 25


@pytest.mark.parametrize("seed", SEEDS)
def test_beale_overshoot(seed):
    paths = experiments.paths_on(functions.beale, experiments.BEALE_OPTIMIZERS, steps=200, seed=seed, jitter=0.15)
    rises = {name: experiments.f_increases(functions.beale, path) for name, path in paths.items()}
    for name in ("SGD", "AdaGrad", "RMSprop"):
        assert rises[name] == 0
    assert rises["Momentum"] >= 3


# --------------------------------------------------------------------------------------- 6. rotation

@pytest.mark.parametrize("seed", SEEDS)
def test_rotation_hurts_per_coordinate_methods_only(seed):
    values = experiments.rotation_effect(seed=seed, directions=experiments.ROTATION_DIRECTIONS)["values"]
    for name in ("SGD", "Momentum"):
        aligned, rotated = values[name]
        assert rotated == pytest.approx(aligned, rel=1e-9, abs=1e-15)
    for name in ("AdaGrad", "RMSprop", "Adam"):
        aligned, rotated = values[name]
        assert rotated > 5 * aligned


# ---------------------------------------------------------------------- 7–8. the real network

@pytest.fixture(scope="module", params=SEEDS)
def digits_runs(request):
    seed = request.param
    data = load_dataset("digits", seed=seed)
    return experiments.network_comparison(data, seed=seed), experiments.schedule_study(data, seed=seed)


@pytest.mark.slow
def test_network_ranking(digits_runs):
    histories, _ = digits_runs
    losses = experiments.final_losses(histories)
    others = [value for name, value in losses.items() if name != "SGD"]
    assert losses["SGD"] > 5 * max(others)
    assert max(losses[name] for name in ("AdaGrad", "RMSprop", "Adam")) < min(losses["Momentum"], losses["Nesterov"])
    accuracy = {name: h.test_acc[-1] for name, h in histories.items()}
    assert accuracy["SGD"] < min(v for k, v in accuracy.items() if k != "SGD") - 0.1


@pytest.mark.slow
def test_schedules(digits_runs):
    _, histories = digits_runs
    losses = experiments.final_losses(histories)
    trap, per_epoch = histories["exponential 0.8 per ITERATION"], histories["exponential 0.8"]
    assert trap.lr[-1] < 1e-10
    assert losses["exponential 0.8 per ITERATION"] > 10 * losses["exponential 0.8"]
    assert trap.test_acc[-1] < per_epoch.test_acc[-1] - 0.1
    constant = histories["constant"].test_acc[-1]
    for name, history in histories.items():
        if name != "exponential 0.8 per ITERATION":
            assert abs(history.test_acc[-1] - constant) <= 0.03


# ------------------------------------------------------------------------------ 9. second order

@pytest.mark.parametrize("seed", SEEDS)
def test_newton(seed):
    result = experiments.newton_on_quadratic(seed)
    assert result["after_one_newton_step"] < 1e-12
    assert result["gd_after_30"] > 0.1
    bowl = experiments.newton_log_bowl()
    assert abs(bowl[0.5][-1]) < 1e-12
    assert abs(bowl[1.5][-1]) > 100
    growth = np.abs(bowl[1.5][2:]) / np.abs(bowl[1.5][1:-1])
    assert np.all((growth > 1.9) & (growth < 2.2))  # |x| roughly doubles with each step


@pytest.mark.parametrize("seed", SEEDS)
def test_lbfgs_vs_adam(seed):
    data = load_dataset("digits", seed=seed)
    runs, f_star = experiments.lbfgs_vs_adam(data, seed=seed)
    gap = {name: experiments.loss_at(run, 50) - f_star for name, run in runs.items()}
    assert gap["L-BFGS, full batch"] < gap["Adam, full batch"] / 10
    final = {name: run[1][-1] - f_star for name, run in runs.items()}
    assert final["L-BFGS, mini-batch"] > final["Adam, mini-batch"]
