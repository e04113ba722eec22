"""Chapter 5's experiments: hyperparameter search on validation data, random vs grid, sampling scales.

The notebook and the claim tests (``tests/test_claims_ch05.py``) call the same functions, so every
number the chapter prints is the number the tests assert.

A *trial* trains a small network (64 → 50 → 50 → 10, ReLU, He init, plain SGD with L2 weight decay)
for a few epochs on a subset of the training split and records its accuracy on the validation split
after every epoch, through :func:`lib.training.train` with the validation set in the place of
``train``'s test set. The test split is only ever used to measure a finished choice (and, in the
"tuning on test" experiment, to show what goes wrong when it is used for choosing).

Hyperparameters live in *spaces*: ``{"lr": (1e-6, 1e-2), "weight_decay": (1e-8, 1e-4)}`` — each
name maps to a ``(low, high)`` range searched on a log scale (Saito's ranges are ``SAITO_SPACE``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lib.data import load_dataset, train_validation_split
from lib.networks import MultiLayerNet
from lib.optimizers import SGD
from lib.training import Progress, train
from lib.plots import show_in_output

__all__ = [
    "SAITO_SPACE", "WIDE_SPACE", "HIDDEN", "N_TRAIN", "EPOCHS", "BATCH_SIZE",
    "log_uniform", "one_minus_log_uniform", "sample_configs", "grid_configs", "decade_fractions",
    "SearchData", "make_search_data", "Trial", "run_trial", "run_trials", "random_search",
    "best_trial", "top_trials", "top_table", "narrow_range", "narrow_space", "border_warnings",
    "rank_agreement", "best_of_random_subsets", "GridVsRandom", "grid_vs_random", "selection_optimism",
    "synthetic_score", "synthetic_grid_vs_random", "initial_losses", "update_ratios", "overfit_tiny",
    "plot_best_curves", "plot_search_scatter", "plot_sampling", "plot_grid_vs_random_synthetic", "plot_regrets",
    "synthetic_explorer",
]

SAITO_SPACE = {"lr": (1e-6, 1e-2), "weight_decay": (1e-8, 1e-4)}
# Four decades of learning rate that reach past Saito's upper border, where short SGD runs need to be.
WIDE_SPACE = {"lr": (1e-4, 1e0), "weight_decay": (1e-8, 1e-4)}
HIDDEN = (50, 50)
N_TRAIN = 500
EPOCHS = 10
BATCH_SIZE = 100
SYMBOLS = {"lr": "lr", "weight_decay": "λ"}


# --------------------------------------------------------------------------- sampling

def log_uniform(low: float, high: float, size=None, rng: np.random.Generator | None = None) -> np.ndarray:
    """Samples whose logarithm is uniform: 10**U(log10 low, log10 high), so each decade between
    ``low`` and ``high`` gets the same share of samples. float64, shape ``size``."""
    if not 0 < low < high:
        raise ValueError(f"log_uniform needs 0 < low < high, got low={low}, high={high}")
    rng = np.random.default_rng() if rng is None else rng
    return 10.0 ** rng.uniform(math.log10(low), math.log10(high), size)


def one_minus_log_uniform(low: float, high: float, size=None, rng: np.random.Generator | None = None) -> np.ndarray:
    """β in [low, high] (both near 1) with 1 − β log-uniform: β = 0.9 … 0.999 gives averaging windows
    1/(1 − β) = 10 … 1000 with each decade equally likely."""
    if not 0 <= low < high < 1:
        raise ValueError(f"one_minus_log_uniform needs 0 <= low < high < 1, got low={low}, high={high}")
    return 1.0 - log_uniform(1.0 - high, 1.0 - low, size, rng)


def decade_fractions(samples, low: float, high: float) -> np.ndarray:
    """Fraction of ``samples`` in each decade [10^k, 10^(k+1)) between ``low`` and ``high``."""
    edges = 10.0 ** np.arange(round(math.log10(low)), round(math.log10(high)) + 1)
    counts, _ = np.histogram(samples, bins=edges)
    return counts / len(np.asarray(samples))


def sample_configs(space: dict, n: int, rng: np.random.Generator) -> list[dict]:
    """``n`` configurations, every hyperparameter drawn log-uniformly from its range."""
    columns = {name: log_uniform(low, high, n, rng) for name, (low, high) in space.items()}
    return [{name: float(values[i]) for name, values in columns.items()} for i in range(n)]


def grid_configs(space: dict, points: int = 3, placement: str = "endpoints") -> list[dict]:
    """A full grid with ``points`` values per hyperparameter, evenly spaced on a log scale.

    ``placement='endpoints'``: the values include both ends of the range (``np.logspace``);
    ``'centers'``: the centres of ``points`` equal log-cells (no value at the border).
    """
    if placement == "endpoints":
        fractions = np.linspace(0.0, 1.0, points)
    elif placement == "centers":
        fractions = (np.arange(points) + 0.5) / points
    else:
        raise ValueError(f"placement must be 'endpoints' or 'centers', got {placement!r}")
    axes = {name: 10.0 ** (math.log10(low) + fractions * (math.log10(high) - math.log10(low)))
            for name, (low, high) in space.items()}
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    return [{name: float(m.ravel()[i]) for name, m in zip(axes, mesh)} for i in range(mesh[0].size)]


# --------------------------------------------------------------------------- data and trials

@dataclass
class SearchData:
    """``train`` (the subset trials learn from), ``validation`` (what trials are chosen on) and
    ``test`` (touched only to measure a finished choice)."""

    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]


def make_search_data(dataset: str = "digits", *, n_train: int = N_TRAIN, validation_fraction: float = 0.25,
                     seed: int = 0, dtype=np.float32) -> SearchData:
    """The data set's training split cut into training and validation parts
    (``lib.data.train_validation_split``, stratified, with ``seed``); trials use ``n_train`` of the
    training part. The test split is the data set's own."""
    (x, t), test = load_dataset(dataset, seed=0, dtype=dtype)
    (x_train, t_train), validation = train_validation_split(x, t, validation_fraction, seed=seed, stratify=True)
    if n_train > len(x_train):
        raise ValueError(f"{dataset}: only {len(x_train)} training samples after the split, asked for {n_train}")
    return SearchData(train=(x_train[:n_train], t_train[:n_train]), validation=validation, test=test)


@dataclass
class Trial:
    """One short training run: its configuration, validation accuracy per epoch (index 0 = before
    training), training accuracy per epoch, and which test samples the final network classifies
    correctly (kept for the "tuning on test" experiment; ``test_acc`` is their mean)."""

    config: dict
    val_curve: list[float]
    train_curve: list[float]
    test_correct: np.ndarray
    diverged: bool
    seconds: float
    stage: str = ""

    @property
    def val_acc(self) -> float:
        """Final validation accuracy; NaN for a diverged trial, so it can never win a search."""
        return math.nan if self.diverged else self.val_curve[-1]

    @property
    def test_acc(self) -> float:
        return float(np.mean(self.test_correct))


def run_trial(config: dict, data: SearchData, *, epochs: int = EPOCHS, hidden=HIDDEN,
              batch_size: int = BATCH_SIZE, seed: int = 0, stage: str = "") -> Trial:
    """Train one network with ``config['lr']`` and ``config.get('weight_decay', 0)``."""
    x_train, t_train = data.train
    network = MultiLayerNet(x_train.shape[1], list(hidden), 10,
                            weight_decay_lambda=config.get("weight_decay", 0.0), seed=seed, dtype=x_train.dtype)
    history = train(network, SGD(lr=config["lr"]), (data.train, data.validation), epochs=epochs,
                    batch_size=batch_size, seed=seed)
    x_test, t_test = data.test
    correct = network.predict(x_test).argmax(axis=1) == t_test
    return Trial(config=dict(config), val_curve=list(history.test_acc), train_curve=list(history.train_acc),
                 test_correct=correct, diverged=history.diverged, seconds=history.seconds, stage=stage)


def _describe_config(config: dict) -> str:
    return ", ".join(f"{SYMBOLS.get(k, k)}={v:.3g}" for k, v in config.items())


def run_trials(configs: list[dict], data: SearchData, *, seed: int = 0, progress: bool = False,
               stage: str = "", **trial_kwargs) -> list[Trial]:
    """Run every configuration (trial ``i`` uses network seed ``seed + i``); with ``progress`` a
    one-line display shows the trial count and the best validation accuracy so far."""
    status = Progress(progress)
    trials = []
    for i, config in enumerate(configs):
        trials.append(run_trial(config, data, seed=seed + i, stage=stage, **trial_kwargs))
        best = best_trial(trials)
        status.update(f"{stage + ': ' if stage else ''}trial {i + 1}/{len(configs)} · best val acc "
                      + (f"{best.val_acc:.3f} ({_describe_config(best.config)})" if best else "—"),
                      force=i + 1 == len(configs))
    status.close()
    return trials


def random_search(space: dict, data: SearchData, n_trials: int, *, seed: int = 0, progress: bool = False,
                  stage: str = "", **trial_kwargs) -> list[Trial]:
    """``n_trials`` configurations sampled log-uniformly from ``space`` (with ``seed``), each trained."""
    configs = sample_configs(space, n_trials, np.random.default_rng(seed))
    return run_trials(configs, data, seed=seed, progress=progress, stage=stage, **trial_kwargs)


# --------------------------------------------------------------------------- reading results

def best_trial(trials: list[Trial], key: str = "val_acc") -> Trial | None:
    """The trial with the highest ``key`` (validation accuracy by default); NaN never wins; None if
    every trial diverged."""
    scores = np.array([getattr(t, key) for t in trials], dtype=float)
    if not np.any(np.isfinite(scores)):
        return None
    return trials[int(np.nanargmax(scores))]


def top_trials(trials: list[Trial], k: int = 5) -> list[Trial]:
    """The ``k`` best trials by validation accuracy, best first (diverged ones last)."""
    scores = np.array([t.val_acc for t in trials], dtype=float)
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
    return [trials[i] for i in order[:k]]


def top_table(trials: list[Trial], k: int = 5) -> str:
    """A plain-text table of the ``k`` best trials (rank, validation accuracy, hyperparameters)."""
    best = top_trials(trials, k)
    names = list(best[0].config) if best else []
    header = f"{'rank':>4}  {'val acc':>7}  " + "  ".join(f"{SYMBOLS.get(n, n):>9}" for n in names)
    rows = [f"{rank:>4}  {t.val_acc:>7.3f}  " + "  ".join(f"{t.config[n]:>9.2e}" for n in names)
            for rank, t in enumerate(best, start=1)]
    return "\n".join([header, *rows])


def narrow_range(values, scores, top_k: int = 5, margin: float = 0.5) -> tuple[float, float]:
    """A new log-scale range from search results: the span of the ``top_k`` values by score
    (NaN scores ignored), widened by ``margin`` decades on each side.

    It is not clipped to the old range: when the best values sit at a border, the new range reaches
    past it, which is what a best value at the border asks for.
    """
    values, scores = np.asarray(values, dtype=float), np.asarray(scores, dtype=float)
    finite = np.isfinite(scores)
    best = values[finite][np.argsort(-scores[finite], kind="stable")[:top_k]]
    logs = np.log10(best)
    return float(10.0 ** (logs.min() - margin)), float(10.0 ** (logs.max() + margin))


def narrow_space(space: dict, trials: list[Trial], top_k: int = 5, margin: float = 0.5) -> dict:
    """:func:`narrow_range` for every hyperparameter of ``space``."""
    scores = [t.val_acc for t in trials]
    return {name: narrow_range([t.config[name] for t in trials], scores, top_k, margin) for name in space}


def border_warnings(space: dict, trials: list[Trial], fraction: float = 0.1) -> dict[str, str | None]:
    """For each hyperparameter: 'upper' or 'lower' when the best trial's value lies within ``fraction``
    of the range's log-width from that border (search beyond it), else None."""
    best = best_trial(trials)
    warnings = {}
    for name, (low, high) in space.items():
        position = (math.log10(best.config[name]) - math.log10(low)) / (math.log10(high) - math.log10(low))
        warnings[name] = "upper" if position > 1 - fraction else "lower" if position < fraction else None
    return warnings


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def rank_agreement(trials: list[Trial], early_epoch: int) -> float:
    """Spearman rank correlation between validation accuracy after ``early_epoch`` epochs and at the
    end, over the non-diverged trials: how well a shorter trial would have ranked the same configs."""
    kept = [t for t in trials if not t.diverged]
    early = _ranks(np.array([t.val_curve[early_epoch] for t in kept]))
    final = _ranks(np.array([t.val_curve[-1] for t in kept]))
    return float(np.corrcoef(early, final)[0, 1])


# --------------------------------------------------------------------------- grid vs random

def best_of_random_subsets(trials: list[Trial], budget: int, repeats: int, seed: int = 0) -> np.ndarray:
    """Best validation accuracy of ``repeats`` random searches of ``budget`` trials, each drawn without
    replacement from ``trials`` (which must be independent random-search trials, so every subset is
    itself a random search)."""
    rng = np.random.default_rng(seed)
    scores = np.nan_to_num(np.array([t.val_acc for t in trials], dtype=float), nan=-np.inf)
    return np.array([scores[rng.choice(len(scores), budget, replace=False)].max() for _ in range(repeats)])


@dataclass
class GridVsRandom:
    """Real-network comparison on the same budget: the grid searches' best validation accuracy and the
    distribution of random searches' best."""

    random_trials: list[Trial]
    grids: dict[str, list[Trial]]
    random_best: np.ndarray
    budget: int

    def grid_best(self, placement: str) -> float:
        return best_trial(self.grids[placement]).val_acc

    def random_wins(self, placement: str) -> float:
        """Fraction of random searches whose best is at least the grid's best."""
        return float(np.mean(self.random_best >= self.grid_best(placement)))

    def distinct_values(self, name: str = "lr") -> dict[str, int]:
        """Distinct values of ``name`` tried: per grid, and on average by a random search of the budget."""
        counts = {p: len({t.config[name] for t in trials}) for p, trials in self.grids.items()}
        counts["random"] = self.budget  # continuous draws never repeat
        return counts


def grid_vs_random(data: SearchData, space: dict = WIDE_SPACE, *, n_random: int = 24, points: int = 3,
                   repeats: int = 2000, seed: int = 0, progress: bool = False,
                   random_trials: list[Trial] | None = None) -> GridVsRandom:
    """A ``points``×``points`` grid (both placements) against random searches of the same budget,
    drawn from ``n_random`` random trials (or the given ``random_trials`` from the same space)."""
    if random_trials is None:
        random_trials = random_search(space, data, n_random, seed=seed, progress=progress, stage="random")
    grids = {placement: run_trials(grid_configs(space, points, placement), data, seed=seed + 1000,
                                   progress=progress, stage=f"grid ({placement})")
             for placement in ("endpoints", "centers")}
    budget = points ** len(space)
    return GridVsRandom(random_trials, grids, best_of_random_subsets(random_trials, budget, repeats, seed), budget)


def synthetic_score(u, v, optimum: tuple[float, float], width: float = 0.08) -> np.ndarray:
    """A score on the unit square (log-scaled coordinates) where ``u`` matters and ``v`` barely does:
    a peak of width ``width`` along u plus a 5 % bonus varying slowly along v. Maximum 1.05."""
    u, v = np.asarray(u, dtype=float), np.asarray(v, dtype=float)
    return np.exp(-0.5 * ((u - optimum[0]) / width) ** 2) + 0.05 * np.exp(-0.5 * ((v - optimum[1]) / 0.3) ** 2)


def synthetic_grid_vs_random(repeats: int = 2000, points: int = 3, width: float = 0.08, seed: int = 0) -> dict:
    """Best synthetic score found by a ``points``² grid (both placements) and by as many random
    points, over ``repeats`` objectives whose optimum is placed uniformly at random: the regret
    (1.05 − best) of each search per repetition."""
    rng = np.random.default_rng(seed)
    optima = rng.random((repeats, 2))
    budget = points * points
    regrets = {}
    for placement, fractions in (("endpoints", np.linspace(0, 1, points)),
                                 ("centers", (np.arange(points) + 0.5) / points)):
        gu, gv = np.meshgrid(fractions, fractions, indexing="ij")
        scores = synthetic_score(gu.ravel()[None, :], gv.ravel()[None, :], (optima[:, :1], optima[:, 1:]), width)
        regrets[placement] = 1.05 - scores.max(axis=1)
    points_uv = rng.random((repeats, budget, 2))
    scores = synthetic_score(points_uv[..., 0], points_uv[..., 1], (optima[:, :1], optima[:, 1:]), width)
    regrets["random"] = 1.05 - scores.max(axis=1)
    return regrets


# --------------------------------------------------------------------------- tuning on test

def selection_optimism(trials: list[Trial], splits: int = 500, seed: int = 0) -> dict[str, np.ndarray]:
    """What choosing on the test set costs, over ``splits`` random halvings of the test set into a
    half A used for choosing and a fresh half B.

    Returns per halving: ``reported`` (A accuracy of the trial with the best A accuracy — what a search
    tuned on test would report), ``fresh`` (B accuracy of that same trial — what it really gets on
    new data), and ``validation_choice`` (B accuracy of the trial with the best validation accuracy).
    """
    finished = [t for t in trials if not t.diverged]
    correct = np.array([t.test_correct for t in finished], dtype=float)
    val_index = finished.index(best_trial(finished))
    rng = np.random.default_rng(seed)
    n = correct.shape[1]
    reported, fresh, validation_choice = [], [], []
    for _ in range(splits):
        order = rng.permutation(n)
        half_a, half_b = order[: n // 2], order[n // 2:]
        acc_a, acc_b = correct[:, half_a].mean(axis=1), correct[:, half_b].mean(axis=1)
        winner = int(np.argmax(acc_a))
        reported.append(acc_a[winner])
        fresh.append(acc_b[winner])
        validation_choice.append(acc_b[val_index])
    return {"reported": np.array(reported), "fresh": np.array(fresh), "validation_choice": np.array(validation_choice)}


# --------------------------------------------------------------------------- sanity checks

def initial_losses(data: SearchData, seeds=range(5), weight_decays=(0.0,), hidden=HIDDEN) -> np.ndarray:
    """Loss of freshly initialized networks on the validation set, one row per weight decay, one
    column per seed. With 10 classes and no weight decay it should be near ln 10 ≈ 2.303."""
    x, t = data.validation
    return np.array([[MultiLayerNet(x.shape[1], list(hidden), 10, weight_decay_lambda=wd, seed=s,
                                    dtype=x.dtype).loss(x, t) for s in seeds] for wd in weight_decays])


def update_ratios(data: SearchData, lrs, *, epochs: int = 1, hidden=HIDDEN, seed: int = 0) -> np.ndarray:
    """‖ΔW1‖/‖W1‖ of the first layer's SGD update, averaged over the iterations of ``epochs`` epochs of
    training, for each learning rate in ``lrs`` (CS231n's rule of thumb: about 1e-3)."""
    ratios = []
    for lr in lrs:
        x_train = data.train[0]
        network = MultiLayerNet(x_train.shape[1], list(hidden), 10, seed=seed, dtype=x_train.dtype)
        measured = []

        class Recording(SGD):
            def update(self, params, grads):
                before = params["W1"].copy()
                super().update(params, grads)
                measured.append(np.linalg.norm(params["W1"] - before) / np.linalg.norm(before))

        train(network, Recording(lr=lr), (data.train, data.validation), epochs=epochs, batch_size=BATCH_SIZE,
              seed=seed, divergence_factor=None)
        ratios.append(float(np.mean(measured)))
    return np.array(ratios)


def overfit_tiny(data: SearchData, n: int = 20, *, lr: float = 0.3, epochs: int = 100, seed: int = 0):
    """Train on only ``n`` samples (one batch): a correct network and training loop drive the training
    loss towards 0 and the training accuracy to 1. Returns the History."""
    x, t = data.train
    tiny = (x[:n], t[:n])
    network = MultiLayerNet(x.shape[1], list(HIDDEN), 10, seed=seed, dtype=x.dtype)
    return train(network, SGD(lr=lr), (tiny, data.validation), epochs=epochs, batch_size=n, seed=seed)


# --------------------------------------------------------------------------- figures

def plot_best_curves(fig, trials: list[Trial], k: int = 10, columns: int = 5) -> None:
    """Saito's figure 6-24: validation (solid) and training (dashed) accuracy per epoch of the ``k``
    best trials, best first."""
    best = top_trials(trials, k)
    rows = math.ceil(len(best) / columns)
    for i, trial in enumerate(best):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.plot(trial.val_curve, color="tab:blue", linewidth=1.4)
        ax.plot(trial.train_curve, color="tab:blue", linestyle="--", linewidth=1)
        ax.set_ylim(0, 1)
        ax.set_title(f"best {i + 1}: {trial.val_acc:.2f}", fontsize="small")
        ax.text(0.97, 0.05, f"lr {trial.config['lr']:.1e}\nλ {trial.config.get('weight_decay', 0):.0e}",
                transform=ax.transAxes, ha="right", va="bottom", fontsize="x-small")
        ax.tick_params(labelsize="x-small")
        if i % columns:
            ax.set_yticks([])


def plot_search_scatter(ax, trials: list[Trial], boxes: dict[str, dict] | None = None) -> None:
    """Validation accuracy of every trial over (lr, λ) on log axes, and the searched boxes."""
    lr = [t.config["lr"] for t in trials]
    wd = [t.config["weight_decay"] for t in trials]
    scores = np.nan_to_num([t.val_acc for t in trials], nan=0.0)
    points = ax.scatter(lr, wd, c=scores, cmap="viridis", vmin=0, vmax=1, s=28, edgecolors="k", linewidths=0.3)
    for index, (label, space) in enumerate((boxes or {}).items()):
        (l0, l1), (w0, w1) = space["lr"], space["weight_decay"]
        color = f"C{index + 1}"
        ax.plot([l0, l1, l1, l0, l0], [w0, w0, w1, w1, w0], color=color, linewidth=1.2)
        ax.text(l0, w1, f" {label}", color=color, fontsize="small", va="bottom")
    best = best_trial(trials)
    ax.scatter([best.config["lr"]], [best.config["weight_decay"]], marker="*", s=200, color="red", zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("weight decay λ")
    ax.figure.colorbar(points, ax=ax, label="validation accuracy")


def plot_sampling(axes, rng: np.random.Generator, n: int = 2000) -> None:
    """Uniform vs log-uniform draws of a learning rate in [1e-6, 1e-2] (left) and of β in
    [0.9, 0.999] (right), on log axes where the difference shows."""
    lr_uniform, lr_log = rng.uniform(1e-6, 1e-2, n), log_uniform(1e-6, 1e-2, n, rng)
    bins = np.logspace(-6, -2, 41)
    axes[0].hist(lr_uniform, bins=bins, alpha=0.6, label="uniform")
    axes[0].hist(lr_log, bins=bins, alpha=0.6, label="log-uniform")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("learning rate")
    axes[0].set_title("learning rate in [1e-6, 1e-2]", fontsize="medium")
    beta_uniform, beta_log = rng.uniform(0.9, 0.999, n), one_minus_log_uniform(0.9, 0.999, n, rng)
    bins = np.logspace(1, 3, 41)
    axes[1].hist(1 / (1 - beta_uniform), bins=bins, alpha=0.6, label="β uniform")
    axes[1].hist(1 / (1 - beta_log), bins=bins, alpha=0.6, label="1 − β log-uniform")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("averaging window 1/(1 − β)")
    axes[1].set_title("β in [0.9, 0.999]", fontsize="medium")
    for ax in axes:
        ax.set_ylabel("samples")
        ax.legend(fontsize="small")


def plot_grid_vs_random_synthetic(axes, seed: int = 0, width: float = 0.08) -> None:
    """Left: one synthetic objective with a 3×3 grid and 9 random points, and their projections on the
    important axis. Right: drawn separately by the caller (regret distributions)."""
    rng = np.random.default_rng(seed)
    optimum = (0.62, 0.3)
    u, v = np.meshgrid(np.linspace(0, 1, 200), np.linspace(0, 1, 200))
    ax = axes
    ax.contourf(u, v, synthetic_score(u, v, optimum, width), levels=20, cmap="Greens")
    grid = (np.arange(3) + 0.5) / 3
    gu, gv = np.meshgrid(grid, grid)
    random_points = rng.random((9, 2))
    ax.scatter(gu.ravel(), gv.ravel(), marker="s", color="tab:red", label="3×3 grid", zorder=3)
    ax.scatter(random_points[:, 0], random_points[:, 1], color="tab:blue", label="9 random", zorder=3)
    ax.plot(grid, np.full(3, -0.04), "s", color="tab:red", clip_on=False, markersize=5)
    ax.plot(random_points[:, 0], np.full(9, -0.04), "o", color="tab:blue", clip_on=False, markersize=4)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("important hyperparameter (log scale, normalized)")
    ax.set_ylabel("unimportant hyperparameter")
    ax.legend(fontsize="small", loc="upper right")


def plot_regrets(ax, regrets: dict[str, np.ndarray]) -> None:
    """Histograms of the regret (best possible − best found) of each search over the repetitions."""
    bins = np.linspace(0, 1.05, 36)
    for name, values in regrets.items():
        ax.hist(values, bins=bins, histtype="step", linewidth=1.6, label=f"{name} (median {np.median(values):.2f})")
    ax.set_xlabel("regret = best possible − best found")
    ax.set_ylabel("repetitions")
    ax.legend(fontsize="small")


def synthetic_explorer(seed: int = 0, repeats: int = 1000):
    """Sliders for the synthetic objective's peak width and the grid's points per axis (the random
    search gets the same budget); the regret histograms are redrawn inside an ``ipywidgets.Output``
    so they change in a live notebook. Returns the widget box."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    width = widgets.FloatLogSlider(value=0.08, base=10, min=-1.7, max=-0.5, step=0.1, description="peak width",
                                   readout_format=".3f")
    points = widgets.IntSlider(value=3, min=2, max=5, description="grid points")
    output = widgets.Output()

    def draw(*_):
        regrets = synthetic_grid_vs_random(repeats, points.value, width.value, seed)
        fig, ax = plt.subplots(figsize=(7, 3.2), dpi=80)
        plot_regrets(ax, regrets)
        ax.set_title(f"{points.value}×{points.value} grid vs {points.value ** 2} random points, "
                     f"peak width {width.value:.3f}", fontsize="medium")
        show_in_output(output, fig, "grid vs random figure")

    width.observe(draw, names="value")
    points.observe(draw, names="value")
    box = widgets.VBox([widgets.HBox([width, points]), output])
    draw()
    return box
