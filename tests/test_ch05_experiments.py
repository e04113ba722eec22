"""Unit tests of chapter 5's experiments and figures: samplers, grids, range narrowing, trial bookkeeping, the
layout rule (experiments never import matplotlib)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib.chapters.ch05_hyperparameter_search import experiments


def test_experiments_import_no_plotting():
    import subprocess
    import sys

    code = ("import sys; from lib.chapters.ch05_hyperparameter_search import experiments; "
            "assert not {'matplotlib', 'ipywidgets'} & set(sys.modules), 'plotting imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_log_uniform_range_shape_dtype_and_reproducibility():
    a = experiments.log_uniform(1e-3, 1e-1, (30, 4), np.random.default_rng(3))
    b = experiments.log_uniform(1e-3, 1e-1, (30, 4), np.random.default_rng(3))
    assert a.shape == (30, 4) and a.dtype == np.float64
    assert np.all((a >= 1e-3) & (a <= 1e-1))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="0 < low < high"):
        experiments.log_uniform(0.0, 1.0, 3)


def test_one_minus_log_uniform_window_is_log_uniform():
    beta = experiments.one_minus_log_uniform(0.9, 0.999, 50_000, np.random.default_rng(0))
    windows = 1 / (1 - beta)
    assert abs(np.median(np.log10(windows)) - 2.0) < 0.02


def test_grid_configs_placements():
    space = {"lr": (1e-4, 1e0), "weight_decay": (1e-8, 1e-4)}
    ends = experiments.grid_configs(space, 3, "endpoints")
    centres = experiments.grid_configs(space, 3, "centers")
    assert len(ends) == len(centres) == 9
    np.testing.assert_allclose(sorted({c["lr"] for c in ends}), [1e-4, 1e-2, 1.0])
    np.testing.assert_allclose(sorted({c["lr"] for c in centres}), 10 ** (-4 + 4 * (np.arange(3) + 0.5) / 3))
    with pytest.raises(ValueError):
        experiments.grid_configs(space, 3, "corners")


def test_narrow_range_ignores_nan_and_reaches_past_the_border():
    values = np.array([1e-4, 1e-3, 1e-2, 1e-1])
    scores = np.array([0.1, 0.5, 0.9, math.nan])
    low, high = experiments.narrow_range(values, scores, top_k=2, margin=0.5)
    np.testing.assert_allclose([low, high], [10 ** -3.5, 10 ** -1.5])
    low, high = experiments.narrow_range(values[:3], scores[:3], top_k=1, margin=1.0)
    assert high == pytest.approx(1e-1)                     # past the old top value 1e-2


def make_trial(val, diverged=False, lr=0.1):
    return experiments.Trial(config={"lr": lr, "weight_decay": 1e-6}, val_curve=[0.1, val], train_curve=[0.1, val],
                    test_correct=np.array([True, False]), diverged=diverged, seconds=0.0)


def test_best_and_top_trials_skip_diverged():
    trials = [make_trial(0.5), make_trial(0.9, diverged=True), make_trial(0.7), make_trial(0.6)]
    assert experiments.best_trial(trials) is trials[2]
    assert [t.val_acc for t in experiments.top_trials(trials, 3)] == [0.7, 0.6, 0.5]
    assert experiments.best_trial([make_trial(0.9, diverged=True)]) is None
    table = experiments.top_table(trials, 2).splitlines()
    assert len(table) == 3 and "0.700" in table[1]


def test_border_side_and_warnings():
    assert experiments.border_side(0.9, 1e-4, 1.0) == "upper"
    assert experiments.border_side(1.2e-4, 1e-4, 1.0) == "lower"
    assert experiments.border_side(1e-2, 1e-4, 1.0) is None
    space = {"lr": (1e-6, 1e-2)}
    assert experiments.border_warnings(space, [make_trial(0.5, lr=5e-3), make_trial(0.2, lr=1e-5)]) == {"lr": "upper"}
    assert experiments.border_warnings(space, [make_trial(0.5, lr=2e-6)]) == {"lr": "lower"}
    assert experiments.border_warnings(space, [make_trial(0.5, lr=1e-4)]) == {"lr": None}


def test_rank_agreement_is_one_for_identical_rankings_and_minus_one_for_reversed():
    trials = [experiments.Trial({"lr": 1.0}, [0.1, v, 2 * v], [], np.zeros(1, bool), False, 0.0) for v in (0.1, 0.3, 0.2)]
    assert experiments.rank_agreement(trials, 1) == pytest.approx(1.0)
    reversed_trials = [experiments.Trial({"lr": 1.0}, [0.1, v, 1 - v], [], np.zeros(1, bool), False, 0.0) for v in (0.1, 0.3, 0.2)]
    assert experiments.rank_agreement(reversed_trials, 1) == pytest.approx(-1.0)


def test_selection_optimism_is_zero_without_noise_and_positive_with_it():
    rng = np.random.default_rng(0)
    identical = [experiments.Trial({"lr": 1.0}, [0, 0.5], [], np.arange(200) % 2 == 0, False, 0.0) for _ in range(5)]
    result = experiments.selection_optimism(identical, splits=50)
    np.testing.assert_allclose(result.reported, result.validation_choice + result.reported - result.fresh)
    noisy = [experiments.Trial({"lr": 1.0}, [0, 0.5 + 0.01 * i], [], rng.random(200) < 0.8, False, 0.0) for i in range(30)]
    result = experiments.selection_optimism(noisy, splits=200)
    assert result.gap > 0.02


def test_run_trial_is_reproducible_and_uses_validation_data():
    data = experiments.make_search_data("digits", n_train=200, seed=0)
    a = experiments.run_trial({"lr": 0.2, "weight_decay": 1e-5}, data, epochs=2, init_seed=3, shuffle_seed=4)
    b = experiments.run_trial({"lr": 0.2, "weight_decay": 1e-5}, data, epochs=2, init_seed=3, shuffle_seed=4)
    assert a.val_curve == b.val_curve and len(a.val_curve) == 3
    assert a.test_correct.shape == (len(data.test[1]),)
    assert 0 <= a.test_acc <= 1


def test_every_draw_has_its_own_stream():
    configs = experiments.stream(0, "wide").random(3)
    assert not np.allclose(configs, experiments.stream(0, "fine").random(3))
    assert not np.allclose(configs, experiments.stream(1, "wide").random(3))
    init = experiments.stream_seeds(0, "wide", 1, 4)
    assert len(set(init) | set(experiments.stream_seeds(0, "wide", 2, 4)) | set(experiments.stream_seeds(1, "wide", 1, 4))) == 12


def test_figures_draw_with_labelled_axes():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lib.chapters.ch05_hyperparameter_search import figures

    trials = [make_trial(v, lr=lr) for v, lr in zip((0.3, 0.8, 0.6), (1e-3, 1e-1, 1.0))]
    fig, axes = plt.subplots(1, 4)
    figures.plot_sampling(axes[:2], seed=0, n=200)
    figures.plot_regrets(axes[2], experiments.synthetic_grid_vs_random(repeats=50))
    figures.plot_search_scatter(axes[3], trials, {"box": {"lr": (1e-4, 1.0), "weight_decay": (1e-8, 1e-4)}})
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    fig, axes = plt.subplots(1, 2)
    figures.plot_paired(axes[0], np.array([0.5, 0.6]), np.array([0.7, 0.9]), ("a", "b"), "accuracy", (0, 1))
    optimism = experiments.SelectionOptimism(np.array([0.9, 0.92]), np.array([0.88, 0.9]), np.array([0.89, 0.9]))
    figures.plot_optimism(axes[1], optimism)
    assert all(ax.get_ylabel() and ax.get_legend() is not None for ax in axes)
    assert axes[1].get_xlabel()
    figure = plt.figure()
    figures.plot_best_curves(figure, trials, k=2, columns=2)
    assert len(figure.axes) == 2 and all(ax.get_xlabel() for ax in figure.axes)
    plt.close("all")


def test_interactive_figure_redraws_its_picture_when_a_slider_moves():
    import matplotlib.pyplot as plt

    from lib.chapters.ch05_hyperparameter_search import figures

    box = figures.interactive_figure(seed=0, repeats=50)
    width, points = box.children[0].children
    output = box.children[1]
    before = output.outputs[0]["data"]["image/png"]
    points.value = 4
    assert output.outputs[0]["data"]["image/png"] != before
    plt.close("all")
