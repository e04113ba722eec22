"""Figures the chapters share, so no chapter re-draws them by hand.

Every helper draws on axes it is given (or returns a figure) and leaves ``plt.show()`` to the notebook,
so one cell can combine several panels.
"""

from __future__ import annotations

import hashlib
import re
from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib import animation

# The Okabe–Ito palette: eight colours that stay distinct under the common colour-vision deficiencies
# and on a washed-out projector.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

# One colour per method, stable across every figure of the course.
METHOD_COLORS = {
    "SGD": "#0072B2",       # blue
    "Momentum": "#E69F00",  # orange
    "Nesterov": "#8C564B",  # brown
    "AdaGrad": "#009E73",   # bluish green
    "RMSprop": "#CC79A7",   # reddish purple
    "Adam": "#D55E00",      # vermillion
    "AdamW": "#56B4E9",     # sky blue
    "Newton": "#000000",
    "L-BFGS": "#999999",
}

# The course's figure style: drawn at 100 dpi with fonts that stay readable at the saved width and on a
# projector. Every chapter calls ``use_course_style()`` once, in its set-up cell.
COURSE_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.figsize": (8.0, 4.5),
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "legend.title_fontsize": 11,
    "figure.titlesize": 14,
    "lines.linewidth": 2.0,
    "lines.markersize": 6,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=OKABE_ITO),
    "image.cmap": "viridis",
}


def use_course_style() -> None:
    """Apply :data:`COURSE_STYLE` to every figure drawn after this call."""
    plt.rcParams.update(COURSE_STYLE)


def color_for(name: str, index: int = 0) -> str:
    return METHOD_COLORS.get(name, OKABE_ITO[index % len(OKABE_ITO)])


def _plot_limits(function, paths: Mapping[str, np.ndarray], xlim, ylim):
    if xlim is None or ylim is None:
        plot_range = getattr(function, "plot_range", None)
        if plot_range is not None:
            default_x, default_y = plot_range
        else:
            points = np.concatenate([np.asarray(p, dtype=float) for p in paths.values()]) if paths else np.zeros((1, 2))
            finite = points[np.all(np.isfinite(points), axis=1)]
            low, high = finite.min(axis=0), finite.max(axis=0)
            margin = 0.15 * np.maximum(high - low, 1.0)
            default_x, default_y = (low[0] - margin[0], high[0] + margin[0]), (low[1] - margin[1], high[1] + margin[1])
        xlim = default_x if xlim is None else xlim
        ylim = default_y if ylim is None else ylim
    return tuple(xlim), tuple(ylim)


def contour_paths(ax, function: Callable, paths: Mapping[str, np.ndarray], *, xlim=None, ylim=None,
                  levels: int = 25, log_levels: bool = False, resolution: int = 200,
                  mark_minimum: bool = True, title: str | None = None, legend: bool = True,
                  markersize: float = 3.0) -> None:
    """Contours of ``function(x, y)`` with one optimizer path per entry of ``paths`` (arrays of shape (steps+1, 2)).

    ``log_levels`` spaces the contour levels geometrically, which suits functions such as Rosenbrock whose
    values span many orders of magnitude. Paths that leave the window are clipped by the axes, not rescaled.
    """
    (x0, x1), (y0, y1) = _plot_limits(function, paths, xlim, ylim)
    xs, ys = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    zs = function(xs, ys)
    if log_levels:
        shifted = zs - zs.min() + 1e-3
        contour_levels = np.geomspace(shifted.min(), shifted.max(), levels)
        ax.contour(xs, ys, shifted, levels=contour_levels, colors="0.75", linewidths=0.7)
    else:
        ax.contour(xs, ys, zs, levels=levels, colors="0.75", linewidths=0.7)
    for index, (name, path) in enumerate(paths.items()):
        path = np.asarray(path, dtype=float)
        ax.plot(path[:, 0], path[:, 1], "o-", color=color_for(name, index), markersize=markersize,
                linewidth=1.2, label=name)
    minimum = getattr(function, "minimum", None)
    if mark_minimum and minimum is not None:
        ax.plot(*np.asarray(minimum, dtype=float), marker="*", color="black", markersize=10, linestyle="none")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    if title:
        ax.set_title(title)
    if legend and paths:
        ax.legend(loc="upper right", fontsize="small")


def smooth(values: Sequence[float], window: int = 20) -> np.ndarray:
    """Trailing moving average of the same length as ``values`` (the first points average what exists so far).

    Trailing, not centred, so a smoothed curve never anticipates a change that has not happened yet.
    """
    values = np.asarray(values, dtype=float)
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    if values.size == 0:
        return values
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, values.size + 1), window)
    return (cumulative[1:] - cumulative[np.arange(1, values.size + 1) - counts]) / counts


def learning_curves(ax, histories: Mapping[str, object], *, key: str = "train_loss", window: int = 20,
                    per_epoch: bool = False, ylabel: str | None = None, logy: bool = False,
                    title: str | None = None) -> None:
    """One smoothed curve per history (e.g. per optimizer) of ``history.<key>``.

    The x axis is iterations, or epochs when ``per_epoch`` (for per-epoch series such as ``test_acc``).
    """
    for index, (name, history) in enumerate(histories.items()):
        values = np.asarray(getattr(history, key), dtype=float)
        curve = values if per_epoch else smooth(values, window)
        ax.plot(np.arange(len(curve)), curve, color=color_for(name, index), label=name, linewidth=1.4)
    ax.set_xlabel("epoch" if per_epoch else "iteration")
    ax.set_ylabel(ylabel or key.replace("_", " "))
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)


def train_test_curves(ax, history, *, label: str = "", color: str | None = None, title: str | None = None,
                      legend: bool = True) -> None:
    """Per-epoch train accuracy (solid) and test accuracy (dashed) of one history; the gap is overfitting."""
    epochs = np.arange(len(history.train_acc))
    prefix = f"{label} " if label else ""
    line, = ax.plot(epochs, history.train_acc, color=color, linewidth=1.4, label=f"{prefix}train")
    ax.plot(epochs, history.test_acc, color=line.get_color(), linestyle="--", linewidth=1.4, label=f"{prefix}test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)


def layer_histograms(axes: Sequence, activations: Sequence[np.ndarray], *, bins: int = 30,
                     value_range: tuple[float, float] | None = None, row_label: str | None = None,
                     color: str = "tab:blue") -> None:
    """One histogram per layer's activations along a row of axes (Saito's Figure 6-10 layout).

    With a shared ``value_range`` the panels are comparable; without one, each panel picks its own.
    """
    if len(axes) != len(activations):
        raise ValueError(f"{len(axes)} axes for {len(activations)} layers: give one axis per layer")
    for layer, (ax, values) in enumerate(zip(axes, activations), start=1):
        # one filled outline instead of a patch per bin: the same picture, a fraction of the drawing time
        ax.hist(np.asarray(values).ravel(), bins=bins, range=value_range, color=color, histtype="stepfilled")
        ax.set_title(f"layer {layer}", fontsize="small")
        ax.tick_params(labelsize="x-small")
        if layer > 1:
            ax.set_yticks([])
    if row_label:
        axes[0].set_ylabel(row_label, fontsize="small")


def animation_html(fig, update: Callable[[int], object], frames: int, *, interval: int = 120):
    """A short matplotlib animation embedded as HTML/JavaScript (frames stored as PNG in the notebook).

    The figure is closed so the static last frame is not shown a second time below the player.
    """
    from IPython.display import HTML

    movie = animation.FuncAnimation(fig, update, frames=frames, interval=interval, blit=False)
    html = offline_player_html(movie.to_jshtml(default_mode="once"))
    plt.close(fig)
    # The player's element id is a random uuid; one derived from the frames keeps re-executed notebooks stable.
    for random_id in set(re.findall(r"_anim_img([0-9a-f]{32})", html)):
        stable_id = hashlib.sha1(html.replace(random_id, "").encode()).hexdigest()[:32]
        html = html.replace(random_id, stable_id)
    return HTML(html)


# matplotlib's player draws its buttons with an icon font fetched from a CDN: offline, or wherever the
# stylesheet is blocked, the buttons are blank. Plain symbols need nothing from the network.
_PLAYER_ICONS = {"fa fa-minus": "−", "fa fa-plus": "+", "fa fa-fast-backward": "⇤", "fa fa-step-backward": "‹",
                 "fa fa-play fa-flip-horizontal": "◀", "fa fa-pause": "❚❚", "fa fa-play": "▶",
                 "fa fa-step-forward": "›", "fa fa-fast-forward": "⇥"}


def offline_player_html(html: str) -> str:
    """``html`` with every animation player's icon-font link removed and its icons drawn as symbols."""
    html = re.sub(r'<link\b[^>]*font-awesome[^>]*>', "", html)
    return re.sub(r'<i class="(fa [^"]+)"></i>',
                  lambda match: f'<span class="course-player-icon">{_PLAYER_ICONS.get(match.group(1), "·")}</span>',
                  html)


def figure_png_base64(fig, dpi: float | None = None) -> str:
    """``fig`` as base64 PNG text, the form a notebook output stores."""
    import base64
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi or fig.dpi)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def show_in_output(output, fig, description: str = "figure") -> None:
    """Make an ``ipywidgets.Output`` show ``fig`` (as PNG) instead of what it showed, and close ``fig``.

    The widget's ``outputs`` are replaced in one state update rather than captured from ``display()``
    inside ``with output:``: the browser redraws without flicker, it works without a live kernel (tests,
    the HTML edition), and a headless executor is left no stray output messages to wait for.
    """
    output.outputs = ({"output_type": "display_data", "metadata": {},
                       "data": {"image/png": figure_png_base64(fig), "text/plain": f"<{description}>"}},)
    plt.close(fig)
