"""Unit tests of lib.chapters.ch02_initialization.experiments: the deep-stack experiment and its backward
pass, per-layer statistics, the variance recursion, and the explorer's compute path."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

from lib.chapters.ch02_initialization import experiments
from lib.gradcheck import numerical_gradient, relative_error

matplotlib.use("Agg")


def test_forward_activations_matches_saitos_loop():
    run = experiments.forward_activations("sigmoid", 1.0, n_layers=3, width=20, n_samples=50, seed=4)
    rng = np.random.default_rng(4)
    a = rng.standard_normal((50, 20))
    assert np.array_equal(a, run.inputs)
    for layer in range(3):
        a = 1 / (1 + np.exp(-(a @ (rng.standard_normal((20, 20)) * 1.0))))
        np.testing.assert_allclose(run.activations[layer], a, rtol=1e-9, atol=1e-15)
    assert len(run.preactivations) == 3 and run.weight_std == 1.0


def test_forward_activations_float32():
    run = experiments.forward_activations("tanh", "xavier", n_layers=2, width=10, n_samples=20, seed=0, dtype=np.float32)
    assert all(a.dtype == np.float32 for a in run.activations + run.preactivations + run.weights)


def test_forward_activations_rejects():
    with pytest.raises(ValueError, match="activation"):
        experiments.forward_activations("swish", 1.0, n_layers=1, width=3, n_samples=2)
    with pytest.raises(ValueError, match="n_layers"):
        experiments.forward_activations("relu", 1.0, n_layers=0)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_gradient_flow_passes_a_gradient_check(activation):
    run = experiments.forward_activations(activation, "xavier", n_layers=3, width=6, n_samples=5, seed=1)
    flow = experiments.gradient_flow(run, seed=2)
    upstream = np.random.default_rng(2).standard_normal(run.activations[-1].shape) / 5

    def loss():
        a = run.inputs
        for weights in run.weights:
            a = experiments._activate(activation, a @ weights)
        return float(np.sum(upstream * a))

    for weights, grad in zip(run.weights, flow.weight_grads):
        assert relative_error(numerical_gradient(loss, weights), grad) < 1e-7
    np.testing.assert_allclose(flow.weight_grad_norm, [np.linalg.norm(g) for g in flow.weight_grads])
    assert flow.activation_grad_std[-1] == pytest.approx(upstream.std())


def test_layer_statistics_by_hand():
    layers = [np.array([[0.0, 0.005], [0.5, 1.0]]), np.array([[0.2, 0.995, 0.4, 0.6]])]
    stats = experiments.layer_statistics(layers, low=0.0, high=1.0, margin=0.01)
    np.testing.assert_allclose(stats["mean"], [1.505 / 4, 2.195 / 4])
    np.testing.assert_allclose(stats["std"], [np.std(layers[0]), np.std(layers[1])])
    np.testing.assert_allclose(stats["saturated"], [3 / 4, 1 / 4])
    relu = experiments.layer_statistics([np.array([0.0, 0.0, 0.3, 2.0])], **experiments.saturation_bounds("relu"))
    assert relu["saturated"][0] == 0.5  # exact zeros count, small positive values do not
    assert set(experiments.saturation_bounds("tanh")) == {"low", "high", "margin"}
    with pytest.raises(ValueError):
        experiments.saturation_bounds("gelu")


def test_second_moment_and_activation_std():
    assert experiments.second_moment("relu", 3.0) == 1.5
    assert experiments.second_moment("linear", 3.0) == 3.0
    # tanh(z) ≈ z for a tiny variance; sigmoid's E[y²] → 1/4 + Var/16 likewise
    assert experiments.second_moment("tanh", 1e-6) == pytest.approx(1e-6, rel=1e-4)
    assert experiments.second_moment("sigmoid", 1e-6) == pytest.approx(0.25 + 1e-6 / 16, rel=1e-6)
    # sharp tanh of a wide z: E[1 − tanh²] ≈ 2·pdf(0)/σ, the case a low-order Gauss–Hermite rule gets wrong
    assert 1 - experiments.second_moment("tanh", 1e4) == pytest.approx(2 / (100 * math.sqrt(2 * math.pi)), rel=1e-3)
    samples = np.random.default_rng(0).normal(0, 2.0, 2_000_000)
    sigmoid = 1 / (1 + np.exp(-samples))
    assert experiments.second_moment("sigmoid", 4.0) == pytest.approx(np.mean(sigmoid**2), rel=2e-3)
    assert experiments.activation_std("tanh", 4.0) == pytest.approx(np.tanh(samples).std(), rel=2e-3)
    assert experiments.activation_std("relu", 2.0) == pytest.approx(math.sqrt(1 - 1 / math.pi))


def test_predicted_variance_recursion():
    np.testing.assert_allclose(experiments.predicted_preactivation_variance("relu", "he", n_layers=4), [2, 2, 2, 2])
    np.testing.assert_allclose(experiments.predicted_preactivation_variance("relu", "xavier", n_layers=3), [1, 0.5, 0.25])
    np.testing.assert_allclose(experiments.predicted_preactivation_variance("relu", 0.01, n_layers=2, width=100),
                               [0.01, 0.01 * 0.01 / 2])
    assert experiments.predicted_activation_std("relu", "he", n_layers=3) == pytest.approx([math.sqrt(1 - 1 / math.pi)] * 3)


def test_saito_experiment_table_shape():
    table = experiments.saito_experiment(seed=0, n_layers=3, width=10, n_samples=20, activations=("relu",), inits=("he",))
    assert set(table) == {("relu", "he")}
    assert {key: value.shape for key, value in table["relu", "he"].items()} == {
        "std": (3,), "saturated": (3,), "grad_norm": (3,)}


def test_figures_build():
    import matplotlib.pyplot as plt

    fig = experiments.histogram_grid(0, activations=("relu", "sigmoid"), inits=("he", 0.01, 1.0), n_layers=2)
    assert len(fig.axes) == 6
    assert "exactly 0: " in fig.axes[0].texts[0].get_text()   # ReLU panels state the fraction of zeros
    assert "saturated: " in fig.axes[3].texts[0].get_text()
    plt.close(fig)
    fig = experiments.explorer_figure("tanh", 0.5, depth=7, width=20)
    assert len(fig.axes) == 6  # 5 histograms + the std profile
    plt.close(fig)
    fig = experiments.explorer_figure("relu", 0.01, depth=20, width=10)  # values underflow towards 0: still drawn
    plt.close(fig)


def test_explorer_redraws_on_change():
    widget = experiments.explorer("relu", "he", depth=3, width=20)
    output = widget.children[-1]
    controls = widget.children[0].children
    depth_slider = controls[1].children[0]
    assert depth_slider.description == "depth"
    before = output.outputs[0]["data"]["image/png"]
    depth_slider.value = 4
    assert len(output.outputs) == 1                      # replaced, not appended
    after = output.outputs[0]["data"]["image/png"]
    assert after and after != before


def test_explorer_custom_std_slider_is_live_only_for_a_custom_scheme():
    widget = experiments.explorer("relu", "he", depth=3, width=20)
    scheme_box, custom_std = widget.children[0].children[0].children[1:3]
    assert custom_std.disabled
    scheme_box.value = "custom"
    assert not custom_std.disabled
    matplotlib.pyplot.close("all")
