"""Chapter 6's figures and its interactive figure. Every function draws what an ``experiments`` result
holds; nothing here trains a network."""

from __future__ import annotations

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


def _image(ax, pixels, title: str = "", color: str = "black") -> None:
    side = int(round(np.sqrt(pixels.size)))
    ax.imshow(pixels.reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title, fontsize="small", color=color)


def plot_augmented_examples(fig, x: np.ndarray, t: np.ndarray, *, seed: int = 0, versions: int = 5) -> None:
    """Rows: a few training digits; columns: the original, ``versions`` label-preserving random versions,
    and the same digit turned by 180°."""
    rng = np.random.default_rng(experiments.stream(seed, experiments.AUGMENT))
    axes = fig.subplots(len(x), versions + 2)
    for row, (image, label) in enumerate(zip(x, t)):
        variants = experiments.augment(np.repeat(image[None], versions, axis=0), rng)
        _image(axes[row, 0], image, f"original {label}" if row == 0 else f"{label}")
        for column, variant in enumerate(variants, start=1):
            _image(axes[row, column], variant, "augmented" if row == 0 else "")
        _image(axes[row, -1], experiments.transform_images(image[None], 180.0, 0, 0)[0],
               "turned 180°" if row == 0 else "", color=OKABE_ITO[3])


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
    wrong). Right: test accuracy against the angle for every network, the current angle marked."""
    image_axes, curve_ax = axes[:-1], axes[-1]
    turned = experiments.transform_images(probe.examples, angle, 0, 0)
    network = probe.networks["augmented"]
    probabilities = experiments.predict_proba(network, turned)
    for ax, image, label, p in zip(image_axes, turned, probe.example_labels, probabilities):
        guess = int(np.argmax(p))
        _image(ax, image, f"{label} → {guess} ({p[guess]:.0%})", color="black" if guess == label else OKABE_ITO[3])
    for index, (name, values) in enumerate(probe.accuracy.items()):
        curve_ax.plot(probe.angles, values, color=OKABE_ITO[index], label=name)
    curve_ax.axvline(angle, color="black", linewidth=1)
    curve_ax.set_xlabel("rotation of every test image (degrees)")
    curve_ax.set_ylabel("test accuracy")
    curve_ax.set_xticks([-180, -90, 0, 90, 180])
    curve_ax.legend(fontsize="small", loc="lower center")


def _rotation_figure(probe, angle: float):
    fig = plt.figure(figsize=(11, 3.4))
    grid = fig.add_gridspec(2, len(probe.examples) // 2 + 3)
    columns = len(probe.examples) // 2
    image_axes = [fig.add_subplot(grid[row, column]) for row in range(2) for column in range(columns)]
    curve_ax = fig.add_subplot(grid[:, columns:])
    plot_rotation(image_axes + [curve_ax], probe, angle)
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
    columns = len(probe.examples)
    fig = plt.figure(figsize=(11, 5.5))
    grid = fig.add_gridspec(len(angles), columns + 4)
    curve_ax = fig.add_subplot(grid[:, columns + 1:])
    network = probe.networks["augmented"]
    for row, angle in enumerate(angles):
        turned = experiments.transform_images(probe.examples, angle, 0, 0)
        probabilities = experiments.predict_proba(network, turned)
        for column, (image, label, p) in enumerate(zip(turned, probe.example_labels, probabilities)):
            ax = fig.add_subplot(grid[row, column])
            guess = int(np.argmax(p))
            _image(ax, image, f"{label} → {guess}", color="black" if guess == label else OKABE_ITO[3])
            if column == 0:
                ax.set_ylabel(f"{angle}°")
        curve_ax.axvline(angle, color="0.6", linewidth=0.8, linestyle="--")
    for index, (name, values) in enumerate(probe.accuracy.items()):
        curve_ax.plot(probe.angles, values, color=OKABE_ITO[index], label=name)
    curve_ax.set_xlabel("rotation of every test image (degrees)")
    curve_ax.set_ylabel("test accuracy")
    curve_ax.set_xticks([-180, -90, 0, 90, 180])
    curve_ax.legend(fontsize="small", loc="lower center")
    fig.suptitle("digits turned by each angle (label → the augmented network's guess)", fontsize="medium")
    fig.tight_layout()
    return fig
