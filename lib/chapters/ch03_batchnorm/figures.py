"""The figures of chapter 3 (Batch Normalization) and its interactive figure.

Each function draws what an :mod:`experiments` function returned; the notebook calls ``plt.show()``.
Figures are laid out by the spacing of their grid rather than ``tight_layout``, which would cost one
more pass over every tick label of the figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from lib.chapters.ch03_batchnorm import experiments
from lib.plots import OKABE_ITO, layer_histograms, show_in_output
from lib.training import History

# One colour per kind of network, in every figure of the chapter.
KIND_COLORS = {"plain": "#555555", "none": "#555555", "batchnorm": OKABE_ITO[0], "batch": OKABE_ITO[0],
               "layer": OKABE_ITO[2]}
KIND_LABELS = {"plain": "plain", "none": "no normalization", "batchnorm": "Batch Norm", "batch": "Batch Norm",
               "layer": "Layer Norm"}


def spread_histograms(spread: experiments.ActivationSpread, *, weight_scale: float, figsize=(11, 4.5)):
    """Histograms of each hidden layer's pre-activations, plain network above, BN network below."""
    layers = len(spread.plain_preactivations)
    fig, axes = plt.subplots(2, layers, figsize=figsize,
                             gridspec_kw=dict(left=0.07, right=0.98, top=0.84, wspace=0.2, hspace=0.6))
    layer_histograms(axes[0], spread.plain_preactivations, row_label="plain: count", color=KIND_COLORS["plain"])
    layer_histograms(axes[1], spread.batchnorm_preactivations, row_label="with BN: count",
                     color=KIND_COLORS["batchnorm"])
    for ax in axes.flat:
        ax.set_xlabel("value", fontsize="small")
    fig.suptitle(f"pre-activations of each hidden layer, weights with std {weight_scale:g}")
    return fig


def scale_curves(study: experiments.RobustnessStudy, *, figsize=(11, 3.8)):
    """One panel per weight scale: training accuracy per epoch, one thin line per seed, BN and plain;
    a run whose loss blew up ends with an ×."""
    fig, axes = plt.subplots(1, len(study.weight_scales), figsize=figsize, sharey=True,
                             gridspec_kw=dict(left=0.07, right=0.98, wspace=0.08))
    for j, (ax, scale) in enumerate(zip(axes, study.weight_scales)):
        for kind, style in (("batchnorm", "-"), ("plain", "--")):
            for i, row in enumerate(study.scale_histories[kind]):
                history = row[j]
                ax.plot(history.train_acc, style, color=KIND_COLORS[kind], alpha=0.5, linewidth=1.2,
                        label=KIND_LABELS[kind] if i == 0 and j == 0 else None)
                if history.diverged:
                    ax.plot(len(history.train_acc) - 1, history.train_acc[-1], "x", color=KIND_COLORS[kind],
                            markersize=9, label="diverged" if not any(t.get_label() == "diverged" for t in ax.lines)
                            else None)
        ax.set_title(f"weights with std {scale:g}")
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("training accuracy")
    for ax in axes:
        if ax.get_legend_handles_labels()[1]:
            ax.legend(loc="upper left", fontsize="small")
    return fig


def learning_rate_curves(study: experiments.RobustnessStudy, *, figsize=(11, 3.8)):
    """Test accuracy per epoch at each learning rate (He scale), one line per seed; a run that diverged
    ends with an ×."""
    fig, axes = plt.subplots(1, 2, figsize=figsize, sharey=True, gridspec_kw=dict(left=0.07, right=0.98, wspace=0.06))
    for ax, kind in zip(axes, ("plain", "batchnorm")):
        for j, lr in enumerate(study.lrs):
            color = OKABE_ITO[(j + 1) % len(OKABE_ITO)]
            for i, row in enumerate(study.lr_histories[kind]):
                history = row[j]
                ax.plot(history.test_acc, color=color, alpha=0.5, linewidth=1.2, label=f"lr {lr:g}" if i == 0 else None)
                if history.diverged:
                    ax.plot(len(history.test_acc) - 1, history.test_acc[-1], "x", color=color, markersize=9)
        ax.set_title(KIND_LABELS[kind] + " (× = diverged)")
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize="small", loc="center right")
    axes[0].set_ylabel("test accuracy")
    return fig


def pitfall_bars(ax, pitfalls: experiments.PitfallStatistics) -> None:
    """Mean test accuracy (± standard deviation over seeds) of each way of evaluating the network."""
    rows = [
        ("eval mode (running statistics)", pitfalls.eval, True),
        ("train mode, whole test set as one batch", pitfalls.train_whole_test_set, False),
        ("train mode, one sample at a time", pitfalls.train_batch_of_one, False),
        ("eval mode, after those one-sample passes", pitfalls.eval_after_batch_of_one_probes, False),
        ("only 3s, eval mode", pitfalls.eval_skewed, True),
        ("only 3s, train mode (one batch)", pitfalls.train_skewed, False),
    ][::-1]
    labels = [label for label, _, _ in rows]
    means = [values.mean() for _, values, _ in rows]
    spreads = [values.std() for _, values, _ in rows]
    colors = [OKABE_ITO[2] if right else OKABE_ITO[3] for _, _, right in rows]
    ax.barh(labels, means, xerr=spreads, color=colors, capsize=3)
    ax.axvline(pitfalls.chance.mean(), color="black", linestyle=":", linewidth=1, label="best constant guess")
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"test accuracy (mean ± std over {len(pitfalls.seeds)} seeds)")
    ax.legend(fontsize="small", loc="lower right")


def batch_size_plot(ax, study: experiments.BatchSizeStudy) -> None:
    """Test accuracy after the same number of updates against batch size: one thin line per seed, the
    mean as a thick line."""
    for kind, accuracy in study.accuracy.items():
        color = KIND_COLORS[kind]
        for row in accuracy:
            ax.plot(study.batch_sizes, row, color=color, alpha=0.25, linewidth=1)
        ax.plot(study.batch_sizes, np.nanmean(accuracy, axis=0), "o-", color=color, linewidth=2.5,
                label=KIND_LABELS[kind])
    ax.set_xscale("log", base=2)
    ax.set_xticks(study.batch_sizes, [str(size) for size in study.batch_sizes])
    ax.set_xlabel("batch size")
    ax.set_ylabel(f"test accuracy after {study.updates} updates")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize="small")


def plot_lab_run(axes, history: History, *, weight_scale: float, lr: float, batchnorm: bool) -> None:
    """Accuracy per epoch and loss per iteration of one lab run on two axes."""
    kind = "batchnorm" if batchnorm else "plain"
    color = KIND_COLORS[kind]
    accuracy_ax, loss_ax = axes
    accuracy_ax.plot(history.train_acc, color=color, label="train")
    accuracy_ax.plot(history.test_acc, color=color, linestyle="--", label="test")
    accuracy_ax.set_ylim(0, 1.02)
    accuracy_ax.set_xlabel("epoch")
    accuracy_ax.set_ylabel("accuracy")
    accuracy_ax.legend(fontsize="small", loc="lower right")
    status = "DIVERGED" if history.diverged else f"test accuracy {history.test_acc[-1]:.2f}"
    accuracy_ax.set_title(f"{KIND_LABELS[kind]}, W std {weight_scale:.2g}, lr {lr:.2g}: {status}", fontsize="medium")
    losses = np.asarray(history.train_loss, dtype=float)
    loss_ax.plot(np.where(np.isfinite(losses), losses, np.nan), color=color, label="mini-batch loss")
    finite = losses[np.isfinite(losses)]
    if finite.size and finite.max() > 20 * finite.min():  # a blow-up: only a log scale shows both ends
        loss_ax.set_yscale("log")
    loss_ax.set_xlabel("iteration")
    loss_ax.set_ylabel("mini-batch loss")
    loss_ax.legend(fontsize="small", loc="upper right")


def interactive_figure(data, *, epochs: int = experiments.EPOCHS, seed: int = 0, weight_scale: float = 0.01,
                       lr: float = experiments.LR, batchnorm: bool = True):
    """Sliders for the weight scale and the learning rate and a Batch Norm toggle; each change retrains
    the network (well under a second) and redraws inside an ``ipywidgets.Output``. Finished runs are
    cached, so going back to a setting is instant. Returns the widget."""
    import ipywidgets as widgets

    scale_slider = widgets.FloatLogSlider(value=weight_scale, base=10, min=-4, max=0, step=0.25,
                                          description="W std", readout_format=".2g", continuous_update=False)
    lr_slider = widgets.FloatLogSlider(value=lr, base=10, min=-3, max=0.5, step=0.25,
                                       description="lr", readout_format=".2g", continuous_update=False)
    toggle = widgets.ToggleButton(value=batchnorm, description="Batch Norm", icon="check")
    output = widgets.Output()
    cache: dict[tuple, History] = {}

    def redraw(*_):
        key = (round(scale_slider.value, 6), round(lr_slider.value, 6), toggle.value)
        if key not in cache:
            cache[key] = experiments.lab_run(data, key[0], key[1], key[2], epochs=epochs, seed=seed)
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw=dict(left=0.08, right=0.98, wspace=0.3))
        plot_lab_run(axes, cache[key], weight_scale=key[0], lr=key[1], batchnorm=key[2])
        show_in_output(output, fig, "batch-norm lab figure")

    for control in (scale_slider, lr_slider, toggle):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([scale_slider, lr_slider, toggle]), output])
