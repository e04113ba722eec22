"""Every statistic chapter 6 prints and teaches, asserted over the claim seeds with the functions the notebook
calls (``CLAIM_SEEDS`` overrides the seeds; see CLAIMS.md).

Beside each bound: what seeds 0–9, 100–109 and 200–209 gave (§1, whose runs were shortened later: seeds
0–9, 500–509 and 700–709). A claim taught as "in most seeds" is asserted as
a rate with room for one or two seeds more than observed; a mean is asserted on its sign when three seed
ranges agreed on it."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CLAIM_SEEDS
from lib.chapters.ch06_ensembles_augmentation_transfer import experiments
from lib.checks import ch06_ensembles_augmentation_transfer as checks

pytestmark = pytest.mark.slow
rate = experiments.rate


def wins(condition) -> int:
    return rate(condition)[0]


@pytest.fixture(scope="module")
def ensembles():
    return experiments.ensemble_study(CLAIM_SEEDS)


@pytest.fixture(scope="module")
def augmentation():
    return experiments.augmentation_study(CLAIM_SEEDS)


@pytest.fixture(scope="module")
def transfer():
    return experiments.transfer_study(CLAIM_SEEDS)


def test_there_are_enough_claim_seeds():
    assert len(CLAIM_SEEDS) >= 10


# --- §1 ensembles ---------------------------------------------------------------------------------------

def test_the_ensemble_beats_its_mean_member_in_every_seed_or_nearly(ensembles):
    assert wins(ensembles.gain_over_mean > 0) >= 0.9 * len(CLAIM_SEEDS)  # 10, 10, 10 of 10
    assert experiments.mean_spread(ensembles.gain_over_mean)[0] > 0.02   # +0.058, +0.056, +0.051


def test_the_ensemble_beats_even_its_best_member_in_most_seeds(ensembles):
    assert wins(ensembles.gain_over_best > 0) >= 0.7 * len(CLAIM_SEEDS)  # 9, 10, 10 of 10


def test_the_ensemble_of_four_beats_one_network(ensembles):
    one_to_four = ensembles.ensemble_acc[:, -1] - ensembles.ensemble_acc[:, 0]
    assert wins(one_to_four > 0) >= 0.9 * len(CLAIM_SEEDS)  # 9, 10, 10 of 10


def test_ambiguity_decomposition_is_exact_and_the_spread_positive(ensembles):
    member_error, ensemble_error, spread = ensembles.brier.T
    assert np.abs(member_error - ensemble_error - spread).max() < 1e-12  # 2.8e-17: rounding only
    assert np.all(spread > 0)


def test_gain_grows_with_disagreement(ensembles):
    disagreements = np.concatenate([ensembles.disagreement, ensembles.snapshot_disagreement])
    gains = np.concatenate([ensembles.gain_over_mean, ensembles.snapshot_gain_over_mean])
    assert np.corrcoef(disagreements, gains)[0, 1] > 0.6  # 0.97, 0.93, 0.97


def test_snapshot_ensemble_beats_its_snapshots_but_not_independent_networks(ensembles):
    n = len(CLAIM_SEEDS)
    assert wins(ensembles.snapshot_gain_over_mean > 0) >= 0.9 * n  # 10, 10, 10 of 10
    # rates 0.96 and 0.94 over 100 fresh seeds (90000–90099), yet 5 of 10 on 80040–80049: "at least half"
    assert wins(ensembles.snapshot_acc > ensembles.snapshot_last_acc) >= 0.5 * n  # 9, 10, 10 of 10
    assert wins(ensembles.independent_same_size_acc > ensembles.snapshot_acc) >= 0.5 * n  # 10, 10, 9 of 10


def test_snapshots_disagree_more_because_each_is_weaker(ensembles):
    n = len(CLAIM_SEEDS)
    assert wins(ensembles.snapshot_disagreement > ensembles.disagreement) >= 0.9 * n  # 10, 10, 10 of 10
    assert wins(ensembles.snapshot_mean_acc < ensembles.mean_member_acc[:, -1]) >= 0.9 * n  # 10, 10, 10 of 10


def test_ema_weights_lower_the_test_loss_in_most_seeds(ensembles):
    assert wins(ensembles.final_loss > ensembles.ema_loss) >= 0.8 * len(CLAIM_SEEDS)  # 9, 10, 9 of 10
    assert experiments.mean_spread(ensembles.ema_acc - ensembles.final_acc)[0] > 0  # +0.025, +0.023, +0.034


# --- §2 augmentation ------------------------------------------------------------------------------------

def test_augmentation_gain_is_small_and_changes_sign_with_very_few_images(augmentation):
    gain = augmentation.gain[:, 0]
    assert abs(experiments.mean_spread(gain)[0]) < 0.04  # +0.014, +0.000, +0.006
    assert 0.2 * len(CLAIM_SEEDS) <= wins(gain > 0) <= 0.8 * len(CLAIM_SEEDS)  # 5, 4, 4 of 10


def test_augmentation_costs_with_more_images_on_average(augmentation):
    # "a cost on average, not in every seed": behind in 78 of 100 fresh seeds (70000–70099), 4 … 9 per block of ten,
    # while every block's mean was below 0 (−0.049 … −0.014)
    assert experiments.mean_spread(augmentation.gain[:, -1])[0] < 0  # −0.022, −0.018, −0.034
    # "the gain shrinks as the set grows" is not claimed: gain(25) − gain(400) was +0.011 … +0.047 per block of ten on
    # 70000–70099 but −0.011 on 60030–60039 (the gain at 25 images changes sign from seed to seed)


def test_half_turns_cost_accuracy_on_sixes_and_nines(augmentation):
    # rate 0.97 over 100 fresh seeds (2000–2099); 8 of 10 fails about once in 300 blocks at that rate
    assert wins(augmentation.half_turn_cost > 0) >= 0.8 * len(CLAIM_SEEDS)  # 10, 10, 8 of 10 (0–9, 500–, 700–)
    assert experiments.mean_spread(augmentation.half_turn_cost)[0] > 0.1  # +0.30, +0.26, +0.31


# --- §3 test-time augmentation --------------------------------------------------------------------------

def test_test_time_augmentation_is_about_even_for_the_augmented_network(augmentation):
    assert abs(experiments.mean_spread(augmentation.tta_gain)[0]) < 0.02  # −0.002, +0.006, −0.008


def test_test_time_augmentation_costs_the_plain_network_a_little(augmentation):
    assert experiments.mean_spread(augmentation.plain_tta_gain)[0] < 0  # −0.016, −0.023, −0.018


# --- §4 transfer learning -------------------------------------------------------------------------------

def test_pretrained_arms_beat_scratch_on_the_similar_task_in_the_middle_of_the_range(transfer):
    middle = transfer.similar[:, :, 1]
    n = len(CLAIM_SEEDS)
    # "in most seeds": rates over 100 fresh seeds (2000–2099) 0.85, 0.95 and 0.89; a majority of 6 of 10 fails
    # at most about once in 100 blocks at those rates (0.9 for fine-tune all failed on 3 of 10 blocks)
    assert wins(middle[:, 1] > middle[:, 0]) >= 0.6 * n  # linear on frozen features: 8, 9, 8 of 10
    assert wins(middle[:, 2] > middle[:, 0]) >= 0.6 * n  # fine-tune last layer: 9, 10, 9 of 10
    assert wins(middle[:, 3] > middle[:, 0]) >= 0.6 * n  # fine-tune all: 10, 10, 10 of 10


def test_much_data_similar_task_fine_tuning_wins(transfer):
    # which of the two fine-tuning arms is ahead is close (the last layer in 71 of 100 fresh seeds): not claimed
    assert transfer.best_arm("much", "similar") in ("fine-tune last layer", "fine-tune all, lower η")
    # a rate of 0.97 (194 of 200 fresh seeds, 20000–20199); 0.85 on 8800–8819: "in every seed or nearly"
    assert transfer.wins("fine-tune last layer", "from scratch", "much", "similar")[0] >= 0.8 * len(CLAIM_SEEDS)


def test_much_data_different_task_scratch_wins_and_frozen_features_do_worst(transfer):
    n = len(CLAIM_SEEDS)
    assert transfer.best_arm("much", "different") == "from scratch"
    assert transfer.arms[int(np.argmin(transfer.table()[("much", "different")]))] == "linear on frozen features"
    assert transfer.wins("from scratch", "linear on frozen features", "much", "different")[0] >= 0.9 * n  # 10 ×3
    # a rate of 0.95 over 100 fresh seeds (90000–90099), 6 of 10 on 80020–80029: a majority
    assert transfer.wins("from scratch", "fine-tune last layer", "much", "different")[0] >= 0.6 * n  # 10, 9, 9


def test_little_data_similar_task_a_pretrained_arm_is_best_on_average(transfer):
    assert transfer.best_arm("little", "similar") != "from scratch"
    cell = transfer.accuracy_cell("little", "similar")
    assert experiments.mean_spread(cell[:, 1] - cell[:, 0])[0] > 0  # +0.036, +0.058, +0.023


def test_little_data_different_task_everything_is_weak_and_scratch_ahead(transfer):
    table = transfer.table()
    # "every arm is below what it reaches with 600 images": each arm against itself (smallest gap over 16 blocks
    # of ten seeds: +0.046, the frozen features, which gain least from more data)
    assert np.all(table[("little", "different")] < table[("much", "different")])
    # from scratch ahead of the linear classifier on frozen features: 0.89 over 100 fresh seeds (2000–2099); against
    # the fine-tuning arms the rates are lower (0.86, 0.81) and a block of ten fell to 4 (60010–60019): not claimed
    assert transfer.wins("from scratch", "linear on frozen features", "little", "different")[0] >= 0.5 * len(CLAIM_SEEDS)


def test_the_exercise_table_is_the_measured_one(request):
    """The table ``tl-choose`` prints is transfer_study over seeds 0–9, whatever the claim seeds."""
    default = tuple(CLAIM_SEEDS) == tuple(range(10))
    study = request.getfixturevalue("transfer") if default else experiments.transfer_study(range(10))
    for cell, measured in study.table().items():
        np.testing.assert_allclose(measured, checks.TRANSFER_TABLE[cell], atol=0.0006)
