"""Chapter 2's figures and its interactive figure (matplotlib, ipywidgets). Every function draws from
``experiments`` results and returns the figure (or the widget); the notebook calls ``plt.show()``."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from matplotlib.lines import Line2D

from lib.chapters.ch02_initialization import experiments
from lib.initializers import scheme_label
from lib.plots import learning_curves

__all__ = ["histogram_grid", "plot_profiles", "gradient_profiles", "recursion_figure", "unit_weights_figure",
           "network_figure", "depth_figure", "explorer_figure", "interactive_figure", "static_image"]


def _layer_colors(n_layers: int):
    return plt.get_cmap("viridis")(np.linspace(0.9, 0.1, n_layers))


def histogram_grid(seed: int = 0, *, activations: Sequence[str] = experiments.ACTIVATIONS,
                   inits: Sequence = experiments.SAITO_INITS, n_layers: int = 5, figsize=(12, 6.6)):
    """Saito's histograms (his Figures 6-10 to 6-14) as one grid: a row per activation, a column per init,
    each panel overlaying the histograms of layers 1 … ``n_layers`` (light to dark, one legend for the
    figure). sigmoid and tanh are drawn over their output range; ReLU's positive values over ``log10``
    (the layers' scales differ by orders of magnitude), with the fraction of exact zeros in the panel."""
    colors = _layer_colors(n_layers)
    fig, axes = plt.subplots(len(activations), len(inits), figsize=figsize, squeeze=False)
    for row, activation in zip(axes, activations):
        value_range = {"sigmoid": (0, 1), "tanh": (-1, 1)}.get(activation)  # None: ReLU, on a log axis
        for ax, init in zip(row, inits):
            run = experiments.forward_activations(activation, init, n_layers=n_layers, seed=seed)
            stats = experiments.run_statistics(run)
            for layer, values in enumerate(run.activations):
                if value_range is None:
                    counts, edges = np.histogram(np.log10(values[values > 0]), bins=40, range=(-8, 6))
                else:
                    counts, edges = np.histogram(values, bins=40, range=value_range)
                ax.stairs(counts / values.size, edges, color=colors[layer], linewidth=1.5)
            flat = "zeros" if activation == "relu" else "saturated"
            ax.text(0.03, 0.96, f"{flat} {stats.saturated.mean():.0%}\nstd {stats.std[0]:.2g}→{stats.std[-1]:.2g}",
                    transform=ax.transAxes, va="top", fontsize=10,
                    bbox=dict(facecolor="white", alpha=0.8, edgecolor="none", pad=1))
            ax.set_yticks([])
            ax.grid(False)
            if value_range is None:
                ax.set_xlabel("log10(output > 0)", fontsize=10)
            else:
                ax.set_xticks([value_range[0], sum(value_range) / 2, value_range[1]])
                ax.set_xlabel("output", fontsize=10)
            ax.tick_params(labelsize=10)
            ax.set_title(f"{activation}, {scheme_label(init)}", fontsize=11)
        row[0].set_ylabel("share of values", fontsize=10)
    handles = [Line2D([], [], color=colors[layer], linewidth=2) for layer in range(n_layers)]
    fig.legend(handles, [f"layer {layer + 1}" for layer in range(n_layers)], loc="lower center", ncol=n_layers,
               fontsize=10, frameon=False)
    fig.suptitle(f"activations of {n_layers} layers of {experiments.WIDTH} units for "
                 f"{experiments.N_SAMPLES} random inputs (seed {seed})", fontsize=13)
    # fixed margins instead of tight_layout, which draws the whole grid once more to measure it
    fig.subplots_adjust(left=0.04, right=0.99, top=0.9, bottom=0.15, wspace=0.08, hspace=0.65)
    return fig


def plot_profiles(ax, profiles: Mapping[str, np.ndarray], *, ylabel: str, title: str = "", log: bool = True,
                  legend: bool = True) -> None:
    """One line per setting of a per-layer quantity (std, gradient norm …) against layer number."""
    for label, values in profiles.items():
        values = np.asarray(values)
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=4, label=label)
    if log:
        ax.set_yscale("log")
        positive = np.concatenate([np.ravel(v) for v in profiles.values()])
        positive = positive[positive > 0]
        if positive.size and positive.max() / positive.min() > 1e3:
            # ranges here span up to 25 decades: about 6 labelled decades and no minor ticks
            ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(numticks=6))
            ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize=10)


def gradient_profiles(study: experiments.StackStudy, *, seed_index: int = 0, figsize=(12, 4.4)):
    """‖∂L/∂W‖ per layer for every init, one panel per activation (one seed of ``study``); one legend."""
    fig, axes = plt.subplots(1, len(experiments.ACTIVATIONS), figsize=figsize)
    for ax, activation in zip(axes, experiments.ACTIVATIONS):
        plot_profiles(ax, {scheme_label(init): study[activation, init].grad_norm[seed_index]
                           for init in experiments.SAITO_INITS}, ylabel="‖∂L/∂W‖", title=activation, legend=False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.suptitle(f"weight-gradient norm per layer (seed {study.seeds[seed_index]})")
    fig.subplots_adjust(left=0.07, right=0.99, top=0.82, bottom=0.25, wspace=0.3)
    return fig


def recursion_figure(checks: Sequence[experiments.RecursionCheck], *, figsize=(8, 4.8)):
    """The recursion's prediction (lines) against the mean of the measured networks (dots, ±2 standard errors)."""
    fig, ax = plt.subplots(figsize=figsize)
    for check in checks:
        layers = np.arange(1, len(check.predicted) + 1)
        line, = ax.plot(layers, check.predicted, label=f"{check.label}")
        ax.errorbar(layers, check.measured, yerr=2 * check.standard_error, fmt="o", color=line.get_color(),
                    capsize=3)
    ax.set_yscale("log")
    ax.set_xticks(range(1, len(checks[0].predicted) + 1))
    ax.set_xlabel("layer")
    ax.set_ylabel("Var(z)")
    ax.set_title(f"lines: wide-layer theory; dots: mean of {checks[0].n_networks} networks")
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=10, frameon=False)
    fig.subplots_adjust(left=0.11, right=0.98, top=0.92, bottom=0.26)
    return fig


def _unit_row(axes_row, network, title: str, *, unit_titles: bool) -> None:
    weights = network.params["W1"]
    side = math.isqrt(weights.shape[0])
    limit = np.abs(weights).max()
    for unit, ax in enumerate(axes_row):
        column = weights[:, unit]
        image = column.reshape(side, side) if side * side == len(column) else column[None, :]
        ax.imshow(image, cmap="coolwarm", vmin=-limit, vmax=limit)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        ax.spines[:].set_visible(False)
        if unit_titles:
            ax.set_title(f"unit {unit + 1}", fontsize=11)
    axes_row[0].set_ylabel(title, fontsize=11)


def unit_weights_figure(constant_network, random_network, *, units: int = 6, figsize=(10, 3.8)):
    """The incoming weights of the first hidden units (as 8×8 images for the digits), constant init on
    top, random init below, after training."""
    fig, axes = plt.subplots(2, units, figsize=figsize)
    _unit_row(axes[0], constant_network, "constant 0.1", unit_titles=True)
    _unit_row(axes[1], random_network, "He random", unit_titles=False)
    fig.suptitle("incoming weights of the first six units of hidden layer 1, after training")
    fig.subplots_adjust(left=0.05, right=0.99, top=0.86, bottom=0.02, wspace=0.08, hspace=0.1)
    return fig


def network_figure(study: experiments.NetworkStudy, *, figsize=(8, 4.2)):
    """Training-loss curves of the first seed, one per setting, with ln 10 (a uniform guess) dotted."""
    fig, ax = plt.subplots(figsize=figsize)
    learning_curves(ax, {s.label: h for s, h in zip(study.settings, study.histories)}, window=5,
                    ylabel="training loss", title=f"seed {study.seeds[0]}")
    ax.axhline(math.log(10), color="gray", linestyle=":", linewidth=1.5, label="ln 10")
    ax.legend(fontsize=10)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.92, bottom=0.13)
    return fig


def depth_figure(study: experiments.DepthStudy, *, seed_index: int = 0, figsize=(8, 4.2)):
    """Per-layer std of the 20-layer stacks (one seed)."""
    fig, ax = plt.subplots(figsize=figsize)
    plot_profiles(ax, {f"{a}, {scheme_label(s)}": profile[seed_index] for (a, s), profile in study.std.items()},
                  ylabel="std of activations",
                  title=f"{study.n_layers} layers of {experiments.WIDTH} units (seed {study.seeds[seed_index]})")
    fig.subplots_adjust(left=0.1, right=0.98, top=0.92, bottom=0.13)
    return fig


def explorer_figure(activation: str = "relu", init="he", depth: int = 10, width: int = 100, *, seed: int = 0,
                    n_samples: int = experiments.N_SAMPLES, max_histograms: int = 5):
    """The interactive figure's picture: histograms of up to ``max_histograms`` evenly spaced layers and the
    per-layer std (log scale) with the wide-layer theory. Pure function of its arguments; returns the figure."""
    run = experiments.forward_activations(activation, init, n_layers=depth, width=width, n_samples=n_samples,
                                          seed=seed)
    stats = experiments.run_statistics(run)
    shown = np.unique(np.linspace(0, depth - 1, min(depth, max_histograms)).round().astype(int))
    fig = plt.figure(figsize=(11, 5))
    grid = fig.add_gridspec(2, len(shown), height_ratios=(1, 1.3))
    for column, layer in enumerate(shown):
        ax = fig.add_subplot(grid[0, column])
        counts, edges = np.histogram(run.activations[layer], bins=30)
        ax.stairs(counts, edges, fill=True, color="#0072B2")
        ax.set_title(f"layer {layer + 1}: std {stats.std[layer]:.2g}", fontsize=10)
        ax.tick_params(labelsize=9)
        ax.set_xlabel("output", fontsize=10)
        ax.set_yticks([])
        ax.grid(False)
    ax = fig.add_subplot(grid[1, :])
    std = np.maximum(stats.std, 1e-300)  # a log axis cannot show an exact 0
    plot_profiles(ax, {f"{activation}, {scheme_label(init)}, width {width}": std}, ylabel="std of activations",
                  legend=False)
    predicted = experiments.predicted_activation_std(activation, init, n_layers=depth, width=width)
    ax.plot(np.arange(1, depth + 1), np.maximum(predicted, 1e-300), "k--", linewidth=1.5, label="wide-layer theory")
    ax.legend(fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.94, bottom=0.1, wspace=0.15, hspace=0.45)  # fast redraws
    return fig


def interactive_figure(activation: str = "relu", init="he", depth: int = 10, width: int = 100, *, seed: int = 0):
    """The chapter's interactive figure (ipywidgets): activation, init scheme (or a custom std), depth
    (1–20) and width; the figure is redrawn inside an ``Output`` widget whenever a control changes.
    Returns the widget."""
    import ipywidgets as widgets

    from lib.plots import show_in_output

    choices = [("Xavier 1/√n", "xavier"), ("He √(2/n)", "he"), ("std = 1", 1.0), ("std = 0.01", 0.01),
               ("custom std", "custom")]
    activation_box = widgets.Dropdown(options=list(experiments.ACTIVATIONS), value=activation, description="activation")
    scheme_box = widgets.Dropdown(options=choices, value=init if init in ("xavier", "he", 1.0, 0.01) else "custom",
                                  description="init")
    custom_std = widgets.FloatLogSlider(value=init if not isinstance(init, str) else 0.1, base=10, min=-3, max=1,
                                        step=0.05, description="custom std", readout_format=".3g")
    depth_slider = widgets.IntSlider(value=depth, min=1, max=20, description="depth")
    width_slider = widgets.IntSlider(value=width, min=10, max=500, step=10, description="width")
    output = widgets.Output()

    def redraw(_=None):
        custom_std.disabled = scheme_box.value != "custom"  # it only matters for a custom scheme
        chosen = custom_std.value if scheme_box.value == "custom" else scheme_box.value
        fig = explorer_figure(activation_box.value, chosen, depth_slider.value, width_slider.value, seed=seed)
        show_in_output(output, fig, "interactive figure")

    for control in (activation_box, scheme_box, custom_std, depth_slider, width_slider):
        control.observe(redraw, names="value")
    redraw()
    controls = widgets.HBox([widgets.VBox([activation_box, scheme_box, custom_std]),
                             widgets.VBox([depth_slider, width_slider])])
    return widgets.VBox([controls, output])


def static_image(widget):
    """The picture an ``interactive_figure`` shows now, as a plain PNG output: the same figure for readers
    without a live kernel (GitHub, nbviewer), without drawing it a second time."""
    import base64

    from IPython.display import Image

    return Image(data=base64.b64decode(widget.children[-1].outputs[0]["data"]["image/png"]), format="png")
