"""Every claim chapter 1 (optimizers) makes, asserted as the statistic the notebook prints: a rate over
the claim seeds (``CLAIM_SEEDS``, 0–9 by default), a mean, or an identity up to rounding. The notebook
calls the same ``experiments`` functions with ``seeds=claim_seeds()``. If a claim fails on some seeds,
the text changes, not the threshold."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from conftest import CLAIM_SEEDS
from lib import functions, quadratic
from lib.chapters.ch01_optimizers import experiments

N = len(CLAIM_SEEDS)


def test_experiments_do_not_import_matplotlib():
    import subprocess

    # A fresh interpreter: importing the experiments and running one network-free study loads no plotting.
    code = ("import sys; from lib.chapters.ch01_optimizers import experiments as e; e.path_study((0,)); "
            "e.newton_on_quadratic(); assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------- 1–2. paths on Saito's f

@pytest.fixture(scope="module")
def paths():
    return experiments.path_study(CLAIM_SEEDS)


def test_paths_on_saito(paths):
    assert paths.angle_above_60.count == N
    assert paths.sgd_crosses_every_step.count == N
    assert paths.sgd_path_twice_any_other.count == N
    # a rate of 0.95 (474 of 500 fresh seeds, 20000–20499): 9 of 10 failed about one block in ten; 7 of 10 about
    # one in 800
    assert paths.adagrad_closest_of_book_four.count >= 0.7 * N
    assert paths.momentum_farther_than_sgd.count >= 0.9 * N


@pytest.mark.parametrize("seed", CLAIM_SEEDS)
def test_two_momentum_forms_give_the_same_path(seed):
    assert experiments.momentum_forms_gap(eta=1.0, mu=0.9, seed=seed) < 1e-12
    assert experiments.momentum_forms_gap(eta=0.3, mu=0.5, seed=seed) < 1e-12


@pytest.mark.parametrize("seed", CLAIM_SEEDS)
def test_nesterov_lookahead_equals_implemented_form(seed):
    # Same path up to rounding: the implemented form is the look-ahead form with W = θ + μv.
    assert experiments.nesterov_forms_gap(eta=0.1, mu=0.9, seed=seed) < 1e-12
    assert experiments.nesterov_forms_gap(eta=0.05, mu=0.5, seed=seed) < 1e-12


@pytest.mark.parametrize("seed", CLAIM_SEEDS)
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
    eta, rate = quadratic.optimal_gd(lam[0], lam[-1])
    measured = quadratic.measured_rate(quadratic.simulate(lam, eta, 0.0, int(6 * kappa)))
    assert measured == pytest.approx(rate, rel=1e-4)
    eta_hb, mu_hb, rate_hb = quadratic.optimal_momentum(lam[0], lam[-1])
    measured_hb = quadratic.measured_rate(quadratic.simulate(lam, eta_hb, mu_hb, int(6 * kappa)))
    assert rate_hb <= measured_hb <= 1.01 * rate_hb
    # Steps per tenfold reduction: about κ/1.15 for GD, √κ/1.15 for momentum — √κ times fewer.
    gd_steps, hb_steps = math.log(0.1) / math.log(rate), math.log(0.1) / math.log(rate_hb)
    assert gd_steps / hb_steps == pytest.approx(math.sqrt(kappa), rel=0.05)
    # The knife edge: a step 0.1% too large costs several percent of rate.
    worse = float(quadratic.worst_rate(eta_hb * 1.001, mu_hb, lam[0], lam[-1]))
    assert worse > rate_hb * 1.02


# ----------------------------------------------------------------------- 5. saddle and Beale

@pytest.fixture(scope="module")
def saddle_beale():
    return experiments.saddle_beale_study(CLAIM_SEEDS)


def test_saddle_escape(saddle_beale):
    assert saddle_beale.adaptive_escape_within_10.count == N
    assert saddle_beale.sgd_stays.count == N
    assert saddle_beale.momentum_slow_or_stays.count == N


def test_beale_overshoot(saddle_beale):
    assert saddle_beale.plain_descent_monotone.count == N
    assert saddle_beale.momentum_overshoots.count >= 0.9 * N


def test_critical_points_are_mostly_saddles():
    study = experiments.critical_point_study(CLAIM_SEEDS)
    assert study.saddle_fraction_grows.count == N
    assert study.mean_saddles(1).mean == 0.0  # in one dimension there is no saddle
    assert study.mean_saddles(10).mean > 0.99
    assert study.mean_minima(5).mean < 0.01


# --------------------------------------------------------------------------------------- 6. rotation

def test_rotation_hurts_per_coordinate_methods_only():
    study = experiments.rotation_study(CLAIM_SEEDS)
    assert study.invariant_methods_gap < 1e-9  # SGD and Momentum do not see the rotation
    # each seed is the median over ROTATION_DIRECTIONS starts: every one of 300 fresh seeds (300000–300299) ended
    # higher for each method, the closest call Adam's log ratio 3.2 sd above 0; one seed in ten may still miss
    for name in experiments.ADAPTIVE:
        assert study.worse_when_rotated(name).count >= 0.9 * N
    # "several times higher": the median ratio was 27, 48 and 13 (AdaGrad, RMSprop, Adam) over those seeds
    assert min(study.adaptive_median_ratio.values()) > 2


# ------------------------------------------------------------------- 7. noise and sparse features

def test_noise_ball():
    study = experiments.noise_ball_study(CLAIM_SEEDS)
    # The gradient's variance falls like 1/B: variance × B is the same for every batch size (±30%).
    products = [value.mean for value in study.variance_times_batch.values()]
    assert max(products) < 1.3 * min(products)
    assert study.plateau_falls_with_batch.count == N
    assert study.decay_shrinks_ball.count >= 0.9 * N


def test_adagrad_on_sparse_features():
    study = experiments.sparse_study(CLAIM_SEEDS)
    # 200 of 200 fresh seeds (90000–90199), 9 of 10 on 80000–80009: "in every seed or nearly"
    assert study.adagrad_lower_loss.count >= 0.9 * N
    assert study.adagrad_closer_on_rare.count >= 0.9 * N
    assert study.loss_ratio.mean < 0.6


# ---------------------------------------------------------------------- 8–9. the real network

@pytest.mark.slow
def test_network_ranking():
    study = experiments.network_study(CLAIM_SEEDS)
    assert study.sgd_highest_loss.count == N
    assert study.sgd_loss_ratio.mean > 2
    assert study.sgd_accuracy_gap.mean > 0.1
    assert study.adaptive_below_momentum.count >= 0.8 * N


@pytest.mark.slow
def test_decay_schedules():
    study = experiments.decay_study(CLAIM_SEEDS)
    assert study.final_lrs["exponential 0.8 per ITERATION"] < 1e-4 * experiments.SCHEDULE_LR
    assert study.trap_stalls.count == N
    assert study.trap_loss_ratio.mean > 2
    # Taught as "in most seeds": an early decay usually, not always, ends higher.
    assert study.early_decay_raises_loss.count >= 0.7 * N
    assert study.decay_loss_ratio.mean > 1.2


# ------------------------------------------------------------------------------ 10. second order

@pytest.mark.parametrize("seed", CLAIM_SEEDS)
def test_newton(seed):
    result = experiments.newton_on_quadratic(seed)
    assert result.after_one_newton_step < 1e-12
    assert result.gd_after_30 > 0.1


def test_newton_on_log_bowl():
    bowl = experiments.newton_log_bowl()
    assert abs(bowl[0.5][-1]) < 1e-12
    assert abs(bowl[1.5][-1]) > 100
    growth = np.abs(bowl[1.5][2:]) / np.abs(bowl[1.5][1:-1])
    assert np.all((growth > 1.9) & (growth < 2.2))  # |x| roughly doubles with each step


def test_lbfgs_vs_adam():
    study = experiments.lbfgs_study(CLAIM_SEEDS)
    # "in nearly every seed": 299 of 300 fresh seeds (300000–300299; the miss at a ratio of 9.99)
    assert study.full_batch_lbfgs_ten_times_closer.count >= 0.9 * N
    assert study.minibatch_lbfgs_behind_adam.count >= 0.8 * N
