"""The experiments of chapter 3 (Batch Normalization), shared by the notebook and its claim tests.

Each function trains through :func:`lib.training.train` and returns plain results (histories, numbers),
so the notebook prints and plots exactly what ``tests/test_claims_ch03.py`` asserts over several seeds.

Networks here are float32 for speed: the chapter trains a few dozen small networks in seconds. The
gradient checks (:func:`graph_vs_closed_form`, :func:`batch_of_one_check`) are float64.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from lib import gradcheck
from lib.data import load_dataset
from lib.layers import BatchNormalization
from lib.networks import MultiLayerNet
from lib.optimizers import SGD
from lib.training import History, train
from lib.plots import show_in_output

# Saito's experiment: 16 weight scales from 1 down to 1e-4, log-spaced, five hidden layers (Saito: 100
# units each on 1,000 MNIST images; here 50 units on 500 samples, which shows the same and fits the budget).
SCALES = np.logspace(0, -4, 16)
HIDDEN = (50, 50, 50, 50, 50)
BATCH_SIZE = 50
# "Learns" = reaches this training accuracy (10 classes: chance is about 0.1).
LEARNS_THRESHOLD = 0.5

__all__ = [
    "SCALES", "HIDDEN", "BATCH_SIZE", "LEARNS_THRESHOLD", "load_data", "build_network", "ScaleSweep", "weight_scale_sweep",
    "learning_rate_comparison", "batch_size_comparison", "graph_vs_closed_form", "batch_of_one_check",
    "backward_without_variance_path", "momentum_conventions", "train_eval_pitfalls", "plot_sweep_grid",
    "plot_sweep_summary", "interactive_lab", "plot_lab_run", "lab_run", "describe_run", "final_test_accuracy",
    "activation_spread", "pitfall_network", "batch_noise",
]


# --- data and networks --------------------------------------------------------------------------------

def load_data(dataset: str = "digits", *, n_train: int | None = 500, seed: int = 0, dtype=np.float32):
    """``((x_train, t_train), (x_test, t_test))`` with the first ``n_train`` training samples
    (Saito's BN experiment uses 1,000; ``None`` keeps all). The split is shuffled with ``seed``."""
    (x_train, t_train), (x_test, t_test) = load_dataset(dataset, seed=seed, dtype=dtype)
    if n_train is not None:
        x_train, t_train = x_train[:n_train], t_train[:n_train]
    return (x_train, t_train), (x_test, t_test)


def build_network(data, normalization: str = "batch", *, weight_init_std="relu", hidden=HIDDEN,
                  seed: int = 0) -> MultiLayerNet:
    """A ReLU ``MultiLayerNet`` sized for ``data`` with ``normalization`` ``'none'``, ``'batch'`` or
    ``'layer'`` between each hidden Affine and its activation, in the data's dtype."""
    (x_train, t_train), _ = data
    return MultiLayerNet(x_train.shape[1], list(hidden), int(t_train.max()) + 1, activation="relu",
                         weight_init_std=weight_init_std, normalization=normalization,
                         seed=seed, dtype=x_train.dtype)


def activation_spread(data, weight_scale: float = 0.01, *, batch_size: int = 200, seed: int = 0):
    """Each hidden layer's pre-activations (the input of its ReLU) for one train-mode batch through the
    untrained plain and BN networks with this weight scale: ``(spreads, preactivations)``, where
    ``spreads[kind]`` holds the standard deviation per layer and ``preactivations[kind]`` the arrays."""
    (x_train, _), _ = data
    spreads, preactivations = {}, {}
    for kind, normalization in (("plain", "none"), ("batchnorm", "batch")):
        network = build_network(data, normalization, weight_init_std=weight_scale, seed=seed)
        network.predict(x_train[:batch_size], train_flg=True)
        preactivations[kind] = list(network.preactivations)
        spreads[kind] = np.array([float(np.std(z)) for z in network.preactivations])
    return spreads, preactivations


# --- Saito's weight-scale experiment ------------------------------------------------------------------

@dataclass
class ScaleSweep:
    """Histories of the plain and the BN network at each weight scale (same seed, data, optimizer)."""

    scales: np.ndarray
    plain: list[History]
    batchnorm: list[History]

    def final_train_accuracy(self, kind: str) -> np.ndarray:
        return np.array([history.train_acc[-1] for history in getattr(self, kind)])

    def learns(self, kind: str, threshold: float = LEARNS_THRESHOLD) -> np.ndarray:
        """Per scale, whether the final training accuracy reaches ``threshold``."""
        return self.final_train_accuracy(kind) >= threshold


def weight_scale_sweep(data, scales=SCALES, *, lr: float = 0.05, epochs: int = 5, batch_size: int = BATCH_SIZE,
                       hidden=HIDDEN, seed: int = 0, eval_size: int | None = 200) -> ScaleSweep:
    """Train the plain and the BN network with every weight init standard deviation in ``scales``
    (SGD, ``lr``, ``epochs``). Saito uses lr 0.01 for 20 epochs; lr 0.05 for 5 epochs gives the same
    picture in a quarter of the time. A diverged run keeps its last accuracies."""
    results = {"plain": [], "batchnorm": []}
    for kind, normalization in (("plain", "none"), ("batchnorm", "batch")):
        for scale in scales:
            network = build_network(data, normalization, weight_init_std=float(scale), hidden=hidden, seed=seed)
            results[kind].append(train(network, SGD(lr=lr), data, epochs=epochs, batch_size=batch_size,
                                       seed=seed, eval_size=eval_size))
    return ScaleSweep(np.asarray(scales, dtype=float), results["plain"], results["batchnorm"])


def plot_sweep_grid(sweep: ScaleSweep, *, columns: int = 4, figsize=(11, 8)):
    """Saito's figure 6-18: one panel per weight scale, training accuracy per epoch, BN solid, plain dashed."""
    rows = int(np.ceil(len(sweep.scales) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=figsize, sharex=True, sharey=True,
                             gridspec_kw={"hspace": 0.35, "wspace": 0.08, "left": 0.07, "right": 0.98,
                                          "bottom": 0.07, "top": 0.95})
    for index, (ax, scale) in enumerate(zip(axes.flat, sweep.scales)):
        ax.plot(sweep.batchnorm[index].train_acc, color="tab:blue", label="Batch Norm")
        ax.plot(sweep.plain[index].train_acc, color="tab:gray", linestyle="--", label="plain")
        for history, name, height in ((sweep.plain[index], "plain", 0.5), (sweep.batchnorm[index], "BN", 0.35)):
            if history.diverged:
                ax.text(0.5, height, f"{name} diverged", transform=ax.transAxes, ha="center",
                        fontsize="small", color="tab:gray" if name == "plain" else "tab:blue")
        ax.set_title(f"W std = {scale:.2g}", fontsize="small")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize="x-small")
    for ax in axes.flat[len(sweep.scales):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize="x-small", loc="lower right")
    fig.supxlabel("epoch")
    fig.supylabel("training accuracy")
    return fig


def plot_sweep_summary(ax, sweeps: list[ScaleSweep], *, threshold: float = LEARNS_THRESHOLD) -> None:
    """Final training accuracy against weight scale, one line per seed, BN and plain."""
    for index, sweep in enumerate(sweeps):
        label = index == 0
        ax.plot(sweep.scales, sweep.final_train_accuracy("batchnorm"), "o-", color="tab:blue", alpha=0.8,
                markersize=3, label="Batch Norm" if label else None)
        ax.plot(sweep.scales, sweep.final_train_accuracy("plain"), "s--", color="tab:gray", alpha=0.8,
                markersize=3, label="plain" if label else None)
    ax.axhline(threshold, color="black", linewidth=0.8, linestyle=":", label=f"'learns' ({threshold:.0%})")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("weight init standard deviation")
    ax.set_ylabel("final training accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


# --- larger learning rates ----------------------------------------------------------------------------

def learning_rate_comparison(data, lrs=(0.1, 1.0, 3.0), *, epochs: int = 5, batch_size: int = BATCH_SIZE,
                             seed: int = 0, eval_size: int | None = 200) -> dict[str, dict[float, History]]:
    """``{'plain': {lr: history}, 'batchnorm': {lr: history}}`` for He-initialized networks trained
    with SGD at each learning rate; a run that blows up stops with ``history.diverged``."""
    results: dict[str, dict[float, History]] = {"plain": {}, "batchnorm": {}}
    for kind, normalization in (("plain", "none"), ("batchnorm", "batch")):
        for lr in lrs:
            network = build_network(data, normalization, seed=seed)
            results[kind][lr] = train(network, SGD(lr=lr), data, epochs=epochs, batch_size=batch_size,
                                      seed=seed, eval_size=eval_size)
    return results


def describe_run(history: History) -> str:
    if history.diverged:
        return f"diverged at iteration {history.diverged_at}"
    return f"test accuracy {history.test_acc[-1]:.3f}"


# --- batch size and Layer Normalization ---------------------------------------------------------------

def batch_size_comparison(data, batch_sizes=(2, 4, 32, 128), normalizations=("none", "batch", "layer"), *,
                          iterations: int = 100, lr: float = 0.05, hidden=(50, 50, 50), seed: int = 0,
                          eval_size: int | None = 200) -> dict[str, dict[int, History]]:
    """``{normalization: {batch_size: history}}``: every run makes exactly ``iterations`` SGD updates.

    At batch size B the run uses the first ``k·B`` training samples for ``iterations / k`` epochs,
    with ``k`` the largest divisor of ``iterations`` for which ``k·B`` samples exist (so small batches
    see fewer distinct samples: the comparison is per update, not per sample)."""
    (x_train, t_train), test = data
    results: dict[str, dict[int, History]] = {}
    for normalization in normalizations:
        results[normalization] = {}
        for batch_size in batch_sizes:
            per_epoch = max(k for k in range(1, iterations + 1) if iterations % k == 0 and k * batch_size <= len(x_train))
            n = per_epoch * batch_size
            subset = ((x_train[:n], t_train[:n]), test)
            network = build_network(subset, normalization, hidden=hidden, seed=seed)
            results[normalization][batch_size] = train(network, SGD(lr=lr), subset, epochs=iterations // per_epoch,
                                                       batch_size=batch_size, seed=seed, eval_size=eval_size)
    return results


def final_test_accuracy(results: dict[str, dict[int, History]]) -> dict[str, dict[int, float]]:
    return {norm: {size: history.test_acc[-1] for size, history in runs.items()} for norm, runs in results.items()}


# --- the backward pass and its gradient check ---------------------------------------------------------

def _bn_layer(d: int, rng, *, momentum: float = 0.9) -> BatchNormalization:
    return BatchNormalization(rng.uniform(0.5, 2.0, d), rng.normal(0.0, 1.0, d), momentum=momentum)


def _check_layer_gradient(layer, x, dout, backward) -> float:
    """Relative error between ``backward(layer, dout)`` and the numerical gradient of Σ dout·forward(x)."""
    layer.forward(x, train_flg=True)
    analytic = backward(layer, dout)
    numerical = gradcheck.numerical_gradient(lambda: float(np.sum(layer.forward(x, train_flg=True) * dout)), x)
    return gradcheck.relative_error(analytic, numerical)


def graph_vs_closed_form(seed: int = 0, *, n: int = 16, d: int = 10) -> dict[str, float]:
    """The step-by-step graph backward and the closed form on one float64 batch: their largest
    difference in dx, dγ, dβ, and each one's relative error against the numerical gradient."""
    rng = np.random.default_rng(seed)
    layer = _bn_layer(d, rng)
    x = rng.normal(rng.normal(0.0, 2.0, d), rng.uniform(0.5, 2.0, d), (n, d))
    dout = rng.normal(0.0, 1.0, (n, d))
    layer.forward(x, train_flg=True)
    dx_closed = layer.backward(dout)
    dgamma_closed, dbeta_closed = layer.dgamma.copy(), layer.dbeta.copy()
    dx_graph = layer.backward_graph(dout)
    difference = max(np.max(np.abs(dx_closed - dx_graph)), np.max(np.abs(dgamma_closed - layer.dgamma)),
                     np.max(np.abs(dbeta_closed - layer.dbeta)))
    return {
        "max_difference": float(difference),
        "closed_form_error": _check_layer_gradient(layer, x, dout, lambda lay, g: lay.backward(g)),
        "graph_error": _check_layer_gradient(layer, x, dout, lambda lay, g: lay.backward_graph(g)),
    }


def backward_without_variance_path(layer: BatchNormalization, dout: np.ndarray) -> np.ndarray:
    """A deliberately WRONG BN backward that forgets the path through the variance:
    dx = γ/σ · (dout − mean(dout)). Used to show what a batch-of-one gradient check cannot catch."""
    dxn = dout * layer.gamma
    return (dxn - dxn.mean(axis=0)) / layer.std


def batch_of_one_check(seed: int = 0, *, d: int = 6, n: int = 8) -> dict[str, float]:
    """Why a BN gradient check needs a real batch: with one sample the output is exactly β, so the
    numerical gradient is 0 and the check cannot tell a right backward from a wrong one.

    Returns the largest |output − β| for one sample, and the relative errors of the correct and of
    the wrong (:func:`backward_without_variance_path`) backward at batch sizes 1 and ``n``."""
    rng = np.random.default_rng(seed)
    layer = _bn_layer(d, rng)
    single = rng.normal(0.0, 2.0, (1, d))
    batch = rng.normal(rng.normal(0.0, 2.0, d), rng.uniform(0.5, 2.0, d), (n, d))
    out = layer.forward(single, train_flg=True)
    results = {"batch_of_one_output_minus_beta": float(np.max(np.abs(out - layer.beta)))}
    for name, backward in (("correct", lambda lay, g: lay.backward(g)), ("wrong", backward_without_variance_path)):
        for size, x in ((1, single), (n, batch)):
            dout = rng.normal(0.0, 1.0, x.shape)
            results[f"{name}_error_batch_{size}"] = _check_layer_gradient(layer, x.copy(), dout, backward)
    return results


# --- running statistics, train mode vs eval mode ------------------------------------------------------

def momentum_conventions(seed: int = 0, *, steps: int = 5, n: int = 32, d: int = 4) -> dict[str, float]:
    """Our ``momentum=0.9`` against PyTorch's ``momentum=0.1`` update, written out
    (running ← (1 − m)·running + m·batch, running_var from the unbiased variance), over ``steps`` batches.

    Returns the largest difference in running_mean (0: the same update, opposite naming), in
    running_var (our biased variance vs PyTorch's unbiased one), and the ratio N/(N−1) that separates
    the latter when the layer is built with ``unbiased_running_var=True``."""
    rng = np.random.default_rng(seed)
    ours = BatchNormalization(np.ones(d), np.zeros(d), momentum=0.9)
    ours_unbiased = BatchNormalization(np.ones(d), np.zeros(d), momentum=0.9, unbiased_running_var=True)
    torch_momentum = 0.1
    torch_mean, torch_var = np.zeros(d), np.ones(d)
    for _ in range(steps):
        x = rng.normal(rng.normal(0.0, 3.0, d), rng.uniform(0.5, 2.0, d), (n, d))
        ours.forward(x, train_flg=True)
        ours_unbiased.forward(x, train_flg=True)
        torch_mean = (1 - torch_momentum) * torch_mean + torch_momentum * x.mean(axis=0)
        torch_var = (1 - torch_momentum) * torch_var + torch_momentum * x.var(axis=0, ddof=1)
    return {
        "running_mean_difference": float(np.max(np.abs(ours.running_mean - torch_mean))),
        "running_var_difference_biased": float(np.max(np.abs(ours.running_var - torch_var))),
        "running_var_difference_unbiased": float(np.max(np.abs(ours_unbiased.running_var - torch_var))),
    }


def pitfall_network(data, *, lr: float = 0.1, epochs: int = 5, seed: int = 0) -> tuple[MultiLayerNet, History]:
    """A He-initialized BN network trained normally (SGD), to probe train vs eval mode with."""
    network = build_network(data, "batch", seed=seed)
    history = train(network, SGD(lr=lr), data, epochs=epochs, batch_size=BATCH_SIZE, seed=seed, eval_size=200)
    return network, history


def train_eval_pitfalls(network: MultiLayerNet, x_test, t_test, *, skewed_class: int = 3,
                        max_samples: int = 400) -> dict[str, float]:
    """Accuracy of a trained BN network on (the first ``max_samples`` of) the test set, evaluated the
    right way (eval mode) and in train mode: on the whole set as one batch, one sample at a time, and
    on a batch holding only ``skewed_class``; and in eval mode again after the one-sample train-mode
    passes. Every probe runs on a fresh copy of the network, because a train-mode forward also moves
    the running statistics (a second way train mode at test time does harm)."""
    x_test, t_test = x_test[:max_samples], t_test[:max_samples]

    def predictions(x, train_flg):
        return copy.deepcopy(network).predict(x, train_flg=train_flg).argmax(axis=1)

    probe = copy.deepcopy(network)
    singles = np.array([probe.predict(x_test[i:i + 1], train_flg=True).argmax(axis=1)[0] for i in range(len(x_test))])
    skewed = t_test == skewed_class
    return {
        "eval": float(np.mean(predictions(x_test, False) == t_test)),
        "train_whole_test_set": float(np.mean(predictions(x_test, True) == t_test)),
        "train_batch_of_one": float(np.mean(singles == t_test)),
        "train_batch_of_one_distinct_predictions": float(len(np.unique(singles))),
        "eval_after_batch_of_one_probes": float(np.mean(probe.predict(x_test).argmax(axis=1) == t_test)),
        "eval_skewed": float(np.mean(predictions(x_test[skewed], False) == skewed_class)),
        "train_skewed": float(np.mean(predictions(x_test[skewed], True) == skewed_class)),
    }


def batch_noise(network: MultiLayerNet, x_pool, *, batch_sizes=(4, 32, 128), trials: int = 20,
                seed: int = 0) -> dict[int, float]:
    """How much one sample's train-mode output depends on its batch-mates: the sample's softmax
    probabilities are computed in ``trials`` batches of random companions from ``x_pool``; returns,
    per batch size, the standard deviation across trials averaged over the classes. This noise is the
    source of BN's mild regularization, and it grows as batches shrink."""
    rng = np.random.default_rng(seed)
    probe = copy.deepcopy(network)  # train-mode passes move the running statistics
    sample = x_pool[:1]
    noise = {}
    for batch_size in batch_sizes:
        outputs = []
        for _ in range(trials):
            companions = x_pool[1 + rng.choice(len(x_pool) - 1, size=batch_size - 1, replace=False)]
            scores = probe.predict(np.concatenate([sample, companions]), train_flg=True)[0].astype(np.float64)
            probabilities = np.exp(scores - scores.max())
            outputs.append(probabilities / probabilities.sum())
        noise[batch_size] = float(np.std(np.array(outputs), axis=0).mean())
    return noise


# --- the interactive lab ------------------------------------------------------------------------------

def lab_run(data, weight_scale: float, lr: float, batchnorm: bool, *, epochs: int = 5, seed: int = 0,
            eval_size: int | None = 200) -> History:
    """One run of the lab: the chapter's network with this weight scale, SGD at ``lr``, BN or not."""
    network = build_network(data, "batch" if batchnorm else "none", weight_init_std=float(weight_scale), seed=seed)
    return train(network, SGD(lr=lr), data, epochs=epochs, batch_size=BATCH_SIZE, seed=seed, eval_size=eval_size)


def plot_lab_run(axes, history: History, *, weight_scale: float, lr: float, batchnorm: bool) -> None:
    """Accuracy per epoch and loss per iteration of one lab run on two axes."""
    name = "Batch Norm" if batchnorm else "plain"
    color = "tab:blue" if batchnorm else "tab:gray"
    accuracy_ax, loss_ax = axes
    accuracy_ax.plot(history.train_acc, color=color, label="train")
    accuracy_ax.plot(history.test_acc, color=color, linestyle="--", label="test")
    accuracy_ax.set_ylim(0, 1.02)
    accuracy_ax.set_xlabel("epoch")
    accuracy_ax.set_ylabel("accuracy")
    accuracy_ax.grid(alpha=0.3)
    accuracy_ax.legend(fontsize="small", loc="lower right")
    status = "DIVERGED" if history.diverged else f"test accuracy {history.test_acc[-1]:.2f}"
    accuracy_ax.set_title(f"{name}, W std {weight_scale:.2g}, lr {lr:.2g}: {status}", fontsize="small")
    losses = np.asarray(history.train_loss, dtype=float)
    loss_ax.plot(np.where(np.isfinite(losses), losses, np.nan), color=color)
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("iteration")
    loss_ax.set_ylabel("mini-batch loss")
    loss_ax.grid(alpha=0.3)


def interactive_lab(data, *, epochs: int = 5, seed: int = 0, weight_scale: float = 0.01, lr: float = 0.05,
                    batchnorm: bool = True):
    """Sliders for the weight scale and the learning rate and a Batch Norm toggle; each change
    retrains the network (well under a second) and redraws inside an ``ipywidgets.Output``.
    Finished runs are cached, so going back to a setting is instant. Returns the widget."""
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
            cache[key] = lab_run(data, key[0], key[1], key[2], epochs=epochs, seed=seed)
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), dpi=80)
        plot_lab_run(axes, cache[key], weight_scale=key[0], lr=key[1], batchnorm=key[2])
        fig.tight_layout()
        show_in_output(output, fig, "batch-norm lab figure")

    for control in (scale_slider, lr_slider, toggle):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([scale_slider, lr_slider, toggle]), output])
