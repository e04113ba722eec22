"""Chapter 4's experiments: overfitting, weight decay, Dropout, AdamW, early stopping (numpy only).

The notebook and the claim tests (``tests/test_claims_ch04.py``) call the same functions over the same
seeds (``lib.chapters.claim_seeds()``), so every statistic the chapter prints is the one the tests assert.

The setting follows Saito (§6.4) — few training images, a network with far more weights than images,
plain SGD — sized so that ten seeds of every arm fit in a few seconds:

- 200 training and 200 validation images of the 8×8 digits, one hidden ReLU layer of 200 units
  (about 15,000 weights), mini-batches of 20, SGD at learning rate 0.2 for 30 epochs, float32. One
  hidden layer keeps the run away from the deep-net instability the chapter's earlier 7-layer version
  sat on (at lr 0.1 it could collapse to chance on some seeds and BLAS kernels);
- ``label_noise`` (20 %) of the training and validation labels are flipped to another class, so that
  memorizing shows: a network that fits flipped labels has learned noise. Test labels stay clean.

Every random draw has its own stream, ``np.random.default_rng([seed, k])`` with one ``k`` per purpose
(:data:`STREAMS`): the split, the two label flips, the initial weights, the dropout masks and the
mini-batch order never share a generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lib.data import count_classes, load_dataset
from lib.layers import Dropout
from lib.networks import MultiLayerNet
from lib.optimizers import SGD, Adam, AdamW
from lib.training import History, train

__all__ = [
    "HIDDEN", "N_TRAIN", "N_VALIDATION", "EPOCHS", "LR", "BATCH_SIZE", "LABEL_NOISE", "LAMBDA", "LARGE_LAMBDA",
    "DROPOUT_RATIO", "PATIENCE", "EXPLORER_LAMBDAS", "EXPLORER_RATIOS", "STREAMS", "stream",
    "RegularizationData", "Snapshot", "Run", "Spread", "Paired", "Study", "Grid",
    "flip_labels", "make_data", "build_network", "train_run", "run_study", "explorer_grid", "weight_norm",
    "early_stopping", "OverfittingStats", "overfitting_stats", "WeightDecayStats", "weight_decay_stats",
    "DropoutStats", "dropout_stats", "EarlyStoppingStats", "early_stopping_stats", "Comparison", "comparison",
    "ExpectationStats", "dropout_expectation", "adam_decay_paths", "DecayComparison", "decay_comparison",
]

HIDDEN = (200,)
N_TRAIN = 200
N_VALIDATION = 200
EPOCHS = 20
LR = 0.3
BATCH_SIZE = 20
LABEL_NOISE = 0.2
LAMBDA = 0.01          # the chapter's weight decay
LARGE_LAMBDA = 0.1     # ten times more: the network underfits
DROPOUT_RATIO = 0.5
PATIENCE = 5
EXPLORER_LAMBDAS = (0.0, 0.003, 0.01, 0.03, 0.1)
EXPLORER_RATIOS = (0.0, 0.5)

# One random stream per purpose: default_rng([seed, STREAMS[purpose]]).
STREAMS = {"split": 0, "train_label_flips": 1, "validation_label_flips": 2, "initial_weights": 3,
           "dropout_masks": 4, "batch_order": 5}


def stream(seed: int, purpose: str) -> np.random.Generator:
    """The generator for one purpose of one seed; no two purposes share a stream."""
    return np.random.default_rng(_stream_key(seed, purpose))


def _stream_key(seed: int, purpose: str) -> list[int]:
    if purpose not in STREAMS:
        raise ValueError(f"unknown random stream {purpose!r}; one of {sorted(STREAMS)}")
    return [int(seed), STREAMS[purpose]]


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
    def n_classes(self) -> int:
        return count_classes(self.train[1], self.validation[1], self.test[1])

    @property
    def flipped(self) -> np.ndarray:
        """Which training labels were flipped (boolean, one per training image)."""
        return self.train[1] != self.clean_train_labels

    @property
    def wrong_label_fraction(self) -> float:
        """Fraction of training labels that were flipped: a model that never reproduces a wrong
        label reaches at most 1 minus this on the (noisy) training labels — the "ceiling"."""
        return float(np.mean(self.flipped))


def make_data(dataset: str = "digits", *, n_train: int = N_TRAIN, n_validation: int = N_VALIDATION,
              label_noise: float = LABEL_NOISE, seed: int = 0, dtype=np.float32) -> RegularizationData:
    """``n_train`` training and ``n_validation`` validation samples drawn (with ``seed``) from the
    data set's training split, ``label_noise`` of their labels flipped; the clean test split."""
    (x, t), test = load_dataset(dataset, seed=0, dtype=dtype)
    if n_train + n_validation > len(x):
        raise ValueError(f"{dataset} has {len(x)} training samples, fewer than {n_train} + {n_validation}.")
    chosen = stream(seed, "split").choice(len(x), size=n_train + n_validation, replace=False)
    train_idx, val_idx = chosen[:n_train], chosen[n_train:]
    n_classes = count_classes(t, test[1])
    t_train = flip_labels(t[train_idx], label_noise, n_classes, stream(seed, "train_label_flips"))
    t_val = flip_labels(t[val_idx], label_noise, n_classes, stream(seed, "validation_label_flips"))
    return RegularizationData(train=(x[train_idx], t_train), validation=(x[val_idx], t_val), test=test,
                              clean_train_labels=t[train_idx], label_noise=label_noise)


# --------------------------------------------------------------------------- one training run

def weight_norm(params: dict) -> float:
    """‖W‖ over all weight matrices (keys W1, W2, …) as one vector — what weight decay shrinks."""
    return math.sqrt(sum(float(np.vdot(v, v)) for k, v in params.items() if k.startswith("W")))


def build_network(data: RegularizationData, *, weight_decay_lambda: float = 0.0, dropout_ratio: float = 0.0,
                  seed: int = 0, hidden=HIDDEN) -> MultiLayerNet:
    """The chapter's network for ``data``: initial weights from the seed's ``initial_weights`` stream,
    dropout masks from its own ``dropout_masks`` stream."""
    x_train = data.train[0]
    network = MultiLayerNet(x_train.shape[1], list(hidden), data.n_classes, weight_decay_lambda=weight_decay_lambda,
                            use_dropout=dropout_ratio > 0, dropout_ratio=dropout_ratio,
                            seed=_stream_key(seed, "initial_weights"), dtype=x_train.dtype)
    masks = stream(seed, "dropout_masks")
    for layer in network.dropout_layers:
        layer.rng = masks
    return network


@dataclass(frozen=True)
class Snapshot:
    """The network of one epoch of a run, as the chapter scores it: accuracy on the noisy training
    labels, the true training labels, the noisy validation labels and the clean test labels; the fraction of flipped training
    labels it reproduces (``memorized``; NaN without label noise); ‖W‖ and ‖W − W₀‖."""

    epoch: int
    train_acc: float
    clean_train_acc: float
    validation_acc: float
    test_acc: float
    memorized: float
    weight_norm: float
    distance: float

    @property
    def gap(self) -> float:
        return self.train_acc - self.test_acc


@dataclass
class Run:
    """One training run: its History plus, per epoch (index 0 = before training), validation accuracy,
    accuracy on the true training labels, the memorized fraction, ‖W‖ and ‖W − W₀‖; and the final weights."""

    label: str
    history: History
    val_acc: list[float] = field(default_factory=list)
    clean_train_acc: list[float] = field(default_factory=list)
    memorized: list[float] = field(default_factory=list)
    weight_norm: list[float] = field(default_factory=list)
    distance: list[float] = field(default_factory=list)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    per_epoch: bool = True               # False: only the last epoch was measured (earlier entries are NaN)

    @property
    def epochs(self) -> int:
        return len(self.val_acc) - 1

    def at(self, epoch: int) -> Snapshot:
        return Snapshot(epoch=epoch, train_acc=self.history.train_acc[epoch],
                        clean_train_acc=self.clean_train_acc[epoch], validation_acc=self.val_acc[epoch],
                        test_acc=self.history.test_acc[epoch], memorized=self.memorized[epoch],
                        weight_norm=self.weight_norm[epoch], distance=self.distance[epoch])

    def final(self) -> Snapshot:
        """The weights a fixed-length run deploys: those after the last epoch."""
        return self.at(self.epochs)

    def early_stopped(self, patience: int = PATIENCE) -> Snapshot:
        """The weights early stopping on the validation curve keeps."""
        best, _ = early_stopping(self.curves(), patience)
        return self.at(best)

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


def _optimizer(name: str, lr: float | None, decoupled_weight_decay: float):
    if name == "sgd":
        return SGD(lr=LR if lr is None else lr)
    if name == "adam":
        return Adam(lr=0.001 if lr is None else lr)
    if name == "adamw":
        return AdamW(lr=0.001 if lr is None else lr, weight_decay=decoupled_weight_decay)
    raise ValueError(f"optimizer must be 'sgd', 'adam' or 'adamw', got {name!r}")


def train_run(data: RegularizationData, *, weight_decay_lambda: float = 0.0, dropout_ratio: float = 0.0,
              optimizer: str = "sgd", lr: float | None = None, decoupled_weight_decay: float = 0.0,
              epochs: int = EPOCHS, seed: int = 0, hidden=HIDDEN, per_epoch: bool = True) -> Run:
    """Train the chapter's network on ``data.train``, recording after every epoch train/test accuracy
    (in the History), validation accuracy, the memorized fraction, ‖W‖ and ‖W − W₀‖ (in the Run).

    ``weight_decay_lambda`` is the L2 penalty in the loss (its gradient λW goes through the optimizer);
    ``decoupled_weight_decay`` is AdamW's λ (``optimizer='adamw'``).

    ``per_epoch=False`` measures only the network after the last epoch, on the same full sets; every
    earlier entry is NaN. Training is the same either way (measuring draws no random numbers and the
    evaluation subset of ``train`` has its own stream), so the final values are identical — measuring
    every epoch just costs as much as the training itself.
    """
    opt = _optimizer(optimizer, lr, decoupled_weight_decay)
    network = build_network(data, weight_decay_lambda=weight_decay_lambda, dropout_ratio=dropout_ratio,
                            seed=seed, hidden=hidden)
    x_val, t_val = data.validation
    x_train, t_train = data.train
    flipped = data.flipped
    both = np.concatenate([x_val, x_train])  # one forward pass per epoch for validation and memorization
    run = Run(label=_label(weight_decay_lambda or decoupled_weight_decay, dropout_ratio, optimizer), history=History(),
              per_epoch=per_epoch)
    initial = {k: v.copy() for k, v in network.params.items() if k.startswith("W")}

    def measure(epoch=0, history=None):
        predicted = network.predict(both, train_flg=False).argmax(axis=1)
        run.val_acc.append(float(np.mean(predicted[:len(t_val)] == t_val)))
        on_train = predicted[len(t_val):]
        run.clean_train_acc.append(float(np.mean(on_train == data.clean_train_labels)))
        run.memorized.append(float(np.mean(on_train[flipped] == t_train[flipped])) if flipped.any() else math.nan)
        run.weight_norm.append(weight_norm(network.params))
        run.distance.append(weight_norm({k: network.params[k] - w0 for k, w0 in initial.items()}))

    if per_epoch:
        measure()
        run.history = train(network, opt, (data.train, data.test), epochs=epochs, batch_size=BATCH_SIZE,
                            seed=_stream_key(seed, "batch_order"), callback=measure)
    else:
        # train() evaluates one sample per epoch (next to nothing); the last epoch is measured in full below.
        run.history = train(network, opt, (data.train, data.test), epochs=epochs, batch_size=BATCH_SIZE,
                            seed=_stream_key(seed, "batch_order"), eval_size=1)
        _measure_last_epoch_only(run, network, data, measure)
    run.weights = {k: v.copy() for k, v in network.params.items() if k.startswith("W")}
    return run


def _measure_last_epoch_only(run: Run, network, data: RegularizationData, measure) -> None:
    """Fill ``run`` (and its History's evaluation lists) with NaN for every epoch but the last, and the
    last epoch's values on the full sets, as a per-epoch run would have them."""
    completed = run.history.epochs_completed
    earlier = [math.nan] * completed
    history = run.history
    train_loss, train_acc = network.evaluate(*data.train)
    test_loss, test_acc = network.evaluate(*data.test)
    history.train_eval_loss = earlier + [float(train_loss)]
    history.train_acc = earlier + [float(train_acc)]
    history.test_loss = earlier + [float(test_loss)]
    history.test_acc = earlier + [float(test_acc)]
    measure()
    for values in (run.val_acc, run.clean_train_acc, run.memorized, run.weight_norm, run.distance):
        values[:0] = earlier


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


# --------------------------------------------------------------------------- statistics over seeds

@dataclass(frozen=True)
class Spread:
    """One quantity measured once per seed."""

    values: np.ndarray

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else 0.0

    def count(self, condition) -> int:
        """In how many seeds ``condition(value)`` holds."""
        return int(sum(bool(condition(v)) for v in self.values))

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {self.std:.3f}"


@dataclass(frozen=True)
class Paired:
    """``a − b`` per seed, for two quantities measured on the same seeds."""

    a: np.ndarray
    b: np.ndarray

    @property
    def differences(self) -> np.ndarray:
        return np.asarray(self.a) - np.asarray(self.b)

    @property
    def mean(self) -> float:
        return float(np.mean(self.differences))

    @property
    def std(self) -> float:
        d = self.differences
        return float(np.std(d, ddof=1)) if len(d) > 1 else 0.0

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def wins(self) -> int:
        """Seeds in which a > b."""
        return int(np.sum(self.differences > 0))

    @property
    def losses(self) -> int:
        """Seeds in which a < b."""
        return int(np.sum(self.differences < 0))

    def __str__(self) -> str:
        return f"{self.mean:+.3f} ± {self.std:.3f} (higher in {self.wins} of {self.n} seeds, lower in {self.losses})"


def _spread(values) -> Spread:
    return Spread(np.asarray(list(values), dtype=float))


def _paired(a, b) -> Paired:
    return Paired(np.asarray(list(a), dtype=float), np.asarray(list(b), dtype=float))


# --------------------------------------------------------------------------- the study: every arm, every seed

@dataclass
class Study:
    """Every run the chapter's claims rest on, one per seed and arm (the same seeds for every arm,
    so arms compare seed by seed)."""

    seeds: tuple[int, ...]
    data: tuple[RegularizationData, ...]
    clean: tuple[Run, ...]               # clean labels, no regularization
    none: tuple[Run, ...]                # flipped labels, no regularization
    weight_decay: tuple[Run, ...]        # λ = LAMBDA
    large_weight_decay: tuple[Run, ...]  # λ = LARGE_LAMBDA
    dropout: tuple[Run, ...]             # dropout ratio DROPOUT_RATIO


def run_study(seeds, dataset: str = "digits") -> Study:
    """Train every arm on every seed (five runs per seed).

    Runs are measured after every epoch where something reads their curves — every arm of the first
    seed (the figures and the explorer), and on every seed the unregularized runs (early stopping, the
    test-accuracy peak) and the dropout runs (their epoch-to-epoch jitter); the other runs only after
    their last epoch, which gives the same final values at half the cost."""
    seeds = tuple(int(s) for s in seeds)
    data = tuple(make_data(dataset, seed=s) for s in seeds)

    def arm(datasets, per_epoch_everywhere=False, **settings):
        return tuple(train_run(d, seed=s, per_epoch=per_epoch_everywhere or i == 0, **settings)
                     for i, (d, s) in enumerate(zip(datasets, seeds)))

    clean_data = tuple(make_data(dataset, label_noise=0.0, seed=s) for s in seeds)
    return Study(seeds=seeds, data=data, clean=arm(clean_data),
                 none=arm(data, per_epoch_everywhere=True),
                 weight_decay=arm(data, weight_decay_lambda=LAMBDA),
                 large_weight_decay=arm(data, weight_decay_lambda=LARGE_LAMBDA),
                 dropout=arm(data, per_epoch_everywhere=True, dropout_ratio=DROPOUT_RATIO))


@dataclass
class Grid:
    """Runs of one seed over λ × dropout ratio, for the explorer."""

    lambdas: tuple[float, ...]
    ratios: tuple[float, ...]
    runs: dict[tuple[float, float], Run]
    data: RegularizationData

    def __getitem__(self, key: tuple[float, float]) -> Run:
        return self.runs[key]


def explorer_grid(study: Study, lambdas=EXPLORER_LAMBDAS, ratios=EXPLORER_RATIOS, *, index: int = 0) -> Grid:
    """The runs of the study's ``index``-th seed over ``lambdas`` × ``ratios``: runs the study already
    has with their per-epoch curves are reused, the others trained."""
    seed, data = study.seeds[index], study.data[index]
    known = {(0.0, 0.0): study.none[index], (LAMBDA, 0.0): study.weight_decay[index],
             (LARGE_LAMBDA, 0.0): study.large_weight_decay[index], (0.0, DROPOUT_RATIO): study.dropout[index]}
    runs = {}
    for lam in lambdas:
        for ratio in ratios:
            reused = known.get((lam, ratio))
            runs[(lam, ratio)] = reused if reused is not None and reused.per_epoch else train_run(
                data, weight_decay_lambda=lam, dropout_ratio=ratio, seed=seed)
    return Grid(lambdas=tuple(lambdas), ratios=tuple(ratios), runs=runs, data=data)


# --------------------------------------------------------------------------- §1 overfitting

@dataclass(frozen=True)
class OverfittingStats:
    clean_train_acc: Spread      # clean labels: training accuracy of the final weights
    clean_gap: Spread            # clean labels: train − test
    above_ceiling: Spread        # flipped labels: training accuracy minus the ceiling 1 − (flipped fraction)
    memorized: Spread            # flipped labels: fraction of the flipped labels reproduced
    gap: Spread                  # flipped labels: train − test
    peak_minus_final: Spread     # flipped labels: best test accuracy along the way minus the final one
    peak_epoch: Spread

    def __str__(self) -> str:
        n = len(self.gap.values)
        return "\n".join([
            f"over {n} seeds (mean ± standard deviation):",
            f"  clean labels:   train accuracy {self.clean_train_acc}, gap train − test {self.clean_gap}",
            f"  flipped labels: train accuracy − ceiling {self.above_ceiling} "
            f"(above the ceiling in {self.above_ceiling.count(lambda v: v > 0)} of {n} seeds)",
            f"                  flipped labels reproduced {self.memorized}, gap train − test {self.gap}",
            f"                  test accuracy peaks at epoch {self.peak_epoch.mean:.0f} ± {self.peak_epoch.std:.0f} "
            f"of {EPOCHS}; peak − final {self.peak_minus_final}",
        ])


def overfitting_stats(study: Study) -> OverfittingStats:
    finals = [run.final() for run in study.none]
    return OverfittingStats(
        clean_train_acc=_spread(run.final().train_acc for run in study.clean),
        clean_gap=_spread(run.final().gap for run in study.clean),
        above_ceiling=_spread(f.train_acc - (1 - d.wrong_label_fraction) for f, d in zip(finals, study.data)),
        memorized=_spread(f.memorized for f in finals),
        gap=_spread(f.gap for f in finals),
        peak_minus_final=_spread(max(run.history.test_acc) - run.final().test_acc for run in study.none),
        peak_epoch=_spread(int(np.argmax(run.history.test_acc)) for run in study.none),
    )


# --------------------------------------------------------------------------- §2 weight decay

@dataclass(frozen=True)
class WeightDecayStats:
    norm_ratio: Spread           # ‖W‖ with λ divided by ‖W‖ without
    memorized: Paired            # λ vs none
    memorized_with_decay: Spread
    gap: Paired                  # λ vs none
    test_acc: Paired             # λ vs none
    large_test_acc: Paired       # LARGE_LAMBDA vs LAMBDA: underfitting costs test accuracy
    large_clean_train_acc: Paired  # LARGE_LAMBDA vs LAMBDA, on the CLEAN training labels

    def __str__(self) -> str:
        return "\n".join([
            f"λ={LAMBDA:g} against no regularization, paired by seed (mean ± sd of the difference):",
            f"  ‖W‖ with λ / ‖W‖ without        {self.norm_ratio}",
            f"  flipped labels reproduced       {self.memorized}   (with λ: {self.memorized_with_decay})",
            f"  gap train − test                {self.gap}",
            f"  test accuracy                   {self.test_acc}",
            f"λ={LARGE_LAMBDA:g} against λ={LAMBDA:g}:",
            f"  test accuracy                   {self.large_test_acc}",
            f"  accuracy on the clean training labels {self.large_clean_train_acc}",
        ])


def weight_decay_stats(study: Study) -> WeightDecayStats:
    none = [run.final() for run in study.none]
    decayed = [run.final() for run in study.weight_decay]
    large = [run.final() for run in study.large_weight_decay]
    return WeightDecayStats(
        norm_ratio=_spread(d.weight_norm / n.weight_norm for d, n in zip(decayed, none)),
        memorized=_paired((d.memorized for d in decayed), (n.memorized for n in none)),
        memorized_with_decay=_spread(d.memorized for d in decayed),
        gap=_paired((d.gap for d in decayed), (n.gap for n in none)),
        test_acc=_paired((d.test_acc for d in decayed), (n.test_acc for n in none)),
        large_test_acc=_paired((g.test_acc for g in large), (d.test_acc for d in decayed)),
        large_clean_train_acc=_paired((g.clean_train_acc for g in large), (d.clean_train_acc for d in decayed)),
    )


# --------------------------------------------------------------------------- §3 dropout

def _jitter(curve) -> float:
    """Mean |change| of a per-epoch curve from one epoch to the next (epochs 1 … end): how noisy it is."""
    values = np.asarray(curve[1:], dtype=float)
    return float(np.mean(np.abs(np.diff(values))))


@dataclass(frozen=True)
class DropoutStats:
    memorized: Paired            # dropout vs none
    gap: Paired
    test_acc: Paired
    test_jitter: Paired          # epoch-to-epoch |Δ test accuracy|, dropout vs none
    train_jitter: Paired         # epoch-to-epoch |Δ training accuracy|, dropout vs none
    early_train_acc: Paired      # training accuracy after a third of the epochs, dropout vs none

    def __str__(self) -> str:
        return "\n".join([
            f"dropout {DROPOUT_RATIO:g} against no regularization, paired by seed (mean ± sd of the difference):",
            f"  flipped labels reproduced                     {self.memorized}",
            f"  gap train − test                              {self.gap}",
            f"  test accuracy                                 {self.test_acc}",
            f"  training accuracy after a third of the epochs {self.early_train_acc}",
            f"  epoch-to-epoch |change| of train accuracy     {self.train_jitter}",
            f"  epoch-to-epoch |change| of test accuracy      {self.test_jitter}",
        ])


def dropout_stats(study: Study) -> DropoutStats:
    none = [run.final() for run in study.none]
    dropped = [run.final() for run in study.dropout]
    return DropoutStats(
        memorized=_paired((d.memorized for d in dropped), (n.memorized for n in none)),
        gap=_paired((d.gap for d in dropped), (n.gap for n in none)),
        test_acc=_paired((d.test_acc for d in dropped), (n.test_acc for n in none)),
        test_jitter=_paired((_jitter(r.history.test_acc) for r in study.dropout),
                            (_jitter(r.history.test_acc) for r in study.none)),
        train_jitter=_paired((_jitter(r.history.train_acc) for r in study.dropout),
                             (_jitter(r.history.train_acc) for r in study.none)),
        early_train_acc=_paired((r.history.train_acc[r.epochs // 3] for r in study.dropout),
                                (r.history.train_acc[r.epochs // 3] for r in study.none)),
    )


# --------------------------------------------------------------------------- §4 early stopping

@dataclass(frozen=True)
class EarlyStoppingStats:
    patience: int
    best_epoch: Spread
    stop_epoch: Spread
    test_acc: Paired             # kept weights vs final weights
    memorized: Paired            # kept weights vs final weights
    distance_ratio: Spread       # ‖W − W₀‖ at the kept epoch / after the last epoch

    def __str__(self) -> str:
        n = len(self.best_epoch.values)
        return "\n".join([
            f"early stopping on validation accuracy, patience {self.patience}, over {n} seeds:",
            f"  kept epoch {self.best_epoch.mean:.1f} ± {self.best_epoch.std:.1f}, training stops at epoch "
            f"{self.stop_epoch.mean:.1f} ± {self.stop_epoch.std:.1f} of {EPOCHS}",
            f"  test accuracy, kept − final weights        {self.test_acc}",
            f"  flipped labels reproduced, kept − final    {self.memorized}",
            f"  ‖W − W₀‖ kept / final                      {self.distance_ratio}",
        ])


def early_stopping_stats(study: Study, patience: int = PATIENCE) -> EarlyStoppingStats:
    stops = [early_stopping(run.curves(), patience) for run in study.none]
    kept = [run.at(best) for run, (best, _) in zip(study.none, stops)]
    final = [run.final() for run in study.none]
    return EarlyStoppingStats(
        patience=patience,
        best_epoch=_spread(best for best, _ in stops),
        stop_epoch=_spread(stop for _, stop in stops),
        test_acc=_paired((k.test_acc for k in kept), (f.test_acc for f in final)),
        memorized=_paired((k.memorized for k in kept), (f.memorized for f in final)),
        distance_ratio=_spread(k.distance / f.distance for k, f in zip(kept, final)),
    )


# --------------------------------------------------------------------------- §5 side by side

@dataclass(frozen=True)
class ArmScore:
    """One remedy scored like every other: the weights it would deploy (final weights, or the early-
    stopped ones), one epoch each, test accuracy on clean labels."""

    name: str
    test_acc: Spread
    gap: Spread
    memorized: Spread
    against_none: Paired         # test accuracy, this arm − no regularization


@dataclass(frozen=True)
class Comparison:
    arms: tuple[ArmScore, ...]
    best_counts: tuple[int, ...]  # per arm: in how many seeds it has the highest test accuracy (ties shared)

    def arm(self, name: str) -> ArmScore:
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise KeyError(name)

    def __str__(self) -> str:
        n = len(self.arms[0].test_acc.values)
        lines = [f"deployed weights, over {n} seeds (mean ± sd); test accuracy against no regularization "
                 "paired by seed; best = highest test accuracy of the seed",
                 f"{'':>22} {'test accuracy':>15} {'gap':>15} {'flipped reproduced':>19}   {'test − none':<44} best"]
        for arm, best in zip(self.arms, self.best_counts):
            versus = "" if arm.name == "no regularization" else str(arm.against_none)
            lines.append(f"{arm.name:>22} {str(arm.test_acc):>15} {str(arm.gap):>15} {str(arm.memorized):>19}   "
                         f"{versus:<44} {best}")
        return "\n".join(lines)


COMPARED_ARMS = ("no regularization", "weight decay", "dropout", "early stopping")


def comparison(study: Study, patience: int = PATIENCE) -> Comparison:
    """The remedies side by side, every one scored by the test accuracy of the weights it deploys."""
    snapshots = {"no regularization": [run.final() for run in study.none],
                 "weight decay": [run.final() for run in study.weight_decay],
                 "dropout": [run.final() for run in study.dropout],
                 "early stopping": [run.early_stopped(patience) for run in study.none]}
    none = snapshots["no regularization"]
    arms = tuple(ArmScore(name=name, test_acc=_spread(s.test_acc for s in snaps),
                          gap=_spread(s.gap for s in snaps), memorized=_spread(s.memorized for s in snaps),
                          against_none=_paired((s.test_acc for s in snaps), (n.test_acc for n in none)))
                 for name, snaps in snapshots.items())
    table = np.array([[s.test_acc for s in snaps] for snaps in snapshots.values()])
    best = table == table.max(axis=0, keepdims=True)
    return Comparison(arms=arms, best_counts=tuple(int(c) for c in best.sum(axis=1)))


# --------------------------------------------------------------------------- dropout conventions

@dataclass(frozen=True)
class ExpectationStats:
    """Both Dropout conventions: how far the average training-mode output over ``draws`` masks lies
    from the test-mode output, in Monte-Carlo standard errors (mean |z| over the units; pure sampling
    noise gives about √(2/π) ≈ 0.8)."""

    dropout_ratio: float
    draws: int
    book: Spread
    inverted: Spread

    def __str__(self) -> str:
        n = len(self.book.values)
        return "\n".join([
            f"mean training output vs test output, {self.draws:,} masks at r = {self.dropout_ratio:g}, "
            f"deviation in standard errors (mean |z| over 50 units), over {n} seeds:",
            f"  book convention     {self.book}",
            f"  inverted convention {self.inverted}",
            f"  sampling noise alone gives about {math.sqrt(2 / math.pi):.2f}",
        ])


def _mean_abs_z(layer: Dropout, x: np.ndarray, draws: int, keep: float) -> float:
    batch = np.broadcast_to(x, (draws, x.size))
    train_mean = layer.forward(batch, train_flg=True).mean(axis=0)
    test_out = layer.forward(x, train_flg=False)
    # Over masks a unit's training output is (x/keep or x) × Bernoulli(keep): its standard deviation is
    # that value × √(keep(1 − keep)), and the standard error of a mean of `draws` masks is that over √draws.
    kept_output = x / keep if layer.inverted else x
    standard_error = kept_output * math.sqrt(keep * (1 - keep) / draws)
    return float(np.mean(np.abs(train_mean - test_out) / standard_error))


def dropout_expectation(seeds, dropout_ratio: float = 0.5, *, draws: int = 20_000) -> ExpectationStats:
    """Average the training-mode output of both Dropout conventions over ``draws`` masks and compare
    it with their test-mode output, for one fixed input of 50 units per seed."""
    keep = 1 - dropout_ratio
    book, inverted = [], []
    for seed in seeds:
        x = stream(seed, "split").uniform(0.5, 2.0, size=50)
        for convention, out in ((False, book), (True, inverted)):
            layer = Dropout(dropout_ratio, inverted=convention, rng=stream(seed, "dropout_masks"))
            out.append(_mean_abs_z(layer, x, draws, keep))
    return ExpectationStats(dropout_ratio=dropout_ratio, draws=draws, book=_spread(book), inverted=_spread(inverted))


# --------------------------------------------------------------------------- L2 in Adam vs AdamW

def adam_decay_paths(lambdas=(0.001, 0.1), *, steps: int = 500, lr: float = 0.01,
                     w0: float = 1.0) -> dict[tuple[str, float], np.ndarray]:
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


@dataclass(frozen=True)
class DecayComparison:
    threshold: float
    adam_l2_steps: dict[float, int]     # per λ: the first step at which Adam + L2 brings |w| below threshold
    adamw_final: dict[float, float]     # per λ: |w| after AdamW's last step

    def __str__(self) -> str:
        return "\n".join(f"λ={lam:g}: Adam + L2 brings |w| below {self.threshold:g} after {self.adam_l2_steps[lam]} "
                         f"steps; AdamW leaves |w| = {self.adamw_final[lam]:.3f} after the last step"
                         for lam in sorted(self.adam_l2_steps))


def decay_comparison(paths: dict, threshold: float = 0.01) -> DecayComparison:
    """From :func:`adam_decay_paths`: the step at which Adam + L2 first brings |w| below
    ``threshold`` (per λ), and |w| after the last step of AdamW (per λ)."""
    adam_steps, adamw_final = {}, {}
    for (method, lam), path in paths.items():
        if method == "Adam + L2":
            below = np.flatnonzero(path < threshold)
            adam_steps[lam] = int(below[0]) if below.size else len(path)
        else:
            adamw_final[lam] = float(path[-1])
    return DecayComparison(threshold=threshold, adam_l2_steps=adam_steps, adamw_final=adamw_final)
