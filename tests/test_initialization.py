"""Unit tests of lib.chapters.ch02_initialization (the reference initializers are tested in
tests/test_initializers.py): the deep-stack experiment and its backward pass, per-layer statistics, the variance recursion, and the explorer's compute path."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

from lib.chapters.ch02_initialization import experiments, figures
from lib.gradcheck import numerical_gradient, relative_error

matplotlib.use("Agg")


def test_forward_activations_matches_saitos_loop():
    run = experiments.forward_activations("sigmoid", 1.0, n_layers=3, width=20, n_samples=50, seed=4)
    a = np.random.default_rng([4, experiments.INPUT_STREAM]).standard_normal((50, 20))
    assert np.array_equal(a, run.inputs)
    for layer in range(3):
        weights = np.random.default_rng([4, experiments.WEIGHT_STREAM, layer]).standard_normal((20, 20)) * 1.0
        assert np.array_equal(run.weights[layer], weights)
        a = 1 / (1 + np.exp(-(a @ weights)))
        np.testing.assert_allclose(run.activations[layer], a, rtol=1e-9, atol=1e-15)
    assert len(run.preactivations) == 3 and run.weight_std == 1.0


def test_inits_of_one_seed_share_their_random_matrices():
    small = experiments.forward_activations("relu", 0.01, n_layers=2, width=10, n_samples=5, seed=3)
    he = experiments.forward_activations("relu", "he", n_layers=2, width=10, n_samples=5, seed=3)
    for w_small, w_he in zip(small.weights, he.weights):
        np.testing.assert_allclose(w_small / 0.01, w_he / math.sqrt(2 / 10), rtol=1e-12)
    deeper = experiments.forward_activations("relu", "he", n_layers=4, width=10, n_samples=5, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(he.weights, deeper.weights))


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
    layer = experiments.ACTIVATION_LAYERS[activation]()

    def loss():
        a = run.inputs
        for weights in run.weights:
            a = layer.forward(a @ weights)
        return float(np.sum(flow.upstream * a))

    for weights, grad in zip(run.weights, flow.weight_grads):
        # entries near 1e-5 carry a finite-difference rounding of ~1e-7 relative; a wrong backward is off by > 1e-3
        assert relative_error(numerical_gradient(loss, weights), grad) < 1e-6
    np.testing.assert_allclose(flow.weight_grad_norm, [np.linalg.norm(g) for g in flow.weight_grads])
    assert flow.activation_grad_std[-1] == pytest.approx(flow.upstream.std())


def test_upstream_gradient_has_its_own_stream():
    # the draw that once reused the inputs' seed made g equal x exactly
    run = experiments.forward_activations("sigmoid", "xavier", n_layers=2, width=30, n_samples=40, seed=5)
    g = experiments.gradient_flow(run, seed=5).upstream * 40
    assert not np.array_equal(g, run.inputs)
    assert abs(np.corrcoef(g.ravel(), run.inputs.ravel())[0, 1]) < 0.1
    np.testing.assert_allclose(g, np.random.default_rng([5, experiments.UPSTREAM_STREAM]).standard_normal((40, 30)),
                               rtol=1e-15)


def test_layer_statistics_by_hand():
    layers = [np.array([[0.0, 0.005], [0.5, 1.0]]), np.array([[0.2, 0.995, 0.4, 0.6]])]
    stats = experiments.layer_statistics(layers, low=0.0, high=1.0, margin=0.01)
    np.testing.assert_allclose(stats.mean, [1.505 / 4, 2.195 / 4])
    np.testing.assert_allclose(stats.std, [np.std(layers[0]), np.std(layers[1])])
    np.testing.assert_allclose(stats.saturated, [3 / 4, 1 / 4])
    relu = experiments.layer_statistics([np.array([0.0, 0.0, 0.3, 2.0])], **experiments.saturation_bounds("relu"))
    assert relu.saturated[0] == 0.5  # exact zeros count, small positive values do not
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


def test_saito_study_shapes():
    study = experiments.saito_study((0, 1), n_layers=3, width=10, n_samples=20, activations=("relu",), inits=("he",))
    runs = study["relu", "he"]
    assert set(study.settings) == {("relu", "he")}
    for array in (runs.std, runs.saturated, runs.grad_norm, runs.activation_grad_std):
        assert array.shape == (2, 3)
    assert runs.grad_ratio.shape == (2,) and runs.backward_shrink.shape == (2, 2)


def test_summary():
    plain = experiments.Summary.of([1.0, 2.0, 3.0])
    assert (plain.center, plain.low, plain.high, plain.count) == (2.0, 1.0, 3.0, 3)
    assert plain.spread == pytest.approx(np.std([1, 2, 3]))
    geometric = experiments.Summary.of([1e-3, 1e-1], log=True)
    assert geometric.center == pytest.approx(1e-2) and geometric.spread == pytest.approx(10)
    assert "×/÷" in str(geometric) and "2 seeds" in str(geometric)


def test_experiments_import_no_plotting_library():
    import subprocess
    import sys

    code = ("import sys, lib.chapters.ch02_initialization.experiments; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'IPython') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_figures_build():
    import matplotlib.pyplot as plt

    fig = figures.histogram_grid(0, activations=("relu", "sigmoid"), inits=("he", 0.01, 1.0), n_layers=2)
    assert len(fig.axes) == 6
    assert fig.axes[0].texts[0].get_text().startswith("zeros ")   # ReLU panels state the share of zeros
    assert fig.axes[3].texts[0].get_text().startswith("saturated ")
    assert len(fig.legends) == 1                                   # one legend for every panel
    assert all(ax.get_xlabel() for ax in fig.axes)
    plt.close(fig)
    fig = figures.explorer_figure("tanh", 0.5, depth=7, width=20)
    assert len(fig.axes) == 6  # 5 histograms + the std profile
    assert all(ax.get_xlabel() for ax in fig.axes)
    plt.close(fig)
    fig = figures.explorer_figure("relu", 0.01, depth=20, width=10)  # values underflow towards 0: still drawn
    plt.close(fig)
    study = experiments.saito_study((0,), n_samples=20)
    fig = figures.gradient_profiles(study)
    assert len(fig.legends) == 1 and all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    plt.close(fig)


def test_interactive_figure_redraws_on_change():
    widget = figures.interactive_figure("relu", "he", depth=3, width=20)
    output = widget.children[-1]
    controls = widget.children[0].children
    depth_slider = controls[1].children[0]
    assert depth_slider.description == "depth"
    before = output.outputs[0]["data"]["image/png"]
    depth_slider.value = 4
    assert len(output.outputs) == 1                      # replaced, not appended
    after = output.outputs[0]["data"]["image/png"]
    assert after and after != before
    assert figures.static_image(widget).data[:8] == b"\x89PNG\r\n\x1a\n"   # the picture shown now, as a PNG


def test_interactive_figure_custom_std_slider_is_live_only_for_a_custom_scheme():
    widget = figures.interactive_figure("relu", "he", depth=3, width=20)
    scheme_box, custom_std = widget.children[0].children[0].children[1:3]
    assert custom_std.disabled
    scheme_box.value = "custom"
    assert not custom_std.disabled
    matplotlib.pyplot.close("all")
