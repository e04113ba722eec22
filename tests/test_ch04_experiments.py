"""Unit tests for chapter 4's experiments and figures (lib.chapters.ch04_regularization) and the
internals of its checks."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib.chapters.ch04_regularization import experiments, figures  # noqa: E402
from lib.checks import ch04_regularization as checks  # noqa: E402
from lib.data import load_dataset  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return experiments.make_data("digits", n_train=60, n_validation=40, seed=3)


@pytest.fixture(scope="module")
def tiny_study():
    """Every arm of the study on two seeds, two epochs each (the real study is asserted in the claim tests)."""
    seeds = (1, 2)
    data = tuple(experiments.make_data("digits", n_train=60, n_validation=40, seed=s) for s in seeds)
    clean = tuple(experiments.make_data("digits", n_train=60, n_validation=40, label_noise=0.0, seed=s) for s in seeds)
    short = dict(epochs=2)
    study = experiments.Study(
        seeds=seeds, data=data,
        clean=tuple(experiments.train_run(d, seed=s, **short) for d, s in zip(clean, seeds)),
        none=tuple(experiments.train_run(d, seed=s, **short) for d, s in zip(data, seeds)),
        weight_decay=tuple(experiments.train_run(d, weight_decay_lambda=experiments.LAMBDA, seed=s, **short)
                           for d, s in zip(data, seeds)),
        large_weight_decay=tuple(experiments.train_run(d, weight_decay_lambda=experiments.LARGE_LAMBDA, seed=s, **short)
                                 for d, s in zip(data, seeds)),
        dropout=tuple(experiments.train_run(d, dropout_ratio=experiments.DROPOUT_RATIO, seed=s, **short)
                      for d, s in zip(data, seeds)))
    return study


# --------------------------------------------------------------------------- layout

def test_experiments_import_neither_matplotlib_nor_widgets():
    code = ("import sys; from lib.chapters.ch04_regularization import experiments; "
            "print('matplotlib' in sys.modules, 'ipywidgets' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_every_purpose_has_its_own_stream():
    keys = {tuple(experiments._stream_key(7, purpose)) for purpose in experiments.STREAMS}
    assert len(keys) == len(experiments.STREAMS)
    draws = {purpose: experiments.stream(7, purpose).random(4).tolist() for purpose in experiments.STREAMS}
    assert len({tuple(v) for v in draws.values()}) == len(draws)
    with pytest.raises(ValueError, match="unknown random stream"):
        experiments.stream(0, "labels")


def test_the_explorer_reaches_the_underfitting_lambda():
    assert max(experiments.EXPLORER_LAMBDAS) == experiments.LARGE_LAMBDA
    assert experiments.LAMBDA in experiments.EXPLORER_LAMBDAS and 0.0 in experiments.EXPLORER_LAMBDAS
    assert experiments.DROPOUT_RATIO in experiments.EXPLORER_RATIOS and 0.0 in experiments.EXPLORER_RATIOS


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
    assert len(t_train) == 60 and len(t_val) == 40 and data.n_classes == 10
    assert np.mean(t_train != data.clean_train_labels) == data.wrong_label_fraction
    assert np.array_equal(data.flipped, t_train != data.clean_train_labels)
    _, (x_test_ref, t_test_ref) = load_dataset("digits", seed=0, dtype=np.float32)
    assert np.array_equal(t_test, t_test_ref) and np.array_equal(x_test, x_test_ref)
    clean = experiments.make_data("digits", n_train=60, n_validation=40, label_noise=0.0, seed=3)
    assert clean.wrong_label_fraction == 0.0
    # The flips do not move the split: clean and noisy data of one seed hold the same images.
    assert np.array_equal(clean.train[0], x_train) and np.array_equal(clean.clean_train_labels, data.clean_train_labels)
    with pytest.raises(ValueError, match="fewer than"):
        experiments.make_data("digits", n_train=5000)


def test_weight_norm_counts_weights_only():
    params = {"W1": np.full((2, 2), 1.0), "b1": np.full(2, 100.0), "W2": np.full(1, 2.0), "gamma1": np.ones(3)}
    assert experiments.weight_norm(params) == pytest.approx(np.sqrt(4 + 4))


def test_build_network_draws_masks_from_their_own_stream(data):
    network = experiments.build_network(data, dropout_ratio=0.5, seed=4)
    assert network.dropout_layers and all(layer.rng is network.dropout_layers[0].rng for layer in network.dropout_layers)
    assert network.dropout_layers[0].rng is not network.rng
    plain = experiments.build_network(data, seed=4)
    np.testing.assert_array_equal(plain.params["W1"], network.params["W1"])  # dropout does not change the init


# --------------------------------------------------------------------------- runs

def test_train_run_records_one_value_per_epoch_from_epoch_zero(tiny_study):
    run = tiny_study.dropout[0]
    assert (len(run.val_acc) == len(run.memorized) == len(run.clean_train_acc) == len(run.weight_norm)
            == len(run.distance) == len(run.history.test_acc) == 3)
    assert run.distance[0] == 0.0 and run.distance[-1] > 0
    assert set(run.weights) == {"W1", "W2"}
    assert run.label == f"dropout {experiments.DROPOUT_RATIO:g}"
    assert tiny_study.none[0].label == "no regularization"
    final = run.final()
    assert final.epoch == 2 and final.gap == pytest.approx(final.train_acc - final.test_acc)
    assert np.isnan(tiny_study.clean[0].final().memorized)  # nothing flipped, nothing to memorize


def test_a_run_measured_only_at_the_end_ends_exactly_where_a_per_epoch_run_ends(data):
    full = experiments.train_run(data, dropout_ratio=0.2, epochs=3, seed=6)
    last = experiments.train_run(data, dropout_ratio=0.2, epochs=3, seed=6, per_epoch=False)
    assert full.per_epoch and not last.per_epoch
    assert last.final() == full.final()  # the same training, the same full sets
    assert last.history.train_loss == full.history.train_loss
    for name in ("val_acc", "clean_train_acc", "memorized", "weight_norm", "distance"):
        assert len(getattr(last, name)) == 4 and np.isnan(getattr(last, name)[:3]).all(), name
    assert len(last.history.test_acc) == 4 and np.isnan(last.history.test_acc[:3]).all()


def test_memorized_fraction_counts_flipped_labels_reproduced(data):
    run = experiments.train_run(data, epochs=1, seed=0)
    network = experiments.build_network(data, seed=0)
    # Epoch 0 is the untrained network, identical to a fresh one of the same seed.
    predicted = network.predict(data.train[0]).argmax(axis=1)
    flipped = data.flipped
    assert run.memorized[0] == pytest.approx(np.mean(predicted[flipped] == data.train[1][flipped]))
    assert run.clean_train_acc[0] == pytest.approx(np.mean(predicted == data.clean_train_labels))


def test_train_run_is_deterministic_and_rejects_unknown_optimizers(data):
    first = experiments.train_run(data, dropout_ratio=0.2, epochs=2, seed=5)
    second = experiments.train_run(data, dropout_ratio=0.2, epochs=2, seed=5)
    assert first.history.train_loss == second.history.train_loss and first.val_acc == second.val_acc
    with pytest.raises(ValueError, match="optimizer"):
        experiments.train_run(data, optimizer="lbfgs", epochs=1)


def test_weight_decay_is_applied_through_the_network_loss(data):
    plain = experiments.train_run(data, epochs=2, seed=2)
    decayed = experiments.train_run(data, weight_decay_lambda=0.5, epochs=2, seed=2)
    assert decayed.weight_norm[-1] < plain.weight_norm[-1]


def test_adam_and_adamw_runs_are_labelled(data):
    coupled = experiments.train_run(data, weight_decay_lambda=0.01, optimizer="adam", epochs=1)
    decoupled = experiments.train_run(data, decoupled_weight_decay=0.01, optimizer="adamw", epochs=1)
    assert coupled.label.startswith("adam:") and decoupled.label.startswith("adamw:")


# --------------------------------------------------------------------------- statistics

def test_spread_and_paired():
    spread = experiments.Spread(np.array([1.0, 2.0, 3.0]))
    assert spread.mean == 2.0 and spread.std == pytest.approx(1.0) and spread.count(lambda v: v > 1) == 2
    paired = experiments.Paired(np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, 4.0]))
    assert paired.mean == 0.0 and paired.wins == 1 and paired.losses == 1 and paired.n == 3
    assert "higher in 1 of 3" in str(paired)


def test_statistics_read_the_study(tiny_study):
    for stats in (experiments.overfitting_stats(tiny_study), experiments.weight_decay_stats(tiny_study),
                  experiments.dropout_stats(tiny_study), experiments.early_stopping_stats(tiny_study, patience=1),
                  experiments.comparison(tiny_study, patience=1)):
        assert str(stats)
    result = experiments.comparison(tiny_study, patience=1)
    assert [arm.name for arm in result.arms] == list(experiments.COMPARED_ARMS)
    early = result.arm("early stopping")
    kept = [run.early_stopped(1).test_acc for run in tiny_study.none]
    np.testing.assert_array_equal(early.test_acc.values, kept)
    none = [run.final().test_acc for run in tiny_study.none]
    np.testing.assert_array_equal(result.arm("no regularization").test_acc.values, none)
    with pytest.raises(KeyError):
        result.arm("batchnorm")


def test_explorer_grid_reuses_the_study_runs(tiny_study, monkeypatch):
    trained = []
    monkeypatch.setattr(experiments, "train_run", lambda data, **kw: trained.append(kw) or tiny_study.none[1])
    grid = experiments.explorer_grid(tiny_study, lambdas=(0.0, experiments.LAMBDA), ratios=(0.0, 0.25))
    assert grid[(0.0, 0.0)] is tiny_study.none[0] and grid[(experiments.LAMBDA, 0.0)] is tiny_study.weight_decay[0]
    assert len(trained) == 2 and all(kw["seed"] == tiny_study.seeds[0] for kw in trained)
    # A study run measured only at its end has no curves to show: the explorer trains its own.
    trained.clear()
    final_only = experiments.train_run(tiny_study.data[0], seed=tiny_study.seeds[0], epochs=2, per_epoch=False)
    monkeypatch.setattr(tiny_study, "weight_decay", (final_only,) + tiny_study.weight_decay[1:])
    grid = experiments.explorer_grid(tiny_study, lambdas=(0.0, experiments.LAMBDA), ratios=(0.0,))
    assert grid[(0.0, 0.0)] is tiny_study.none[0] and len(trained) == 1


# --------------------------------------------------------------------------- dropout, Adam toy

def test_dropout_expectation_is_in_standard_errors():
    result = experiments.dropout_expectation((1, 2), 0.3, draws=2000)
    assert len(result.book.values) == 2
    np.testing.assert_allclose(result.book.values, result.inverted.values, rtol=1e-9)
    assert 0.2 < result.book.mean < 2.0


def test_adamw_toy_decays_geometrically_and_adam_l2_ignores_lambda():
    paths = experiments.adam_decay_paths(lambdas=(0.01, 1.0), steps=50, lr=0.02)
    np.testing.assert_allclose(paths[("AdamW", 0.01)], (1 - 0.02 * 0.01) ** np.arange(51), rtol=1e-12)
    np.testing.assert_allclose(paths[("Adam + L2", 0.01)], paths[("Adam + L2", 1.0)], atol=1e-6)
    assert paths[("Adam + L2", 0.01)][1] == pytest.approx(1 - 0.02, rel=1e-6)  # the first Adam step is exactly lr
    comparison = experiments.decay_comparison(paths, threshold=0.5)
    assert comparison.adam_l2_steps[0.01] == comparison.adam_l2_steps[1.0]
    assert comparison.adamw_final[1.0] == pytest.approx((1 - 0.02) ** 50)


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


# --------------------------------------------------------------------------- figures, interactive figure

def test_figures_draw_with_labelled_axes(tiny_study):
    data = tiny_study.data[0]
    fig, axes = plt.subplots(2, 3)
    figures.plot_run(axes[0][0], tiny_study.weight_decay[0], baseline=tiny_study.none[0], data=data)
    figures.plot_weight_histograms(axes[1], {"a": tiny_study.none[0], "b": tiny_study.weight_decay[0],
                                             "c": tiny_study.dropout[0]})
    figures.plot_comparison(axes[0][1], experiments.comparison(tiny_study, patience=1))
    figures.plot_decay_paths(axes[0][2], experiments.adam_decay_paths(steps=3))
    for ax in [axes[0][0], axes[0][1], axes[0][2], *axes[1]]:
        assert ax.get_xlabel() and ax.get_ylabel()
    plt.close(fig)
    fig, ax = plt.subplots()
    figures.plot_early_stopping(ax, tiny_study.none[0], 1, 2, data)
    assert ax.get_xlabel() and ax.get_legend() is not None
    plt.close(fig)


def test_plot_grid_draws_one_panel_per_run(tiny_study):
    grid = experiments.Grid(lambdas=(0.0, experiments.LAMBDA), ratios=(0.0,), data=tiny_study.data[0],
                            runs={(0.0, 0.0): tiny_study.none[0], (experiments.LAMBDA, 0.0): tiny_study.weight_decay[0]})
    fig = plt.figure()
    figures.plot_grid(fig, grid)
    assert len(fig.axes) == 2
    plt.close(fig)


def test_interactive_figure_redraws_when_a_slider_moves(tiny_study, monkeypatch):
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda *args, **kwargs: None)
    runs = {(0.0, 0.0): tiny_study.none[0], (0.0, 0.5): tiny_study.dropout[0],
            (0.01, 0.0): tiny_study.weight_decay[0], (0.01, 0.5): tiny_study.none[1]}
    grid = experiments.Grid(lambdas=(0.0, 0.01), ratios=(0.0, 0.5), runs=runs, data=tiny_study.data[0])
    box = figures.interactive_figure(grid)
    lam_slider, ratio_slider = box.children[0].children
    output = box.children[1]
    assert list(lam_slider.options) == [0.0, 0.01] and list(ratio_slider.options) == [0.0, 0.5]
    drawn = []
    monkeypatch.setattr(figures, "plot_run", lambda ax, run, **kwargs: drawn.append(run))
    lam_slider.value = 0.01
    ratio_slider.value = 0.5
    assert drawn == [runs[(0.01, 0.0)], runs[(0.01, 0.5)]]
    assert "image/png" in output.outputs[0]["data"]  # the picture is in the widget's own state
    plt.close("all")
