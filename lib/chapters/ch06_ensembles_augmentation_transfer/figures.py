"""Chapter 6's figures and its interactive figure. Every function draws what an ``experiments`` result
holds; nothing here trains a network."""

from __future__ import annotations

import math

import numpy as np

import matplotlib.pyplot as plt

from lib.chapters.ch06_ensembles_augmentation_transfer import experiments
from lib.plots import OKABE_ITO, show_in_output

__all__ = ["plot_ensemble_growth", "plot_disagreement", "plot_snapshot_schedule", "plot_augmented_examples",
           "plot_augmentation_gain", "plot_transfer", "plot_rotation", "interactive_figure", "static_figure"]

ARM_COLORS = dict(zip(experiments.ARMS, OKABE_ITO))


def _mean_band(ax, x, values, *, label, color, marker="o", linestyle="-"):
    """Mean over seeds (rows of ``values``) with a band of ± one standard deviation."""
    mean, spread = values.mean(axis=0), values.std(axis=0, ddof=1)
    ax.plot(x, mean, marker=marker, linestyle=linestyle, color=color, label=label)
    ax.fill_between(x, mean - spread, mean + spread, color=color, alpha=0.15, linewidth=0)


def plot_ensemble_growth(ax, study) -> None:
    """Test accuracy against the number of members k: the ensemble (averaged probabilities), the best and
    the mean member among the first k; mean over seeds ± one standard deviation."""
    k = study.members
    _mean_band(ax, k, study.ensemble_acc, label="ensemble (averaged probabilities)", color=OKABE_ITO[0])
    _mean_band(ax, k, study.best_member_acc, label="best member so far", color=OKABE_ITO[1], marker="s")
    _mean_band(ax, k, study.mean_member_acc, label="mean member", color=OKABE_ITO[2], marker="^")
    ax.set_xticks(k)
    ax.set_xlabel("members k")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{len(study.seeds)} seeds, mean ± sd")
    ax.legend(fontsize="small", loc="lower right")


def plot_disagreement(ax, study) -> None:
    """Per seed: how often two members disagree, against what averaging them gains over their mean member —
    independent networks and the snapshots of one run."""
    ax.scatter(study.disagreement, study.gain_over_mean, color=OKABE_ITO[0],
               label=f"{study.ensemble_acc.shape[1]} independent networks")
    ax.scatter(study.snapshot_disagreement, study.snapshot_gain_over_mean, color=OKABE_ITO[3], marker="D",
               label=f"{experiments.SNAPSHOTS} snapshots of one run")
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.set_xlabel("disagreement (fraction of test images two members label differently)")
    ax.set_ylabel("ensemble − mean member")
    ax.set_title("one point per seed")
    ax.legend(fontsize="small")


def plot_snapshot_schedule(ax, snapshots: int = experiments.SNAPSHOTS) -> None:
    """The cosine-restart learning rate of the snapshot run, with a mark where each snapshot is taken."""
    epochs_per_cycle, steps_per_epoch = experiments.snapshot_cycle(snapshots=snapshots)
    cycle = epochs_per_cycle * steps_per_epoch
    schedule = experiments.CosineRestarts(experiments.SNAPSHOT_LR, cycle)
    step = np.arange(cycle * snapshots)
    ax.plot(step, [schedule(int(s)) for s in step], color=OKABE_ITO[3])
    ends = np.arange(1, snapshots + 1) * cycle - 1
    ax.scatter(ends, [schedule(int(s)) for s in ends], color="black", zorder=3, label="snapshot taken")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate η")
    ax.legend(fontsize="small")


def _mosaic(ax, images: np.ndarray, titles=None, colors=None, *, row_labels=None, gap_x: int = 1) -> None:
    """Rows × columns of flattened square images drawn as ONE picture in one axes (far cheaper to draw
    than an axes per digit). ``titles[r][c]`` (coloured ``colors[r][c]``) is written above image (r, c);
    ``row_labels`` at the left of each row; ``gap_x`` pixels between columns (room for long titles). Gaps between the images show the axes' grey background."""
    images = np.asarray(images, dtype=float)
    rows, columns = images.shape[:2]
    side = math.isqrt(images.shape[2])
    gap_y = 4 if titles is not None else 1  # room for a line of text above every row
    canvas = np.full((rows * (side + gap_y), columns * (side + gap_x) + gap_x), np.nan)
    for r in range(rows):
        for c in range(columns):
            top, left = r * (side + gap_y) + gap_y, c * (side + gap_x) + gap_x
            canvas[top:top + side, left:left + side] = images[r, c].reshape(side, side)
            if titles is not None and titles[r][c]:
                ax.text(left + side / 2 - 0.5, top - 0.9, titles[r][c], ha="center", va="bottom", fontsize="small",
                        color="black" if colors is None else colors[r][c])
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_facecolor("0.8")
    ax.set_xticks([])
    ax.set_yticks([] if row_labels is None else [r * (side + gap_y) + gap_y + side / 2 - 0.5 for r in range(rows)],
                  [] if row_labels is None else row_labels)
    ax.tick_params(length=0)
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot_augmented_examples(fig, x: np.ndarray, t: np.ndarray, *, seed: int = 0, versions: int = 5) -> None:
    """Rows: a few training digits; columns: the original, ``versions`` label-preserving random versions,
    and the same digit turned by 180°."""
    rng = np.random.default_rng(experiments.stream(seed, experiments.AUGMENT))
    rows = []
    for image in x:
        variants = experiments.augment(np.repeat(image[None], versions, axis=0), rng)
        rows.append([image, *variants, experiments.transform_images(image[None], 180.0, 0, 0)[0]])
    header = ["original"] + ["augmented"] * versions + ["turned 180°"]
    titles = [header] + [[""] * len(header)] * (len(x) - 1)
    colors = [["black"] * (versions + 1) + [OKABE_ITO[3]]] * len(x)
    _mosaic(fig.add_subplot(), np.array(rows), titles, colors, row_labels=[f"digit {label}" for label in t])


def plot_augmentation_gain(ax, study) -> None:
    """Test accuracy against the number of training images, with and without augmentation."""
    sizes = np.array(study.sizes)
    _mean_band(ax, sizes, study.plain_acc, label="no augmentation", color=OKABE_ITO[0])
    _mean_band(ax, sizes, study.augmented_acc, label="shifts, rotations, noise", color=OKABE_ITO[2], marker="s")
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel("training images (log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{len(study.seeds)} seeds, mean ± sd")
    ax.legend(fontsize="small", loc="lower right")


def plot_transfer(axes, study) -> None:
    """Left: accuracy of each arm against the number of target images, similar task. Right: the same at
    the two sizes of the table for the different task (permuted pixels)."""
    sizes = np.array(study.sizes)
    for a, arm in enumerate(study.arms):
        _mean_band(axes[0], sizes, study.similar[:, a, :], label=arm, color=ARM_COLORS[arm])
        _mean_band(axes[1], np.array([study.little, study.much]), study.different[:, a, :], label=arm,
                   color=ARM_COLORS[arm])
    for ax, title in zip(axes, ("similar task: even or odd, digits as they are",
                                "different task: even or odd, pixels permuted")):
        ax.set_xscale("log")
        ax.set_xlabel("target training images (log scale)")
        ax.set_title(title, fontsize="medium")
        ax.axhline(0.5, color="0.5", linewidth=0.8, linestyle=":")
    axes[0].set_xticks(sizes, [str(s) for s in sizes])
    axes[1].set_xticks([study.little, study.much], [str(study.little), str(study.much)])
    axes[0].set_ylabel("target test accuracy")
    axes[0].legend(fontsize="small", loc="lower right")


def plot_rotation(axes, probe, angle: float) -> None:
    """Left: the probe's example digits turned by ``angle`` with the augmented network's guess (red when
    wrong), in two rows. Right: test accuracy against the angle for every network, the current angle marked."""
    image_ax, curve_ax = axes
    turned = experiments.transform_images(probe.examples, angle, 0, 0)
    probabilities = experiments.predict_proba(probe.networks["augmented"], turned)
    guesses = np.argmax(probabilities, axis=1)
    titles = [f"{label} → {guess} ({p[guess]:.0%})" for label, guess, p in zip(probe.example_labels, guesses, probabilities)]
    colors = ["black" if guess == label else OKABE_ITO[3] for label, guess in zip(probe.example_labels, guesses)]
    columns = math.ceil(len(turned) / 2)
    _mosaic(image_ax, turned.reshape(2, columns, -1), [titles[:columns], titles[columns:]],
            [colors[:columns], colors[columns:]], gap_x=5)
    for index, (name, values) in enumerate(probe.accuracy.items()):
        curve_ax.plot(probe.angles, values, color=OKABE_ITO[index], label=name)
    curve_ax.axvline(angle, color="black", linewidth=1)
    curve_ax.set_xlabel("rotation of every test image (degrees)")
    curve_ax.set_ylabel("test accuracy")
    curve_ax.set_xticks([-180, -90, 0, 90, 180])
    curve_ax.legend(fontsize="small", loc="lower center")


def _rotation_figure(probe, angle: float):
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": (2, 3)})
    plot_rotation(axes, probe, angle)
    fig.suptitle(f"every test image turned by {angle:+.0f}° (guesses of the augmented network)", fontsize="medium")
    fig.tight_layout()
    return fig


def interactive_figure(probe):
    """A slider for the rotation angle; the figure (example digits with the augmented network's guesses, and
    accuracy against the angle) is redrawn inside an ``ipywidgets.Output``. Returns the widget."""
    import ipywidgets as widgets

    slider = widgets.SelectionSlider(options=[int(a) for a in probe.angles], value=0, description="angle (°)",
                                     continuous_update=False)
    output = widgets.Output()

    def draw(*_):
        show_in_output(output, _rotation_figure(probe, slider.value), "rotation figure")

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, output])


def static_figure(probe, angles=(0, 20, 90, 180)):
    """For readers without a live kernel: the example digits at a few angles (one row each, the augmented
    network's guesses) beside the accuracy-against-angle curves. Returns the figure."""
    fig, (image_ax, curve_ax) = plt.subplots(1, 2, figsize=(11, 5.5), gridspec_kw={"width_ratios": (4, 5)})
    network = probe.networks["augmented"]
    rows, titles, colors = [], [], []
    for angle in angles:
        turned = experiments.transform_images(probe.examples, angle, 0, 0)
        guesses = np.argmax(experiments.predict_proba(network, turned), axis=1)
        rows.append(turned)
        titles.append([f"{label} → {guess}" for label, guess in zip(probe.example_labels, guesses)])
        colors.append(["black" if guess == label else OKABE_ITO[3] for label, guess in zip(probe.example_labels, guesses)])
        curve_ax.axvline(angle, color="0.6", linewidth=0.8, linestyle="--")
    _mosaic(image_ax, np.array(rows), titles, colors, row_labels=[f"{angle}°" for angle in angles])
    for index, (name, values) in enumerate(probe.accuracy.items()):
        curve_ax.plot(probe.angles, values, color=OKABE_ITO[index], label=name)
    curve_ax.set_xlabel("rotation of every test image (degrees)")
    curve_ax.set_ylabel("test accuracy")
    curve_ax.set_xticks([-180, -90, 0, 90, 180])
    curve_ax.legend(fontsize="small", loc="lower center")
    fig.suptitle("digits turned by each angle (label → the augmented network's guess)", fontsize="medium")
    fig.tight_layout()
    return fig
