"""Every number chapter 3 states, asserted over three seeds with the functions the notebook calls.

The notebook prints seed 0; its text states what holds for all of seeds 0, 1 and 2 (margins noted
beside each assertion: the value observed, then the bound)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lib.chapters.ch03_batchnorm import experiments
from lib.layers import BatchNormalization

SEEDS = [0, 1, 2]


@pytest.fixture(scope="module", params=SEEDS, ids=lambda seed: f"seed{seed}")
def runs(request):
    """Every experiment of the chapter at one seed, run once for all the assertions on it."""
    seed = request.param
    data = experiments.load_data("digits", seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow in the diverging plain runs
        network, _ = experiments.pitfall_network(data, seed=seed)
        return {
            "seed": seed,
            "data": data,
            "network": network,
            "sweep": experiments.weight_scale_sweep(data, seed=seed),
            "lr": experiments.learning_rate_comparison(data, lrs=(0.1, 1.0, 3.0), seed=seed),
            "batch": experiments.final_test_accuracy(
                experiments.batch_size_comparison(experiments.load_data("digits", n_train=None, seed=seed), seed=seed)),
        }


# --- §1 the spread of pre-activations -------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_bn_keeps_every_layer_at_unit_spread_while_plain_fades(seed):
    spreads, _ = experiments.activation_spread(experiments.load_data("digits", seed=seed), weight_scale=0.01, seed=seed)
    plain, batchnorm = spreads["plain"], spreads["batchnorm"]
    assert np.all(plain[1:] / plain[:-1] < 1 / 10)  # "about twenty-fold per layer": observed 1/19–1/25
    assert plain[-1] < 1e-6  # "around 1e-7": observed 1.5e-7–2.5e-7
    assert np.all((batchnorm > 0.95) & (batchnorm <= 1.0))  # "a spread of 1": observed 0.988–0.997


# --- §2 forward and backward ----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_forward_output_has_mean_zero_and_std_just_under_one(seed):
    x = np.random.default_rng(seed).normal(5.0, 3.0, (8, 4))
    y = BatchNormalization(np.ones(4), np.zeros(4)).forward(x, train_flg=True)
    assert np.max(np.abs(y.mean(axis=0))) < 1e-12
    assert np.all((y.std(axis=0) > 0.999) & (y.std(axis=0) < 1.0))


@pytest.mark.parametrize("seed", SEEDS)
def test_graph_and_closed_form_backward_agree(seed):
    agreement = experiments.graph_vs_closed_form(seed)
    assert agreement["max_difference"] <= 1e-8  # the chapter's bound; observed about 1e-15
    assert agreement["max_difference"] <= 1e-13  # "about 1e-15"
    assert agreement["closed_form_error"] <= 1e-7  # "about 1e-8 for this draw": observed 6e-9–2e-8
    assert agreement["graph_error"] <= 1e-7


def test_backward_matches_the_numerical_gradient_over_40_draws():
    # The elementwise relative error has a heavy tail (an element near 0): observed median 2e-8, max 1.5e-5.
    for seed in range(40):
        agreement = experiments.graph_vs_closed_form(seed)
        assert max(agreement["closed_form_error"], agreement["graph_error"]) < 1e-4, seed
        assert agreement["max_difference"] <= 1e-8, seed


# --- §3 the batch-of-one trap ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_batch_of_one_check_passes_a_wrong_backward(seed):
    trap = experiments.batch_of_one_check(seed)
    assert trap["batch_of_one_output_minus_beta"] == 0.0  # "exactly β"
    assert trap["correct_error_batch_1"] == 0.0 and trap["wrong_error_batch_1"] == 0.0
    assert trap["correct_error_batch_8"] <= 1e-7  # "about 1e-9 here": observed 1.5e-9–5e-9
    assert trap["wrong_error_batch_8"] >= 0.5  # observed 1.0 ("off completely")


# --- §4 train vs eval mode ------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_our_momentum_is_pytorch_momentum_named_the_other_way(seed):
    conventions = experiments.momentum_conventions(seed)
    assert conventions["running_mean_difference"] <= 1e-12
    assert conventions["running_var_difference_biased"] >= 5e-3  # observed 0.020–0.031
    assert conventions["running_var_difference_unbiased"] <= 1e-12


def test_train_mode_at_test_time_goes_wrong_in_each_way_the_text_says(runs):
    pitfalls = experiments.train_eval_pitfalls(runs["network"], *runs["data"][1], skewed_class=3)
    assert pitfalls["eval"] >= 0.8  # observed 0.88–0.91
    assert pitfalls["train_whole_test_set"] >= 0.8  # "happens to be fine": observed 0.88–0.92
    assert pitfalls["train_batch_of_one_distinct_predictions"] == 1  # the same prediction for every image
    assert pitfalls["train_batch_of_one"] <= 0.2  # "about 10 %": observed 0.08–0.11
    assert pitfalls["eval_after_batch_of_one_probes"] <= pitfalls["eval"] - 0.2  # "far worse": observed −0.35 or more
    assert pitfalls["train_skewed"] <= 0.4  # "most misclassified": observed 0.11–0.22
    assert pitfalls["eval_skewed"] >= 0.6  # "recognizes most": observed 0.73–0.92


# --- §5 Saito's weight-scale experiment -----------------------------------------------------------------

def test_plain_learns_only_in_a_narrow_band_bn_across_most_scales(runs):
    sweep = runs["sweep"]
    plain, batchnorm = sweep.learns("plain"), sweep.learns("batchnorm")
    assert 1 <= plain.sum() <= 3  # observed 1
    assert np.all((sweep.scales[plain] > 0.1) & (sweep.scales[plain] < 0.6))  # "around 0.3": observed 0.29 only
    assert batchnorm.sum() >= 9  # observed 11–12
    assert np.all(batchnorm[sweep.scales >= 0.004])  # "every scale from 1 down to about 0.004"
    assert not batchnorm[-1]  # "at 1e-4 not within 5 epochs"
    assert sweep.plain[0].diverged and sweep.plain[1].diverged  # the missing plain curves at 1 and 0.54...
    assert len(sweep.plain[0].train_acc) == len(sweep.plain[1].train_acc) == 1  # ...overflowed in the first epoch
    late = sweep.scales < 0.01  # "at the smallest scales BN starts late": near chance after 2 of 5 epochs
    assert all(history.train_acc[2] <= 0.3 for history in np.array(sweep.batchnorm, dtype=object)[late])


# --- §6 larger learning rates ---------------------------------------------------------------------------

def test_plain_diverges_at_lr_3_where_bn_trains(runs):
    plain, batchnorm = runs["lr"]["plain"], runs["lr"]["batchnorm"]
    assert plain[3.0].diverged  # observed: at iteration 3–5
    assert plain[1.0].diverged or plain[1.0].test_acc[-1] <= 0.3  # "does not learn": observed ≤ 0.2 or diverged
    assert not any(run.diverged for run in batchnorm.values())
    assert batchnorm[3.0].test_acc[-1] >= 0.6  # observed 0.70–0.92
    assert min(run.test_acc[-1] for run in batchnorm.values()) >= 0.6


# --- §8 batch size and Layer Normalization --------------------------------------------------------------

def test_bn_breaks_at_batch_2_and_layer_norm_does_not(runs):
    accuracy = runs["batch"]
    assert accuracy["batch"][2] <= accuracy["layer"][2] - 0.15  # observed gap 0.29–0.46
    assert accuracy["batch"][2] <= accuracy["none"][2] - 0.15  # observed gap 0.27–0.36
    assert accuracy["layer"][2] >= accuracy["none"][2] - 0.1  # "about as well as no normalization"
    for size in (32, 128):
        assert accuracy["batch"][size] >= 0.8  # observed 0.92–0.94
        others = [accuracy[kind][size] for kind in ("none", "layer")]
        assert min(others) >= 0.7  # "everything learns": observed 0.80–0.92
        assert accuracy["batch"][size] >= max(others) - 0.06  # "within a few points of the best": observed
        # from 0.10 ahead to 0.045 behind over seeds 0–6


def test_batch_noise_shrinks_with_batch_size(runs):
    noise = experiments.batch_noise(runs["network"], runs["data"][1][0], batch_sizes=(4, 32, 128), seed=runs["seed"])
    assert noise[4] > noise[32] > noise[128] > 0
    assert noise[4] >= 2 * noise[128]  # observed 6–20×
