"""Chapter 4's experiments: overfitting, weight decay, Dropout, AdamW, early stopping.

The notebook and the claim tests (``tests/test_claims_ch04.py``) call the same functions, so every
number the chapter prints is the number the tests assert.

The setting is Saito's (§6.4): 300 training samples, a 7-layer ReLU net (6 hidden layers of 100),
mini-batches of 100, plain SGD. Two changes make it fit this machine and this data set:

- float32 and 100 epochs at lr 0.1 instead of float64 and 200 epochs at lr 0.01 (about 4× faster,
  same picture);
- 8×8 digits are so clean that 300 of them leave little to memorize, so the regularization
  experiments flip ``label_noise`` (20 %) of the training and validation labels to another class.
  A network that fits those labels has memorized noise; one that generalizes cannot exceed about
  80 % training accuracy. The test labels stay clean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lib.data import load_dataset
from lib.layers import Dropout
from lib.networks import MultiLayerNet
from lib.optimizers import SGD, Adam, AdamW
from lib.training import History, train
from lib.plots import show_in_output

__all__ = [
    "HIDDEN", "N_TRAIN", "EPOCHS", "LR", "BATCH_SIZE", "LABEL_NOISE", "LAMBDAS", "RATIOS",
    "RegularizationData", "Run", "flip_labels", "make_data", "train_run", "regularization_grid",
    "weight_norm", "dropout_expectation", "adam_decay_paths", "adam_vs_adamw", "early_stopping",
    "early_stopping_report", "summary", "explorer", "decay_comparison", "plot_run", "plot_summary",
    "plot_grid", "plot_weight_histograms", "plot_noise_ceiling", "plot_decay_paths",
]

HIDDEN = (100,) * 6
N_TRAIN = 300
N_VALIDATION = 300
EPOCHS = 100
LR = 0.1
BATCH_SIZE = 100
LABEL_NOISE = 0.2
LAMBDAS = (0.0, 0.01, 0.03)
RATIOS = (0.0, 0.1, 0.2)
LAST = 10  # final accuracies are averaged over the last LAST epochs: one epoch's test accuracy is noisy


# --------------------------------------------------------------------------- data

def flip_labels(t: np.ndarray, fraction: float, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """A copy of the integer labels ``t`` where each label, with probability ``fraction``, is
    replaced by one of the *other* classes chosen uniformly."""
    t = np.array(t, copy=True)
    flipped = rng.random(len(t)) < fraction
    t[flipped] = (t[flipped] + rng.integers(1, n_classes, size=int(flipped.sum()))) % n_classes
    return t


@dataclass
class RegularizationData:
    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    clean_train_labels: np.ndarray
    label_noise: float

    @property
    def wrong_label_fraction(self) -> float:
        """Fraction of training labels that were flipped (a model that never memorizes a wrong
        label reaches at most 1 minus this on the training set)."""
        return float(np.mean(self.train[1] != self.clean_train_labels))


def make_data(dataset: str = "digits", *, n_train: int = N_TRAIN, n_validation: int = N_VALIDATION,
              label_noise: float = LABEL_NOISE, seed: int = 0, dtype=np.float32) -> RegularizationData:
    """``n_train`` training and ``n_validation`` validation samples drawn (with ``seed``) from the
    data set's training split, ``label_noise`` of their labels flipped; the clean test split."""
    (x, t), test = load_dataset(dataset, seed=0, dtype=dtype)
    if n_train + n_validation > len(x):
        raise ValueError(f"{dataset} has {len(x)} training samples, fewer than {n_train} + {n_validation}.")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(x), size=n_train + n_validation, replace=False)
    train_idx, val_idx = chosen[:n_train], chosen[n_train:]
    n_classes = int(max(t.max(), test[1].max())) + 1
    t_train = flip_labels(t[train_idx], label_noise, n_classes, rng)
    t_val = flip_labels(t[val_idx], label_noise, n_classes, rng)
    return RegularizationData(train=(x[train_idx], t_train), validation=(x[val_idx], t_val), test=test,
                              clean_train_labels=t[train_idx], label_noise=label_noise)


# --------------------------------------------------------------------------- one training run

def weight_norm(params: dict) -> float:
    """‖W‖ over all weight matrices (keys W1, W2, …) as one vector — what weight decay shrinks."""
    return math.sqrt(sum(float(np.vdot(v, v)) for k, v in params.items() if k.startswith("W")))


@dataclass
class Run:
    """One training run: its History plus what the chapter measures per epoch (index 0 = before
    training): validation accuracy, the weights' norm and their distance from the initial weights;
    and the final weights."""

    label: str
    history: History
    val_acc: list[float] = field(default_factory=list)
    weight_norm: list[float] = field(default_factory=list)
    distance: list[float] = field(default_factory=list)
    weights: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def train_acc(self) -> float:
        return float(np.mean(self.history.train_acc[-LAST:]))

    @property
    def test_acc(self) -> float:
        return float(np.mean(self.history.test_acc[-LAST:]))

    @property
    def gap(self) -> float:
        """Train minus test accuracy, averaged over the last epochs."""
        return self.train_acc - self.test_acc

    def curves(self) -> dict[str, list[float]]:
        return {"train_acc": list(self.history.train_acc), "val_acc": list(self.val_acc),
                "test_acc": list(self.history.test_acc)}


def _label(weight_decay_lambda, dropout_ratio, optimizer):
    parts = []
    if weight_decay_lambda:
        parts.append(f"λ={weight_decay_lambda:g}")
    if dropout_ratio:
        parts.append(f"dropout {dropout_ratio:g}")
    text = ", ".join(parts) or "no regularization"
    return text if optimizer == "sgd" else f"{optimizer}: {text}"


def train_run(data: RegularizationData, *, weight_decay_lambda: float = 0.0, dropout_ratio: float = 0.0,
              optimizer: str = "sgd", lr: float | None = None, decoupled_weight_decay: float = 0.0,
              epochs: int = EPOCHS, seed: int = 0, hidden=HIDDEN) -> Run:
    """Train Saito's overfitting net on ``data.train``, recording after every epoch train/test
    accuracy (in the History) and validation accuracy, ‖W‖ and ‖W − W₀‖ (in the Run).

    ``weight_decay_lambda`` is the L2 penalty in the loss (so its gradient λW goes through the
    optimizer); ``decoupled_weight_decay`` is AdamW's λ (``optimizer='adamw'``).
    """
    x_train, t_train = data.train
    x_val, t_val = data.validation
    n_classes = int(max(t_train.max(), data.test[1].max())) + 1
    network = MultiLayerNet(x_train.shape[1], list(hidden), n_classes, weight_decay_lambda=weight_decay_lambda,
                            use_dropout=dropout_ratio > 0, dropout_ratio=dropout_ratio, seed=seed,
                            dtype=x_train.dtype)
    if optimizer == "sgd":
        opt = SGD(lr=LR if lr is None else lr)
    elif optimizer == "adam":
        opt = Adam(lr=0.001 if lr is None else lr)
    elif optimizer == "adamw":
        opt = AdamW(lr=0.001 if lr is None else lr, weight_decay=decoupled_weight_decay)
    else:
        raise ValueError(f"optimizer must be 'sgd', 'adam' or 'adamw', got {optimizer!r}")
    label = _label(weight_decay_lambda or decoupled_weight_decay, dropout_ratio, optimizer)
    run = Run(label=label, history=History())
    initial = {k: v.copy() for k, v in network.params.items() if k.startswith("W")}

    def measure(epoch=0, history=None):
        run.val_acc.append(float(network.accuracy(x_val, t_val)))
        run.weight_norm.append(weight_norm(network.params))
        run.distance.append(weight_norm({k: network.params[k] - w0 for k, w0 in initial.items()}))

    measure()

    run.history = train(network, opt, (data.train, data.test), epochs=epochs, batch_size=BATCH_SIZE,
                        seed=seed, callback=measure)
    run.weights = {k: v.copy() for k, v in network.params.items() if k.startswith("W")}
    return run


def regularization_grid(data: RegularizationData, lambdas=LAMBDAS, ratios=RATIOS, *, epochs: int = EPOCHS,
                        seed: int = 0) -> dict[tuple[float, float], Run]:
    """One run per (λ, dropout ratio): the sweeps, the summary and the interactive explorer all
    read from this grid, so each configuration is trained once."""
    return {(lam, ratio): train_run(data, weight_decay_lambda=lam, dropout_ratio=ratio, epochs=epochs, seed=seed)
            for lam in lambdas for ratio in ratios}


# --------------------------------------------------------------------------- dropout conventions

def dropout_expectation(dropout_ratio: float = 0.5, *, draws: int = 20_000, seed: int = 0) -> dict[str, object]:
    """Average the training-mode output of both Dropout conventions over ``draws`` masks and compare
    with their test-mode output, for one fixed input vector.

    Returns the mean and largest relative deviation |mean_train − test| / |test| over the units for
    the book's convention (no scaling in training, × (1 − r) at test) and the inverted one
    (÷ (1 − r) in training, identity at test), plus the Monte-Carlo relative standard error a
    deviation should be compared with (a mean |deviation| of about 0.8 standard errors is what
    pure sampling noise gives).
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, size=50)
    batch = np.broadcast_to(x, (draws, x.size))
    result = {}
    for name, inverted in (("book", False), ("inverted", True)):
        layer = Dropout(dropout_ratio, inverted=inverted, rng=np.random.default_rng(seed + 1))
        train_mean = layer.forward(batch, train_flg=True).mean(axis=0)
        test_out = layer.forward(x, train_flg=False)
        result[f"{name}_train_mean"] = train_mean
        result[f"{name}_test"] = test_out
        deviation = np.abs(train_mean - test_out) / np.abs(test_out)
        result[f"{name}_mean_relative_deviation"] = float(np.mean(deviation))
        result[f"{name}_max_relative_deviation"] = float(np.max(deviation))
    keep = 1 - dropout_ratio
    # Relative standard error of a mean of Bernoulli(keep) draws (the same for both conventions).
    result["relative_standard_error"] = math.sqrt(dropout_ratio / (keep * draws))
    result["x"] = x
    return result


# --------------------------------------------------------------------------- L2 in Adam vs AdamW

def adam_decay_paths(lambdas=(0.001, 0.1), *, steps: int = 500, lr: float = 0.01, w0: float = 1.0):
    """A weight whose loss gradient is 0, decayed by an L2 penalty inside Adam (the gradient is
    just λw) and by AdamW's decoupled decay. Returns ``{(method, λ): |w| per step}``.

    Adam divides λw by its own running RMS, √v̂ ≈ λ|w|, so the step is ≈ lr whatever λ is: the
    penalty's strength cancels. AdamW multiplies w by (1 − lr·λ) per step: decay grows with λ.
    """
    paths = {}
    for lam in lambdas:
        for method in ("Adam + L2", "AdamW"):
            w = np.array([w0])
            opt = Adam(lr=lr) if method == "Adam + L2" else AdamW(lr=lr, weight_decay=lam)
            path = [abs(float(w[0]))]
            for _ in range(steps):
                grad = lam * w if method == "Adam + L2" else np.zeros_like(w)
                opt.update({"w": w}, {"w": grad})
                path.append(abs(float(w[0])))
            paths[(method, lam)] = np.array(path)
    return paths


def adam_vs_adamw(data: RegularizationData, *, lam: float = 0.01, epochs: int = 30, seed: int = 0):
    """Train the same net with Adam + L2 penalty λ and with AdamW(weight_decay=λ).

    Returns ``(coupled_run, decoupled_run, relative_difference)`` where the last is
    ‖W_coupled − W_decoupled‖ / ‖W_decoupled‖ over all weights after training.
    """
    coupled = train_run(data, weight_decay_lambda=lam, optimizer="adam", epochs=epochs, seed=seed)
    decoupled = train_run(data, decoupled_weight_decay=lam, optimizer="adamw", epochs=epochs, seed=seed)
    difference = weight_norm({k: coupled.weights[k] - decoupled.weights[k] for k in coupled.weights})
    return coupled, decoupled, difference / weight_norm(decoupled.weights)


# --------------------------------------------------------------------------- early stopping

def early_stopping(curves: dict, patience: int, *, monitor: str = "val_acc") -> tuple[int, int]:
    """Early stopping（早停）on ``curves[monitor]`` (one value per epoch, index 0 = before training).

    After each epoch e ≥ 1, a strictly higher value than the best so far makes e the best epoch;
    training stops at the first epoch that is ``patience`` epochs past the best (or at the last
    epoch). Returns ``(best_epoch, stop_epoch)``: keep the weights of ``best_epoch``.
    """
    if patience < 1:
        raise ValueError(f"patience must be ≥ 1, got {patience}")
    values = list(curves[monitor])
    if not values:
        raise ValueError(f"curves[{monitor!r}] is empty")
    best = 0
    for epoch in range(1, len(values)):
        if values[epoch] > values[best]:
            best = epoch
        elif epoch - best >= patience:
            return best, epoch
    return best, len(values) - 1


def early_stopping_report(run: Run, patience: int = 10) -> dict[str, float]:
    """What early stopping on ``run``'s validation curve gives: the epochs, the test accuracy of the
    kept weights versus training to the end, and how far the weights had moved from their
    initial values at both points."""
    best, stop = early_stopping(run.curves(), patience)
    return {"best_epoch": best, "stop_epoch": stop, "epochs": len(run.val_acc) - 1,
            "test_acc_best": run.history.test_acc[best], "test_acc_final": run.test_acc,
            "distance_best": run.distance[best], "distance_final": run.distance[-1]}


# --------------------------------------------------------------------------- summary and explorer

def summary(grid: dict[tuple[float, float], Run], lam: float, ratio: float) -> dict[str, Run]:
    """The four corners: no regularization, weight decay λ, dropout ratio, both."""
    return {"none": grid[(0.0, 0.0)], f"weight decay λ={lam:g}": grid[(lam, 0.0)],
            f"dropout {ratio:g}": grid[(0.0, ratio)], "both": grid[(lam, ratio)]}


def plot_run(ax, run: Run, *, baseline: Run | None = None) -> None:
    """Train (solid), test (dashed) and validation (dotted) accuracy of one run, over a faint
    unregularized baseline."""
    from lib.plots import train_test_curves

    if baseline is not None and baseline is not run:
        epochs = np.arange(len(baseline.history.test_acc))
        ax.plot(epochs, baseline.history.train_acc, color="0.75", linewidth=1, label="no regularization")
        ax.plot(epochs, baseline.history.test_acc, color="0.75", linewidth=1, linestyle="--")
    train_test_curves(ax, run.history, color="tab:blue", legend=False)
    ax.plot(np.arange(len(run.val_acc)), run.val_acc, color="tab:green", linewidth=1, linestyle=":",
            label="validation (noisy labels)")
    ax.set_title(f"{run.label}: gap {run.gap:+.3f}, test {run.test_acc:.3f}", fontsize="medium")
    ax.legend(fontsize="x-small", loc="lower right")


def explorer(grid: dict[tuple[float, float], Run]):
    """Sliders for λ and the dropout ratio over the precomputed grid; the figure is redrawn inside
    an ``ipywidgets.Output`` so it changes in a live notebook. Returns the widget box."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    lambdas = sorted({lam for lam, _ in grid})
    ratios = sorted({ratio for _, ratio in grid})
    lam_slider = widgets.SelectionSlider(options=lambdas, value=lambdas[0], description="λ")
    ratio_slider = widgets.SelectionSlider(options=ratios, value=ratios[0], description="dropout")
    output = widgets.Output()

    def draw(*_):
        fig, ax = plt.subplots(figsize=(6.5, 3.6), dpi=80)
        plot_run(ax, grid[(lam_slider.value, ratio_slider.value)], baseline=grid[(lambdas[0], ratios[0])])
        show_in_output(output, fig, "regularization explorer figure")

    lam_slider.observe(draw, names="value")
    ratio_slider.observe(draw, names="value")
    box = widgets.VBox([widgets.HBox([lam_slider, ratio_slider]), output])
    draw()
    return box


# --------------------------------------------------------------------------- figures

def plot_noise_ceiling(ax, data: RegularizationData) -> None:
    """The training accuracy a model reaches by predicting every TRUE label: above this line it
    has memorized flipped labels."""
    ceiling = 1 - data.wrong_label_fraction
    ax.axhline(ceiling, color="tab:red", linewidth=0.8, linestyle="-.", label=f"correct labels only ({ceiling:.2f})")


def plot_weight_histograms(axes, runs: dict[str, Run], *, bins: int = 60) -> None:
    """One histogram of all final weights per run, on a shared range."""
    values = {name: np.concatenate([w.ravel() for w in run.weights.values()]) for name, run in runs.items()}
    limit = max(float(np.percentile(np.abs(v), 99.5)) for v in values.values())
    for ax, (name, v) in zip(axes, values.items()):
        ax.hist(v, bins=bins, range=(-limit, limit), color="tab:blue")
        ax.set_title(f"{name}: ‖W‖ = {math.sqrt(float(np.dot(v, v))):.1f}", fontsize="small")
        ax.set_yscale("log")
        ax.set_xlabel("weight value")


def plot_summary(ax, runs: dict[str, Run]) -> None:
    """Bars of final train and test accuracy per configuration, the gap written above."""
    names = list(runs)
    positions = np.arange(len(names))
    train_acc = [runs[n].train_acc for n in names]
    test_acc = [runs[n].test_acc for n in names]
    ax.bar(positions - 0.2, train_acc, width=0.4, label="train (noisy labels)", color="tab:blue")
    ax.bar(positions + 0.2, test_acc, width=0.4, label="test", color="tab:orange")
    for x, a, b in zip(positions, train_acc, test_acc):
        ax.text(x, max(a, b) + 0.02, f"gap {a - b:+.3f}", ha="center", fontsize="small")
    ax.set_xticks(positions, names, fontsize="small")
    ax.set_ylim(0, 1.3)
    ax.set_ylabel(f"accuracy (mean of last {LAST} epochs)")
    ax.legend(fontsize="small", loc="upper center", ncol=2)
    ax.grid(alpha=0.3, axis="y")


def plot_grid(fig, grid: dict[tuple[float, float], Run]) -> None:
    """Small multiples: one panel of train/test curves per (λ, dropout ratio) in the grid."""
    lambdas = sorted({lam for lam, _ in grid})
    ratios = sorted({ratio for _, ratio in grid})
    axes = fig.subplots(len(lambdas), len(ratios), sharex=True, sharey=True)
    for i, lam in enumerate(lambdas):
        for j, ratio in enumerate(ratios):
            ax = axes[i][j]
            run = grid[(lam, ratio)]
            epochs = np.arange(len(run.history.train_acc))
            ax.plot(epochs, run.history.train_acc, color="tab:blue", linewidth=1)
            ax.plot(epochs, run.history.test_acc, color="tab:orange", linewidth=1)
            ax.set_title(f"λ={lam:g}, dropout {ratio:g}: test {run.test_acc:.2f}, gap {run.gap:+.2f}",
                         fontsize="x-small")
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize="x-small")
    fig.supxlabel("epoch (blue: train, orange: test)", fontsize="small")


def decay_comparison(paths: dict, threshold: float = 0.01) -> dict[str, dict[float, float]]:
    """From :func:`adam_decay_paths`: the step at which Adam + L2 first brings |w| below
    ``threshold`` (per λ), and |w| after the last step of AdamW (per λ)."""
    adam_steps, adamw_final = {}, {}
    for (method, lam), path in paths.items():
        if method == "Adam + L2":
            below = np.flatnonzero(path < threshold)
            adam_steps[lam] = int(below[0]) if below.size else len(path)
        else:
            adamw_final[lam] = float(path[-1])
    return {"adam_l2_steps": adam_steps, "adamw_final": adamw_final}


def plot_decay_paths(ax, paths: dict) -> None:
    """|w| per step from :func:`adam_decay_paths`: dashed Adam + L2, solid AdamW, one colour per λ
    (the first λ drawn wide and pale, so a path hidden under the other stays visible)."""
    lambdas = sorted({lam for _, lam in paths})
    for (method, lam), path in paths.items():
        first = lam == lambdas[0]
        ax.plot(path, linestyle="--" if method == "Adam + L2" else "-", color=f"C{lambdas.index(lam)}",
                linewidth=4 if first else 1.4, alpha=0.45 if first else 1.0, label=f"{method}, λ={lam:g}")
    ax.set_xlabel("step")
    ax.set_ylabel("|w|")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
