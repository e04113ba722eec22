"""Chapter 5's experiments: hyperparameter search on validation data, random vs grid, sampling scales.

numpy only (no matplotlib, no widgets: those are in ``figures.py``); results are dataclasses. The notebook
and the claim tests (``tests/test_claims_ch05.py``) call the same functions, so every number the chapter
prints is the number the tests assert.

A *trial* trains a small network (64 → 50 → 10, ReLU, He init, plain SGD with L2 weight decay) for a few
epochs on a subset of the training split and records its accuracy on the validation split after every
epoch, through :func:`lib.training.train` with the validation set in the place of ``train``'s test set.
The test split is only ever used to measure a finished choice (and, in the "tuning on test" experiment,
to show what goes wrong when it is used for choosing).

Hyperparameters live in *spaces*: ``{"lr": (1e-6, 1e-2), "weight_decay": (1e-8, 1e-4)}`` — each name maps
to a ``(low, high)`` range searched on a log scale (Saito's ranges are ``SAITO_SPACE``).

Random streams: every draw has its own stream, ``np.random.SeedSequence([seed, stage, purpose])``, so no
seed ever feeds two draws (the data split, each stage's configurations, each trial's initialization and
its batch order, the test halvings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lib.chapters import rate  # noqa: F401 (the notebook prints its rates through experiments.rate)
from lib.data import count_classes, load_dataset, train_validation_split
from lib.networks import MultiLayerNet
from lib.optimizers import SGD
from lib.training import Progress, train

SAITO_SPACE = {"lr": (1e-6, 1e-2), "weight_decay": (1e-8, 1e-4)}
# Four decades of learning rate that reach past Saito's upper border, where short SGD runs need to be.
WIDE_SPACE = {"lr": (1e-4, 1e0), "weight_decay": (1e-8, 1e-4)}
HIDDEN = (50,)
N_TRAIN = 500
EPOCHS = 8
BATCH_SIZE = 100
SYMBOLS = {"lr": "η", "weight_decay": "λ"}
GOOD_ACCURACY = 0.8  # "a trial that works": the share of trials reaching it measures a range's waste

# One stream family per kind of draw; a stage's trials draw from [seed, stage code, purpose].
STAGES = {"split": 0, "saito": 1, "wide": 2, "grid": 3, "fine": 4, "halvings": 5, "subsets": 6,
          "synthetic": 7, "sanity": 8, "sampling": 9}
_CONFIGS, _INIT, _SHUFFLE = 0, 1, 2


def stream(seed: int, stage: str, purpose: int = 0) -> np.random.Generator:
    """The generator of one kind of draw: ``default_rng([seed, STAGES[stage], purpose])``."""
    return np.random.default_rng([seed, STAGES[stage], purpose])


def stream_seeds(seed: int, stage: str, purpose: int, n: int) -> list[int]:
    """``n`` distinct integer seeds for ``n`` trials' draws of one kind (initialization or batch order)."""
    state = np.random.SeedSequence([seed, STAGES[stage], purpose]).generate_state(n)
    return [int(s) for s in state]


# --------------------------------------------------------------------------- sampling

def log_uniform(low: float, high: float, size=None, rng: np.random.Generator | None = None) -> np.ndarray:
    """Samples whose logarithm is uniform: 10**U(log10 low, log10 high), so each decade between
    ``low`` and ``high`` gets the same share of samples. float64, shape ``size``."""
    if not 0 < low < high:
        raise ValueError(f"log_uniform needs 0 < low < high, got low={low}, high={high}")
    rng = np.random.default_rng() if rng is None else rng
    exponent = rng.uniform(math.log10(low), math.log10(high), size)
    return 10.0 ** exponent


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


@dataclass
class SamplingShares:
    """Uniform vs log-uniform draws of a learning rate in [1e-6, 1e-2] (share per decade) and of β in
    [0.9, 0.999] (share with an averaging window 1/(1 − β) over 100, i.e. β > 0.99)."""

    lr_uniform: np.ndarray
    lr_log_uniform: np.ndarray
    beta_uniform_over_099: float
    beta_log_over_099: float


def sampling_shares(n: int = 100_000, seed: int = 0) -> SamplingShares:
    rng_uniform, rng_log = stream(seed, "sampling", 0), stream(seed, "sampling", 1)
    lr_uniform = rng_uniform.uniform(1e-6, 1e-2, n)
    lr_log = log_uniform(1e-6, 1e-2, n, rng_log)
    beta_uniform = rng_uniform.uniform(0.9, 0.999, n)
    beta_log = one_minus_log_uniform(0.9, 0.999, n, rng_log)
    return SamplingShares(decade_fractions(lr_uniform, 1e-6, 1e-2), decade_fractions(lr_log, 1e-6, 1e-2),
                          float(np.mean(beta_uniform > 0.99)), float(np.mean(beta_log > 0.99)))


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

    @property
    def n_classes(self) -> int:
        return count_classes(self.train[1], self.validation[1], self.test[1])


def make_search_data(dataset: str = "digits", *, n_train: int = N_TRAIN, validation_fraction: float = 0.25,
                     seed: int = 0, dtype=np.float32) -> SearchData:
    """The data set's training split cut into training and validation parts
    (``lib.data.train_validation_split``, stratified, on the seed's own split stream); trials use
    ``n_train`` of the training part. The test split is the data set's own."""
    (x, t), test = load_dataset(dataset, seed=0, dtype=dtype)
    split_seed = stream_seeds(seed, "split", 0, 1)[0]
    (x_train, t_train), validation = train_validation_split(x, t, validation_fraction, seed=split_seed, stratify=True)
    if n_train > len(x_train):
        raise ValueError(f"{dataset}: only {len(x_train)} training samples after the split, asked for {n_train}")
    return SearchData(train=(x_train[:n_train], t_train[:n_train]), validation=validation, test=test)


def build_network(n_inputs: int, n_classes: int, *, weight_decay: float = 0.0, hidden=HIDDEN, seed: int = 0,
                  dtype=np.float32) -> MultiLayerNet:
    """The chapter's one network: ``n_inputs`` → ``hidden`` (ReLU, He init) → ``n_classes``, L2 ``weight_decay``."""
    return MultiLayerNet(n_inputs, list(hidden), n_classes, weight_decay_lambda=weight_decay, seed=seed, dtype=dtype)


def network_for(data: SearchData, *, weight_decay: float = 0.0, hidden=HIDDEN, seed: int = 0) -> MultiLayerNet:
    x = data.train[0]
    return build_network(x.shape[1], data.n_classes, weight_decay=weight_decay, hidden=hidden, seed=seed,
                         dtype=x.dtype)


@dataclass
class Trial:
    """One short training run: its configuration, validation accuracy per epoch (index 0 = before
    training), training accuracy per epoch (empty unless the run was asked for it), and which test samples the final network classifies
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
              batch_size: int = BATCH_SIZE, init_seed: int = 0, shuffle_seed: int = 1, stage: str = "",
              training_curve: bool = False) -> Trial:
    """Train one network with ``config['lr']`` and ``config.get('weight_decay', 0)``.

    A search needs only the validation accuracy per epoch; ``training_curve=True`` also measures the
    accuracy on the whole training part after every epoch (for a figure), which costs as much again.
    """
    network = network_for(data, weight_decay=config.get("weight_decay", 0.0), hidden=hidden, seed=init_seed)
    optimizer = SGD(lr=config["lr"])
    if training_curve:
        history = train(network, optimizer, (data.train, data.validation), epochs=epochs, batch_size=batch_size,
                        seed=shuffle_seed)
        val_curve, train_curve = list(history.test_acc), list(history.train_acc)
    else:
        # train's own per-epoch evaluation looks at one sample of each set only (it never changes the order
        # of training); the validation accuracy is measured here, on the whole validation part, as train
        # would: before training and after every epoch that finished.
        x_val, t_val = data.validation
        val_curve, train_curve = [network.accuracy(x_val, t_val)], []

        def measure_validation(epoch, history):
            val_curve.append(network.accuracy(x_val, t_val))

        history = train(network, optimizer, (data.train, data.validation), epochs=epochs, batch_size=batch_size,
                        eval_size=1, seed=shuffle_seed, callback=measure_validation)
    x_test, t_test = data.test
    correct = network.predict(x_test).argmax(axis=1) == t_test
    return Trial(config=dict(config), val_curve=val_curve, train_curve=train_curve,
                 test_correct=correct, diverged=history.diverged, seconds=history.seconds, stage=stage)


def describe_config(config: dict) -> str:
    return ", ".join(f"{SYMBOLS.get(k, k)}={v:.3g}" for k, v in config.items())


def run_trials(configs: list[dict], data: SearchData, *, seed: int = 0, stage: str = "wide", progress: bool = False,
               **trial_kwargs) -> list[Trial]:
    """Run every configuration; trial ``i`` initializes and shuffles from its own streams of
    ``(seed, stage)``. With ``progress`` a one-line display shows the trial count and the best
    validation accuracy so far."""
    init_seeds = stream_seeds(seed, stage, _INIT, len(configs))
    shuffle_seeds = stream_seeds(seed, stage, _SHUFFLE, len(configs))
    status = Progress(progress)
    trials = []
    for i, config in enumerate(configs):
        trials.append(run_trial(config, data, init_seed=init_seeds[i], shuffle_seed=shuffle_seeds[i], stage=stage,
                                **trial_kwargs))
        best = best_trial(trials)
        status.update(f"{stage}: trial {i + 1}/{len(configs)} · best val acc "
                      + (f"{best.val_acc:.3f} ({describe_config(best.config)})" if best else "—"),
                      force=i + 1 == len(configs))
    status.close()
    return trials


def random_search(space: dict, data: SearchData, n_trials: int, *, seed: int = 0, stage: str = "wide",
                  progress: bool = False, **trial_kwargs) -> list[Trial]:
    """``n_trials`` configurations drawn log-uniformly from ``space``, each trained once; choose
    among them afterwards with :func:`best_trial` (on validation accuracy)."""
    configs = sample_configs(space, n_trials, stream(seed, stage, _CONFIGS))
    return run_trials(configs, data, seed=seed, stage=stage, progress=progress, **trial_kwargs)


def grid_search(space: dict, data: SearchData, *, points: int = 3, placement: str = "endpoints", seed: int = 0,
                progress: bool = False, **trial_kwargs) -> list[Trial]:
    """Every configuration of a ``points``-per-axis grid, each trained once."""
    return run_trials(grid_configs(space, points, placement), data, seed=seed, stage="grid", progress=progress,
                      **trial_kwargs)


# --------------------------------------------------------------------------- reading results

def best_trial(trials: list[Trial]) -> Trial | None:
    """The trial with the highest validation accuracy; NaN (diverged) never wins; None if every trial
    diverged."""
    scores = np.array([t.val_acc for t in trials], dtype=float)
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


def share_good(trials: list[Trial], level: float = GOOD_ACCURACY) -> float:
    """Share of the trials whose validation accuracy reaches ``level`` (diverged trials count as failures)."""
    return float(np.mean([t.val_acc >= level for t in trials]))


def narrow_range(values, scores, top_k: int = 5, margin: float = 0.5) -> tuple[float, float]:
    """A new log-scale range from search results: the span of the ``top_k`` values by score
    (NaN scores ignored), widened by ``margin`` decades on each side."""
    values, scores = np.asarray(values, dtype=float), np.asarray(scores, dtype=float)
    finished = np.isfinite(scores)
    best = values[finished][np.argsort(-scores[finished], kind="stable")[:top_k]]
    low, high = np.log10(best.min()) - margin, np.log10(best.max()) + margin
    # Not clipped to the old range: a best value at a border pushes the next range past it.
    return float(10.0 ** low), float(10.0 ** high)


def narrow_space(space: dict, trials: list[Trial], top_k: int = 5, margin: float = 0.5) -> dict:
    """:func:`narrow_range` for every hyperparameter of ``space``."""
    scores = [t.val_acc for t in trials]
    return {name: narrow_range([t.config[name] for t in trials], scores, top_k, margin) for name in space}


def border_side(value: float, low: float, high: float, fraction: float = 0.1) -> str | None:
    """'lower' or 'upper' when ``value`` lies within ``fraction`` of the range's log-width from that
    border of [low, high] (the optimum may lie beyond it: extend the range), else None."""
    position = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
    if position >= 1 - fraction:
        return "upper"
    if position <= fraction:
        return "lower"
    return None


def border_warnings(space: dict, trials: list[Trial], fraction: float = 0.1) -> dict[str, str | None]:
    """:func:`border_side` of the best trial's value, for every hyperparameter of ``space``."""
    best = best_trial(trials)
    return {name: border_side(best.config[name], low, high, fraction) for name, (low, high) in space.items()}


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


# --------------------------------------------------------------------------- tuning on test

@dataclass
class SelectionOptimism:
    """Per random halving of the test set into a half A used for choosing and a fresh half B:
    ``reported`` (A accuracy of the trial with the best A accuracy — what a search tuned on test
    would report), ``fresh`` (B accuracy of that same trial — what it really gets on new data), and
    ``validation_choice`` (B accuracy of the trial with the best validation accuracy)."""

    reported: np.ndarray
    fresh: np.ndarray
    validation_choice: np.ndarray

    @property
    def gap(self) -> float:
        """Mean of reported − fresh over the halvings: how optimistic tuning on test is."""
        return float(np.mean(self.reported - self.fresh))


def selection_optimism(trials: list[Trial], splits: int = 200, seed: int = 0) -> SelectionOptimism:
    """What choosing on the test set costs, over ``splits`` random halvings of the test set."""
    finished = [t for t in trials if not t.diverged]
    correct = np.array([t.test_correct for t in finished], dtype=float)
    val_index = finished.index(best_trial(finished))
    rng = stream(seed, "halvings")
    n = correct.shape[1]
    orders = np.array([rng.permutation(n) for _ in range(splits)])   # one halving per row
    acc_a = correct[:, orders[:, : n // 2]].mean(axis=2)            # (trials, splits)
    acc_b = correct[:, orders[:, n // 2:]].mean(axis=2)
    winner = np.argmax(acc_a, axis=0)                                # per halving, the best trial on half A
    halvings = np.arange(splits)
    return SelectionOptimism(acc_a[winner, halvings], acc_b[winner, halvings], acc_b[val_index])


# --------------------------------------------------------------------------- grid vs random, synthetic

def synthetic_score(u, v, optimum: tuple[float, float], width: float = 0.08) -> np.ndarray:
    """A score on the unit square (log-scaled coordinates) where ``u`` matters and ``v`` barely does:
    a peak of width ``width`` along u plus a 5 % bonus varying slowly along v. Maximum 1.05."""
    u, v = np.asarray(u, dtype=float), np.asarray(v, dtype=float)
    return np.exp(-0.5 * ((u - optimum[0]) / width) ** 2) + 0.05 * np.exp(-0.5 * ((v - optimum[1]) / 0.3) ** 2)


@dataclass
class SyntheticRegrets:
    """Regret (1.05 − best score found) of each search, one entry per random placement of the optimum."""

    endpoints: np.ndarray
    centers: np.ndarray
    random: np.ndarray

    def random_wins(self, placement: str) -> float:
        """Share of objectives on which random search finds a strictly better point than the grid."""
        return float(np.mean(self.random < getattr(self, placement)))

    def median(self, search: str) -> float:
        return float(np.median(getattr(self, search)))


def synthetic_grid_vs_random(repeats: int = 2000, points: int = 3, width: float = 0.08, seed: int = 0) -> SyntheticRegrets:
    """Best synthetic score found by a ``points``² grid (both placements) and by as many random
    points, over ``repeats`` objectives whose optimum is placed uniformly at random."""
    optima = stream(seed, "synthetic", 0).random((repeats, 2))
    budget = points * points
    regrets = {}
    for placement, fractions in (("endpoints", np.linspace(0, 1, points)),
                                 ("centers", (np.arange(points) + 0.5) / points)):
        gu, gv = np.meshgrid(fractions, fractions, indexing="ij")
        scores = synthetic_score(gu.ravel()[None, :], gv.ravel()[None, :], (optima[:, :1], optima[:, 1:]), width)
        regrets[placement] = 1.05 - scores.max(axis=1)
    points_uv = stream(seed, "synthetic", 1).random((repeats, budget, 2))
    scores = synthetic_score(points_uv[..., 0], points_uv[..., 1], (optima[:, :1], optima[:, 1:]), width)
    regrets["random"] = 1.05 - scores.max(axis=1)
    return SyntheticRegrets(**regrets)


# --------------------------------------------------------------------------- sanity checks

def initial_losses(data: SearchData, seeds=range(5), weight_decays=(0.0,), hidden=HIDDEN) -> np.ndarray:
    """Loss of freshly initialized networks on the validation set, one row per weight decay, one
    column per network seed. With 10 classes and no weight decay it should be near ln 10 ≈ 2.303."""
    x, t = data.validation
    return np.array([[network_for(data, weight_decay=wd, hidden=hidden, seed=s).loss(x, t) for s in seeds]
                     for wd in weight_decays])


class _RecordingSGD(SGD):
    """SGD that records ‖ΔW1‖/‖W1‖ of every update it makes."""

    def __init__(self, lr: float):
        super().__init__(lr=lr)
        self.ratios: list[float] = []

    def update(self, params, grads):
        before = params["W1"].copy()
        super().update(params, grads)
        self.ratios.append(float(np.linalg.norm(params["W1"] - before) / np.linalg.norm(before)))


def update_ratios(data: SearchData, lrs, *, epochs: int = 1, hidden=HIDDEN, seed: int = 0) -> np.ndarray:
    """‖ΔW1‖/‖W1‖ of the first layer's SGD update, averaged over the iterations of ``epochs`` epochs of
    training, for each learning rate in ``lrs`` (CS231n's rule of thumb: about 1e-3)."""
    init_seed, shuffle_seed = stream_seeds(seed, "sanity", 0, 2)
    ratios = []
    for lr in lrs:
        optimizer = _RecordingSGD(lr)
        train(network_for(data, hidden=hidden, seed=init_seed), optimizer, (data.train, data.validation),
              epochs=epochs, batch_size=BATCH_SIZE, seed=shuffle_seed, divergence_factor=None)
        ratios.append(float(np.mean(optimizer.ratios)))
    return np.array(ratios)


def overfit_tiny(data: SearchData, n: int = 20, *, lr: float = 0.3, epochs: int = 100, seed: int = 0):
    """Train on only ``n`` samples (one batch): a correct network and training loop drive the training
    loss towards 0 and the training accuracy to 1. Returns the History."""
    x, t = data.train
    init_seed, shuffle_seed = stream_seeds(seed, "sanity", 1, 2)
    network = network_for(data, seed=init_seed)
    tiny = (x[:n], t[:n])
    # Only the training curve matters here, so the "test" set handed to train is the tiny set itself.
    return train(network, SGD(lr=lr), (tiny, tiny), epochs=epochs, batch_size=n, seed=shuffle_seed)


@dataclass
class SanityChecks:
    """Per claim seed: mean initial loss without / with λ = 0.1 (5 networks each), whether 20 images
    were overfit (training accuracy 1), and the update ratios at ``RATIO_LRS``."""

    seeds: tuple[int, ...]
    initial_loss: np.ndarray
    initial_loss_decayed: np.ndarray
    tiny_overfit: np.ndarray
    tiny_final_loss: np.ndarray
    update_ratios: np.ndarray


RATIO_LRS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def sanity_checks(dataset: str = "digits", seeds=(0,)) -> SanityChecks:
    rows = []
    for seed in seeds:
        data = make_search_data(dataset, seed=seed)
        networks = stream_seeds(seed, "sanity", 2, 5)
        losses = initial_losses(data, seeds=networks, weight_decays=(0.0, 0.1))
        tiny = overfit_tiny(data, seed=seed)
        rows.append((losses[0].mean(), losses[1].mean(), tiny.train_acc[-1] == 1.0, tiny.train_loss[-1],
                     update_ratios(data, RATIO_LRS, seed=seed)))
    columns = list(zip(*rows))
    return SanityChecks(tuple(seeds), *(np.array(c) for c in columns))


# --------------------------------------------------------------------------- the claims, over seeds

N_WIDE, N_FINE, RANDOM_BUDGET, FINE_TOP_K = 12, 6, 9, 3


@dataclass
class SeedStudy:
    """One seed's search: ``wide`` random trials in ``WIDE_SPACE``, the 3×3 endpoint ``grid`` over the
    same space, and ``fine`` random trials in ``fine_space`` (narrowed from the wide trials)."""

    seed: int
    data: SearchData
    wide: list[Trial]
    grid: list[Trial]
    fine_space: dict
    fine: list[Trial]

    @property
    def random_search_best(self) -> float:
        """Best validation accuracy of a random search with the grid's budget (the first 9 draws)."""
        return best_trial(self.wide[:RANDOM_BUDGET]).val_acc

    @property
    def grid_best(self) -> float:
        return best_trial(self.grid).val_acc

    @property
    def small_lr_best(self) -> float:
        """Best validation accuracy of any trial with η ≤ 1e-2 (Saito's range), wide or grid."""
        return max(np.nan_to_num(t.val_acc) for t in self.wide + self.grid if t.config["lr"] <= 1e-2)


def seed_study(seed: int, dataset: str = "digits", progress: bool = False, training_curves: bool = False) -> SeedStudy:
    """One seed's wide random search, endpoint grid and fine random search (``training_curves``: the wide
    trials also record their training accuracy per epoch, for the walk-through's figure)."""
    data = make_search_data(dataset, seed=seed)
    wide = random_search(WIDE_SPACE, data, N_WIDE, seed=seed, stage="wide", progress=progress,
                         training_curve=training_curves)
    grid = grid_search(WIDE_SPACE, data, seed=seed, progress=progress)
    fine_space = narrow_space(WIDE_SPACE, wide, top_k=FINE_TOP_K, margin=0.5)
    fine = random_search(fine_space, data, N_FINE, seed=seed, stage="fine", progress=progress)
    return SeedStudy(seed, data, wide, grid, fine_space, fine)


@dataclass
class ClaimStudy:
    """Chapter 5's claims over the claim seeds, one entry per seed in every array."""

    studies: list[SeedStudy]
    seeds: tuple[int, ...]
    small_lr_best: np.ndarray     # best val acc with η ≤ 1e-2
    wide_best: np.ndarray         # best val acc of the wide random search
    winner_lr: np.ndarray         # η of the wide search's best trial
    rank_agreement: np.ndarray    # Spearman, epoch 3 vs final, wide trials
    share_wide: np.ndarray        # share of wide trials reaching GOOD_ACCURACY
    share_fine: np.ndarray        # … of fine trials
    random_best: np.ndarray       # best of a random search of 9
    grid_best: np.ndarray         # best of the 3×3 endpoint grid
    optimism_gap: np.ndarray      # reported − fresh, mean over halvings
    fresh_test_choice: np.ndarray  # fresh-half accuracy of the trial chosen on test
    fresh_validation_choice: np.ndarray  # fresh-half accuracy of the trial chosen on validation

    def study(self, seed: int) -> SeedStudy:
        return self.studies[self.seeds.index(seed)]


def claim_study(seeds, dataset: str = "digits", progress: bool = False, curves_seed: int | None = None) -> ClaimStudy:
    """Run :func:`seed_study` for every seed and collect the statistics the chapter states; the wide
    trials of ``curves_seed`` also record their training curves."""
    status = Progress(progress)
    studies = []
    for i, seed in enumerate(seeds):
        status.update(f"searching: seed {i + 1}/{len(seeds)}", force=True)
        studies.append(seed_study(seed, dataset, training_curves=seed == curves_seed))
    status.update(f"searched {len(seeds)} seeds", force=True)
    status.close()
    optimism = [selection_optimism(s.wide + s.grid + s.fine, seed=s.seed) for s in studies]
    return ClaimStudy(
        studies=studies, seeds=tuple(seeds),
        small_lr_best=np.array([s.small_lr_best for s in studies]),
        wide_best=np.array([best_trial(s.wide).val_acc for s in studies]),
        winner_lr=np.array([best_trial(s.wide).config["lr"] for s in studies]),
        rank_agreement=np.array([rank_agreement(s.wide, early_epoch=3) for s in studies]),
        share_wide=np.array([share_good(s.wide) for s in studies]),
        share_fine=np.array([share_good(s.fine) for s in studies]),
        random_best=np.array([s.random_search_best for s in studies]),
        grid_best=np.array([s.grid_best for s in studies]),
        optimism_gap=np.array([o.gap for o in optimism]),
        fresh_test_choice=np.array([o.fresh.mean() for o in optimism]),
        fresh_validation_choice=np.array([o.validation_choice.mean() for o in optimism]),
    )


def mean_spread(values) -> str:
    """``mean ± standard deviation (min … max)`` over seeds, the way every claim prints a spread."""
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f} (min {values.min():.3f}, max {values.max():.3f})"


