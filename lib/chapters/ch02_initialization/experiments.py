"""Chapter 2, weight initialization and vanishing gradients: the deep-stack experiment (forward and
backward), per-layer statistics, the variance recursion, real networks, and every claim's statistic
over the claim seeds. numpy only: the figures are in ``figures.py``.

Random streams: every draw has its own stream, ``np.random.default_rng([seed, stream, …])`` with one
``stream`` per kind of draw (inputs, each layer's weights, the upstream gradient), so no two draws
share numbers. The weights of layer ``l`` are the same standard-normal matrix under every init
(only the scale differs), so the inits of one seed are compared on the same network.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from lib.data import count_classes
from lib.initializers import init_std, scheme_label
from lib.layers import ReLU, Sigmoid, Tanh

__all__ = ["ACTIVATIONS", "ACTIVATION_LAYERS", "SAITO_INITS", "forward_activations", "backward_stack",
           "gradient_flow", "layer_statistics", "saturation_bounds", "run_statistics", "saito_study",
           "recursion_study", "std_profile", "predicted_preactivation_variance", "predicted_activation_std",
           "second_moment", "activation_std", "build_network", "train_sgd", "final_loss", "unit_spread",
           "symmetry_study", "network_study", "depth_study", "network_diagnostics", "Summary", "scheme_label"]

ACTIVATIONS = ("sigmoid", "tanh", "relu")
ACTIVATION_LAYERS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}
SAITO_INITS = (1.0, 0.01, "xavier", "he")

# One stream per kind of draw (the second entry of the seed list).
INPUT_STREAM, WEIGHT_STREAM, UPSTREAM_STREAM, NETWORK_STREAM = 0, 1, 2, 3

# Saito's experiment uses 1000 inputs; 200 give the same histograms and statistics (20,000 values per
# layer) at a fifth of the cost, which lets every claim be measured over ten seeds.
N_SAMPLES = 200
WIDTH = 100


def _generator(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


# ----------------------------------------------------------------------------------------------
# Saito's experiment: random inputs through a deep stack of fully connected layers
# ----------------------------------------------------------------------------------------------

@dataclass
class ForwardRun:
    """One forward pass of ``inputs`` through ``len(weights)`` layers ``a ← φ(a @ W)`` (no biases, as in
    Saito's experiment). ``preactivations[l]`` is ``z`` and ``activations[l]`` is ``φ(z)`` of layer
    ``l+1``; ``layers[l]`` is its ``lib.layers`` activation layer, which remembers its output for
    the backward pass."""
    activation: str
    init: object
    inputs: np.ndarray
    weights: list[np.ndarray]
    preactivations: list[np.ndarray] = field(default_factory=list)
    activations: list[np.ndarray] = field(default_factory=list)
    layers: list = field(default_factory=list)

    @property
    def weight_std(self) -> float:
        return init_std(self.weights[0].shape, self.init)


def random_weights(init, *, n_layers: int, width: int = WIDTH, seed: int = 0, dtype=np.float64) -> list[np.ndarray]:
    """``n_layers`` matrices ``(width, width)`` with entries ``N(0, σ²)``, σ = ``init_std(…, init)``; layer
    ``l`` draws from its own stream, so the same seed gives the same matrices up to scale for every init."""
    dtype = np.dtype(dtype)
    std = dtype.type(init_std((width, width), init))
    return [_standard_normal_weights(seed, layer, width, dtype.str) * std for layer in range(n_layers)]


@functools.lru_cache(maxsize=32)  # one seed of the 20-layer study; at most 64 MB at width 500
def _standard_normal_weights(seed: int, layer: int, width: int, dtype: str) -> np.ndarray:
    # Cached: the studies draw the same matrices for every init of a seed (read-only, so never altered).
    weights = _generator(seed, WEIGHT_STREAM, layer).standard_normal((width, width), dtype=np.dtype(dtype))
    weights.flags.writeable = False
    return weights


def forward_activations(activation: str = "sigmoid", init=1.0, *, n_layers: int = 5, width: int = WIDTH,
                        n_samples: int = N_SAMPLES, seed: int = 0, dtype=np.float64) -> ForwardRun:
    """Saito's experiment: ``n_samples`` standard-normal inputs of dimension ``width`` through
    ``n_layers`` layers of ``width`` units, weights from :func:`random_weights`."""
    _check_stack(activation, n_layers, width, n_samples)
    x = _generator(seed, INPUT_STREAM).standard_normal((n_samples, width), dtype=np.dtype(dtype))
    run = ForwardRun(activation, init, x, random_weights(init, n_layers=n_layers, width=width, seed=seed, dtype=dtype))
    a = x
    for W in run.weights:
        layer = ACTIVATION_LAYERS[activation]()    # lib.layers' Sigmoid, Tanh or ReLU
        z = a @ W
        a = layer.forward(z)
        run.preactivations.append(z)
        run.activations.append(a)
        run.layers.append(layer)
    return run


def _check_stack(activation: str, n_layers: int, width: int, n_samples: int) -> None:
    if activation not in ACTIVATION_LAYERS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if n_layers < 1 or width < 1 or n_samples < 1:
        raise ValueError(f"need n_layers, width, n_samples ≥ 1, got {n_layers}, {width}, {n_samples}")


def backward_stack(run: ForwardRun, upstream: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Backpropagate ``upstream = ∂L/∂a`` of the last layer through ``run``'s stack: per layer, the
    weight gradient ``∂L/∂W`` and the gradient ``∂L/∂a`` that arrived at its output."""
    weight_grads, arriving = [], []
    dout = upstream
    for l in reversed(range(len(run.weights))):
        arriving.append(dout)
        delta = run.layers[l].backward(dout)                # δ = ∂L/∂z = ∂L/∂a ⊙ φ'(z)
        below = run.inputs if l == 0 else run.activations[l - 1]
        weight_grads.append(below.T @ delta)               # ∂L/∂W = a_belowᵀ δ
        dout = delta @ run.weights[l].T                    # ∂L/∂a of the layer below
    return weight_grads[::-1], arriving[::-1]


@dataclass
class GradientFlow:
    """Per-layer gradients of one backward pass. ``weight_grad_norm[l]`` is ``‖∂L/∂W‖`` (Frobenius) of
    layer ``l+1``; ``activation_grad_std[l]`` is the std of ``∂L/∂a`` arriving at that layer's output;
    ``upstream`` is the ``g`` of the loss."""
    weight_grad_norm: np.ndarray
    activation_grad_std: np.ndarray
    weight_grads: list[np.ndarray]
    upstream: np.ndarray


def gradient_flow(run: ForwardRun, *, seed: int = 0) -> GradientFlow:
    """Backpropagate a structureless loss through ``run``'s stack.

    The loss is ``L = (1/N) Σ_samples Σ_j g_j·a_j`` over the last layer's outputs, with ``g ~ N(0, 1)``
    drawn from its own stream (independent of the inputs and the weights): the gradient arriving from
    above carries no structure, so whatever happens to its size on the way down is the stack's doing.
    """
    last = run.activations[-1]
    g = _generator(seed, UPSTREAM_STREAM).standard_normal(last.shape, dtype=last.dtype)
    upstream = g / last.dtype.type(last.shape[0])
    grads, arriving = backward_stack(run, upstream)
    return GradientFlow(np.array([np.linalg.norm(grad) for grad in grads]),
                        np.array([np.std(d) for d in arriving]), grads, upstream)


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


@dataclass
class LayerStatistics:
    """One number per layer: ``mean`` and ``std`` over all of the layer's values, and the fraction
    ``saturated`` in the activation's flat region."""
    mean: np.ndarray
    std: np.ndarray
    saturated: np.ndarray


def layer_statistics(activations: Sequence[np.ndarray], *, low: float = -math.inf, high: float = math.inf,
                     margin: float = 0.0) -> LayerStatistics:
    """Per layer: ``mean`` and ``std`` over all of its values (every sample, every unit — the population
    std, ``ddof=0``), and ``saturated``: the fraction of values with ``y ≤ low + margin`` or
    ``y ≥ high − margin`` (``≤`` so that a ReLU's exact zeros count with ``margin=0``)."""
    means, stds, saturated = [], [], []
    for values in activations:
        values = np.asarray(values, dtype=np.float64)
        means.append(values.mean())
        stds.append(values.std())
        saturated.append(np.mean((values <= low + margin) | (values >= high - margin)))
    return LayerStatistics(np.array(means), np.array(stds), np.array(saturated))


def run_statistics(run: ForwardRun) -> LayerStatistics:
    """``layer_statistics`` of a run with its activation's saturation bounds."""
    return layer_statistics(run.activations, **saturation_bounds(run.activation))


# ----------------------------------------------------------------------------------------------
# Statistics over seeds
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Summary:
    """A statistic over seeds: ``center`` (the mean, or the geometric mean for ``log=True``), the
    spread (sd, or the geometric sd as a factor), and the range."""
    center: float
    spread: float
    low: float
    high: float
    count: int
    log: bool = False
    counted: str = "seeds"

    @classmethod
    def of(cls, values, *, log: bool = False, counted: str = "seeds") -> "Summary":
        """``values``: one per seed (or per ``counted`` thing, e.g. "layers × seeds")."""
        values = np.asarray(values, dtype=np.float64).ravel()
        if log:
            logs = np.log(values)
            return cls(float(np.exp(logs.mean())), float(np.exp(logs.std())), float(values.min()),
                       float(values.max()), values.size, True, counted)
        return cls(float(values.mean()), float(values.std()), float(values.min()), float(values.max()),
                   values.size, False, counted)

    def format(self, fmt: str = ".3g") -> str:
        sign = "×/÷" if self.log else "±"
        spread = format(self.spread, ".2g") if self.log else format(self.spread, fmt)
        return (f"{format(self.center, fmt)} {sign} {spread} "
                f"(range {format(self.low, fmt)} … {format(self.high, fmt)}, {self.count} {self.counted})")

    def __str__(self) -> str:
        return self.format()


@dataclass
class SettingRuns:
    """One (activation, init) over the seeds: arrays of shape ``(n_seeds, n_layers)``."""
    activation: str
    init: object
    std: np.ndarray
    saturated: np.ndarray
    grad_norm: np.ndarray
    activation_grad_std: np.ndarray

    @property
    def label(self) -> str:
        return f"{self.activation}, {scheme_label(self.init)}"

    @property
    def grad_ratio(self) -> np.ndarray:
        """Per seed: ``‖∂L/∂W‖`` of the first layer divided by that of the last."""
        return self.grad_norm[:, 0] / self.grad_norm[:, -1]

    @property
    def std_growth(self) -> np.ndarray:
        """Per seed: the geometric mean over layers 1→2 … (L−1)→L of std(layer l+1) / std(layer l)."""
        steps = self.std.shape[1] - 1
        return (self.std[:, -1] / self.std[:, 0]) ** (1 / steps)

    @property
    def backward_shrink(self) -> np.ndarray:
        """Per seed and step down the stack: std of ∂L/∂a at layer l+1 divided by that at layer l."""
        return self.activation_grad_std[:, 1:] / self.activation_grad_std[:, :-1]


@dataclass
class StackStudy:
    """Saito's experiment for every (activation, init), over ``seeds``."""
    seeds: tuple
    n_layers: int
    settings: dict  # (activation, init) -> SettingRuns

    def __getitem__(self, key) -> SettingRuns:
        return self.settings[key]


def saito_study(seeds: Sequence[int], *, activations: Sequence[str] = ACTIVATIONS, inits: Sequence = SAITO_INITS,
                n_layers: int = 5, width: int = WIDTH, n_samples: int = N_SAMPLES) -> StackStudy:
    """Every (activation, init) of Saito's experiment on every seed: per-layer std, saturated fraction,
    and the gradients of :func:`gradient_flow`."""
    keys = [(activation, init) for activation in activations for init in inits]
    rows = {key: {"std": [], "saturated": [], "grad_norm": [], "activation_grad_std": []} for key in keys}
    for seed in seeds:
        for activation, init in keys:
            run = forward_activations(activation, init, n_layers=n_layers, width=width, n_samples=n_samples, seed=seed)
            stats = run_statistics(run)
            flow = gradient_flow(run, seed=seed)
            row = rows[activation, init]
            row["std"].append(stats.std)
            row["saturated"].append(stats.saturated)
            row["grad_norm"].append(flow.weight_grad_norm)
            row["activation_grad_std"].append(flow.activation_grad_std)
    settings = {key: SettingRuns(*key, *(np.array(row[name]) for name in
                                         ("std", "saturated", "grad_norm", "activation_grad_std")))
                for key, row in rows.items()}
    return StackStudy(tuple(seeds), n_layers, settings)


@dataclass
class RecursionCheck:
    """The variance recursion against the average of many independently drawn networks."""
    activation: str
    init: object
    predicted: np.ndarray       # Var(z) per layer, wide-layer theory
    measured: np.ndarray        # E[z²] per layer, mean over the networks
    standard_error: np.ndarray  # of that mean
    n_networks: int

    @property
    def label(self) -> str:
        return f"{self.activation}, {scheme_label(self.init)}"

    @property
    def relative_deviation(self) -> np.ndarray:
        return self.measured / self.predicted - 1

    @property
    def standard_errors_off(self) -> np.ndarray:
        """Per layer, |measured − predicted| in units of the measured mean's standard error."""
        return np.abs(self.measured - self.predicted) / self.standard_error


RECURSION_SETTINGS = (("relu", "he"), ("relu", "xavier"), ("tanh", "xavier"), ("sigmoid", 1.0))


def recursion_study(seeds: Sequence[int], *, settings=RECURSION_SETTINGS, networks_per_seed: int = 10,
                    n_layers: int = 5, width: int = WIDTH, n_samples: int = 20) -> list[RecursionCheck]:
    """Per setting, ``E[z²]`` of every layer averaged over ``networks_per_seed`` networks for each claim
    seed (network ``k`` of seed ``s`` is seeded from the stream ``[s, NETWORK_STREAM, k]``), with its
    standard error. Few samples per network suffice: the spread between networks dominates."""
    moments = {key: [] for key in settings}
    for seed in seeds:
        for k in range(networks_per_seed):
            network_seed = _network_seed(seed, k)
            for activation, init in settings:
                run = forward_activations(activation, init, n_layers=n_layers, width=width, n_samples=n_samples,
                                          seed=network_seed)
                moments[activation, init].append([np.mean(z * z) for z in run.preactivations])
    checks = []
    for (activation, init), rows in moments.items():
        rows = np.array(rows)
        checks.append(RecursionCheck(activation, init,
                                     predicted_preactivation_variance(activation, init, n_layers=n_layers, width=width),
                                     rows.mean(axis=0), rows.std(axis=0, ddof=1) / math.sqrt(len(rows)), len(rows)))
    return checks


def _network_seed(seed: int, k: int) -> int:
    """An integer seed for network ``k`` of claim seed ``seed``, drawn from the stream ``[seed, NETWORK_STREAM, k]``."""
    return int(_generator(seed, NETWORK_STREAM, k).integers(2**31))


def std_profile(activation: str, init, *, n_layers: int = 20, width: int = WIDTH, n_samples: int = N_SAMPLES,
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
    values = ACTIVATION_LAYERS[activation]().forward(math.sqrt(variance) * _GRID)
    return float(_DENSITY @ values ** power)


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


def predicted_preactivation_variance(activation: str, init, *, n_layers: int = 5, width: int = WIDTH,
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


def predicted_activation_std(activation: str, init, *, n_layers: int = 5, width: int = WIDTH) -> np.ndarray:
    """Per-layer std of ``φ(z)`` that the recursion predicts for ``forward_activations``."""
    return np.array([activation_std(activation, q) for q in
                     predicted_preactivation_variance(activation, init, n_layers=n_layers, width=width)])


# ----------------------------------------------------------------------------------------------
# Real networks (lib.networks, lib.training)
# ----------------------------------------------------------------------------------------------

def build_network(data, *, activation: str = "relu", init="he", hidden: Sequence[int] = (30, 30), seed: int = 0,
                  constant: float | None = None):
    """The chapter's ``MultiLayerNet`` for ``data``: input and output sizes from the data, biases 0, weights
    ``init`` (``weight_init_std``) — or, with ``constant``, every weight set to that one number."""
    from lib.networks import MultiLayerNet

    (x_train, t_train), (_, t_test) = data
    network = MultiLayerNet(x_train.shape[1], list(hidden), count_classes(t_train, t_test), activation=activation,
                            weight_init_std=init, seed=seed)
    if constant is not None:
        for key, value in network.params.items():
            if key.startswith("W"):
                value[...] = constant  # in place: the layers hold these very arrays
    return network


def train_sgd(network, data, *, epochs: int, lr: float, batch_size: int = 100, seed: int = 0):
    """Plain SGD, so that the initialization, not the optimizer, decides what happens. Returns the History."""
    from lib.optimizers import SGD
    from lib.training import train

    # The training set is evaluated on as many samples as the test set has: only the curves use it.
    return train(network, SGD(lr=lr), data, epochs=epochs, batch_size=batch_size, seed=seed,
                 eval_size=len(data[1][0]))


def unit_spread(network) -> np.ndarray:
    """Per hidden layer, how different its units are: ``max over i, j of |W[i, j] − W[i, 0]|`` over the
    incoming weights (column ``j`` belongs to unit ``j``). Zero means every unit is a copy of unit 0."""
    return np.array([float(np.max(np.abs(network.params[f"W{layer}"] - network.params[f"W{layer}"][:, :1])))
                     for layer in range(1, network.hidden_layer_num + 1)])


SYMMETRY_CONSTANT = 0.1
SYMMETRY_HIDDEN = (30, 30)
SYMMETRY_EPOCHS = 3


@dataclass
class SymmetryStudy:
    """Constant init against He random init, trained alike, per seed."""
    seeds: tuple
    constant_spread: np.ndarray   # (n_seeds, n_hidden_layers)
    random_spread: np.ndarray
    constant_accuracy: np.ndarray  # test accuracy per seed
    random_accuracy: np.ndarray
    constant_network: object       # the first seed's trained networks, for the figure
    random_network: object


def symmetry_study(data, seeds: Sequence[int], *, constant: float = SYMMETRY_CONSTANT,
                   hidden: Sequence[int] = SYMMETRY_HIDDEN, epochs: int = SYMMETRY_EPOCHS, lr: float = 0.1) -> SymmetryStudy:
    """A ReLU net whose weights all start at ``constant`` and the same net with He random weights, each
    trained with plain SGD on every seed (the seed orders the mini-batches, and draws the random weights)."""
    (_, _), (x_test, t_test) = data
    spreads, accuracies, first = [], [], None
    for seed in seeds:
        pair = (build_network(data, hidden=hidden, seed=seed, constant=constant),
                build_network(data, hidden=hidden, seed=seed))
        for network in pair:
            train_sgd(network, data, epochs=epochs, lr=lr, seed=seed)
        spreads.append([unit_spread(network) for network in pair])
        accuracies.append([network.accuracy(x_test, t_test) for network in pair])
        first = pair if first is None else first
    spreads, accuracies = np.array(spreads), np.array(accuracies)
    return SymmetryStudy(tuple(seeds), spreads[:, 0], spreads[:, 1], accuracies[:, 0], accuracies[:, 1], *first)


@dataclass(frozen=True)
class NetworkSetting:
    label: str
    activation: str
    init: object


NETWORK_SETTINGS = (NetworkSetting("std=0.01, ReLU", "relu", 0.01),
                    NetworkSetting("Xavier 1/√n, ReLU (wrong scale for ReLU)", "relu", "xavier"),
                    NetworkSetting("He √(2/n), ReLU", "relu", "he"),
                    NetworkSetting("Xavier 1/√n, tanh", "tanh", "xavier"))
NETWORK_HIDDEN = (40,) * 4
NETWORK_EPOCHS = 3
NETWORK_LR = 0.1


@dataclass
class NetworkStudy:
    """Saito's ``weight_init_compare`` over seeds: per setting, the final training loss (mean over the
    last epoch's iterations) and test accuracy on every seed, and the first seed's histories."""
    seeds: tuple
    settings: tuple
    final_loss: np.ndarray        # (n_settings, n_seeds)
    test_accuracy: np.ndarray     # (n_settings, n_seeds)
    histories: list               # the first seed's History per setting

    def index(self, label_start: str) -> int:
        matches = [i for i, s in enumerate(self.settings) if s.label.startswith(label_start)]
        if len(matches) != 1:
            raise KeyError(f"no single setting starts with {label_start!r}")
        return matches[0]


def final_loss(history) -> float:
    """Mean training loss over the last epoch's iterations."""
    return float(np.mean(history.train_loss[-history.iterations_per_epoch:]))


def network_study(data, seeds: Sequence[int], *, settings=NETWORK_SETTINGS, hidden: Sequence[int] = NETWORK_HIDDEN,
                  epochs: int = NETWORK_EPOCHS, lr: float = NETWORK_LR, batch_size: int = 100) -> NetworkStudy:
    """Each setting's ``MultiLayerNet(activation, weight_init_std=init)`` trained with plain SGD on every seed
    (Saito: lr 0.01 for 2000 iterations on MNIST; here lr 0.1 for a few epochs on the digits)."""
    losses = np.zeros((len(settings), len(seeds)))
    accuracy = np.zeros_like(losses)
    histories = []
    for j, seed in enumerate(seeds):
        for i, setting in enumerate(settings):
            network = build_network(data, activation=setting.activation, init=setting.init, hidden=hidden, seed=seed)
            history = train_sgd(network, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
            losses[i, j] = final_loss(history)
            accuracy[i, j] = history.test_acc[-1]
            if j == 0:
                histories.append(history)
    return NetworkStudy(tuple(seeds), tuple(settings), losses, accuracy, histories)


# ----------------------------------------------------------------------------------------------
# Deeper stacks
# ----------------------------------------------------------------------------------------------

DEPTH_SETTINGS = (("relu", "he"), ("relu", "xavier"), ("relu", 0.01), ("tanh", "xavier"), ("sigmoid", "xavier"))
DEPTH_GRADIENT_SETTINGS = (("sigmoid", "xavier"), ("tanh", 1.0))


@dataclass
class DepthStudy:
    """20-layer stacks over seeds: per setting the per-layer std ``(n_seeds, n_layers)``, and for
    ``DEPTH_GRADIENT_SETTINGS`` the gradient-norm ratio of layer 1 to layer 20 per seed."""
    seeds: tuple
    n_layers: int
    std: dict             # (activation, init) -> (n_seeds, n_layers)
    grad_ratio: dict      # (activation, init) -> (n_seeds,)


def depth_study(seeds: Sequence[int], *, n_layers: int = 20, width: int = WIDTH, n_samples: int = 50,
                settings=DEPTH_SETTINGS, gradient_settings=DEPTH_GRADIENT_SETTINGS) -> DepthStudy:
    """Per-layer std of 20-layer stacks, and the layer-1/layer-20 gradient ratio, on every seed."""
    keys = list(dict.fromkeys(tuple(settings) + tuple(gradient_settings)))
    profiles = {key: [] for key in keys}
    ratios = {key: [] for key in gradient_settings}
    for seed in seeds:
        for activation, init in keys:
            run = forward_activations(activation, init, n_layers=n_layers, width=width, n_samples=n_samples, seed=seed)
            profiles[activation, init].append([a.std() for a in run.activations])
            if (activation, init) in ratios:
                norms = gradient_flow(run, seed=seed).weight_grad_norm
                ratios[activation, init].append(norms[0] / norms[-1])
    return DepthStudy(tuple(seeds), n_layers, {key: np.array(profiles[key]) for key in settings},
                      {key: np.array(value) for key, value in ratios.items()})


# ----------------------------------------------------------------------------------------------
# Diagnosing a network at its start
# ----------------------------------------------------------------------------------------------

@dataclass
class NetworkDiagnostics:
    """A network's state on one batch: per hidden layer the std of its activations and their share of exact
    zeros, the norm of each weight gradient ``‖∂L/∂W‖`` (the output layer's is the last entry), and the loss."""
    activation_std: np.ndarray
    zero_share: np.ndarray
    weight_grad_norm: np.ndarray
    loss: float


def network_diagnostics(network, x: np.ndarray, t: np.ndarray) -> NetworkDiagnostics:
    """Activations and gradients of a ``MultiLayerNet`` on ``(x, t)`` (one training-mode forward and backward)."""
    grads = network.gradient(x, t)
    return NetworkDiagnostics(np.array([a.std() for a in network.activations]),
                              np.array([np.mean(a == 0) for a in network.activations]),
                              np.array([np.linalg.norm(grads[f"W{i}"]) for i in range(1, network.hidden_layer_num + 2)]),
                              float(network.last_loss))
