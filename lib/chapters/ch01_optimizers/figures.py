"""The pictures of chapter 1 (optimizers): the path animation with its static small multiples, and the
chapter's interactive figure, the quadratic lab (η and μ sliders). Numbers come from ``experiments``
and ``lib.quadratic``; this module only draws."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from lib import quadratic
from lib.plots import animation_html, color_for, contour_paths, show_in_output

__all__ = ["animate_paths", "animation_small_multiples", "path_small_multiples", "lab_figure", "interactive_figure",
           "plain_log_labels", "ETA_MAX"]

def plain_log_labels(ax, *, minor: bool = False) -> None:
    """Label ``ax``'s log-scaled axes 1e-05 … 0.1, 1, 10 (and drop their minor ticks unless ``minor``).

    matplotlib's default log labels are mathtext (10⁻⁵ typeset), whose parser costs more than the rest of a
    small figure; the plain labels say the same."""
    from matplotlib.ticker import LogFormatter, NullLocator

    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() != "log":
            continue
        axis.set_major_formatter(LogFormatter())
        if minor:
            axis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
        else:
            axis.set_minor_locator(NullLocator())


ANIMATION_FRAMES = 4  # each frame is a PNG drawn and stored: four show the paths growing


def _panel_background(axes, panels):
    for ax, (function, _, options) in zip(axes, panels):
        contour_paths(ax, function, {}, xlim=options.get("xlim", function.xlim), ylim=options.get("ylim", function.ylim),
                      levels=options.get("levels", 6), log_levels=options.get("log_levels", False), resolution=60,
                      legend=False, title=options.get("title", function.name))


def animate_paths(panels, *, frames: int = ANIMATION_FRAMES, figsize=(8.0, 3.8), dpi: int = 100):
    """An HTML/JS animation of optimizer paths growing, one panel per ``(function, paths, options)``
    (options: xlim, ylim, title, log_levels, levels); at most 16 frames, 800 px wide by default.

    The contours, labels and legend are drawn once and frozen into a background image; each frame then
    draws only the paths on top, which is several times faster than redrawing the whole figure.
    """
    frames = max(1, min(int(frames), 16))
    fig, axes = plt.subplots(1, len(panels), figsize=figsize, dpi=dpi, squeeze=False)
    axes = axes[0]
    _panel_background(axes, panels)
    names = list(panels[0][1])
    handles = [axes[0].plot([], [], color=color_for(name, index), label=name)[0] for index, name in enumerate(names)]
    fig.legend(handles, names, loc="lower center", ncol=len(names), frameon=False, fontsize="small")
    # Fixed margins (the frames are saved as drawn): tight_layout would measure every label once more.
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.24, top=0.92, wspace=0.3)
    fig.canvas.draw()
    background = np.asarray(fig.canvas.buffer_rgba()).copy()
    for ax in axes:
        for artist in ax.get_children():
            artist.set_visible(False)
    for legend in fig.legends:
        legend.set_visible(False)
    fig.figimage(background, origin="upper", zorder=-1)
    lines = [{name: ax.plot([], [], "-", linewidth=2, color=color_for(name, index))[0]
              for index, name in enumerate(paths)} for ax, (_, paths, _) in zip(axes, panels)]

    def update(frame):
        for panel_lines, (_, paths, _) in zip(lines, panels):
            for name, path in paths.items():
                upto = 1 + round((frame + 1) * (len(path) - 1) / frames)
                panel_lines[name].set_data(path[:upto, 0], path[:upto, 1])
        return [line for panel_lines in lines for line in panel_lines.values()]

    return animation_html(fig, update, frames, interval=300)


def path_small_multiples(function, paths: dict, *, options=None, title: str = "", figsize=(10, 4.4)):
    """The static fallback of an animation: one small panel per optimizer with its whole path."""
    options = options or {}
    names = list(paths)
    columns = 3
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=figsize, sharex=True, sharey=True, squeeze=False)
    for ax, name in zip(axes.flat, names):
        contour_paths(ax, function, {name: paths[name]}, xlim=options.get("xlim", function.xlim),
                      ylim=options.get("ylim", function.ylim), levels=options.get("levels", 6),
                      log_levels=options.get("log_levels", False), resolution=60, legend=False, title=name,
                      markersize=2)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax in axes.flat:
        if ax.get_subplotspec().colspan.start:
            ax.set_ylabel("")
        if ax.get_subplotspec().rowspan.stop != rows:
            ax.set_xlabel("")
    if title:
        fig.suptitle(title)
    # Fixed spacing instead of tight_layout, which measures every label again; the notebook trims the margins.
    fig.subplots_adjust(hspace=0.35, wspace=0.2, top=0.86 if title else 0.92)
    return fig


def animation_small_multiples(panels, *, snapshots=(0.5, 1.0), figsize=(8.5, 6.4)):
    """The static fallback of :func:`animate_paths`: one row per panel ``(function, paths, options)``, one
    column per snapshot (a fraction of the steps), every optimizer's path drawn up to that point."""
    fig, axes = plt.subplots(len(panels), len(snapshots), figsize=figsize, sharey="row", squeeze=False)
    for row, (function, paths, options) in zip(axes, panels):
        steps = len(next(iter(paths.values()))) - 1
        for ax, fraction in zip(row, snapshots):
            upto = 1 + round(fraction * steps)
            contour_paths(ax, function, {name: path[:upto] for name, path in paths.items()},
                          xlim=options.get("xlim", function.xlim), ylim=options.get("ylim", function.ylim),
                          levels=options.get("levels", 6), log_levels=options.get("log_levels", False),
                          resolution=60, legend=False, markersize=0,
                          title=f"{options.get('title', function.name).split(',')[0]}: step {upto - 1}")
        for ax in row[1:]:
            ax.set_ylabel("")
    names = list(panels[0][1])
    fig.legend([plt.Line2D([], [], color=color_for(name, index)) for index, name in enumerate(names)], names,
               loc="lower center", ncol=3, frameon=False)
    # Fixed spacing instead of tight_layout, which measures every label again; the notebook trims the margins.
    fig.subplots_adjust(bottom=0.17, hspace=0.45, wspace=0.2)
    return fig


# ------------------------------------------------------------------------- the quadratic lab (widget)

ETA_MAX = 4.0  # the η slider's range, in units of 1/λₙ


def lab_figure(eta: float, mu: float, kappa: float, *, steps: int = 150, fig=None):
    """The lab's picture for one setting: error per eigendirection (left) and the rate map over (η, μ)
    with the stability boundary ηλₙ = 2 + 2μ, the current setting and the two optima (right).
    Eigenvalues are 1/κ, 1/√κ and 1 (so η is in units of 1/λₙ)."""
    if fig is None:
        fig = plt.figure(figsize=(11, 4.2))
    fig.clf()
    ax_err, ax_map = fig.subplots(1, 2)
    lam = quadratic.eigenvalues_for(kappa, 3)
    errors = quadratic.simulate(lam, eta, mu, steps)
    for index, value in enumerate(lam):
        curve = np.where(np.isfinite(errors[:, index]), errors[:, index], np.nan)
        ax_err.semilogy(curve, label=f"λ = {value:.3g}  (rate {quadratic.momentum_rate(eta, mu, value):.3f})",
                        color=f"C{index}")
    ax_err.set_ylim(1e-8, 1e3)
    plain_log_labels(ax_err)
    ax_err.set_xlabel("step")
    ax_err.set_ylabel("|error| along the eigendirection")
    rate = float(quadratic.worst_rate(eta, mu, lam[0], lam[-1]))
    ax_err.set_title(f"η = {eta:.3f}, μ = {mu:.3f}, κ = {kappa:.0f}: worst rate {rate:.4f}", fontsize="medium")
    ax_err.legend(fontsize="small", loc="lower left")

    etas = np.linspace(0.005, ETA_MAX, 160)
    mus = np.linspace(0.0, 0.995, 120)
    rates = quadratic.rate_map(lam[0], lam[-1], etas, mus)
    with np.errstate(divide="ignore"):
        steps_per_digit = np.where(rates < 1, np.log(0.1) / np.log(np.minimum(rates, 1 - 1e-12)), np.nan)
    image = ax_map.imshow(np.log10(steps_per_digit), origin="lower", aspect="auto", cmap="viridis_r",
                          extent=(etas[0], etas[-1], mus[0], mus[-1]), interpolation="nearest")
    fig.colorbar(image, ax=ax_map, label="log₁₀ steps per 10× error reduction")
    ax_map.plot((2 + 2 * mus) / lam[-1], mus, "k--", linewidth=1.2, label="stability edge ηλₙ = 2 + 2μ")
    eta_gd, _ = quadratic.optimal_gd(lam[0], lam[-1])
    eta_hb, mu_hb, _ = quadratic.optimal_momentum(lam[0], lam[-1])
    ax_map.plot(eta_gd, 0, "s", color="white", markeredgecolor="black", label="best GD")
    ax_map.plot(eta_hb, mu_hb, "*", color="white", markeredgecolor="black", markersize=12, label="best momentum")
    ax_map.plot(eta, mu, "o", color="red", markeredgecolor="black", label="current")
    ax_map.set_xlim(0, ETA_MAX)
    ax_map.set_ylim(0, 1)
    ax_map.set_xlabel("η  (× 1/λₙ)")
    ax_map.set_ylabel("μ")
    ax_map.set_title("rate map over (η, μ); grey: unstable", fontsize="medium")
    ax_map.set_facecolor("0.85")
    ax_map.grid(False)
    ax_map.legend(fontsize="x-small", loc="upper left")
    # Fixed margins: tight_layout measures every text and costs a second per redraw.
    fig.subplots_adjust(left=0.07, right=0.97, bottom=0.13, top=0.91, wspace=0.25)
    return fig


def interactive_figure(kappa: float = 100.0, eta: float = 1.0, mu: float = 0.0, steps: int = 150):
    """The quadratic lab: sliders for η, μ and κ, buttons that set the optimal GD or momentum values, and
    :func:`lab_figure` redrawn inside an ``ipywidgets.Output`` on every change. Returns the widget."""
    import ipywidgets as widgets

    eta_slider = widgets.FloatSlider(value=eta, min=0.01, max=ETA_MAX, step=0.01, description="η",
                                     continuous_update=False, readout_format=".3f")
    mu_slider = widgets.FloatSlider(value=mu, min=0.0, max=0.99, step=0.005, description="μ",
                                    continuous_update=False, readout_format=".3f")
    kappa_slider = widgets.FloatLogSlider(value=kappa, base=10, min=0, max=4, step=0.05, description="κ",
                                          continuous_update=False, readout_format=".0f")
    button_layout = widgets.Layout(width="200px")
    best_gd = widgets.Button(description="set optimal GD", layout=button_layout)
    best_momentum = widgets.Button(description="set optimal momentum", layout=button_layout)
    output = widgets.Output()
    suspended = []  # non-empty while a button moves both sliders, so the figure is drawn once, consistent

    def redraw(_change=None):
        if suspended:
            return
        show_in_output(output, lab_figure(eta_slider.value, mu_slider.value, kappa_slider.value, steps=steps),
                       "quadratic lab figure")

    def set_values(new_eta: float, new_mu: float) -> None:
        suspended.append(True)
        try:
            eta_slider.value, mu_slider.value = new_eta, new_mu
        finally:
            suspended.clear()
        redraw()

    def on_best_gd(_button):
        lam = quadratic.eigenvalues_for(kappa_slider.value, 3)
        set_values(quadratic.optimal_gd(lam[0], lam[-1])[0], 0.0)

    def on_best_momentum(_button):
        lam = quadratic.eigenvalues_for(kappa_slider.value, 3)
        new_eta, new_mu, _ = quadratic.optimal_momentum(lam[0], lam[-1])
        set_values(new_eta, new_mu)

    for slider in (eta_slider, mu_slider, kappa_slider):
        slider.observe(redraw, "value")
    best_gd.on_click(on_best_gd)
    best_momentum.on_click(on_best_momentum)
    redraw()
    controls = widgets.HBox([widgets.VBox([eta_slider, mu_slider, kappa_slider]),
                             widgets.VBox([best_gd, best_momentum])])
    return widgets.VBox([controls, output])
