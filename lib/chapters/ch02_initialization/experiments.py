"""Chapter 2, weight initialization and vanishing gradients: activation distributions, gradient flow,
depth, the variance recursion and the interactive figure."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from lib.initializers import init_std, scheme_label

ACTIVATIONS = ("sigmoid", "tanh", "relu")


# ----------------------------------------------------------------------------------------------
# Saito's experiment: random inputs through a deep stack of fully connected layers
# ----------------------------------------------------------------------------------------------

def _activate(activation: str, z: np.ndarray) -> np.ndarray:
    if activation == "sigmoid":
        # tanh form: the same function, with no overflow warning for large negative z
        return (0.5 * (np.tanh(0.5 * z) + 1)).astype(z.dtype, copy=False)
    if activation == "tanh":
        return np.tanh(z)
    if activation == "relu":
        return np.maximum(z, 0)
    if activation == "linear":
        return z
    raise ValueError(f"activation must be one of {ACTIVATIONS + ('linear',)}, got {activation!r}")


def _derivative_from_output(activation: str, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    if activation == "sigmoid":
        return y * (1 - y)
    if activation == "tanh":
        return 1 - y * y
    if activation == "relu":
        return (z > 0).astype(z.dtype)
    return np.ones_like(z)


@dataclass
class ForwardRun:
    """One forward pass of ``inputs`` through ``len(weights)`` layers ``a ← φ(a @ W)`` (no biases,
    as in Saito's experiment). ``preactivations[l]`` is ``z`` and ``activations[l]`` is ``φ(z)`` of layer ``l+1``."""
    activation: str
    init: object
    inputs: np.ndarray
    weights: list[np.ndarray]
    preactivations: list[np.ndarray] = field(default_factory=list)
    activations: list[np.ndarray] = field(default_factory=list)

    @property
    def weight_std(self) -> float:
        return init_std(self.weights[0].shape, self.init)


def forward_activations(activation: str = "sigmoid", init=1.0, *, n_layers: int = 5, width: int = 100,
                        n_samples: int = 1000, seed: int = 0, dtype=np.float64) -> ForwardRun:
    """Saito's experiment: ``n_samples`` standard-normal inputs of dimension ``width`` through
    ``n_layers`` layers of ``width`` units, weights ``N(0, std²)`` with std from ``init_std(…, init)``."""
    if n_layers < 1 or width < 1 or n_samples < 1:
        raise ValueError(f"need n_layers, width, n_samples ≥ 1, got {n_layers}, {width}, {n_samples}")
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    x = rng.standard_normal((n_samples, width), dtype=dtype)
    std = init_std((width, width), init)
    run = ForwardRun(activation, init, x, [])
    a = x
    for _ in range(n_layers):
        weights = rng.standard_normal((width, width), dtype=dtype) * dtype.type(std)
        z = a @ weights
        a = _activate(activation, z)
        run.weights.append(weights)
        run.preactivations.append(z)
        run.activations.append(a)
    return run


@dataclass
class GradientFlow:
    """Per-layer gradients of one backward pass. ``weight_grad_norm[l]`` is ``‖∂L/∂W‖`` (Frobenius) of
    layer ``l+1``; ``activation_grad_std[l]`` is the std of ``∂L/∂a`` arriving at that layer's output."""
    weight_grad_norm: np.ndarray
    activation_grad_std: np.ndarray
    weight_grads: list[np.ndarray]


def gradient_flow(run: ForwardRun, *, seed: int = 0) -> GradientFlow:
    """Backpropagate a random loss through ``run``'s stack.

    The loss is ``L = mean over samples of Σ_j g_j·a_j`` of the last layer, with ``g ~ N(0, 1)`` drawn
    once (seeded): the gradient arriving from above carries no structure, so whatever happens to its
    size on the way down is the stack's doing — the derivative ``φ'(z)`` of each layer and the scale of
    its weights.
    """
    rng = np.random.default_rng(seed)
    last = run.activations[-1]
    upstream = rng.standard_normal(last.shape, dtype=last.dtype) / last.dtype.type(last.shape[0])
    norms, stds, grads = [], [], []
    for layer in reversed(range(len(run.weights))):
        stds.append(float(np.std(upstream)))
        below = run.inputs if layer == 0 else run.activations[layer - 1]
        delta = upstream * _derivative_from_output(run.activation, run.activations[layer], run.preactivations[layer])
        grad = below.T @ delta
        grads.append(grad)
        norms.append(float(np.linalg.norm(grad)))
        upstream = delta @ run.weights[layer].T
    return GradientFlow(np.array(norms[::-1]), np.array(stds[::-1]), grads[::-1])


# ----------------------------------------------------------------------------------------------
# Per-layer statistics
# ----------------------------------------------------------------------------------------------

def saturation_bounds(activation: str) -> dict[str, float]:
    """Where an activation is flat (its derivative near zero), as ``layer_statistics`` keywords.

    sigmoid: outputs within 0.01 of 0 or 1 (derivative ``y(1−y)`` < 0.0099, under 4% of its peak 0.25);
    tanh: within 0.01 of ±1 (derivative ``1−y²`` < 0.02); ReLU: exactly 0 (derivative 0).
    """
    bounds = {"sigmoid": dict(low=0.0, high=1.0, margin=0.01),
              "tanh": dict(low=-1.0, high=1.0, margin=0.01),
              "relu": dict(low=0.0, high=math.inf, margin=0.0)}
    if activation not in bounds:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return bounds[activation]


def layer_statistics(activations: Sequence[np.ndarray], *, low: float = -math.inf, high: float = math.inf,
                     margin: float = 0.0) -> dict[str, np.ndarray]:
    """Per layer: ``mean`` and ``std`` over all of its values (every sample, every unit — the
    population std, ``ddof=0``), and ``saturated``: the fraction of values with ``y ≤ low + margin``
    or ``y ≥ high − margin`` (``≤`` so that a ReLU's exact zeros count with ``margin=0``).
    Each entry is a float64 array with one number per layer."""
    means, stds, saturated = [], [], []
    for values in activations:
        values = np.asarray(values, dtype=np.float64)
        means.append(values.mean())
        stds.append(values.std())
        saturated.append(np.mean((values <= low + margin) | (values >= high - margin)))
    return {"mean": np.array(means), "std": np.array(stds), "saturated": np.array(saturated)}


def run_statistics(run: ForwardRun) -> dict[str, np.ndarray]:
    """``layer_statistics`` of a run with its activation's saturation bounds."""
    return layer_statistics(run.activations, **saturation_bounds(run.activation))


SAITO_INITS = (1.0, 0.01, "xavier", "he")
NETWORK_SETTINGS = {"std=0.01, ReLU": ("relu", 0.01), "Xavier 1/√n, ReLU (wrong scale for ReLU)": ("relu", "xavier"),
                    "He √(2/n), ReLU": ("relu", "he"), "Xavier 1/√n, tanh": ("tanh", "xavier")}


def saito_experiment(*, seed: int = 0, n_layers: int = 5, width: int = 100, n_samples: int = 1000,
                     activations: Sequence[str] = ACTIVATIONS, inits: Sequence = SAITO_INITS) -> dict:
    """Every (activation, init) of Saito's experiment: ``{(activation, init): {"std", "saturated",
    "grad_norm"}}`` with one number per layer (``grad_norm`` from :func:`gradient_flow`)."""
    table = {}
    for activation in activations:
        for init in inits:
            run = forward_activations(activation, init, n_layers=n_layers, width=width, n_samples=n_samples, seed=seed)
            stats = run_statistics(run)
            table[activation, init] = {"std": stats["std"], "saturated": stats["saturated"],
                                       "grad_norm": gradient_flow(run, seed=seed).weight_grad_norm}
    return table


def measured_preactivation_variance(activation: str, init, *, n_networks: int = 30, n_layers: int = 5,
                                    width: int = 100, n_samples: int = 1000, seed: int = 0) -> np.ndarray:
    """Per layer, ``E[z²]`` of the pre-activations averaged over ``n_networks`` independently drawn
    networks (seeds ``seed … seed + n_networks − 1``): what the variance recursion predicts."""
    return np.mean([[float(np.mean(z * z)) for z in
                     forward_activations(activation, init, n_layers=n_layers, width=width, n_samples=n_samples,
                                         seed=seed + k).preactivations]
                    for k in range(n_networks)], axis=0)


def std_profile(activation: str, init, *, n_layers: int = 20, width: int = 100, n_samples: int = 1000,
                seed: int = 0) -> np.ndarray:
    """Per-layer std of the activations of a ``forward_activations`` run (one number per layer)."""
    run = forward_activations(activation, init, n_layers=n_layers, width=width, n_samples=n_samples, seed=seed)
    return np.array([a.std() for a in run.activations])


# ----------------------------------------------------------------------------------------------
# Theory: variance propagation in the wide-layer limit
# ----------------------------------------------------------------------------------------------

# E[f(z)] for z ~ N(0, q) by the trapezoid rule on a dense grid of u = z/√q over [-12, 12]: tanh(√q·u)
# turns sharp for large q, where a Gauss–Hermite rule of modest order is off by several percent.
_GRID = np.linspace(-12.0, 12.0, 48001)
_DENSITY = np.exp(-_GRID**2 / 2) * (_GRID[1] - _GRID[0]) / math.sqrt(2 * math.pi)


def _gaussian_mean(activation: str, variance: float, power: int) -> float:
    return float(_DENSITY @ _activate(activation, math.sqrt(variance) * _GRID) ** power)


def second_moment(activation: str, variance: float) -> float:
    """``E[φ(z)²]`` for ``z ~ N(0, variance)``: exact for ReLU (``variance/2``) and linear, numerical
    integration (relative error below 1e-9) for sigmoid and tanh."""
    if activation == "relu":
        return variance / 2
    if activation == "linear":
        return variance
    return _gaussian_mean(activation, variance, 2)


def activation_std(activation: str, variance: float) -> float:
    """``std(φ(z))`` for ``z ~ N(0, variance)`` (ReLU: ``√(variance·(1/2 − 1/(2π)))``)."""
    if activation == "relu":
        return math.sqrt(variance * (0.5 - 1 / (2 * math.pi)))
    mean = _gaussian_mean(activation, variance, 1)
    return math.sqrt(max(_gaussian_mean(activation, variance, 2) - mean**2, 0.0))


def predicted_preactivation_variance(activation: str, init, *, n_layers: int = 5, width: int = 100,
                                     input_second_moment: float = 1.0) -> np.ndarray:
    """The variance-preservation recursion: ``Var(z_1) = n·σ²·E[x²]`` and
    ``Var(z_{l+1}) = n·σ²·E[φ(z_l)²]`` (zero-mean independent weights, wide layers: each ``z`` is a sum
    of ``n`` independent terms, hence Gaussian). Note ``E[φ²]``, not ``Var(φ)``: a sigmoid's mean of ½
    feeds the next layer's variance too."""
    sigma2 = init_std((width, width), init) ** 2
    variances = [width * sigma2 * input_second_moment]
    for _ in range(n_layers - 1):
        variances.append(width * sigma2 * second_moment(activation, variances[-1]))
    return np.array(variances)


def predicted_activation_std(activation: str, init, *, n_layers: int = 5, width: int = 100) -> np.ndarray:
    """Per-layer std of ``φ(z)`` that the recursion predicts for ``forward_activations``."""
    return np.array([activation_std(activation, q) for q in
                     predicted_preactivation_variance(activation, init, n_layers=n_layers, width=width)])


# ----------------------------------------------------------------------------------------------
# Real networks (lib.networks, lib.training)
# ----------------------------------------------------------------------------------------------

def _network(activation, init, hidden, input_size, output_size, seed, constant=None):
    from lib.networks import MultiLayerNet

    network = MultiLayerNet(input_size, list(hidden), output_size, activation=activation,
                            weight_init_std=init, seed=seed)
    if constant is not None:
        for key, value in network.params.items():
            if key.startswith("W"):
                value[...] = constant  # in place: the layers hold these very arrays
    return network


def train_from_constant(data, *, constant: float | None = 0.1, hidden: Sequence[int] = (30, 30),
                        activation: str = "relu", epochs: int = 3, lr: float = 0.1, seed: int = 0):
    """Train a small net whose weights all start at ``constant`` (biases at 0) with plain SGD;
    ``constant=None`` keeps the He random init for comparison. Returns the trained network."""
    from lib.optimizers import SGD
    from lib.training import train

    (x_train, t_train), _ = data
    output_size = int(np.max(t_train)) + 1 if t_train.ndim == 1 else t_train.shape[1]
    network = _network(activation, "he", hidden, x_train.shape[1], output_size, seed, constant)
    train(network, SGD(lr=lr), data, epochs=epochs, batch_size=100, seed=seed)
    return network


def unit_spread(network) -> np.ndarray:
    """Per hidden layer, how different its units are: ``max over i, j of |W[i, j] − W[i, 0]|`` over the
    incoming weights (column ``j`` belongs to unit ``j``). Zero means every unit is a copy of unit 0."""
    return np.array([float(np.max(np.abs(network.params[f"W{layer}"] - network.params[f"W{layer}"][:, :1])))
                     for layer in range(1, network.hidden_layer_num + 1)])


def plot_unit_weights(axes_row, network, *, title: str = "") -> None:
    """The incoming weights of the first hidden units, as images when the input is a square picture."""
    weights = network.params["W1"]
    side = math.isqrt(weights.shape[0])
    for unit, ax in enumerate(axes_row):
        column = weights[:, unit]
        image = column.reshape(side, side) if side * side == len(column) else column[None, :]
        ax.imshow(image, cmap="coolwarm", vmin=-np.abs(weights).max(), vmax=np.abs(weights).max())
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"unit {unit + 1}", fontsize="x-small")
    if title:
        axes_row[0].set_ylabel(title, fontsize="small")


def compare_on_network(settings: Mapping[str, tuple[str, object]], data, *, hidden: Sequence[int] = (100,) * 4,
                       epochs: int = 10, batch_size: int = 128, lr: float = 0.1, seed: int = 0) -> dict:
    """Saito's ``weight_init_compare``: for each label, a ``MultiLayerNet(activation, weight_init_std=init)``
    trained with plain SGD (so the initialization, not the optimizer, decides what happens). Saito uses
    lr = 0.01 for 2000 iterations on MNIST; the defaults here (lr = 0.1, 10 epochs of 11 iterations on
    the 1,438 digits) show the same ranking in a few seconds.
    ``settings`` maps a label to ``(activation, init)``; returns label → ``History``."""
    from lib.optimizers import SGD
    from lib.training import train

    (x_train, t_train), _ = data
    output_size = int(np.max(t_train)) + 1 if t_train.ndim == 1 else t_train.shape[1]
    histories = {}
    for label, (activation, init) in settings.items():
        network = _network(activation, init, hidden, x_train.shape[1], output_size, seed)
        histories[label] = train(network, SGD(lr=lr), data, epochs=epochs, batch_size=batch_size, seed=seed)
    return histories


def final_loss(history, last: int | None = None) -> float:
    """Mean training loss over the last epoch's iterations (or the ``last`` iterations)."""
    count = last or history.iterations_per_epoch
    return float(np.mean(history.train_loss[-count:]))


# ----------------------------------------------------------------------------------------------
# Figures and the interactive explorer
# ----------------------------------------------------------------------------------------------

def histogram_grid(seed: int = 0, *, activations: Sequence[str] = ACTIVATIONS, inits: Sequence = SAITO_INITS,
                   n_layers: int = 5, figsize=(12, 6.4)):
    """Saito's histograms (his Figures 6-10 to 6-14) as one grid: a row per activation, a column per init,
    each panel overlaying the histograms of layers 1 … ``n_layers`` (light to dark). sigmoid and tanh
    are drawn over their output range; ReLU's positive values over ``log10`` (the layers' scales differ
    by orders of magnitude), with the fraction of exact zeros in the panel. Returns the figure."""
    import matplotlib.pyplot as plt

    colors = plt.get_cmap("viridis")(np.linspace(0.9, 0.1, n_layers))
    fig, axes = plt.subplots(len(activations), len(inits), figsize=figsize, squeeze=False)
    for row, activation in zip(axes, activations):
        value_range = {"sigmoid": (0, 1), "tanh": (-1, 1)}.get(activation)  # None: ReLU, on a log axis
        for ax, init in zip(row, inits):
            run = forward_activations(activation, init, n_layers=n_layers, seed=seed)
            stats = run_statistics(run)
            for layer, values in enumerate(run.activations):
                if value_range is None:
                    counts, edges = np.histogram(np.log10(values[values > 0]), bins=40, range=(-8, 6))
                else:
                    counts, edges = np.histogram(values, bins=40, range=value_range)
                ax.stairs(counts / values.size, edges, color=colors[layer], label=f"layer {layer + 1}")
            flat = "exactly 0" if activation == "relu" else "saturated"
            least, most = f"{stats['saturated'].min():.0%}", f"{stats['saturated'].max():.0%}"
            ax.text(0.03, 0.95, f"{flat}: {least if least == most else least + '–' + most}\n"
                                f"std: {stats['std'][0]:.2g} → {stats['std'][-1]:.2g}",
                    transform=ax.transAxes, va="top", fontsize="x-small")
            ax.set_yticks([])
            ax.tick_params(labelsize="x-small")
            if value_range is None:
                ax.set_xlabel("log10 of the positive outputs", fontsize="x-small")
            else:
                ax.set_xticks([value_range[0], sum(value_range) / 2, value_range[1]])
            ax.set_title(f"{activation}, {scheme_label(init)}", fontsize="small")
    # the panel of the second init in the second row (tanh, std=0.01 by default) has room at its sides
    axes[min(1, len(activations) - 1), min(1, len(inits) - 1)].legend(fontsize="xx-small", loc="upper right")
    fig.suptitle(f"activations of {n_layers} layers of 100 units for 1000 random inputs (layer 1 light → "
                 f"layer {n_layers} dark)", fontsize="medium")
    fig.tight_layout()
    return fig


def plot_profiles(ax, profiles: Mapping[str, np.ndarray], *, ylabel: str, title: str = "", log: bool = True) -> None:
    """One line per setting of a per-layer quantity (std, gradient norm …) against layer number."""
    import matplotlib.ticker
    for label, values in profiles.items():
        values = np.asarray(values)
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=label)
    if log:
        ax.set_yscale("log")
        positive = np.concatenate([np.ravel(v) for v in profiles.values()])
        positive = positive[positive > 0]
        if positive.size and positive.max() / positive.min() > 1e3:
            # ranges here span up to 25 decades: about 8 labelled decades and no minor ticks (cheaper and legible)
            ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(numticks=8))
            ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small")


def explorer_figure(activation: str = "relu", init="he", depth: int = 10, width: int = 100, *, seed: int = 0,
                    n_samples: int = 500, max_histograms: int = 5):
    """The explorer's picture: histograms of up to ``max_histograms`` evenly spaced layers and the
    per-layer std (log scale). Pure function of its arguments; returns the figure."""
    import matplotlib.pyplot as plt

    run = forward_activations(activation, init, n_layers=depth, width=width, n_samples=n_samples, seed=seed)
    stats = run_statistics(run)
    shown = np.unique(np.linspace(0, depth - 1, min(depth, max_histograms)).round().astype(int))
    fig = plt.figure(figsize=(11, 4.2))
    grid = fig.add_gridspec(2, len(shown), height_ratios=(1, 1.3))
    for column, layer in enumerate(shown):
        ax = fig.add_subplot(grid[0, column])
        values = run.activations[layer].ravel()
        ax.hist(values, bins=30, color="tab:blue")
        ax.set_title(f"layer {layer + 1}: std {stats['std'][layer]:.2g}", fontsize="x-small")
        ax.tick_params(labelsize="x-small")
        ax.set_yticks([])
    ax = fig.add_subplot(grid[1, :])
    std = np.maximum(stats["std"], 1e-300)  # a log axis cannot show an exact 0
    plot_profiles(ax, {f"{activation}, {scheme_label(init)}, width {width}": std}, ylabel="std of activations")
    predicted = predicted_activation_std(activation, init, n_layers=depth, width=width)
    ax.plot(np.arange(1, depth + 1), np.maximum(predicted, 1e-300), "k--", linewidth=1, label="wide-layer theory")
    ax.legend(fontsize="x-small")
    fig.tight_layout()
    return fig


def explorer(activation: str = "relu", init="he", depth: int = 10, width: int = 100, *, seed: int = 0):
    """Interactive explorer (ipywidgets): activation, init scheme (or a custom std), depth (1–20) and
    width; the figure is redrawn inside an ``Output`` widget whenever a control changes."""
    import ipywidgets as widgets

    from lib.plots import show_in_output

    choices = [("Xavier 1/√n", "xavier"), ("He √(2/n)", "he"), ("std = 1", 1.0), ("std = 0.01", 0.01),
               ("custom std", "custom")]
    activation_box = widgets.Dropdown(options=list(ACTIVATIONS), value=activation, description="activation")
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
        show_in_output(output, fig, "explorer figure")

    for control in (activation_box, scheme_box, custom_std, depth_slider, width_slider):
        control.observe(redraw, names="value")
    redraw()
    controls = widgets.HBox([widgets.VBox([activation_box, scheme_box, custom_std]),
                             widgets.VBox([depth_slider, width_slider])])
    return widgets.VBox([controls, output])
