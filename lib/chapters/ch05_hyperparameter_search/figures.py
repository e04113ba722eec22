"""Chapter 5's figures and its interactive figure (matplotlib and ipywidgets; the numbers come from
``experiments``)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from lib.plots import OKABE_ITO, show_in_output

from . import experiments
from .experiments import Trial, best_trial, log_uniform, one_minus_log_uniform, synthetic_score, top_trials

VALIDATION_COLOR, TRAINING_COLOR = OKABE_ITO[0], OKABE_ITO[1]
SEARCH_COLORS = {"endpoints": OKABE_ITO[3], "centers": OKABE_ITO[1], "random": OKABE_ITO[0]}


def plot_best_curves(fig, trials: list[Trial], k: int = 10, columns: int = 5) -> None:
    """Saito's figure 6-24: validation (solid) and training (dashed) accuracy per epoch of the ``k``
    best trials, best first."""
    best = top_trials(trials, k)
    rows = math.ceil(len(best) / columns)
    for i, trial in enumerate(best):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.plot(trial.val_curve, color=VALIDATION_COLOR, label="validation")
        ax.plot(trial.train_curve, color=TRAINING_COLOR, linestyle="--", linewidth=1.5, label="training")
        ax.set_ylim(0, 1)
        ax.set_title(f"#{i + 1}: η {trial.config['lr']:.2g}, λ {trial.config.get('weight_decay', 0):.0e}",
                     fontsize="small")
        ax.tick_params(labelsize="small")
        if i % columns == 0:
            ax.set_ylabel("accuracy")
        else:
            ax.set_yticklabels([])
        if i >= (rows - 1) * columns:
            ax.set_xlabel("epoch")
        if i == 0:
            ax.legend(fontsize="x-small", loc="lower right")


def plot_search_scatter(ax, trials: list[Trial], boxes: dict[str, dict] | None = None) -> None:
    """Validation accuracy of every trial over (η, λ) on log axes, and the searched boxes."""
    lr = [t.config["lr"] for t in trials]
    wd = [t.config["weight_decay"] for t in trials]
    scores = np.nan_to_num([t.val_acc for t in trials], nan=0.0)
    points = ax.scatter(lr, wd, c=scores, cmap="viridis", vmin=0, vmax=1, s=36, edgecolors="k", linewidths=0.3)
    for index, (label, space) in enumerate((boxes or {}).items()):
        (l0, l1), (w0, w1) = space["lr"], space["weight_decay"]
        color = OKABE_ITO[(index + 1) % len(OKABE_ITO)]
        ax.plot([l0, l1, l1, l0, l0], [w0, w0, w1, w1, w0], color=color, linewidth=1.5, label=f"{label} range")
    best = best_trial(trials)
    ax.scatter([best.config["lr"]], [best.config["weight_decay"]], marker="*", s=250, color=OKABE_ITO[3],
               zorder=3, label="best on validation")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("weight decay λ")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4)
    ax.figure.colorbar(points, ax=ax, label="validation accuracy")


def plot_sampling(axes, seed: int = 0, n: int = 2000) -> None:
    """Uniform vs log-uniform draws of a learning rate in [1e-6, 1e-2] (left) and of β in
    [0.9, 0.999] (right), on log axes where the difference shows."""
    rng_uniform, rng_log = experiments.stream(seed, "sampling", 2), experiments.stream(seed, "sampling", 3)
    lr_uniform, lr_log = rng_uniform.uniform(1e-6, 1e-2, n), log_uniform(1e-6, 1e-2, n, rng_log)
    bins = np.logspace(-6, -2, 41)
    axes[0].hist(lr_uniform, bins=bins, histtype="stepfilled", alpha=0.6, label="uniform")
    axes[0].hist(lr_log, bins=bins, histtype="stepfilled", alpha=0.6, label="log-uniform")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("learning rate η")
    axes[0].set_title("η in [1e-6, 1e-2]")
    beta_uniform, beta_log = rng_uniform.uniform(0.9, 0.999, n), one_minus_log_uniform(0.9, 0.999, n, rng_log)
    bins = np.logspace(1, 3, 41)
    axes[1].hist(1 / (1 - beta_uniform), bins=bins, histtype="stepfilled", alpha=0.6, label="β uniform")
    axes[1].hist(1 / (1 - beta_log), bins=bins, histtype="stepfilled", alpha=0.6, label="window log-uniform")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("averaging window 1/(1 − β)")
    axes[1].set_title("β in [0.9, 0.999]")
    for ax in axes:
        ax.set_ylabel("samples")
        ax.legend(fontsize="small")


def plot_grid_vs_random_synthetic(ax, seed: int = 0, width: float = 0.08) -> None:
    """One synthetic objective with a 3×3 grid and 9 random points, and their projections on the
    important axis (the marks under the plot)."""
    optimum = (0.62, 0.3)
    u, v = np.meshgrid(np.linspace(0, 1, 100), np.linspace(0, 1, 100))
    ax.contourf(u, v, synthetic_score(u, v, optimum, width), levels=20, cmap="Greens")
    grid = (np.arange(3) + 0.5) / 3
    gu, gv = np.meshgrid(grid, grid)
    random_points = experiments.stream(seed, "synthetic", 2).random((9, 2))
    ax.scatter(gu.ravel(), gv.ravel(), marker="s", color=SEARCH_COLORS["endpoints"], label="3×3 grid", zorder=3)
    ax.scatter(random_points[:, 0], random_points[:, 1], color=SEARCH_COLORS["random"], label="9 random", zorder=3)
    ax.plot(grid, np.full(3, -0.04), "s", color=SEARCH_COLORS["endpoints"], clip_on=False, markersize=5)
    ax.plot(random_points[:, 0], np.full(9, -0.04), "o", color=SEARCH_COLORS["random"], clip_on=False, markersize=4)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("important hyperparameter (log scale, normalized)")
    ax.set_ylabel("unimportant hyperparameter")
    ax.legend(fontsize="small", loc="upper right")


def plot_regrets(ax, regrets: experiments.SyntheticRegrets) -> None:
    """Histograms of the regret (best possible − best found) of each search over the repetitions."""
    bins = np.linspace(0, 1.05, 36)
    for name in ("endpoints", "centers", "random"):
        label = "random" if name == "random" else f"grid ({name})"
        ax.hist(getattr(regrets, name), bins=bins, histtype="step", linewidth=2, color=SEARCH_COLORS[name],
                label=f"{label}, median {regrets.median(name):.2f}")
    ax.set_xlabel("regret = best possible − best found")
    ax.set_ylabel("objectives")
    ax.legend(fontsize="small")


def plot_paired(ax, first: np.ndarray, second: np.ndarray, labels: tuple[str, str], ylabel: str, seeds) -> None:
    """One line per seed from ``first`` to ``second``: a paired comparison over the claim seeds."""
    for a, b in zip(first, second):
        ax.plot([0, 1], [a, b], color="0.6", linewidth=1, marker="o", markersize=4)
    ax.plot([0, 1], [np.mean(first), np.mean(second)], color=OKABE_ITO[3], linewidth=3, marker="o",
            label=f"mean over {len(seeds)} seeds")
    ax.set_xticks([0, 1], labels)
    ax.set_xlim(-0.3, 1.3)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")


def plot_optimism(ax, optimism: experiments.SelectionOptimism) -> None:
    """Histograms over test halvings: the accuracy a search tuned on test reports vs what the same
    choice gets on the fresh half."""
    values = np.concatenate([optimism.reported, optimism.fresh])
    bins = np.linspace(values.min() - 0.005, values.max() + 0.005, 31)
    ax.hist(optimism.reported, bins=bins, histtype="stepfilled", alpha=0.6, label="reported (chosen and scored on half A)")
    ax.hist(optimism.fresh, bins=bins, histtype="stepfilled", alpha=0.6, label="the same choice on fresh half B")
    ax.set_xlabel("test accuracy")
    ax.set_ylabel("halvings")
    ax.legend(fontsize="small")


def interactive_figure(seed: int = 0, repeats: int = 1000):
    """Sliders for the synthetic objective's peak width and the grid's points per axis (the random
    search gets the same budget); the regret histograms are redrawn inside an ``ipywidgets.Output``
    so they change in a live notebook. Returns the widget box."""
    import ipywidgets as widgets

    width = widgets.FloatLogSlider(value=0.08, base=10, min=-1.7, max=-0.5, step=0.1, description="peak width",
                                   readout_format=".3f")
    points = widgets.IntSlider(value=3, min=2, max=5, description="grid points")
    output = widgets.Output()

    def draw(*_):
        regrets = experiments.synthetic_grid_vs_random(repeats, points.value, width.value, seed)
        fig, ax = plt.subplots(figsize=(8, 3.6))
        plot_regrets(ax, regrets)
        ax.set_title(f"{points.value}×{points.value} grid vs {points.value ** 2} random points, "
                     f"peak width {width.value:.3f}")
        show_in_output(output, fig, "grid vs random figure")

    width.observe(draw, names="value")
    points.observe(draw, names="value")
    box = widgets.VBox([widgets.HBox([width, points]), output])
    draw()
    return box
