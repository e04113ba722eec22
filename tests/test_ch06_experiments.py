"""Unit tests of chapter 6's experiment code: image transforms, the optimizer wrappers (frozen parameters
provably unchanged), the schedule, the ensemble statistics, and the interactive figure."""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest

from lib.chapters.ch06_ensembles_augmentation_transfer import experiments
from lib.optimizers import SGD, AdamW, Momentum

RNG = np.random.default_rng(3)
IMAGES = RNG.random((6, 64))


# --------------------------------------------------------------------------- transforms

def test_integer_shifts_are_exact_and_fill_with_zeros():
    squares = IMAGES.reshape(-1, 8, 8)
    right = experiments.shift_images(IMAGES, 1, 0).reshape(-1, 8, 8)
    np.testing.assert_array_equal(right[:, :, 1:], squares[:, :, :-1])
    assert np.all(right[:, :, 0] == 0)
    up = experiments.shift_images(IMAGES, 0, -1).reshape(-1, 8, 8)
    np.testing.assert_array_equal(up[:, :-1, :], squares[:, 1:, :])
    assert np.all(up[:, -1, :] == 0)
    np.testing.assert_array_equal(experiments.shift_images(IMAGES, 0, 0), IMAGES)


def test_each_image_takes_its_own_shift():
    dx = np.array([1, -1, 0, 0, 1, 0])
    dy = np.array([0, 0, 1, -1, 1, 0])
    together = experiments.shift_images(IMAGES, dx, dy)
    for i in range(len(IMAGES)):
        np.testing.assert_array_equal(together[i], experiments.shift_images(IMAGES[i:i + 1], dx[i], dy[i])[0])


def test_half_turn_is_the_image_upside_down_and_a_full_turn_the_image():
    turned = experiments.transform_images(IMAGES, 180.0, 0, 0).reshape(-1, 8, 8)
    np.testing.assert_allclose(turned, IMAGES.reshape(-1, 8, 8)[:, ::-1, ::-1], atol=1e-12)
    np.testing.assert_allclose(experiments.transform_images(IMAGES, 360.0, 0, 0), IMAGES, atol=1e-12)


def test_transforms_keep_dtype_and_reject_non_square_images():
    assert experiments.transform_images(IMAGES.astype(np.float32), 10.0, 1, 0).dtype == np.float32
    with pytest.raises(ValueError, match="squares"):
        experiments.transform_images(np.zeros((2, 60)), 0.0, 0, 0)


def test_augment_is_reproducible_in_range_and_shape_keeping():
    first = experiments.augment(IMAGES, np.random.default_rng(1))
    again = experiments.augment(IMAGES, np.random.default_rng(1))
    np.testing.assert_array_equal(first, again)
    assert first.shape == IMAGES.shape and first.min() >= 0 and first.max() <= 1
    assert not np.array_equal(first, IMAGES)


def test_half_turn_augmentation_turns_about_half_the_images():
    x = np.random.default_rng(2).random((400, 64))
    out = experiments.rotate_half_turn(x, np.random.default_rng(4))
    label_preserving = experiments.augment(x, np.random.default_rng(4))
    turned = np.mean(np.any(np.abs(out - label_preserving) > 1e-12, axis=1))
    assert 0.4 < turned < 0.6


def test_test_time_average_over_one_view_is_the_prediction():
    (x, t), (x_test, _) = experiments.digits()
    network = experiments.make_network(10, 0)
    np.testing.assert_allclose(experiments.test_time_average(network, x_test[:20], lambda v: [v]),
                               experiments.predict_proba(network, x_test[:20]))
    assert len(experiments.augmented_views(x_test[:3])) == 7


# --------------------------------------------------------------------------- optimizer wrappers

def small_problem(seed=0):
    (x, t), _ = experiments.digits()
    return experiments.make_network(10, seed), x[:100], t[:100]


@pytest.mark.parametrize("make", [lambda: Momentum(0.1, 0.9), lambda: AdamW(0.01, weight_decay=0.5)])
def test_frozen_parameters_are_bit_for_bit_unchanged(make):
    network, x, t = small_problem()
    before = {key: value.copy() for key, value in network.params.items()}
    arrays = dict(network.params)
    optimizer = experiments.ParameterGroups({("W3", "b3"): make()})
    experiments.fit(network, optimizer, x, t, steps=20, seed=1)
    for key in ("W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(network.params[key], before[key])
    assert not np.array_equal(network.params["W3"], before["W3"])
    assert all(network.params[key] is arrays[key] for key in arrays)  # updated in place
    assert optimizer.trainable == {"W3", "b3"}


def test_parameter_groups_use_their_own_learning_rates():
    network, x, t = small_problem()
    reference = copy.deepcopy(network)
    grads = network.gradient(x, t)
    experiments.ParameterGroups({("W1", "b1"): SGD(0.01), ("W2", "b2", "W3", "b3"): SGD(0.1)}).update(network.params, grads)
    for key, lr in (("W1", 0.01), ("W3", 0.1)):
        np.testing.assert_allclose(network.params[key], reference.params[key] - lr * grads[key])


def test_parameter_groups_reject_a_key_in_two_groups():
    with pytest.raises(ValueError, match="two groups"):
        experiments.ParameterGroups({("W1", "b1"): SGD(0.1), ("W1",): SGD(0.1)})


@pytest.mark.parametrize("arm, frozen", [("linear on frozen features", ("W1", "b1", "W2", "b2")),
                                         ("fine-tune last layer", ("W1", "b1"))])
def test_fine_tune_keeps_frozen_layers_equal_to_the_source(arm, frozen):
    source, x, t = small_problem(seed=5)
    network = experiments.fine_tune(arm, source, x, t % 2, 2, seed=1, steps=10)
    for key in frozen:
        np.testing.assert_array_equal(network.params[key], source.params[key])
    assert not np.array_equal(network.params["W2"], source.params["W2"]) or "W2" in frozen


def test_fine_tune_rejects_an_unknown_arm():
    source, x, t = small_problem()
    with pytest.raises(ValueError, match="unknown arm"):
        experiments.fine_tune("freeze everything", source, x, t % 2, 2, seed=1)


def test_weight_average_is_the_exponential_moving_average_of_the_weights():
    network, x, t = small_problem()
    optimizer = experiments.WeightAverage(SGD(0.1), network.params, decay=0.8)
    expected = {key: value.copy() for key, value in network.params.items()}
    for _ in range(3):
        optimizer.update(network.params, network.gradient(x, t))
        expected = {key: 0.8 * expected[key] + 0.2 * network.params[key] for key in expected}
    for key in expected:
        np.testing.assert_allclose(optimizer.averaged[key], expected[key], rtol=1e-12)
    optimizer.lr = 0.05
    assert optimizer.optimizer.lr == 0.05
    with pytest.raises(ValueError):
        experiments.WeightAverage(SGD(0.1), network.params, decay=1.0)


def test_cosine_restarts_restart_every_cycle():
    schedule = experiments.CosineRestarts(0.2, 10)
    assert schedule(0) == pytest.approx(0.2) and schedule(10) == pytest.approx(0.2)
    assert schedule(9) < 0.01 and schedule(5) == pytest.approx(0.1)


# --------------------------------------------------------------------------- statistics and training

def test_brier_decomposition_holds_and_identical_members_do_not_disagree():
    rng = np.random.default_rng(8)
    p = rng.dirichlet(np.ones(5), size=(4, 50))
    t = rng.integers(0, 5, 50)
    member, ensemble, spread = experiments.brier_decomposition(p, t)
    assert member - ensemble == pytest.approx(spread, abs=1e-12) and spread > 0
    assert experiments.disagreement(np.repeat(p[:1], 3, axis=0)) == 0.0
    assert experiments.disagreement(p[:1]) == 0.0


def test_fit_repeats_tiny_training_sets_and_redraws_augmentations():
    network, x, t = small_problem()
    calls = []

    def counting_augment(images, rng):
        calls.append(len(images))
        return images

    history = experiments.fit(network, SGD(0.1), x[:10], t[:10], steps=30, seed=0, augment_fn=counting_augment)
    assert history.iterations_per_epoch == experiments.EPOCH_SAMPLES // experiments.BATCH_SIZE
    assert len(history.train_loss) >= 30
    assert calls == [10 * experiments.VERSIONS]  # the versions are drawn once


def test_rate_mean_spread_and_parity():
    assert experiments.rate([True, False, True]) == (2, 3)
    assert experiments.mean_spread([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2)))
    np.testing.assert_array_equal(experiments.parity(np.array([0, 3, 8, 9])), [0, 1, 0, 1])


def test_experiments_import_neither_matplotlib_nor_ipywidgets():
    code = ("import sys; import lib.chapters.ch06_ensembles_augmentation_transfer.experiments; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --------------------------------------------------------------------------- the interactive figure

def test_moving_the_slider_redraws_the_figure():
    pytest.importorskip("ipywidgets")
    from lib.chapters.ch06_ensembles_augmentation_transfer import figures

    networks = {name: experiments.make_network(10, seed) for seed, name in enumerate(("plain", "augmented"))}
    probe = experiments.rotation_probe(networks, angles=np.arange(-180, 181, 90))
    widget = figures.interactive_figure(probe)
    slider, output = widget.children
    before = output.outputs[0]["data"]["image/png"]
    slider.value = 90
    after = output.outputs[0]["data"]["image/png"]
    assert before != after


def test_snapshot_cycles_end_with_an_epoch():
    # 200 images are repeated to 400 per epoch (≥ EPOCH_SAMPLES): 8 steps of 50; 96 steps in 4 cycles → 3 epochs each
    assert experiments.snapshot_cycle(200, 96, 4) == (3, 8)
    assert experiments.snapshot_cycle(200, 8, 4) == (1, 8)  # a cycle is at least one epoch


def test_averaging_over_views_made_beforehand_matches_test_time_average():
    _, (x_test, _) = experiments.digits()
    network = experiments.make_network(10, 2)
    views = experiments.augmented_views(x_test[:30])
    np.testing.assert_allclose(experiments.average_over_views(network, views),
                               experiments.test_time_average(network, x_test[:30]))
