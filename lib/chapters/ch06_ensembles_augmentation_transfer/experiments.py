"""Chapter 6's experiments: model ensembles, data augmentation, noise at training and averaging at test,
transfer learning and fine-tuning.

The notebook and the claim tests (``tests/test_claims_ch06.py``) call the same functions with the same
seeds (``lib.chapters.claim_seeds()``), so every statistic the chapter prints is the one the tests assert.

Every network is a ``lib.networks.MultiLayerNet`` trained by ``lib.training.train``; the chapter adds
only what those two do not have: augmentation redrawn every epoch, an exponential moving average of the
weights, a cyclic learning rate, and optimizers that update only some of the parameters (frozen layers).
Everything is float64 and small (8×8 digits, two hidden layers of 32 units, a few hundred steps), so that
ten seeds of every experiment run in seconds and no claim rests on the last bit of a rounding.

One seed never feeds two random draws: every draw takes its own stream ``[seed, stream, …]`` (NumPy's
``default_rng`` accepts such a list, and so do ``MultiLayerNet(seed=…)`` and ``train(seed=…)``).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from lib.data import load_dataset
from lib.layers import softmax
from lib.networks import MultiLayerNet
from lib.optimizers import CosineDecay, Momentum, Schedule
from lib.training import train

__all__ = [
    "HIDDEN", "LR", "MOMENTUM", "BATCH_SIZE", "ARMS",
    "digits", "stream", "predict_proba", "accuracy", "fit",
    "WeightAverage", "CosineRestarts", "ParameterGroups", "snapshot_cycle",
    "disagreement", "brier_decomposition", "EnsembleStudy", "ensemble_study",
    "shift_images", "transform_images", "augment", "rotate_half_turn", "shifted_views", "augmented_views",
    "test_time_average", "average_over_views", "AugmentationStudy", "augmentation_study",
    "accuracy_by_angle", "RotationProbe", "rotation_probe",
    "TransferStudy", "transfer_study", "parity", "fine_tune",
    "rate", "mean_spread",
]

HIDDEN = (32, 32)
LR = 0.1             # η of Momentum for every network trained from scratch
MOMENTUM = 0.9       # μ
BATCH_SIZE = 50
EPOCH_SAMPLES = 300  # a training set smaller than this is repeated so that one epoch is a few steps long
VERSIONS = 8         # random versions drawn per training image when augmenting
EVAL_SIZE = 8        # train()'s per-epoch bookkeeping looks at a few samples only; test accuracy is measured after training

# Random streams: each kind of draw has its own number, so no seed feeds two draws.
DATA, INIT, ORDER, AUGMENT, PERMUTE, HEAD = range(1, 7)


# --------------------------------------------------------------------------- data and training

@lru_cache(maxsize=4)
def _load(dataset: str):
    (x, t), (x_test, t_test) = load_dataset(dataset, seed=0)
    for array in (x, t, x_test, t_test):
        array.flags.writeable = False
    return (x, t), (x_test, t_test)


def digits(dataset: str = "digits"):
    """``(x_train, t_train), (x_test, t_test)``: the data set's fixed split (read-only arrays, loaded once)."""
    return _load(dataset)


def stream(seed: int, *keys: int) -> list[int]:
    """The seed of one random draw: ``[seed, *keys]`` (an argument for ``np.random.default_rng``)."""
    return [int(seed), *(int(key) for key in keys)]


def predict_proba(network, x: np.ndarray) -> np.ndarray:
    """Class probabilities (softmax of the scores) in evaluation mode, shape (N, classes)."""
    return softmax(network.predict(x, train_flg=False))


def accuracy(probabilities: np.ndarray, t: np.ndarray) -> float:
    """Fraction of rows whose most probable class is the label."""
    return float(np.mean(np.argmax(probabilities, axis=1) == t))


def make_network(n_classes: int, seed, *, input_size: int = 64, hidden=HIDDEN) -> MultiLayerNet:
    return MultiLayerNet(input_size, list(hidden), n_classes, seed=seed)


def fit(network, optimizer, x: np.ndarray, t: np.ndarray, *, steps: int, seed, batch_size: int = BATCH_SIZE,
        schedule: Schedule | None = None, augment_fn: Callable | None = None, callback: Callable | None = None):
    """Train ``network`` for about ``steps`` mini-batch steps with ``lib.training.train``.

    - A training set smaller than ``EPOCH_SAMPLES`` is repeated, so an "epoch" is a few steps, not one.
    - ``schedule`` is applied per iteration.
    - ``augment_fn(x, rng) -> random versions of x`` (same shape, labels unchanged): every epoch shows each
      training image as a random version of itself. To keep that cheap, ``VERSIONS`` versions of every
      image are drawn once, before training, and each epoch picks one of them per image at random.
    - ``callback(epoch, history)`` as in ``train``.

    Returns train's ``History``. Test accuracy is measured afterwards (``predict_proba``), on the full test
    set; train's own per-epoch evaluation looks at ``EVAL_SIZE`` samples only, to stay cheap.
    """
    repeats = max(1, math.ceil(EPOCH_SAMPLES / len(x)))
    clean = np.concatenate([x] * repeats) if repeats > 1 else np.asarray(x)
    labels = np.concatenate([t] * repeats) if repeats > 1 else np.asarray(t)
    batch_size = min(batch_size, len(clean))
    epochs = max(1, math.ceil(steps / (len(clean) // batch_size)))
    each_epoch = callback
    images = clean
    if augment_fn is not None:
        rng = np.random.default_rng([*np.atleast_1d(seed), AUGMENT])
        versions = augment_fn(np.concatenate([x] * VERSIONS), rng).reshape(VERSIONS, len(x), -1)
        images = clean.copy()
        image_index = np.tile(np.arange(len(x)), repeats)

        def redraw():
            images[...] = versions[rng.integers(0, VERSIONS, len(images)), image_index]

        def each_epoch(epoch, history):
            redraw()
            return callback(epoch, history) if callback is not None else False

        redraw()
    return train(network, optimizer, ((images, labels), (images, labels)), epochs=epochs, batch_size=batch_size,
                 schedule=schedule, schedule_per="iteration", eval_size=EVAL_SIZE, seed=seed, callback=each_epoch)


def rate(condition) -> tuple[int, int]:
    """``(how many are True, how many)`` of a boolean array: a claim "in k of n seeds"."""
    condition = np.asarray(condition, dtype=bool)
    return int(condition.sum()), int(condition.size)


def mean_spread(values) -> tuple[float, float]:
    """Mean and standard deviation (ddof=1) over seeds."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


# --------------------------------------------------------------------------- optimizer wrappers

class WeightAverage:
    """Polyak averaging（权重平均）: wraps an optimizer and, after every update, moves an exponential moving
    average of the parameters, θ̄ ← β·θ̄ + (1 − β)·θ. ``averaged`` holds θ̄ per key; the network itself
    trains exactly as with the wrapped optimizer."""

    def __init__(self, optimizer, params: dict, decay: float = 0.95):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.optimizer = optimizer
        self.decay = decay
        self.averaged = {key: value.copy() for key, value in params.items()}

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    @lr.setter
    def lr(self, value) -> None:
        self.optimizer.lr = value

    def update(self, params: dict, grads: dict) -> None:
        self.optimizer.update(params, grads)
        for key, value in params.items():
            average = self.averaged[key]
            average *= self.decay
            average += (1.0 - self.decay) * value


class CosineRestarts(Schedule):
    """SGDR's cosine with warm restarts (Loshchilov & Hutter 2017): ``CosineDecay`` over each cycle of
    ``cycle_steps`` steps, then back to ``lr0``. The end of a cycle, where the rate is lowest, is where a
    snapshot ensemble takes its members."""

    def __init__(self, lr0: float, cycle_steps: int, lr_min: float = 0.0):
        self.cosine = CosineDecay(lr0, cycle_steps, lr_min)
        self.cycle_steps = cycle_steps

    def _value(self, step):
        return self.cosine(step % self.cycle_steps)


class ParameterGroups:
    """Update some parameters with one optimizer, others with another, and leave the rest alone.

    ``groups`` maps a tuple of parameter keys to the optimizer for them. A key in no group is **frozen**:
    it is never handed to an optimizer, so nothing — not momentum left from earlier steps, not a decoupled
    weight decay — can move it. ``lr`` is the largest group's learning rate (read-only: schedules set a
    single rate and do not apply here)."""

    def __init__(self, groups: dict[tuple[str, ...], object]):
        seen: set[str] = set()
        for keys in groups:
            if seen & set(keys):
                raise ValueError(f"parameter keys {sorted(seen & set(keys))} are in two groups")
            seen |= set(keys)
        self.groups = groups

    @property
    def lr(self) -> float:
        return max(optimizer.lr for optimizer in self.groups.values())

    @property
    def trainable(self) -> set[str]:
        return {key for keys in self.groups for key in keys}

    def update(self, params: dict, grads: dict) -> None:
        for keys, optimizer in self.groups.items():
            optimizer.update({key: params[key] for key in keys}, {key: grads[key] for key in keys})


# --------------------------------------------------------------------------- 1. ensembles

def disagreement(member_probabilities: np.ndarray) -> float:
    """Mean over pairs of members of the fraction of samples the two label differently.

    ``member_probabilities`` has shape (members, samples, classes)."""
    labels = np.argmax(member_probabilities, axis=2)
    k = len(labels)
    if k < 2:
        return 0.0
    pairs = [np.mean(labels[i] != labels[j]) for i in range(k) for j in range(i + 1, k)]
    return float(np.mean(pairs))


def brier_decomposition(member_probabilities: np.ndarray, t: np.ndarray) -> tuple[float, float, float]:
    """The ambiguity decomposition of the squared error (Krogh & Vedelsby 1995) for averaged probabilities:

        mean_i ‖p_i − y‖²  =  ‖p̄ − y‖²  +  mean_i ‖p_i − p̄‖²

    averaged over samples (y one-hot, p̄ the members' mean). Returns ``(mean member error, ensemble error,
    spread)``: the ensemble's error is the average member's error minus how much the members disagree."""
    p = np.asarray(member_probabilities, dtype=float)
    y = np.eye(p.shape[2])[t]
    mean = p.mean(axis=0)
    member_error = float(np.mean(np.sum((p - y) ** 2, axis=2)))
    ensemble_error = float(np.mean(np.sum((mean - y) ** 2, axis=1)))
    spread = float(np.mean(np.sum((p - mean) ** 2, axis=2)))
    return member_error, ensemble_error, spread


ENSEMBLE_TRAIN = 200     # training images per seed
ENSEMBLE_MEMBERS = 4     # k = 1 … 5 independently trained networks
ENSEMBLE_STEPS = 40      # steps per member
SNAPSHOTS = 4            # cycles of the cosine-restart run, one snapshot at the end of each
SNAPSHOT_STEPS = 64      # the whole cosine-restart run: SNAPSHOTS cycles of 16 steps
SNAPSHOT_LR = 2 * LR     # each cycle restarts at this η and decays to 0 along a cosine
EMA_DECAY = 0.9


@dataclass
class EnsembleStudy:
    """Per seed (rows) the test accuracy of the average of the first k members' probabilities (columns
    k = 1 … K), of the best and of the mean member among them; the members' disagreement; the snapshot
    ensemble from one cosine-restart run; Polyak/EMA weights against the final weights of member 1."""

    seeds: tuple[int, ...]
    ensemble_acc: np.ndarray       # (S, K)
    best_member_acc: np.ndarray    # (S, K)
    mean_member_acc: np.ndarray    # (S, K)
    disagreement: np.ndarray       # (S,) between the K independent members
    brier: np.ndarray              # (S, 3): mean member error, ensemble error, spread (K members)
    snapshot_acc: np.ndarray       # (S,) average of the SNAPSHOTS snapshots
    snapshot_last_acc: np.ndarray  # (S,) the run's last snapshot alone (a single model at the same cost)
    snapshot_mean_acc: np.ndarray  # (S,) the mean snapshot
    snapshot_disagreement: np.ndarray  # (S,)
    final_acc: np.ndarray          # (S,) member 1, final weights
    final_loss: np.ndarray         # (S,) its test cross-entropy
    ema_acc: np.ndarray            # (S,) member 1, EMA weights
    ema_loss: np.ndarray           # (S,)
    example_probabilities: np.ndarray  # (K, N, C) at the first seed, for figures
    example_labels: np.ndarray

    @property
    def members(self) -> np.ndarray:
        return np.arange(1, self.ensemble_acc.shape[1] + 1)

    @property
    def gain_over_mean(self) -> np.ndarray:
        """Ensemble of all K minus the mean member, per seed."""
        return self.ensemble_acc[:, -1] - self.mean_member_acc[:, -1]

    @property
    def gain_over_best(self) -> np.ndarray:
        return self.ensemble_acc[:, -1] - self.best_member_acc[:, -1]

    @property
    def snapshot_gain_over_mean(self) -> np.ndarray:
        return self.snapshot_acc - self.snapshot_mean_acc

    @property
    def independent_same_size_acc(self) -> np.ndarray:
        """Independent ensemble with as many members as the snapshot ensemble (SNAPSHOTS× the cost)."""
        return self.ensemble_acc[:, SNAPSHOTS - 1]


def _cross_entropy(probabilities: np.ndarray, t: np.ndarray) -> float:
    return float(-np.mean(np.log(probabilities[np.arange(len(t)), t] + 1e-300)))


def _with_params(network, params: dict):
    clone = copy.deepcopy(network)
    for key, value in params.items():
        clone.params[key] = value
    return clone


def ensemble_study(seeds, dataset: str = "digits", *, n_train: int = ENSEMBLE_TRAIN, members: int = ENSEMBLE_MEMBERS,
                   steps: int = ENSEMBLE_STEPS, snapshots: int = SNAPSHOTS,
                   snapshot_steps: int = SNAPSHOT_STEPS) -> EnsembleStudy:
    """Train ``members`` networks per seed on the same ``n_train`` images (different initial weights and
    mini-batch orders), one cosine-restart run of ``steps`` steps with ``snapshots`` snapshots, and keep an
    EMA of member 1's weights."""
    (x, t), (x_test, t_test) = digits(dataset)
    n_classes = int(max(t.max(), t_test.max())) + 1
    seeds = tuple(seeds)
    rows = {name: [] for name in ("ensemble", "best", "mean", "disagree", "brier", "snap", "snap_last", "snap_mean",
                                  "snap_disagree", "final_acc", "final_loss", "ema_acc", "ema_loss")}
    example = None
    for seed in seeds:
        chosen = np.random.default_rng(stream(seed, DATA)).choice(len(x), n_train, replace=False)
        x_train, t_train = x[chosen], t[chosen]
        probabilities = []
        for member in range(members):
            network = make_network(n_classes, stream(seed, INIT, member), input_size=x.shape[1])
            optimizer = Momentum(LR, MOMENTUM)
            if member == 0:
                optimizer = WeightAverage(optimizer, network.params, EMA_DECAY)
            fit(network, optimizer, x_train, t_train, steps=steps, seed=stream(seed, ORDER, member))
            probabilities.append(predict_proba(network, x_test))
            if member == 0:
                ema_probabilities = predict_proba(_with_params(network, optimizer.averaged), x_test)
                rows["final_acc"].append(accuracy(probabilities[0], t_test))
                rows["final_loss"].append(_cross_entropy(probabilities[0], t_test))
                rows["ema_acc"].append(accuracy(ema_probabilities, t_test))
                rows["ema_loss"].append(_cross_entropy(ema_probabilities, t_test))
        probabilities = np.array(probabilities)
        singles = np.array([accuracy(p, t_test) for p in probabilities])
        rows["ensemble"].append([accuracy(probabilities[:k].mean(axis=0), t_test) for k in range(1, members + 1)])
        rows["best"].append([singles[:k].max() for k in range(1, members + 1)])
        rows["mean"].append([singles[:k].mean() for k in range(1, members + 1)])
        rows["disagree"].append(disagreement(probabilities))
        rows["brier"].append(brier_decomposition(probabilities, t_test))
        if example is None:
            example = probabilities

        snapshot_probabilities = _snapshot_run(x_train, t_train, x_test, n_classes, seed, snapshot_steps, snapshots)
        rows["snap"].append(accuracy(snapshot_probabilities.mean(axis=0), t_test))
        rows["snap_last"].append(accuracy(snapshot_probabilities[-1], t_test))
        rows["snap_mean"].append(np.mean([accuracy(p, t_test) for p in snapshot_probabilities]))
        rows["snap_disagree"].append(disagreement(snapshot_probabilities))
    a = {name: np.array(values) for name, values in rows.items()}
    return EnsembleStudy(seeds=seeds, ensemble_acc=a["ensemble"], best_member_acc=a["best"],
                         mean_member_acc=a["mean"], disagreement=a["disagree"], brier=a["brier"],
                         snapshot_acc=a["snap"], snapshot_last_acc=a["snap_last"], snapshot_mean_acc=a["snap_mean"],
                         snapshot_disagreement=a["snap_disagree"], final_acc=a["final_acc"],
                         final_loss=a["final_loss"], ema_acc=a["ema_acc"], ema_loss=a["ema_loss"],
                         example_probabilities=example, example_labels=np.array(t_test))


def snapshot_cycle(n_train: int = ENSEMBLE_TRAIN, steps: int = SNAPSHOT_STEPS,
                   snapshots: int = SNAPSHOTS) -> tuple[int, int]:
    """``(epochs per cycle, steps per epoch)`` of the snapshot run: cycles end with an epoch, where ``train``
    calls back and a snapshot can be taken."""
    repeats = max(1, math.ceil(EPOCH_SAMPLES / n_train))
    steps_per_epoch = (repeats * n_train) // BATCH_SIZE
    return max(1, round(steps / snapshots / steps_per_epoch)), steps_per_epoch


def _snapshot_run(x_train, t_train, x_test, n_classes, seed, steps, snapshots):
    """One run of about ``steps`` steps with a cosine-restart learning rate; the test probabilities at the
    end of each of its ``snapshots`` cycles."""
    network = make_network(n_classes, stream(seed, INIT, 100), input_size=x_train.shape[1])
    epochs_per_cycle, steps_per_epoch = snapshot_cycle(len(x_train), steps, snapshots)
    schedule = CosineRestarts(SNAPSHOT_LR, epochs_per_cycle * steps_per_epoch)
    taken = []

    def snapshot(epoch, history):
        if epoch % epochs_per_cycle == 0:
            taken.append(predict_proba(network, x_test))
        return False

    fit(network, Momentum(LR, MOMENTUM), x_train, t_train, steps=epochs_per_cycle * steps_per_epoch * snapshots,
        seed=stream(seed, ORDER, 100), schedule=schedule, callback=snapshot)
    return np.array(taken)


# --------------------------------------------------------------------------- 2. augmentation

def _side(x: np.ndarray) -> int:
    side = math.isqrt(x.shape[1])
    if side * side != x.shape[1]:
        raise ValueError(f"images must be flattened squares, got {x.shape[1]} pixels per image")
    return side


def shift_images(x: np.ndarray, dx, dy) -> np.ndarray:
    """Each flattened square image moved ``dx`` pixels right and ``dy`` down (per image, or one for all);
    pixels moved in from outside are 0 (nothing wraps around)."""
    n = len(x)
    dx = np.broadcast_to(np.asarray(dx, dtype=int), (n,))
    dy = np.broadcast_to(np.asarray(dy, dtype=int), (n,))
    return transform_images(x, np.zeros(n), dx, dy)


def transform_images(x: np.ndarray, angles, dx, dy) -> np.ndarray:
    """Rotate each flattened square image by ``angles`` degrees about its centre, then move it by
    (``dx``, ``dy``) pixels; bilinear interpolation, 0 outside the image. Integer moves without rotation
    are exact (every output pixel is one input pixel)."""
    x = np.asarray(x)
    side = _side(x)
    images = x.reshape(-1, side, side)
    n = len(images)
    angles, dx, dy = (np.broadcast_to(np.asarray(v, dtype=float), (n,))[:, None, None] for v in (angles, dx, dy))
    centre = (side - 1) / 2
    rows, cols = np.mgrid[0:side, 0:side]
    # For every output pixel, the point of the input it comes from: undo the move, then the rotation.
    u, v = cols[None] - centre - dx, rows[None] - centre - dy
    theta = np.deg2rad(angles)
    cos, sin = np.cos(theta), np.sin(theta)
    src_col = cos * u + sin * v + centre
    src_row = -sin * u + cos * v + centre
    col0, row0 = np.floor(src_col), np.floor(src_row)
    wc, wr = src_col - col0, src_row - row0
    col0, row0 = col0.astype(np.intp), row0.astype(np.intp)
    # Bilinear interpolation: each output pixel mixes the four input pixels around its source point.
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1))).reshape(n, -1)  # a border of zeros: outside is black
    first = np.arange(n)[:, None, None] * (side + 2) ** 2
    out = np.zeros(images.shape, dtype=np.result_type(images.dtype, float))
    # The padded rows and columns of the four neighbours (clipped once each: far outside lands on the border).
    row_start = [first + np.clip(row0 + dr + 1, 0, side + 1) * (side + 2) for dr in (0, 1)]
    column = [np.clip(col0 + dc + 1, 0, side + 1) for dc in (0, 1)]
    for dr, dc, weight in ((0, 0, (1 - wr) * (1 - wc)), (0, 1, (1 - wr) * wc), (1, 0, wr * (1 - wc)), (1, 1, wr * wc)):
        out += weight * padded.ravel()[row_start[dr] + column[dc]]
    return out.reshape(x.shape).astype(x.dtype, copy=False)


SHIFT_PROBABILITY = 0.25  # a quarter of the images move by one pixel (left, right, up or down)
MAX_ANGLE = 10.0         # degrees
NOISE = 0.05             # standard deviation of the added pixel noise (pixels are in [0, 1])
_STEPS = np.array([(1, 0), (-1, 0), (0, 1), (0, -1)])  # (dx, dy): right, left, down, up


def augment(x: np.ndarray, rng: np.random.Generator, *, shift_probability: float = SHIFT_PROBABILITY,
            max_angle: float = MAX_ANGLE, noise: float = NOISE) -> np.ndarray:
    """Label-preserving random versions of ``x``: per image, with probability ``shift_probability`` a move
    by one pixel in one of the four directions; a rotation uniform in ±``max_angle`` degrees; Gaussian pixel
    noise of standard deviation ``noise`` (clipped to [0, 1])."""
    n = len(x)
    moved = rng.random(n) < shift_probability
    dx, dy = np.where(moved[:, None], _STEPS[rng.integers(0, 4, n)], 0).T
    out = transform_images(x, rng.uniform(-max_angle, max_angle, n), dx, dy)
    if noise:
        out = np.clip(out + noise * rng.standard_normal(out.shape), 0.0, 1.0)
    return out


def rotate_half_turn(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The label-preserving ``augment`` plus, for half of the images, a rotation by 180°. That is *not*
    label-preserving for digits: a 6 turned upside down is a 9 (and a 9 a 6), yet keeps its label."""
    out = augment(x, rng)
    flip = rng.random(len(x)) < 0.5
    out[flip] = transform_images(out[flip], 180.0, 0, 0)
    return out


TTA_ANGLE = 8.0  # degrees of the two turned views of test-time augmentation


def shifted_views(x: np.ndarray) -> list[np.ndarray]:
    """The images and their four one-pixel shifts (right, left, down, up)."""
    return [x] + [shift_images(x, dx, dy) for dx, dy in _STEPS]


def augmented_views(x: np.ndarray) -> list[np.ndarray]:
    """The views test-time augmentation averages over: the images, their four one-pixel shifts, and the
    images turned by ±``TTA_ANGLE`` degrees (versions the augmented network was trained on)."""
    return shifted_views(x) + [transform_images(x, angle, 0, 0) for angle in (TTA_ANGLE, -TTA_ANGLE)]


def test_time_average(network, x: np.ndarray, views: Callable = augmented_views) -> np.ndarray:
    """Test-time augmentation: the network's class probabilities averaged over ``views(x)``."""
    return average_over_views(network, views(x))


def average_over_views(network, views: list[np.ndarray]) -> np.ndarray:
    """The network's class probabilities averaged over views made beforehand (one array per view)."""
    return np.mean([predict_proba(network, view) for view in views], axis=0)


AUGMENTATION_SIZES = (25, 100, 400)
AUGMENTATION_STEPS = 60
HALF_TURN_SIZE = 100     # training images for the 180° experiment and for test-time augmentation
CONFUSED = (6, 9)


@dataclass
class AugmentationStudy:
    """Per seed (rows) and training-set size (columns): test accuracy without and with label-preserving
    augmentation (same data, same initial weights, same steps); at ``half_turn_size``: the same with 180°
    rotations added, accuracy on the 6s and 9s, and test-time augmentation."""

    seeds: tuple[int, ...]
    sizes: tuple[int, ...]
    plain_acc: np.ndarray            # (S, sizes)
    augmented_acc: np.ndarray        # (S, sizes)
    half_turn_size: int
    half_turn_acc: np.ndarray        # (S,) all test digits
    confused_acc: np.ndarray         # (S, 3): accuracy on test 6s and 9s — plain, augmented, half-turn
    plain_tta_acc: np.ndarray        # (S,) plain network, probabilities averaged over augmented_views
    augmented_tta_acc: np.ndarray    # (S,)

    @property
    def gain(self) -> np.ndarray:
        return self.augmented_acc - self.plain_acc

    def column(self, size: int) -> int:
        return self.sizes.index(size)

    @property
    def half_turn_cost(self) -> np.ndarray:
        """Accuracy on 6s and 9s: label-preserving augmentation minus the one with 180° turns."""
        return self.confused_acc[:, 1] - self.confused_acc[:, 2]

    @property
    def tta_gain(self) -> np.ndarray:
        """Augmented network: test-time-averaged minus single-view accuracy."""
        return self.augmented_tta_acc - self.augmented_acc[:, self.column(self.half_turn_size)]

    @property
    def plain_tta_gain(self) -> np.ndarray:
        return self.plain_tta_acc - self.plain_acc[:, self.column(self.half_turn_size)]


def augmentation_study(seeds, dataset: str = "digits", *, sizes=AUGMENTATION_SIZES, steps: int = AUGMENTATION_STEPS,
                       half_turn_size: int = HALF_TURN_SIZE, keep_networks: bool = False):
    """Train, per seed and size, a network on plain and one on augmented images; at ``half_turn_size``
    also one with 180° turns. With ``keep_networks`` also return the first seed's networks at
    ``half_turn_size`` (``{"plain", "augmented", "half turn"}``) for the figures."""
    (x, t), (x_test, t_test) = digits(dataset)
    n_classes = int(max(t.max(), t_test.max())) + 1
    sizes = tuple(sizes)
    if half_turn_size not in sizes:
        raise ValueError(f"half_turn_size {half_turn_size} must be one of the sizes {sizes}")
    confused = np.isin(t_test, CONFUSED)
    test_views = augmented_views(x_test)  # the same for every seed: made once
    plain, augmented, half_turn, confused_rows, plain_tta, augmented_tta = [], [], [], [], [], []
    kept = {}
    for seed in tuple(seeds):
        plain_row, augmented_row = [], []
        for column, size in enumerate(sizes):
            chosen = np.random.default_rng(stream(seed, DATA, column)).choice(len(x), size, replace=False)
            arms = {"plain": None, "augmented": augment}
            if size == half_turn_size:
                arms["half turn"] = rotate_half_turn
            networks = {}
            for name, augment_fn in arms.items():
                network = make_network(n_classes, stream(seed, INIT, column), input_size=x.shape[1])
                fit(network, Momentum(LR, MOMENTUM), x[chosen], t[chosen], steps=steps,
                    seed=stream(seed, ORDER, column), augment_fn=augment_fn)
                networks[name] = network
            probabilities = {name: predict_proba(network, x_test) for name, network in networks.items()}
            plain_row.append(accuracy(probabilities["plain"], t_test))
            augmented_row.append(accuracy(probabilities["augmented"], t_test))
            if size == half_turn_size:
                half_turn.append(accuracy(probabilities["half turn"], t_test))
                confused_rows.append([accuracy(probabilities[name][confused], t_test[confused])
                                      for name in ("plain", "augmented", "half turn")])
                plain_tta.append(accuracy(average_over_views(networks["plain"], test_views), t_test))
                augmented_tta.append(accuracy(average_over_views(networks["augmented"], test_views), t_test))
                if keep_networks and not kept:
                    kept = networks
        plain.append(plain_row)
        augmented.append(augmented_row)
    study = AugmentationStudy(seeds=tuple(seeds), sizes=sizes, plain_acc=np.array(plain),
                              augmented_acc=np.array(augmented), half_turn_size=half_turn_size,
                              half_turn_acc=np.array(half_turn), confused_acc=np.array(confused_rows),
                              plain_tta_acc=np.array(plain_tta), augmented_tta_acc=np.array(augmented_tta))
    return (study, kept) if keep_networks else study


def accuracy_by_angle(networks: dict, x: np.ndarray, t: np.ndarray, angles) -> dict[str, np.ndarray]:
    """Test accuracy of each of ``networks`` (name -> network) on ``x`` turned by each of ``angles`` (degrees)."""
    turned = [transform_images(x, angle, 0, 0) for angle in angles]
    return {name: np.array([accuracy(predict_proba(network, images), t) for images in turned])
            for name, network in networks.items()}


@dataclass
class RotationProbe:
    """What the chapter's interactive figure shows: a few test digits, and the accuracy of the plain and the
    augmented network on the whole test set rotated by each angle."""

    angles: np.ndarray
    accuracy: dict            # name -> accuracy per angle
    networks: dict            # name -> network
    examples: np.ndarray      # (k, pixels) test images, one per class shown
    example_labels: np.ndarray


def rotation_probe(networks: dict, dataset: str = "digits", *, angles=np.arange(-180, 181, 20),
                   classes=(1, 2, 6, 9)) -> RotationProbe:
    _, (x_test, t_test) = digits(dataset)
    first = [int(np.flatnonzero(t_test == c)[0]) for c in classes]
    return RotationProbe(angles=np.asarray(angles, dtype=float),
                         accuracy=accuracy_by_angle(networks, x_test, t_test, angles),
                         networks=networks, examples=np.array(x_test[first]), example_labels=np.array(t_test[first]))


# --------------------------------------------------------------------------- 4. transfer learning

ARMS = ("from scratch", "linear on frozen features", "fine-tune last layer", "fine-tune all, lower η")
TRANSFER_SIZES = (10, 60, 600)
LITTLE, MUCH = 10, 600        # the two rows of the two-by-two table
SOURCE_SIZE = 719             # pretraining images (half of the training split); the rest is the target's pool
SOURCE_STEPS = 100
TARGET_STEPS = 24
LITTLE_DRAWS = 4              # one draw of ten images says little about an arm: the little cells average four
FINE_TUNE_FACTOR = 0.1        # pretrained layers learn at this fraction of η when everything is fine-tuned


def parity(t: np.ndarray) -> np.ndarray:
    """The target task's labels: 0 for an even digit, 1 for an odd one."""
    return np.asarray(t) % 2


def fine_tune(arm: str, source, x: np.ndarray, t: np.ndarray, n_classes: int, *, seed, steps: int = TARGET_STEPS,
              head_seed=None) -> MultiLayerNet:
    """Train a network for the target task by one of the four ``ARMS``. Every arm starts from the same
    random weights; all but "from scratch" then copy the hidden layers of ``source`` (pretrained) and keep
    the new random output layer. Frozen layers are simply left out of the optimizer (``ParameterGroups``)."""
    network = make_network(n_classes, seed if head_seed is None else head_seed, input_size=x.shape[1],
                           hidden=source.hidden_size_list)
    last = network.hidden_layer_num + 1
    head = (f"W{last}", f"b{last}")
    hidden = tuple(key for key in network.params if key not in head)
    last_hidden = (f"W{last - 1}", f"b{last - 1}")
    if arm == "from scratch":
        optimizer = Momentum(LR, MOMENTUM)
    else:
        for key in hidden:
            network.params[key] = source.params[key]
        if arm == "linear on frozen features":
            optimizer = ParameterGroups({head: Momentum(LR, MOMENTUM)})
        elif arm == "fine-tune last layer":
            optimizer = ParameterGroups({last_hidden + head: Momentum(LR, MOMENTUM)})
        elif arm == "fine-tune all, lower η":
            optimizer = ParameterGroups({hidden: Momentum(FINE_TUNE_FACTOR * LR, MOMENTUM),
                                         head: Momentum(LR, MOMENTUM)})
        else:
            raise ValueError(f"unknown arm {arm!r}: use one of {ARMS}")
    fit(network, optimizer, x, t, steps=steps, seed=seed)
    return network


@dataclass
class TransferStudy:
    """Test accuracy on the target task (is the digit even or odd?) per seed, arm and number of target
    training images, for the *similar* task (the images as they are) and a *different* one (the same images
    with their pixels in a fixed random order, so that the pretrained features no longer fit them)."""

    seeds: tuple[int, ...]
    arms: tuple[str, ...]
    sizes: tuple[int, ...]
    similar: np.ndarray      # (S, arms, sizes)
    different: np.ndarray    # (S, arms, 2): sizes LITTLE and MUCH
    source_acc: np.ndarray   # (S,) the pretrained network on the source task (ten digits), test split
    little: int = LITTLE
    much: int = MUCH

    def table(self) -> dict[tuple[str, str], np.ndarray]:
        """The two-by-two table: (data, task) -> mean test accuracy per arm, over seeds."""
        return {(data, task): self.accuracy_cell(data, task).mean(axis=0)
                for data in ("little", "much") for task in ("similar", "different")}

    def accuracy_cell(self, data: str, task: str) -> np.ndarray:
        """Per-seed accuracy of every arm in one cell of the table, shape (S, arms)."""
        if data not in ("little", "much") or task not in ("similar", "different"):
            raise ValueError(f"no cell ({data!r}, {task!r}): data is 'little' or 'much', task 'similar' or 'different'")
        if task == "similar":
            return self.similar[:, :, self.sizes.index(self.little if data == "little" else self.much)]
        return self.different[:, :, 0 if data == "little" else 1]

    def best_arm(self, data: str, task: str) -> str:
        return self.arms[int(np.argmax(self.table()[(data, task)]))]

    def wins(self, arm: str, other: str, data: str, task: str) -> tuple[int, int]:
        """In how many seeds ``arm`` is more accurate than ``other`` in one cell."""
        cell = self.accuracy_cell(data, task)
        return rate(cell[:, self.arms.index(arm)] > cell[:, self.arms.index(other)])


def transfer_study(seeds, dataset: str = "digits", *, sizes=TRANSFER_SIZES, little: int = LITTLE, much: int = MUCH,
                   source_size: int = SOURCE_SIZE, source_steps: int = SOURCE_STEPS,
                   steps: int = TARGET_STEPS, little_draws: int = LITTLE_DRAWS) -> TransferStudy:
    """Per seed: pretrain a network to recognize the ten digits on ``source_size`` training images; then
    train each arm to tell even from odd digits on n = ``sizes`` other training images (the similar task),
    and at n = ``little`` and ``much`` on the same images with permuted pixels (the different task). A cell
    with n = ``little`` is the mean over ``little_draws`` draws of its images."""
    (x, t), (x_test, t_test) = digits(dataset)
    n_classes = int(max(t.max(), t_test.max())) + 1
    sizes = tuple(sizes)
    if little not in sizes or much not in sizes:
        raise ValueError(f"little ({little}) and much ({much}) must be among the sizes {sizes}")
    similar, different, source_acc = [], [], []
    for seed in tuple(seeds):
        order = np.random.default_rng(stream(seed, DATA)).permutation(len(x))
        source_images, pool = order[:source_size], order[source_size:]
        if max(sizes) > len(pool):
            raise ValueError(f"{len(pool)} target images available, fewer than {max(sizes)}")
        source = make_network(n_classes, stream(seed, INIT, 0), input_size=x.shape[1])
        fit(source, Momentum(LR, MOMENTUM), x[source_images], t[source_images], steps=source_steps,
            seed=stream(seed, ORDER, 0))
        source_acc.append(accuracy(predict_proba(source, x_test), t_test))
        permutation = np.random.default_rng(stream(seed, PERMUTE)).permutation(x.shape[1])
        cells_similar = np.zeros((len(ARMS), len(sizes)))
        cells_different = np.zeros((len(ARMS), 2))
        for column, size in enumerate(sizes):
            draws = little_draws if size == little else 1
            for draw in range(draws):
                # draw 0 of a cell uses the cell's streams; each further draw of ten images gets streams of its own
                keys = (column + 1,) if draw == 0 else (column + 1, draw)
                chosen = np.random.default_rng(stream(seed, DATA, *keys)).choice(pool, size, replace=False)
                tasks = [(x, x_test, cells_similar, column)]
                if size in (little, much):
                    tasks.append((x[:, permutation], x_test[:, permutation], cells_different, (little, much).index(size)))
                for images, test_images, cells, cell in tasks:
                    for a, arm in enumerate(ARMS):
                        network = fine_tune(arm, source, images[chosen], parity(t[chosen]), 2, steps=steps,
                                            seed=stream(seed, ORDER, *keys),
                                            head_seed=stream(seed, HEAD, column, *keys[1:]))
                        cells[a, cell] += accuracy(predict_proba(network, test_images), parity(t_test)) / draws
        similar.append(cells_similar)
        different.append(cells_different)
    return TransferStudy(seeds=tuple(seeds), arms=ARMS, sizes=sizes, similar=np.array(similar),
                         different=np.array(different), source_acc=np.array(source_acc), little=little, much=much)
