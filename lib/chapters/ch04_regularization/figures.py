"""Chapter 4's figures and its interactive figure (matplotlib and ipywidgets; the numbers come from
:mod:`lib.chapters.ch04_regularization.experiments`)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullLocator

from lib.chapters.ch04_regularization.experiments import Comparison, Grid, RegularizationData, Run
from lib.plots import OKABE_ITO, show_in_output, train_test_curves

__all__ = ["plot_run", "plot_noise_ceiling", "plot_weight_histograms", "plot_comparison", "plot_grid",
           "plot_decay_paths", "plot_early_stopping", "interactive_figure"]

BASELINE_GREY = "0.7"


def plot_noise_ceiling(ax, data: RegularizationData) -> None:
    """The training accuracy a model reaches by predicting every TRUE label: above this line it has
    reproduced flipped labels."""
    ceiling = 1 - data.wrong_label_fraction
    ax.axhline(ceiling, color=OKABE_ITO[3], linewidth=1, linestyle="-.", label="ceiling: true labels only")


def plot_run(ax, run: Run, *, baseline: Run | None = None, data: RegularizationData | None = None,
             title: str | None = None, legend: bool = True) -> None:
    """Train (solid), test (dashed) and validation (dotted) accuracy of one run, over a faint
    unregularized baseline, with the label-noise ceiling when ``data`` is given (``legend=False``: for
    panels beside one that already explains the lines)."""
    if baseline is not None and baseline is not run:
        epochs = np.arange(len(baseline.history.test_acc))
        ax.plot(epochs, baseline.history.train_acc, color=BASELINE_GREY, linewidth=1, label="no regularization")
        ax.plot(epochs, baseline.history.test_acc, color=BASELINE_GREY, linewidth=1, linestyle="--")
    train_test_curves(ax, run.history, color=OKABE_ITO[0], legend=False)
    ax.plot(np.arange(len(run.val_acc)), run.val_acc, color=OKABE_ITO[2], linewidth=1.2, linestyle=":",
            label="validation (noisy labels)")
    if data is not None:
        plot_noise_ceiling(ax, data)
    ax.set_ylim(0, 1.02)
    ax.set_title(run.label if title is None else title, fontsize="medium")
    if legend:
        ax.legend(fontsize="x-small", loc="lower right")


def plot_weight_histograms(axes, runs: dict[str, Run], *, bins: int = 60) -> None:
    """One histogram of all final weights per run, on a shared range."""
    values = {name: np.concatenate([w.ravel() for w in run.weights.values()]) for name, run in runs.items()}
    limit = max(float(np.percentile(np.abs(v), 99.5)) for v in values.values())
    for ax, (name, v) in zip(axes, values.items()):
        ax.hist(v, bins=bins, range=(-limit, limit), color=OKABE_ITO[0], histtype="stepfilled")  # one patch, not 60
        ax.set_title(f"{name}: ‖W‖ = {math.sqrt(float(np.dot(v, v))):.1f}", fontsize="small")
        ax.set_yscale("log")
        ax.yaxis.set_minor_locator(NullLocator())  # a log axis's minor ticks cost more to draw than the bars
        ax.set_xlabel("weight value")
        ax.set_ylabel("count (log scale)")


def plot_early_stopping(ax, run: Run, best_epoch: int, stop_epoch: int, data: RegularizationData) -> None:
    """One unregularized run with early stopping's kept epoch and stop epoch marked."""
    plot_run(ax, run, data=data, title="early stopping on the validation curve")
    ax.axvline(best_epoch, color=OKABE_ITO[2], linewidth=1.2, label="kept epoch")
    ax.axvline(stop_epoch, color="0.4", linewidth=1.2, linestyle="--", label="training stops")
    ax.legend(fontsize="x-small", loc="lower right")


def plot_comparison(ax, result: Comparison) -> None:
    """Bars: mean test accuracy and mean accuracy on the noisy training labels per remedy, over the
    seeds, with ± one standard deviation; every remedy scored by the weights it deploys."""
    names = [arm.name for arm in result.arms]
    positions = np.arange(len(names))
    test = [arm.test_acc for arm in result.arms]
    train = [arm.test_acc.mean + arm.gap.mean for arm in result.arms]
    ax.bar(positions - 0.2, train, width=0.4, color=OKABE_ITO[0], label="train (noisy labels)")
    ax.bar(positions + 0.2, [s.mean for s in test], width=0.4, yerr=[s.std for s in test], capsize=4,
           color=OKABE_ITO[1], label="test (clean labels), ± 1 sd")
    ax.set_xticks(positions, names)
    ax.set_xlabel("remedy (each scored by the weights it deploys)")
    ax.set_ylabel("accuracy, mean over seeds")
    ax.set_ylim(0.5, 1.0)
    ax.legend(fontsize="small", loc="upper right", ncol=2)


def plot_grid(fig, grid: Grid) -> None:
    """Small multiples: one panel of train/test curves per (λ, dropout ratio) of the grid, laid out
    here (no ``tight_layout`` needed) with few ticks, so that the ten panels draw quickly."""
    axes = fig.subplots(len(grid.ratios), len(grid.lambdas), sharex=True, sharey=True, squeeze=False,
                        gridspec_kw=dict(left=0.06, right=0.98, wspace=0.08, hspace=0.3))
    for i, ratio in enumerate(grid.ratios):
        for j, lam in enumerate(grid.lambdas):
            ax = axes[i][j]
            run = grid[(lam, ratio)]
            epochs = np.arange(len(run.history.train_acc))
            ax.plot(epochs, run.history.train_acc, color=OKABE_ITO[0], linewidth=1.2, label="train")
            ax.plot(epochs, run.history.test_acc, color=OKABE_ITO[1], linewidth=1.2, linestyle="--", label="test")
            ax.set_title(f"λ={lam:g}, dropout {ratio:g}", fontsize="small")
            ax.set_ylim(0, 1.02)
            ax.tick_params(labelsize="x-small")
    epochs = len(grid[(grid.lambdas[0], grid.ratios[0])].history.train_acc) - 1
    axes[0][0].set_xticks(np.arange(0, epochs + 1, max(epochs // 2, 1)))  # shared by every panel
    axes[0][0].set_yticks((0, 0.5, 1))
    axes[0][0].legend(fontsize="x-small", loc="lower right")
    fig.supxlabel("epoch")
    fig.supylabel("accuracy")


def plot_decay_paths(ax, paths: dict) -> None:
    """|w| per step: dashed Adam + L2, solid AdamW, one colour per λ (the first λ drawn wide and pale,
    so a path hidden under the other stays visible)."""
    lambdas = sorted({lam for _, lam in paths})
    for (method, lam), path in paths.items():
        first = lam == lambdas[0]
        ax.plot(path, linestyle="--" if method == "Adam + L2" else "-", color=OKABE_ITO[lambdas.index(lam)],
                linewidth=5 if first else 1.6, alpha=0.45 if first else 1.0, label=f"{method}, λ={lam:g}")
    ax.set_xlabel("step")
    ax.set_ylabel("|w|")
    ax.legend(fontsize="small")


def interactive_figure(grid: Grid):
    """Sliders for λ and the dropout ratio over the precomputed grid; the figure is redrawn inside an
    ``ipywidgets.Output`` so it changes in a live notebook. Returns the widget box."""
    import ipywidgets as widgets

    lam_slider = widgets.SelectionSlider(options=list(grid.lambdas), value=grid.lambdas[0], description="λ")
    ratio_slider = widgets.SelectionSlider(options=list(grid.ratios), value=grid.ratios[0], description="dropout")
    output = widgets.Output()

    def draw(*_):
        fig, ax = plt.subplots(figsize=(7, 4))
        plot_run(ax, grid[(lam_slider.value, ratio_slider.value)], baseline=grid[(grid.lambdas[0], grid.ratios[0])],
                 data=grid.data)
        show_in_output(output, fig, "regularization explorer figure")

    lam_slider.observe(draw, names="value")
    ratio_slider.observe(draw, names="value")
    box = widgets.VBox([widgets.HBox([lam_slider, ratio_slider]), output])
    draw()
    return box
