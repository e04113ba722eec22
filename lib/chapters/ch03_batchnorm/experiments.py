"""The experiments of chapter 3 (Batch Normalization), shared by the notebook and its claim tests.

numpy only (no matplotlib: the pictures are in ``figures.py``). Every claim the chapter makes is a
statistic over seeds (``lib.chapters.claim_seeds()``), computed by one function here that returns a
dataclass; the notebook prints it and ``tests/test_claims_ch03.py`` asserts it.

One seed never feeds two draws: each experiment seed is split into independent streams (the data split,
the initial weights, the training order, the probes' random batches, the synthetic gradient-check
batches) by :func:`stream`.

Networks are float32 for speed (the chapter trains a few hundred small networks); the gradient checks
are float64, so their tolerances follow from float64 rounding.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from lib import gradcheck
from lib.chapters import rate  # noqa: F401 (the notebook prints its rates through experiments.rate)
from lib.data import count_classes, load_dataset
from lib.layers import BatchNormalization
from lib.networks import MultiLayerNet
from lib.optimizers import SGD
from lib.training import History, train

# Saito's experiment, scaled to fit the time budget: five hidden ReLU layers of 50 units, 500 training
# samples, SGD in batches of 50 for 5 epochs (Saito: 100 units, 1,000 MNIST images, lr 0.01, 20 epochs).
HIDDEN = (50, 50, 50, 50, 50)
N_TRAIN = 500
BATCH_SIZE = 50
EPOCHS = 5
LR = 0.05
EVAL_SIZE = 200
# Weight init standard deviations compared (0.2 is He's √(2/50) for these layers), and learning rates
# compared at the He scale (the first is the scale comparison's rate, so those runs are shared).
WEIGHT_SCALES = (1.0, 0.2, 0.01)
HE_SCALE = 0.2
LEARNING_RATES = (LR, 3.0)
# Small batches against a usual one; every run makes the same number of SGD updates.
BATCH_SIZES = (2, 32)
BATCH_STUDY_UPDATES = 100
BATCH_STUDY_LR = 0.05
BATCH_STUDY_HIDDEN = (50, 50)
NOISE_BATCH_SIZES = (4, 32, 128)

# float64 unit roundoff u: every elementary operation is exact up to a factor (1 ± u).
UNIT_ROUNDOFF = np.finfo(np.float64).eps / 2
# Two formulas for the same gradient differ by rounding only. Each form rounds a dozen times per entry
# and sums N terms (error ≤ N·u·Σ|terms|), so the difference is bounded by a small multiple of
# N·u·T, T the size of the largest term: we state 8·N·u·T.
ROUNDING_BOUND_UNITS = 8.0
# Identities computed two ways (a mean of 8 numbers of size ≤ about 3; five running-average updates)
# round to within a few dozen u of each other: we state 32·u.
IDENTITY_BOUND = 32 * UNIT_ROUNDOFF
# A centered difference with step h = 1e-5 in float64 errs by about h²·|f'''| + u·|f|/h ≈ 1e-10 to 1e-9
# relative to the gradient: a correct backward agrees far below this bound, a wrong one far above.
GRADCHECK_BOUND = 1e-6

# Independent random streams of one experiment seed.
DATA_STREAM, INIT_STREAM, ORDER_STREAM, PROBE_STREAM, DRAW_STREAM = range(5)


def stream(seed: int, k: int) -> int:
    """The seed of stream ``k`` of experiment seed ``seed``: independent for every (seed, k)."""
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0])


def mean_spread(values) -> str:
    """``"0.912 ± 0.021 (0.880–0.950)"``: mean ± standard deviation (range) over seeds."""
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.3f} ± {values.std():.3f} ({values.min():.3f}–{values.max():.3f})"


# --- data, networks, one training run -----------------------------------------------------------------

def load_data(dataset: str = "digits", *, seed: int = 0, n_train: int | None = N_TRAIN, dtype=np.float32):
    """``((x_train, t_train), (x_test, t_test))``: the split of experiment seed ``seed`` (its data
    stream), keeping the first ``n_train`` training samples (``None`` keeps all)."""
    (x_train, t_train), (x_test, t_test) = load_dataset(dataset, seed=stream(seed, DATA_STREAM), dtype=dtype)
    if n_train is not None:
        x_train, t_train = x_train[:n_train], t_train[:n_train]
    return (x_train, t_train), (x_test, t_test)


def build_network(data, normalization: str = "batch", *, weight_init_std="relu", hidden=HIDDEN,
                  seed: int = 0) -> MultiLayerNet:
    """The chapter's one network: ReLU layers ``hidden``, with ``normalization`` ``'none'``, ``'batch'`` or
    ``'layer'`` between each hidden Affine and its activation, in the data's dtype."""
    (x_train, t_train), (_, t_test) = data
    return MultiLayerNet(x_train.shape[1], list(hidden), count_classes(t_train, t_test), activation="relu",
                         weight_init_std=weight_init_std, normalization=normalization,
                         seed=stream(seed, INIT_STREAM), dtype=x_train.dtype)


@dataclass
class Run:
    """One trained network and what training measured."""

    network: MultiLayerNet
    history: History


def train_run(data, normalization: str = "batch", *, weight_init_std="relu", lr: float = LR, epochs: int = EPOCHS,
              batch_size: int = BATCH_SIZE, hidden=HIDDEN, seed: int = 0, eval_size: int | None = EVAL_SIZE) -> Run:
    """Train :func:`build_network` with plain SGD; a run that blows up stops with ``history.diverged``."""
    network = build_network(data, normalization, weight_init_std=weight_init_std, hidden=hidden, seed=seed)
    history = train(network, SGD(lr=lr), data, epochs=epochs, batch_size=batch_size,
                    seed=stream(seed, ORDER_STREAM), eval_size=eval_size)
    return Run(network, history)


# --- §1 the spread of pre-activations -----------------------------------------------------------------

@dataclass
class ActivationSpread:
    """Each hidden layer's pre-activations (its ReLU's input) for one train-mode batch through the
    untrained plain and BN networks, and their standard deviation per layer."""

    plain: np.ndarray
    batchnorm: np.ndarray
    plain_preactivations: list[np.ndarray]
    batchnorm_preactivations: list[np.ndarray]


def activation_spread(data, weight_scale: float = 0.01, *, batch_size: int = 200, seed: int = 0) -> ActivationSpread:
    (x_train, _), _ = data
    preactivations = {}
    for normalization in ("none", "batch"):
        network = build_network(data, normalization, weight_init_std=weight_scale, seed=seed)
        network.predict(x_train[:batch_size], train_flg=True)
        preactivations[normalization] = list(network.preactivations)

    def spread(arrays):
        return np.array([float(np.std(z, dtype=np.float64)) for z in arrays])

    return ActivationSpread(spread(preactivations["none"]), spread(preactivations["batch"]),
                            preactivations["none"], preactivations["batch"])


@dataclass
class SpreadStatistics:
    """Per seed: the plain network's weakest per-layer shrink (largest ratio of a layer's spread to the
    previous layer's), its last layer's spread, and the BN network's smallest and largest layer spread."""

    seeds: tuple
    plain_largest_ratio: np.ndarray
    plain_last_spread: np.ndarray
    batchnorm_smallest: np.ndarray
    batchnorm_largest: np.ndarray


def spread_statistics(seeds, dataset: str = "digits", *, weight_scale: float = 0.01) -> SpreadStatistics:
    spreads = [activation_spread(load_data(dataset, seed=seed), weight_scale, seed=seed) for seed in seeds]
    return SpreadStatistics(
        tuple(seeds),
        np.array([np.max(s.plain[1:] / s.plain[:-1]) for s in spreads]),
        np.array([s.plain[-1] for s in spreads]),
        np.array([s.batchnorm.min() for s in spreads]),
        np.array([s.batchnorm.max() for s in spreads]),
    )


# --- §2 forward and backward: exact identities, checked to their rounding -----------------------------

def _bn_layer(d: int, rng, *, momentum: float = 0.9) -> BatchNormalization:
    return BatchNormalization(rng.uniform(0.5, 2.0, d), rng.normal(0.0, 1.0, d), momentum=momentum)


def _batch(rng, n: int, d: int) -> np.ndarray:
    """A float64 batch whose features have their own means and spreads."""
    return rng.normal(rng.normal(0.0, 2.0, d), rng.uniform(0.5, 2.0, d), (n, d))


@dataclass
class ForwardStatistics:
    """Per seed, for a float64 batch of 8 through BN with γ = 1, β = 0: the largest |mean| of an output
    feature, and the smallest and largest standard deviation of an output feature."""

    seeds: tuple
    largest_mean: np.ndarray
    smallest_std: np.ndarray
    largest_std: np.ndarray


def forward_statistics(seeds, *, n: int = 8, d: int = 4) -> ForwardStatistics:
    means, low, high = [], [], []
    for seed in seeds:
        x = _batch(np.random.default_rng(stream(seed, DRAW_STREAM)), n, d)
        y = BatchNormalization(np.ones(d), np.zeros(d)).forward(x, train_flg=True)
        means.append(np.max(np.abs(y.mean(axis=0))))
        low.append(y.std(axis=0).min())
        high.append(y.std(axis=0).max())
    return ForwardStatistics(tuple(seeds), np.array(means), np.array(low), np.array(high))


def normwise_relative_error(a, b) -> float:
    """‖a − b‖ / (‖a‖ + ‖b‖), 0 when both are 0. Unlike an elementwise relative error, one entry that
    happens to be near 0 cannot dominate it."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0


def _gradient_check(layer, x, dout, backward) -> float:
    """Normwise relative error between ``backward(layer, dout)`` (dx) and the centered numerical
    gradient of Σ dout·forward(x)."""
    layer.forward(x, train_flg=True)
    analytic = backward(layer, dout)
    numerical = gradcheck.numerical_gradient(lambda: float(np.sum(layer.forward(x, train_flg=True) * dout)), x)
    return normwise_relative_error(analytic, numerical)


def largest_term(layer, dout) -> float:
    """T: the largest of the terms the closed form adds per entry, |N·dx̂|, |Σ dx̂|, |x̂·Σ dx̂·x̂|,
    divided by N·s — the scale that rounding errors in dx are proportional to."""
    n = layer.batch_size
    dxn = dout * layer.gamma
    terms = np.abs(n * dxn) + np.abs(dxn.sum(axis=0)) + np.abs(layer.xn * (dxn * layer.xn).sum(axis=0))
    return float(np.max(terms / (n * layer.std)))


@dataclass
class BackwardAgreement:
    """Per seed, on a float64 batch of ``n``: the largest difference between the graph and the
    closed-form backward (dx, dγ, dβ) in units of N·u·T (u the unit roundoff, T :func:`largest_term`),
    and each form's normwise relative error against the numerical gradient."""

    seeds: tuple
    n: int
    difference_in_rounding_units: np.ndarray
    closed_form_error: np.ndarray
    graph_error: np.ndarray


def backward_agreement(seeds, *, n: int = 16, d: int = 10) -> BackwardAgreement:
    units, closed, graph = [], [], []
    for seed in seeds:
        rng = np.random.default_rng(stream(seed, DRAW_STREAM))
        layer = _bn_layer(d, rng)
        x = _batch(rng, n, d)
        dout = rng.normal(0.0, 1.0, (n, d))
        layer.forward(x, train_flg=True)
        dx_closed = layer.backward(dout)
        dgamma_closed, dbeta_closed = layer.dgamma.copy(), layer.dbeta.copy()
        dx_graph = layer.backward_graph(dout)
        difference = max(np.max(np.abs(dx_closed - dx_graph)), np.max(np.abs(dgamma_closed - layer.dgamma)),
                         np.max(np.abs(dbeta_closed - layer.dbeta)))
        units.append(difference / (n * UNIT_ROUNDOFF * largest_term(layer, dout)))
        closed.append(_gradient_check(layer, x, dout, lambda lay, g: lay.backward(g)))
        graph.append(_gradient_check(layer, x, dout, lambda lay, g: lay.backward_graph(g)))
    return BackwardAgreement(tuple(seeds), n, np.array(units), np.array(closed), np.array(graph))


def backward_without_variance_path(layer: BatchNormalization, dout: np.ndarray) -> np.ndarray:
    """A deliberately WRONG BN backward that forgets the path through the variance:
    dx = γ/σ · (dout − mean(dout)). Used to show what a batch-of-one gradient check cannot catch."""
    dxn = dout * layer.gamma
    return (dxn - dxn.mean(axis=0)) / layer.std


@dataclass
class BatchOfOneTrap:
    """Per seed: the largest |output − β| for one sample in train mode, and the gradient-check errors
    (normwise) of the correct and of the wrong (:func:`backward_without_variance_path`) backward on a
    batch of one and on a batch of ``n``."""

    seeds: tuple
    n: int
    output_minus_beta: np.ndarray
    correct_error_single: np.ndarray
    wrong_error_single: np.ndarray
    correct_error_batch: np.ndarray
    wrong_error_batch: np.ndarray


def batch_of_one_trap(seeds, *, n: int = 8, d: int = 6) -> BatchOfOneTrap:
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(stream(seed, DRAW_STREAM))
        layer = _bn_layer(d, rng)
        single, batch = _batch(rng, 1, d), _batch(rng, n, d)
        out = layer.forward(single, train_flg=True)
        row = [float(np.max(np.abs(out - layer.beta)))]
        for backward in (lambda lay, g: lay.backward(g), backward_without_variance_path):
            for x in (single, batch):
                row.append(_gradient_check(layer, x.copy(), rng.normal(0.0, 1.0, x.shape), backward))
        rows.append(row)
    columns = np.array(rows).T
    return BatchOfOneTrap(tuple(seeds), n, columns[0], columns[1], columns[3], columns[2], columns[4])


# --- §4 running statistics: our momentum vs PyTorch's -------------------------------------------------

@dataclass
class MomentumConventions:
    """Per seed, after ``steps`` batches: the relative difference (largest entry, relative to the
    largest value) between our running_mean (momentum=0.9) and PyTorch's update (momentum=0.1), between
    our biased running_var and PyTorch's unbiased one, and with ``unbiased_running_var=True``."""

    seeds: tuple
    mean_difference: np.ndarray
    biased_var_difference: np.ndarray
    unbiased_var_difference: np.ndarray


def momentum_conventions(seeds, *, steps: int = 5, n: int = 32, d: int = 4) -> MomentumConventions:
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(stream(seed, DRAW_STREAM))
        ours = BatchNormalization(np.ones(d), np.zeros(d), momentum=0.9)
        ours_unbiased = BatchNormalization(np.ones(d), np.zeros(d), momentum=0.9, unbiased_running_var=True)
        torch_momentum = 0.1  # PyTorch: running ← (1 − m)·running + m·batch, with the unbiased variance
        torch_mean, torch_var = np.zeros(d), np.ones(d)
        for _ in range(steps):
            x = rng.normal(rng.normal(0.0, 3.0, d), rng.uniform(0.5, 2.0, d), (n, d))
            ours.forward(x, train_flg=True)
            ours_unbiased.forward(x, train_flg=True)
            torch_mean = (1 - torch_momentum) * torch_mean + torch_momentum * x.mean(axis=0)
            torch_var = (1 - torch_momentum) * torch_var + torch_momentum * x.var(axis=0, ddof=1)

        def relative(a, b):
            return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))

        rows.append((relative(ours.running_mean, torch_mean), relative(ours.running_var, torch_var),
                     relative(ours_unbiased.running_var, torch_var)))
    columns = np.array(rows).T
    return MomentumConventions(tuple(seeds), columns[0], columns[1], columns[2])


# --- §5, §6 weight scales and learning rates ----------------------------------------------------------

@dataclass
class RobustnessStudy:
    """Plain and BN networks per seed: at each weight scale (lr ``LR``), and at each learning rate
    (He scale). ``scale_histories[kind][i][j]`` is seed i, scale j; ``lr_histories`` likewise.
    ``reference`` holds, per seed, the data and the BN run at the He scale and lr ``LR`` (the network
    §4 probes)."""

    seeds: tuple
    weight_scales: tuple
    lrs: tuple
    scale_histories: dict
    lr_histories: dict
    reference: list

    def final_train_accuracy(self, kind: str) -> np.ndarray:
        """(seeds, scales): the last epoch's training accuracy (a diverged run keeps its last one)."""
        return np.array([[h.train_acc[-1] for h in row] for row in self.scale_histories[kind]])

    def scale_diverged(self, kind: str) -> np.ndarray:
        """(seeds, scales): whether the run's loss blew up."""
        return np.array([[h.diverged for h in row] for row in self.scale_histories[kind]])

    def diverged(self, kind: str) -> np.ndarray:
        """(seeds, lrs): whether the run's loss blew up."""
        return np.array([[h.diverged for h in row] for row in self.lr_histories[kind]])

    def final_test_accuracy(self, kind: str) -> np.ndarray:
        """(seeds, lrs): the last test accuracy; NaN for a run that diverged."""
        return np.array([[np.nan if h.diverged else h.test_acc[-1] for h in row] for row in self.lr_histories[kind]])


KINDS = {"plain": "none", "batchnorm": "batch"}


def robustness_study(seeds, dataset: str = "digits", *, weight_scales=WEIGHT_SCALES, lrs=LEARNING_RATES,
                     epochs: int = EPOCHS) -> RobustnessStudy:
    scale_histories = {kind: [] for kind in KINDS}
    lr_histories = {kind: [] for kind in KINDS}
    reference = []
    for seed in seeds:
        data = load_data(dataset, seed=seed)
        runs = {}
        for kind, normalization in KINDS.items():
            for scale, lr in [(scale, LR) for scale in weight_scales] + [(HE_SCALE, lr) for lr in lrs]:
                if (kind, scale, lr) not in runs:
                    runs[kind, scale, lr] = train_run(data, normalization, weight_init_std=scale, lr=lr,
                                                      epochs=epochs, seed=seed)
            scale_histories[kind].append([runs[kind, scale, LR].history for scale in weight_scales])
            lr_histories[kind].append([runs[kind, HE_SCALE, lr].history for lr in lrs])
        reference.append((data, runs["batchnorm", HE_SCALE, LR]))
    return RobustnessStudy(tuple(seeds), tuple(weight_scales), tuple(lrs), scale_histories, lr_histories, reference)


# --- §4 train mode at test time -----------------------------------------------------------------------

@dataclass
class PitfallProbe:
    """Accuracy of one trained BN network on (part of) the test set, evaluated the right way (eval mode)
    and in train mode: the whole set as one batch, one sample at a time, a batch holding only one class;
    and in eval mode again after the one-sample train-mode passes. ``chance`` is the largest class
    frequency among the one-sample probes (what a constant prediction can score there at best)."""

    eval: float
    train_whole_test_set: float
    train_batch_of_one: float
    distinct_predictions: int
    eval_after_batch_of_one_probes: float
    eval_skewed: float
    train_skewed: float
    chance: float


def train_eval_pitfalls(network: MultiLayerNet, x_test, t_test, *, skewed_class: int = 3,
                        max_samples: int = 200, single_samples: int = 50) -> PitfallProbe:
    """One-sample passes run on the first ``single_samples`` test samples, the rest on ``max_samples``.
    Every probe runs on a fresh copy of the network, because a train-mode forward also moves the
    running statistics (a second way train mode at test time does harm)."""
    x_test, t_test = x_test[:max_samples], t_test[:max_samples]

    def predictions(x, train_flg):
        return copy.deepcopy(network).predict(x, train_flg=train_flg).argmax(axis=1)

    probe = copy.deepcopy(network)
    singles = np.array([probe.predict(x_test[i:i + 1], train_flg=True).argmax(axis=1)[0]
                        for i in range(min(single_samples, len(x_test)))])
    skewed = t_test == skewed_class
    return PitfallProbe(
        eval=float(np.mean(predictions(x_test, False) == t_test)),
        train_whole_test_set=float(np.mean(predictions(x_test, True) == t_test)),
        train_batch_of_one=float(np.mean(singles == t_test[:len(singles)])),
        distinct_predictions=int(len(np.unique(singles))),
        eval_after_batch_of_one_probes=float(np.mean(probe.predict(x_test).argmax(axis=1) == t_test)),
        eval_skewed=float(np.mean(predictions(x_test[skewed], False) == skewed_class)),
        train_skewed=float(np.mean(predictions(x_test[skewed], True) == skewed_class)),
        chance=float(np.bincount(t_test[:len(singles)]).max() / len(singles)),
    )


@dataclass
class PitfallStatistics:
    """Each field of :class:`PitfallProbe` as an array over seeds."""

    seeds: tuple
    eval: np.ndarray
    train_whole_test_set: np.ndarray
    train_batch_of_one: np.ndarray
    distinct_predictions: np.ndarray
    eval_after_batch_of_one_probes: np.ndarray
    eval_skewed: np.ndarray
    train_skewed: np.ndarray
    chance: np.ndarray


def pitfall_statistics(study: RobustnessStudy, *, skewed_class: int = 3) -> PitfallStatistics:
    probes = [train_eval_pitfalls(run.network, *data[1], skewed_class=skewed_class) for data, run in study.reference]
    fields = [name for name in PitfallProbe.__dataclass_fields__]
    return PitfallStatistics(study.seeds, *(np.array([getattr(p, name) for p in probes]) for name in fields))


# --- §8 batch size, Layer Normalization, and the noise of small batches -------------------------------

@dataclass
class BatchSizeStudy:
    """``accuracy[normalization]``: (seeds, batch sizes) test accuracy after the same number of SGD
    updates at every batch size."""

    seeds: tuple
    batch_sizes: tuple
    updates: int
    accuracy: dict


def batch_size_run(data, normalization: str, batch_size: int, *, updates: int = BATCH_STUDY_UPDATES,
                   lr: float = BATCH_STUDY_LR, hidden=BATCH_STUDY_HIDDEN, seed: int = 0) -> History:
    """Exactly ``updates`` SGD updates with batches of ``batch_size``: the run uses the first ``k·B``
    training samples for ``updates / k`` epochs, ``k`` the largest divisor of ``updates`` for which
    ``k·B`` samples exist (so small batches see fewer distinct samples: the comparison is per update)."""
    (x_train, t_train), test = data
    per_epoch = max(k for k in range(1, updates + 1) if updates % k == 0 and k * batch_size <= len(x_train))
    n = per_epoch * batch_size
    subset = ((x_train[:n], t_train[:n]), test)
    network = build_network(subset, normalization, hidden=hidden, seed=seed)
    return train(network, SGD(lr=lr), subset, epochs=updates // per_epoch, batch_size=batch_size,
                 seed=stream(seed, ORDER_STREAM), eval_size=EVAL_SIZE)


def batch_size_study(seeds, dataset: str = "digits", *, batch_sizes=BATCH_SIZES,
                     normalizations=("batch", "layer"), updates: int = BATCH_STUDY_UPDATES) -> BatchSizeStudy:
    accuracy = {normalization: np.zeros((len(seeds), len(batch_sizes))) for normalization in normalizations}
    for i, seed in enumerate(seeds):
        data = load_data(dataset, seed=seed, n_train=None)
        for normalization in normalizations:
            for j, batch_size in enumerate(batch_sizes):
                history = batch_size_run(data, normalization, batch_size, updates=updates, seed=seed)
                accuracy[normalization][i, j] = np.nan if history.diverged else history.test_acc[-1]
    return BatchSizeStudy(tuple(seeds), tuple(batch_sizes), updates, accuracy)


def batch_noise(network: MultiLayerNet, x_pool, *, batch_sizes=NOISE_BATCH_SIZES, samples: int = 4,
                trials: int = 8, seed: int = 0) -> np.ndarray:
    """How much a sample's train-mode output depends on its batch-mates: each of the first ``samples``
    samples of ``x_pool`` goes through ``trials`` batches of random companions from the rest of the pool;
    per batch size, the standard deviation of its softmax probabilities across trials, averaged over the
    classes and the samples (one sample alone would make a noisy estimate)."""
    rng = np.random.default_rng(stream(seed, PROBE_STREAM))
    probe = copy.deepcopy(network)  # train-mode passes move the running statistics
    others = x_pool[samples:]
    noise = []
    for batch_size in batch_sizes:
        spreads = []
        for i in range(samples):
            outputs = []
            for _ in range(trials):
                companions = others[rng.choice(len(others), size=batch_size - 1, replace=False)]
                scores = probe.predict(np.concatenate([x_pool[i:i + 1], companions]), train_flg=True)[0]
                scores = scores.astype(np.float64)
                probabilities = np.exp(scores - scores.max())
                outputs.append(probabilities / probabilities.sum())
            spreads.append(np.std(np.array(outputs), axis=0).mean())
        noise.append(float(np.mean(spreads)))
    return np.array(noise)


@dataclass
class BatchNoise:
    """``noise``: (seeds, batch sizes), the trained reference network's batch noise per seed."""

    seeds: tuple
    batch_sizes: tuple
    noise: np.ndarray


def batch_noise_statistics(study: RobustnessStudy, *, batch_sizes=NOISE_BATCH_SIZES) -> BatchNoise:
    noise = [batch_noise(run.network, data[1][0], batch_sizes=batch_sizes, seed=seed)
             for seed, (data, run) in zip(study.seeds, study.reference)]
    return BatchNoise(study.seeds, tuple(batch_sizes), np.array(noise))


# --- the interactive figure's runs --------------------------------------------------------------------

def lab_run(data, weight_scale: float, lr: float, batchnorm: bool, *, epochs: int = EPOCHS, seed: int = 0,
            eval_size: int | None = EVAL_SIZE) -> History:
    """One run of the lab: the chapter's network with this weight scale, SGD at ``lr``, BN or not."""
    return train_run(data, "batch" if batchnorm else "none", weight_init_std=float(weight_scale), lr=lr,
                     epochs=epochs, seed=seed, eval_size=eval_size).history
