"""The shared figure helpers draw what they are given and refuse what does not fit."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from lib import plots


class _Bowl:
    minimum = (0.0, 0.0)
    plot_range = ((-2.0, 2.0), (-1.0, 1.0))

    def __call__(self, x, y):
        return x ** 2 + 4 * y ** 2


class _History:
    def __init__(self, losses, train_acc, test_acc):
        self.train_loss, self.train_acc, self.test_acc = losses, train_acc, test_acc


def test_smooth_is_a_trailing_mean_of_the_same_length():
    values = [4.0, 2.0, 6.0, 0.0]
    np.testing.assert_allclose(plots.smooth(values, window=2), [4.0, 3.0, 4.0, 3.0])
    np.testing.assert_allclose(plots.smooth(values, window=10), [4.0, 3.0, 4.0, 3.0])
    np.testing.assert_allclose(plots.smooth(values, window=1), values)


def test_smooth_rejects_a_window_below_one():
    with pytest.raises(ValueError, match="window"):
        plots.smooth([1.0], window=0)


def test_contour_paths_draws_every_path_inside_the_function_range():
    fig, ax = plt.subplots()
    paths = {"SGD": np.array([[1.5, 0.5], [0.5, -0.2], [0.0, 0.0]]), "Adam": np.array([[1.5, 0.5], [1.0, 0.1]])}
    plots.contour_paths(ax, _Bowl(), paths, title="bowl")
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["SGD", "Adam"]
    np.testing.assert_allclose(ax.get_lines()[0].get_xydata(), paths["SGD"])
    assert ax.get_xlim() == (-2.0, 2.0) and ax.get_ylim() == (-1.0, 1.0)
    plt.close(fig)


def test_learning_and_train_test_curves_plot_the_history_values():
    history = _History([3.0, 1.0, 2.0], [0.1, 0.5, 0.9], [0.1, 0.4, 0.6])
    fig, (left, right) = plt.subplots(1, 2)
    plots.learning_curves(left, {"SGD": history}, window=1)
    np.testing.assert_allclose(left.get_lines()[0].get_ydata(), [3.0, 1.0, 2.0])
    plots.train_test_curves(right, history, label="plain")
    train, test = right.get_lines()[:2]
    np.testing.assert_allclose(train.get_ydata(), history.train_acc)
    np.testing.assert_allclose(test.get_ydata(), history.test_acc)
    assert test.get_linestyle() == "--"
    plt.close(fig)


def test_layer_histograms_needs_one_axis_per_layer():
    fig, axes = plt.subplots(1, 2)
    with pytest.raises(ValueError, match="one axis per layer"):
        plots.layer_histograms(axes, [np.zeros(3)] * 3)
    plots.layer_histograms(axes, [np.zeros(3), np.ones(3)], value_range=(0, 1))
    assert axes[1].get_title() == "layer 2"
    plt.close(fig)


def test_animation_html_embeds_every_frame():
    fig, ax = plt.subplots(figsize=(2, 2), dpi=40)
    point, = ax.plot([0], [0], "o")
    html = plots.animation_html(fig, lambda i: point.set_data([i], [i]), frames=3).data
    assert html.count("data:image/png;base64") == 3


def test_show_in_output_replaces_the_widget_picture_and_closes_the_figure():
    import ipywidgets

    output = ipywidgets.Output()
    pictures = []
    for color in ("red", "blue"):
        fig, ax = plt.subplots(figsize=(2, 2), dpi=40)
        ax.plot([0, 1], [0, 1], color=color)
        plots.show_in_output(output, fig, "test figure")
        assert not plt.fignum_exists(fig.number)
        assert len(output.outputs) == 1 and output.outputs[0]["data"]["text/plain"] == "<test figure>"
        pictures.append(output.outputs[0]["data"]["image/png"])
    assert pictures[0] != pictures[1]


def test_animation_html_is_the_same_on_every_run():
    def movie():
        fig, ax = plt.subplots(figsize=(2, 2), dpi=40)
        point, = ax.plot([0], [0], "o")
        return plots.animation_html(fig, lambda i: point.set_data([i], [i]), frames=2).data

    first, second = movie(), movie()
    assert first == second and "_anim_img" in first
