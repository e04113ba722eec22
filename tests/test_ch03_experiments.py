"""Unit tests for chapter 3's experiments and figures: the networks they build, the bookkeeping of the
experiments, the independence of their random streams, the probes that must not disturb the network
they probe, the figures and the interactive figure."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lib import gradcheck  # noqa: E402
from lib.chapters.ch03_batchnorm import experiments, figures  # noqa: E402
from lib.layers import BatchNormalization, LayerNormalization  # noqa: E402
from lib.training import History  # noqa: E402


@pytest.fixture(scope="module")
def tiny_data():
    return experiments.load_data("digits", n_train=120, seed=0)


def test_experiments_import_neither_matplotlib_nor_widgets():
    code = ("import sys, lib.chapters.ch03_batchnorm.experiments; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_each_seed_splits_into_independent_streams():
    streams = {experiments.stream(seed, k) for seed in range(5) for k in range(5)}
    assert len(streams) == 25
    assert experiments.stream(3, 1) == experiments.stream(3, 1)


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
    assert network.output_size == 10


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


def test_normwise_relative_error():
    assert experiments.normwise_relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert experiments.normwise_relative_error(np.ones(3), -np.ones(3)) == pytest.approx(1.0)
    # one entry near 0 does not dominate, unlike the elementwise error
    a, b = np.array([1.0, 1e-9]), np.array([1.0, 2e-9])
    assert experiments.normwise_relative_error(a, b) < 1e-9 < gradcheck.relative_error(a, b)


def test_robustness_study_shares_the_runs_at_the_he_scale_and_base_rate(tiny_data, monkeypatch):
    monkeypatch.setattr(experiments, "load_data", lambda dataset, seed: tiny_data)
    study = experiments.robustness_study((0,), weight_scales=(0.2, 0.01), lrs=(experiments.LR, 3.0), epochs=1)
    he = study.weight_scales.index(experiments.HE_SCALE)
    for kind in ("plain", "batchnorm"):
        assert study.scale_histories[kind][0][he] is study.lr_histories[kind][0][0]
    assert study.final_train_accuracy("plain").shape == (1, 2)
    assert study.diverged("plain").shape == study.final_test_accuracy("batchnorm").shape == (1, 2)
    assert study.reference[0][1].history is study.scale_histories["batchnorm"][0][he]


def test_batch_size_run_makes_the_same_number_of_updates_at_every_batch_size(tiny_data):
    for batch_size in (2, 8, 32):
        history = experiments.batch_size_run(tiny_data, "batch", batch_size, updates=12, hidden=(8,))
        assert len(history.train_loss) == 12, batch_size


def test_mean_spread_and_rate_format_over_seeds():
    assert experiments.mean_spread([1.0, 3.0]) == "2.000 ± 1.000 (1.000–3.000)"
    assert experiments.rate([True, False, True]) == "2 of 3 seeds"


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
    probe = experiments.train_eval_pitfalls(network, x_test, t_test, max_samples=50, single_samples=20)
    experiments.batch_noise(network, x_test, batch_sizes=(4,), trials=3)
    for bn, (mean, var) in zip(network.batchnorm_layers, before):
        np.testing.assert_array_equal(bn.running_mean, mean)
        np.testing.assert_array_equal(bn.running_var, var)
    assert probe.distinct_predictions == 1  # even untrained: every BN output is β
    assert probe.train_batch_of_one <= probe.chance


def test_figures_draw(tiny_data, monkeypatch):
    monkeypatch.setattr(experiments, "load_data", lambda dataset, seed, n_train=None: tiny_data)
    study = experiments.robustness_study((0, 1), epochs=1)
    for fig in (figures.scale_curves(study), figures.learning_rate_curves(study)):
        for ax in fig.axes:
            assert ax.get_xlabel()
        assert fig.axes[0].get_ylabel() and fig.axes[0].get_legend() is not None
        plt.close(fig)
    fig = figures.spread_histograms(experiments.activation_spread(tiny_data, seed=0), weight_scale=0.01)
    plt.close(fig)
    fig, ax = plt.subplots()
    figures.pitfall_bars(ax, experiments.pitfall_statistics(study))
    assert ax.get_xlabel() and ax.get_legend() is not None
    plt.close(fig)
    batch_study = experiments.BatchSizeStudy((0, 1), (2, 32), 10, {"batch": np.array([[0.2, 0.9], [0.3, 0.8]]),
                                                                  "layer": np.array([[0.5, 0.9], [0.6, 0.9]])})
    fig, ax = plt.subplots()
    figures.batch_size_plot(ax, batch_study)
    assert ax.get_xlabel() and ax.get_ylabel() and len(ax.get_legend().get_texts()) == 2
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)
    figures.plot_lab_run(axes, History(train_acc=[0.1, 0.5], test_acc=[0.1, 0.4], train_loss=[2.3, float("nan")],
                                       diverged=True), weight_scale=0.01, lr=3.0, batchnorm=False)
    assert "DIVERGED" in axes[0].get_title()
    plt.close(fig)


def test_interactive_figure_retrains_on_change_and_caches(tiny_data, monkeypatch):
    calls = []
    real_run = experiments.lab_run

    def counting_run(*args, **kwargs):
        calls.append(args[1:4])
        return real_run(*args, **kwargs)

    monkeypatch.setattr(experiments, "lab_run", counting_run)
    lab = figures.interactive_figure(tiny_data, epochs=1)
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
