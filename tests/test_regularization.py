"""Unit tests for lib.chapters.ch04_regularization.experiments (chapter 4's experiments) and the internals of its checks."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib.chapters.ch04_regularization import experiments  # noqa: E402
from lib.checks import ch04_regularization as checks  # noqa: E402
from lib.data import load_dataset  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return experiments.make_data("digits", n_train=60, n_validation=40, seed=3)


@pytest.fixture(scope="module")
def tiny_grid(data):
    return experiments.regularization_grid(data, lambdas=(0.0, 0.01), ratios=(0.0, 0.2), epochs=2, seed=1)


# --------------------------------------------------------------------------- data

def test_flip_labels_changes_about_the_fraction_and_always_to_another_class():
    t = np.repeat(np.arange(10), 500)
    flipped = experiments.flip_labels(t, 0.2, 10, np.random.default_rng(0))
    changed = flipped != t
    assert abs(changed.mean() - 0.2) < 0.02
    assert flipped.min() >= 0 and flipped.max() <= 9
    assert np.array_equal(experiments.flip_labels(t, 0.2, 10, np.random.default_rng(0)), flipped)
    assert np.array_equal(experiments.flip_labels(t, 0.0, 10, np.random.default_rng(0)), t)
    assert np.array_equal(t, np.repeat(np.arange(10), 500))  # input untouched


def test_make_data_splits_and_keeps_test_labels_clean(data):
    (x_train, t_train), (x_val, t_val), (x_test, t_test) = data.train, data.validation, data.test
    assert x_train.shape == (60, 64) and x_val.shape == (40, 64) and x_train.dtype == np.float32
    assert len(t_train) == 60 and len(t_val) == 40
    assert np.mean(t_train != data.clean_train_labels) == data.wrong_label_fraction
    _, (x_test_ref, t_test_ref) = load_dataset("digits", seed=0, dtype=np.float32)
    assert np.array_equal(t_test, t_test_ref) and np.array_equal(x_test, x_test_ref)
    clean = experiments.make_data("digits", n_train=60, n_validation=40, label_noise=0.0, seed=3)
    assert clean.wrong_label_fraction == 0.0
    with pytest.raises(ValueError, match="fewer than"):
        experiments.make_data("digits", n_train=5000)


def test_weight_norm_counts_weights_only():
    params = {"W1": np.full((2, 2), 1.0), "b1": np.full(2, 100.0), "W2": np.full(1, 2.0), "gamma1": np.ones(3)}
    assert experiments.weight_norm(params) == pytest.approx(np.sqrt(4 + 4))


# --------------------------------------------------------------------------- runs

def test_train_run_records_one_value_per_epoch_from_epoch_zero(tiny_grid):
    run = tiny_grid[(0.01, 0.2)]
    epochs = 2
    assert len(run.val_acc) == len(run.weight_norm) == len(run.distance) == len(run.history.test_acc) == epochs + 1
    assert run.distance[0] == 0.0 and run.distance[-1] > 0
    assert set(run.weights) == {f"W{i}" for i in range(1, 8)}
    assert run.label == "λ=0.01, dropout 0.2"
    assert tiny_grid[(0.0, 0.0)].label == "no regularization"
    assert run.gap == pytest.approx(run.train_acc - run.test_acc)


def test_train_run_is_deterministic_and_rejects_unknown_optimizers(data):
    first = experiments.train_run(data, dropout_ratio=0.2, epochs=2, seed=5)
    second = experiments.train_run(data, dropout_ratio=0.2, epochs=2, seed=5)
    assert first.history.train_loss == second.history.train_loss and first.val_acc == second.val_acc
    with pytest.raises(ValueError, match="optimizer"):
        experiments.train_run(data, optimizer="lbfgs", epochs=1)


def test_weight_decay_is_applied_through_the_network_loss(data):
    # λ > 0 must change the training (the penalty's gradient goes through the optimizer).
    plain = experiments.train_run(data, epochs=2, seed=2)
    decayed = experiments.train_run(data, weight_decay_lambda=0.5, epochs=2, seed=2)
    assert decayed.weight_norm[-1] < plain.weight_norm[-1]


def test_adam_vs_adamw_returns_both_runs_and_their_relative_difference(data):
    coupled, decoupled, difference = experiments.adam_vs_adamw(data, lam=0.01, epochs=2, seed=0)
    assert coupled.label.startswith("adam:") and decoupled.label.startswith("adamw:")
    manual = np.sqrt(sum(np.sum((coupled.weights[k] - decoupled.weights[k]) ** 2) for k in coupled.weights))
    assert difference == pytest.approx(manual / experiments.weight_norm(decoupled.weights), rel=1e-6)


# --------------------------------------------------------------------------- dropout, Adam toy

def test_dropout_expectation_reports_both_conventions():
    result = experiments.dropout_expectation(0.3, draws=2000, seed=1)
    np.testing.assert_allclose(result["book_test"], 0.7 * result["x"])
    np.testing.assert_allclose(result["inverted_test"], result["x"])
    assert result["relative_standard_error"] == pytest.approx(np.sqrt(0.3 / (0.7 * 2000)))
    assert result["book_mean_relative_deviation"] <= result["book_max_relative_deviation"]


def test_adamw_toy_decays_geometrically_and_adam_l2_ignores_lambda():
    paths = experiments.adam_decay_paths(lambdas=(0.01, 1.0), steps=50, lr=0.02)
    np.testing.assert_allclose(paths[("AdamW", 0.01)], (1 - 0.02 * 0.01) ** np.arange(51), rtol=1e-12)
    np.testing.assert_allclose(paths[("Adam + L2", 0.01)], paths[("Adam + L2", 1.0)], atol=1e-6)
    # The first Adam step is exactly lr (bias correction makes m̂/√v̂ = sign(w)).
    assert paths[("Adam + L2", 0.01)][1] == pytest.approx(1 - 0.02, rel=1e-6)
    comparison = experiments.decay_comparison(paths, threshold=0.5)
    assert comparison["adam_l2_steps"][0.01] == comparison["adam_l2_steps"][1.0]
    assert comparison["adamw_final"][1.0] == pytest.approx((1 - 0.02) ** 50)


# --------------------------------------------------------------------------- early stopping

def test_early_stopping_examples():
    curves = {"val_acc": [0.1, 0.5, 0.4, 0.45, 0.6, 0.6, 0.59]}
    assert experiments.early_stopping(curves, patience=2) == (1, 3)
    assert experiments.early_stopping(curves, patience=3) == (4, 6)
    assert experiments.early_stopping(curves, patience=5) == (4, 6)  # never stops: the last epoch
    assert experiments.early_stopping({"val_acc": [0.5]}, patience=1) == (0, 0)
    assert experiments.early_stopping({"val_acc": [0.5, 0.4, 0.3], "test_acc": [0, 1, 2]}, 1, monitor="test_acc") == (2, 2)
    with pytest.raises(ValueError, match="patience"):
        experiments.early_stopping(curves, patience=0)
    with pytest.raises(ValueError, match="empty"):
        experiments.early_stopping({"val_acc": []}, patience=1)


def test_early_stopping_agrees_with_the_checks_reference_on_random_curves():
    rng = np.random.default_rng(0)
    cases = list(checks.EARLY_STOPPING_CASES)
    for _ in range(200):
        values = np.round(rng.uniform(0, 1, size=rng.integers(1, 30)), 1).tolist()  # rounding makes ties
        cases.append(({"val_acc": values}, int(rng.integers(1, 6))))
    for curves, patience in cases:
        assert experiments.early_stopping(curves, patience) == checks.reference_early_stopping(curves, patience)


def test_every_early_stopping_mistake_has_its_own_signature():
    signatures = {}
    for diagnosis, switches in [("correct", {})] + list(checks.EARLY_STOPPING_BUGS.items()):
        signature = tuple(checks.reference_early_stopping(c, p, **switches) for c, p in checks.EARLY_STOPPING_CASES)
        assert signature not in signatures, f"{diagnosis!r} looks like {signatures.get(signature)!r}"
        signatures[signature] = diagnosis


def test_early_stopping_report_reads_the_run(tiny_grid):
    run = tiny_grid[(0.0, 0.0)]
    report = experiments.early_stopping_report(run, patience=1)
    best, stop = experiments.early_stopping(run.curves(), 1)
    assert (report["best_epoch"], report["stop_epoch"], report["epochs"]) == (best, stop, 2)
    assert report["test_acc_best"] == run.history.test_acc[best]
    assert report["distance_best"] == run.distance[best]


# --------------------------------------------------------------------------- summary, figures, explorer

def test_summary_picks_the_four_corners(tiny_grid):
    corners = experiments.summary(tiny_grid, lam=0.01, ratio=0.2)
    assert list(corners) == ["none", "weight decay λ=0.01", "dropout 0.2", "both"]
    assert corners["both"] is tiny_grid[(0.01, 0.2)]


def test_figures_draw(tiny_grid, data):
    fig, axes = plt.subplots(2, 2)
    experiments.plot_run(axes[0][0], tiny_grid[(0.01, 0.0)], baseline=tiny_grid[(0.0, 0.0)])
    experiments.plot_noise_ceiling(axes[0][0], data)
    experiments.plot_weight_histograms(axes[1], {"a": tiny_grid[(0.0, 0.0)], "b": tiny_grid[(0.01, 0.0)]})
    experiments.plot_summary(axes[0][1], experiments.summary(tiny_grid, lam=0.01, ratio=0.2))
    experiments.plot_decay_paths(axes[0][1], experiments.adam_decay_paths(steps=3))
    plt.close(fig)
    fig = plt.figure()
    experiments.plot_grid(fig, tiny_grid)
    assert len(fig.axes) == 4
    plt.close(fig)


def test_explorer_redraws_when_a_slider_moves(tiny_grid, monkeypatch):
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda *args, **kwargs: None)
    box = experiments.explorer(tiny_grid)
    lam_slider, ratio_slider = box.children[0].children
    output = box.children[1]
    assert list(lam_slider.options) == [0.0, 0.01] and list(ratio_slider.options) == [0.0, 0.2]
    drawn = []
    monkeypatch.setattr(experiments, "plot_run", lambda ax, run, baseline=None: drawn.append(run))
    lam_slider.value = 0.01
    ratio_slider.value = 0.2
    assert drawn == [tiny_grid[(0.01, 0.0)], tiny_grid[(0.01, 0.2)]]
    assert "image/png" in output.outputs[0]["data"]  # the picture is in the widget's own state
    plt.close("all")
