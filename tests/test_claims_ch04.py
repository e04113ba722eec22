"""Every claim chapter 4 teaches, asserted over the claim seeds with the functions the notebook calls.

The notebook prints the same statistics (``experiments.run_study(claim_seeds())`` and the ``*_stats``
functions); the ledger in CLAIMS.md maps each sentence to its test here. Rates are asserted as a share
of the seeds (``CLAIM_SEEDS`` may name more or other seeds than 0–9); beside each bound, what seeds 0–9
gave."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CLAIM_SEEDS

from lib.chapters.ch04_regularization import experiments

pytestmark = pytest.mark.slow

N = len(CLAIM_SEEDS)


def at_least(share: float) -> int:
    """The number of seeds a rate claim "in at least ``share`` of the seeds" needs."""
    return int(np.ceil(share * N))


@pytest.fixture(scope="module")
def study():
    return experiments.run_study(CLAIM_SEEDS)


# --- §1 overfitting -------------------------------------------------------------------------------------

def test_clean_labels_are_fitted_and_test_accuracy_stays_below(study):
    stats = experiments.overfitting_stats(study)
    assert stats.clean_train_acc.count(lambda v: v >= 0.98) >= at_least(0.9)  # 1.000 ± 0.002
    assert stats.clean_gap.count(lambda v: v > 0) >= at_least(0.9)  # positive in 10 of 10
    assert 0.02 < stats.clean_gap.mean < 0.2  # "a modest gap": 0.084 ± 0.011


def test_flipped_labels_are_memorized_and_test_accuracy_peaks_before_the_end(study):
    stats = experiments.overfitting_stats(study)
    # above the ceiling in 597 of 600 fresh seeds (300000–300299, 500000–500299); a block of ten had two below
    # (700750–700759)
    assert stats.above_ceiling.count(lambda v: v > 0) >= at_least(0.8)  # above the ceiling in 10 of 10
    assert stats.memorized.mean > 0.25  # "reproduces a large share of the flipped labels": 0.455 ± 0.115
    # "test accuracy falls": 0.048 ± 0.021; by more than 0.01 in 287 of 300 fresh seeds (300000–300299)
    assert stats.peak_minus_final.count(lambda v: v > 0.01) >= at_least(0.7)
    # "peaks well before the end": epoch 9.3 ± 3.6 of 20 over 600 fresh seeds (300000–300299, 500000–500299),
    # yet the block 800800–800809 averaged 15.0, so the bound is at 17
    assert stats.peak_epoch.mean < 0.85 * experiments.EPOCHS  # epoch 9 ± 4 of 20


# --- §2 weight decay ------------------------------------------------------------------------------------

def test_weight_decay_shrinks_weights_and_memorizes_less_but_not_nothing(study):
    stats = experiments.weight_decay_stats(study)
    assert stats.norm_ratio.count(lambda v: v < 0.9) >= at_least(0.9)  # ‖W‖ smaller: 0.605 ± 0.003
    assert stats.memorized.losses >= at_least(0.9)  # fewer flipped labels reproduced: lower in 10 of 10
    assert stats.memorized_with_decay.mean > 0.05  # "but not none": 0.195 ± 0.075
    assert stats.gap.losses >= at_least(0.9)  # the gap shrinks: lower in 10 of 10


def test_weight_decay_raises_test_accuracy(study):
    stats = experiments.weight_decay_stats(study)
    # higher on average: +0.025 ± 0.019 over 300 fresh seeds (300000–300299), where a block of ten averages
    # above 0 with a margin of four standard errors; higher in 268 of 300 (0.89): "in at least half of the seeds"
    assert stats.test_acc.mean > 0
    assert stats.test_acc.wins >= at_least(0.5)


def test_a_ten_times_larger_lambda_underfits(study):
    stats = experiments.weight_decay_stats(study)
    assert stats.large_test_acc.losses >= at_least(0.9)  # lower in 10 of 10
    assert stats.large_test_acc.mean < -0.1  # −0.327 ± 0.122
    assert stats.large_clean_train_acc.losses >= at_least(0.9)  # cannot even fit the true labels: 10 of 10


def test_adam_l2_penalty_strength_cancels_while_adamw_decays_by_lambda():
    paths = experiments.adam_decay_paths(lambdas=(0.001, 0.1), steps=500, lr=0.01)
    decay = experiments.decay_comparison(paths)
    # "the two values of λ give the same path" in Adam + L2 (ε alone tells them apart)
    assert decay.adam_l2_steps[0.001] == decay.adam_l2_steps[0.1]
    assert np.max(np.abs(paths[("Adam + L2", 0.001)] - paths[("Adam + L2", 0.1)])) < 1e-4  # 6e-6
    # "in AdamW λ sets the rate": (1 − ηλ)^500, exact up to rounding
    assert decay.adamw_final[0.001] == pytest.approx((1 - 0.01 * 0.001) ** 500, rel=1e-9)
    assert decay.adamw_final[0.1] == pytest.approx((1 - 0.01 * 0.1) ** 500, rel=1e-9)


# --- §3 dropout -----------------------------------------------------------------------------------------

def test_both_dropout_conventions_match_their_test_output_in_expectation():
    stats = experiments.dropout_expectation(CLAIM_SEEDS, dropout_ratio=0.5, draws=20_000)
    for spread in (stats.book, stats.inverted):
        # "what sampling noise alone gives" (√(2/π) ≈ 0.80): 0.773 ± 0.088
        assert 0.6 < spread.mean < 1.0
        assert spread.count(lambda z: z < 1.5) == N
    np.testing.assert_allclose(stats.book.values, stats.inverted.values, rtol=1e-9)  # "the same masks, the same number"


def test_dropout_memorizes_less_and_raises_test_accuracy(study):
    stats = experiments.dropout_stats(study)
    assert stats.memorized.losses >= at_least(0.9)  # lower in 10 of 10
    assert stats.gap.losses >= at_least(0.8)  # lower in 10 of 10
    assert stats.test_acc.wins >= at_least(0.7)  # higher in 9 of 10
    assert stats.test_acc.mean > 0.01  # +0.035 ± 0.022


def test_dropout_curves_are_not_slower_or_noisier(study):
    stats = experiments.dropout_stats(study)
    assert stats.test_jitter.mean < 0.005  # "no noisier": −0.005 ± 0.008
    assert abs(stats.early_train_acc.mean) < 0.03  # "not slower": −0.007 ± 0.021


# --- §4 early stopping ----------------------------------------------------------------------------------

def test_early_stopping_keeps_better_weights_closer_to_the_start(study):
    stats = experiments.early_stopping_stats(study)
    # "better on average, and in at least half of the seeds": +0.044 ± 0.038 over 300 fresh seeds
    # (300000–300299), better in 264 of them (0.88), so a majority of ten would fail about one block in 300
    assert stats.test_acc.mean > 0
    assert stats.test_acc.wins >= at_least(0.5)
    # kept weights reproduce fewer flipped labels: 298 of 300 fresh seeds
    assert stats.memorized.losses >= at_least(0.8)
    assert stats.stop_epoch.mean < 0.8 * experiments.EPOCHS  # "saves training time": 12.8 of 20
    assert stats.distance_ratio.count(lambda v: v < 1) >= at_least(0.9)  # closer to W₀: 0.636 ± 0.104
    assert stats.distance_ratio.mean < 0.85


# --- §5 side by side ------------------------------------------------------------------------------------

def test_every_remedy_beats_no_regularization_and_early_stopping_keeps_up(study):
    result = experiments.comparison(study)
    # rates over 100 fresh seeds (40000–40099): weight decay 0.90, dropout 0.94, early stopping 0.82; at least
    # half of ten fails about once in 250 blocks at 0.82 (7 of 10 failed about one block in 15)
    for arm in result.arms[1:]:
        assert arm.against_none.wins >= at_least(0.5), arm.name  # 10, 9, 10 of 10
    others = max(result.arm(name).test_acc.mean for name in ("weight decay", "dropout"))
    # "within a few points on average": early stopping − the better of the two over ten blocks of ten
    # fresh seeds −0.015 … +0.014, and −0.024 on 30050–30059
    assert result.arm("early stopping").test_acc.mean >= others - 0.04  # 0.845 vs 0.842
    assert sum(result.best_counts) >= N  # every seed has a best arm (ties counted for each)
    assert max(result.best_counts) < N  # "no single remedy wins everywhere": at most 5 of 10
