"""Unit tests for lib.chapters.ch03_batchnorm.experiments: the networks it builds, the bookkeeping of its experiments, the
probes that must not disturb the network they probe, the figures and the interactive lab."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib.chapters.ch03_batchnorm import experiments  # noqa: E402
from lib import gradcheck  # noqa: E402
from lib.layers import BatchNormalization, LayerNormalization  # noqa: E402
from lib.training import History  # noqa: E402


@pytest.fixture(scope="module")
def tiny_data():
    return experiments.load_data("digits", n_train=120, seed=0)


def test_load_data_keeps_the_first_n_training_samples_as_float32():
    (x_train, t_train), (x_test, t_test) = experiments.load_data("digits", n_train=500, seed=1)
    assert x_train.shape == (500, 64) and t_train.shape == (500,)
    assert x_train.dtype == np.float32 and len(x_test) == len(t_test) > 300
    (x_all, _), _ = experiments.load_data("digits", n_train=None, seed=1)
    np.testing.assert_array_equal(x_all[:500], x_train)


@pytest.mark.parametrize("normalization, layer_type", [("none", None), ("batch", BatchNormalization),
                                                       ("layer", LayerNormalization)])
def test_build_network_puts_the_requested_normalization_after_each_hidden_affine(tiny_data, normalization, layer_type):
    network = experiments.build_network(tiny_data, normalization, hidden=(8, 8), seed=0)
    kinds = [type(layer).__name__ for layer in network.layers]
    if layer_type is None:
        assert kinds == ["Affine", "ReLU", "Affine", "ReLU", "Affine"]
    else:
        assert kinds == ["Affine", layer_type.__name__, "ReLU"] * 2 + ["Affine"]
        for index, layer in enumerate(network.normalization_layers, start=1):
            assert layer.gamma is network.params[f"gamma{index}"]  # updates reach the layer


def test_build_network_rejects_unknown_normalization(tiny_data):
    with pytest.raises(ValueError, match="normalization"):
        experiments.build_network(tiny_data, "group")


def test_layer_norm_network_passes_a_gradient_check():
    data = experiments.load_data("digits", n_train=6, seed=0, dtype=np.float64)
    network = experiments.build_network(data, "layer", hidden=(5, 4), seed=3)
    for key in ("gamma1", "beta2"):  # move γ, β off 1 and 0 so their gradients are not special
        network.params[key] += np.random.default_rng(1).normal(0, 0.3, network.params[key].shape)
    (x, t), _ = data
    grads = network.gradient(x, t)
    for key, param in network.params.items():
        numerical = gradcheck.numerical_gradient(lambda: network.loss(x, t, train_flg=True), param)
        assert gradcheck.relative_error(grads[key], numerical) < 1e-6, key


def test_scale_sweep_counts_scales_that_reach_the_threshold():
    def history(final):
        return History(train_acc=[0.1, final])

    sweep = experiments.ScaleSweep(np.array([1.0, 0.1, 0.01]), [history(0.2), history(0.5), history(0.49)],
                             [history(0.9), history(0.8), history(0.7)])
    np.testing.assert_array_equal(sweep.final_train_accuracy("plain"), [0.2, 0.5, 0.49])
    np.testing.assert_array_equal(sweep.learns("plain"), [False, True, False])
    assert sweep.learns("batchnorm").sum() == 3
    assert sweep.learns("batchnorm", threshold=0.75).sum() == 2


def test_weight_scale_sweep_trains_each_scale_with_and_without_bn(tiny_data):
    sweep = experiments.weight_scale_sweep(tiny_data, scales=[0.1, 0.001], epochs=1, hidden=(8, 8))
    assert len(sweep.plain) == len(sweep.batchnorm) == 2
    assert all(len(history.train_acc) == 2 for history in sweep.plain + sweep.batchnorm)


def test_batch_size_comparison_makes_the_same_number_of_updates_at_every_batch_size(tiny_data):
    runs = experiments.batch_size_comparison(tiny_data, batch_sizes=(2, 8, 32), normalizations=("batch",),
                                       iterations=12, hidden=(8,))
    for batch_size, history in runs["batch"].items():
        assert len(history.train_loss) == 12, batch_size
    accuracy = experiments.final_test_accuracy(runs)
    assert set(accuracy["batch"]) == {2, 8, 32}


def test_describe_run_reports_divergence():
    assert experiments.describe_run(History(test_acc=[0.1, 0.9])) == "test accuracy 0.900"
    assert experiments.describe_run(History(diverged=True, diverged_at=4)) == "diverged at iteration 4"


def test_wrong_backward_differs_from_the_layer_only_through_the_variance_path():
    rng = np.random.default_rng(0)
    layer = BatchNormalization(rng.uniform(0.5, 2, 3), np.zeros(3))
    x, dout = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    layer.forward(x, train_flg=True)
    wrong = experiments.backward_without_variance_path(layer, dout)
    right = layer.backward(dout)
    assert np.max(np.abs(wrong - right)) > 1e-3
    np.testing.assert_allclose(wrong.sum(axis=0), 0, atol=1e-12)  # it keeps the mean path


def test_probes_do_not_disturb_the_network_they_probe(tiny_data):
    network = experiments.build_network(tiny_data, "batch", hidden=(8,), seed=0)
    network.predict(tiny_data[0][0], train_flg=True)  # some non-trivial running statistics
    before = [(bn.running_mean.copy(), bn.running_var.copy()) for bn in network.batchnorm_layers]
    (x_test, t_test) = tiny_data[1]
    pitfalls = experiments.train_eval_pitfalls(network, x_test, t_test, max_samples=50)
    experiments.batch_noise(network, x_test, batch_sizes=(4,), trials=3)
    for bn, (mean, var) in zip(network.batchnorm_layers, before):
        np.testing.assert_array_equal(bn.running_mean, mean)
        np.testing.assert_array_equal(bn.running_var, var)
    assert pitfalls["train_batch_of_one_distinct_predictions"] == 1  # even untrained: every output is β
    assert set(pitfalls) >= {"eval", "train_whole_test_set", "train_batch_of_one", "eval_skewed", "train_skewed"}


def test_figures_draw(tiny_data):
    sweep = experiments.weight_scale_sweep(tiny_data, scales=experiments.SCALES[:5], epochs=1, hidden=(8,))
    fig = experiments.plot_sweep_grid(sweep)
    assert sum(ax.get_visible() for ax in fig.axes) == 5
    plt.close(fig)
    fig, ax = plt.subplots()
    experiments.plot_sweep_summary(ax, [sweep, sweep])
    assert len(ax.lines) == 5  # BN and plain per sweep, plus the threshold
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)
    experiments.plot_lab_run(axes, History(train_acc=[0.1, 0.5], test_acc=[0.1, 0.4], train_loss=[2.3, float("nan")],
                                     diverged=True), weight_scale=0.01, lr=3.0, batchnorm=False)
    assert "DIVERGED" in axes[0].get_title()
    plt.close(fig)


def test_interactive_lab_retrains_on_change_and_caches(tiny_data, monkeypatch):
    calls = []
    real_run = experiments.lab_run

    def counting_run(*args, **kwargs):
        calls.append(args[1:4])
        return real_run(*args, **kwargs)

    monkeypatch.setattr(experiments, "lab_run", counting_run)
    lab = experiments.interactive_lab(tiny_data, epochs=1)
    scale_slider, lr_slider, toggle = lab.children[0].children
    assert len(calls) == 1  # the first picture
    toggle.value = not toggle.value
    assert len(calls) == 2 and calls[-1][2] == toggle.value
    toggle.value = not toggle.value  # back to a setting already trained: served from the cache
    assert len(calls) == 2
    before = lab.children[1].outputs[0]["data"]["image/png"]
    scale_slider.value = 0.1
    assert len(calls) == 3 and calls[-1][0] == pytest.approx(0.1)
    assert lab.children[1].outputs[0]["data"]["image/png"] != before  # the picture changed
