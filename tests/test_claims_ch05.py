"""Every number chapter 5 states, asserted over several seeds with the functions the notebook calls
and the same settings (16 trials in Saito's range, 24 random + two 3×3 grids in the wide range,
12 fine trials)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib.chapters.ch05_hyperparameter_search import experiments

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module", params=SEEDS)
def searches(request):
    seed = request.param
    data = experiments.make_search_data("digits", seed=seed)
    saito = experiments.random_search(experiments.SAITO_SPACE, data, 16, seed=seed)
    comparison = experiments.grid_vs_random(data, experiments.WIDE_SPACE, n_random=24, seed=seed)
    fine_space = experiments.narrow_space(experiments.WIDE_SPACE, comparison.random_trials, top_k=5, margin=0.5)
    fine = experiments.random_search(fine_space, data, 12, seed=seed + 100)
    return dict(seed=seed, data=data, saito=saito, comparison=comparison, fine_space=fine_space, fine=fine)


def share_above(trials, level=0.8):
    return float(np.mean([t.val_acc >= level for t in trials]))


# --------------------------------------------------------------------------- sanity checks (§2)

@pytest.mark.parametrize("seed", SEEDS)
def test_initial_loss_is_near_ln10_and_weight_decay_inflates_it(seed):
    data = experiments.make_search_data("digits", seed=seed)
    losses = experiments.initial_losses(data, seeds=range(seed, seed + 5), weight_decays=(0.0, 0.1))
    assert abs(losses[0].mean() - math.log(10)) < 0.4      # measured 2.42 … 2.59 per network
    assert losses[1].min() > 4 * math.log(10)              # λ = 0.1: about 13.5


@pytest.mark.parametrize("seed", SEEDS)
def test_tiny_subset_is_overfit(seed):
    history = experiments.overfit_tiny(experiments.make_search_data("digits", seed=seed), n=20, seed=seed)
    assert history.train_acc[-1] == 1.0
    assert history.train_loss[-1] < 0.05                   # measured below 0.01
    assert history.train_loss[0] > 1.5


@pytest.mark.parametrize("seed", SEEDS)
def test_update_ratio_grows_with_lr_and_saito_range_stays_at_or_below_1e_3(seed):
    ratios = experiments.update_ratios(experiments.make_search_data("digits", seed=seed), [1e-4, 1e-3, 1e-2, 1e-1, 1.0], seed=seed)
    assert np.all(np.diff(ratios) > 0)
    per_lr = ratios / np.array([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    assert per_lr.max() < 2 * per_lr.min()                 # in proportion to lr: about 0.08 · lr
    assert ratios[2] < 1.5e-3                              # lr = 1e-2, Saito's upper border: about 8e-4
    assert 3e-3 < ratios[3] < 3e-2                         # lr = 0.1: about 7e-3


# --------------------------------------------------------------------------- sampling (§3)

@pytest.mark.parametrize("seed", SEEDS)
def test_log_uniform_quantiles_and_decade_shares(seed):
    rng = np.random.default_rng(seed)
    samples = experiments.log_uniform(1e-6, 1e-2, 100_000, rng)
    quantiles = np.array([0.1, 0.25, 0.5, 0.75, 0.9])
    np.testing.assert_allclose(np.quantile(np.log10(samples), quantiles), -6 + 4 * quantiles, atol=0.03)
    np.testing.assert_allclose(experiments.decade_fractions(samples, 1e-6, 1e-2), 0.25, atol=0.01)
    uniform = rng.uniform(1e-6, 1e-2, 100_000)
    assert experiments.decade_fractions(uniform, 1e-6, 1e-2)[-1] > 0.88   # exactly 0.9 in expectation
    beta = experiments.one_minus_log_uniform(0.9, 0.999, 100_000, rng)
    assert 0.9 <= beta.min() and beta.max() <= 0.999
    assert abs(np.mean(beta > 0.99) - 0.5) < 0.01
    assert abs(np.mean(rng.uniform(0.9, 0.999, 100_000) > 0.99) - 0.0909) < 0.01


# --------------------------------------------------------------------------- random search (§4, §5)

def test_nothing_learns_in_saitos_range_with_ten_epochs(searches):
    assert experiments.best_trial(searches["saito"]).val_acc < 0.4  # measured 0.21 at seed 0: near chance


def test_wide_range_learns(searches):
    assert experiments.best_trial(searches["comparison"].random_trials).val_acc > 0.8


def test_winners_update_ratio_is_about_ten_times_the_rule_of_thumb(searches):
    winner = experiments.best_trial(searches["comparison"].random_trials)
    ratio = experiments.update_ratios(searches["data"], [winner.config["lr"]], seed=searches["seed"])[0]
    assert 3e-3 < ratio < 1e-1


def test_few_epochs_rank_like_many(searches):
    assert experiments.rank_agreement(searches["comparison"].random_trials, early_epoch=3) > 0.6   # measured 0.76 … 0.98


def test_coarse_to_fine_wastes_fewer_trials(searches):
    shares = [share_above(searches[k]) for k in ("saito",)] + \
             [share_above(searches["comparison"].random_trials), share_above(searches["fine"])]
    assert shares[0] == 0.0
    assert shares[2] > shares[1] + 0.1


def test_fine_range_contains_the_wide_winner_and_lr_narrows_more_than_weight_decay(searches):
    winner = experiments.best_trial(searches["comparison"].random_trials)
    (low, high) = searches["fine_space"]["lr"]
    assert low <= winner.config["lr"] <= high
    lr_top_span = math.log10(high / low) - 1               # margin 0.5 decade on each side
    wd_low, wd_high = searches["fine_space"]["weight_decay"]
    wd_top_span = math.log10(wd_high / wd_low) - 1
    assert lr_top_span < 1                                 # "less than a decade"
    assert wd_top_span > 1.2 and wd_top_span > lr_top_span + 0.5


def test_best_of_fine_and_wide_stages_differ_by_a_few_images(searches):
    difference = abs(experiments.best_trial(searches["fine"]).val_acc - experiments.best_trial(searches["comparison"].random_trials).val_acc)
    assert difference * len(searches["data"].validation[1]) <= 12


# --------------------------------------------------------------------------- grid vs random (§6)

@pytest.mark.parametrize("seed", SEEDS)
def test_random_beats_grid_on_the_synthetic_objective(seed):
    regrets = experiments.synthetic_grid_vs_random(repeats=2000, seed=seed)
    assert np.mean(regrets["random"] < regrets["centers"]) > 0.6       # measured 0.65 … 0.67
    assert np.mean(regrets["random"] < regrets["endpoints"]) > 0.7     # measured 0.77 … 0.79
    assert np.median(regrets["random"]) < 0.5 * np.median(regrets["centers"])


def test_grid_tries_three_learning_rates_random_nine(searches):
    counts = searches["comparison"].distinct_values("lr")
    assert counts["endpoints"] == counts["centers"] == 3
    assert counts["random"] == 9


def test_random_search_beats_the_endpoint_grid_on_the_real_network(searches):
    comparison = searches["comparison"]
    assert comparison.random_wins("endpoints") > 0.9
    by_lr = {}
    for trial in comparison.grids["endpoints"]:
        by_lr.setdefault(round(math.log10(trial.config["lr"])), []).append(np.nan_to_num(trial.val_acc))
    assert max(by_lr[-4]) < 0.3                            # nothing moves at lr = 1e-4
    assert max(by_lr[0]) < comparison.grid_best("centers") - 0.1   # lr = 1 trains unsteadily


def test_median_random_search_is_close_to_the_lucky_centre_grid(searches):
    comparison = searches["comparison"]
    assert abs(np.median(comparison.random_best) - comparison.grid_best("centers")) < 0.05


# --------------------------------------------------------------------------- tuning on test (§7)

def test_tuning_on_test_is_optimistic(searches):
    comparison = searches["comparison"]
    trials = comparison.random_trials + comparison.grids["endpoints"] + comparison.grids["centers"]
    optimism = experiments.selection_optimism(trials, splits=500, seed=searches["seed"])
    assert np.mean(optimism["reported"] - optimism["fresh"]) > 0.001   # measured 0.0024 … 0.02
