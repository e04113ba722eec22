"""The experiments of chapter 1 (optimizers), shared by the notebook and its claim tests (numpy only).

Every statement the chapter makes about a stochastic experiment is a statistic over seeds: each
``*_study(seeds)`` function runs the experiment once per seed and returns a dataclass whose fields are
the per-seed measurements and whose properties are the statistics the notebook prints and
``tests/test_claims_ch01.py`` asserts (a :class:`SeedRate` "k of n seeds", or a :class:`MeanSpread`).
``seed=0`` reproduces the book's setting (e.g. the start (−7, 2) on Saito's f); other seeds perturb it
(a jittered start, another data split, initialization and batch order), each random draw from its own
stream ``np.random.default_rng([seed, k])``.

Pictures live in ``figures.py``; nothing here imports matplotlib.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from lib import functions, optimizers

__all__ = [
    "LEARNING_RATES", "MOMENTUM", "SeedRate", "MeanSpread", "seed_rate", "mean_spread",
    "make_optimizer", "optimizers_for", "start_point", "paths_on", "paths_from", "gradient_angle", "PathStats", "path_stats",
    "PathStudy", "path_study", "momentum_forms_gap", "noisy_sgd_path", "nesterov_lookahead_path", "nesterov_forms_gap",
    "bias_correction_trace",
    "saddle_start", "saddle_escape_steps", "f_increases", "SaddleBealeStudy", "saddle_beale_study",
    "RotationResult", "rotation_effect", "RotationStudy", "rotation_study",
    "NETWORK_HIDDEN", "NETWORK_EPOCHS", "BATCH_SIZE", "NETWORK_TRAIN_SIZE", "NETWORK_BATCH", "EVAL_SIZE", "build_network", "network_data",
    "NetworkStudy", "network_study", "final_loss",
    "SCHEDULE_LR", "schedules_for", "schedule_curves", "DecayStudy", "decay_study",
    "NoiseBallStudy", "noise_ball_study", "gradient_noise", "noisy_sgd_paths",
    "CriticalPointStudy", "critical_point_study",
    "SparseStudy", "sparse_study", "sparse_problem", "sparse_run", "per_feature_sgd_excess",
    "NewtonResult", "newton_on_quadratic", "newton_log_bowl", "LbfgsStudy", "lbfgs_vs_adam", "lbfgs_study",
    "loss_at",
]


# ------------------------------------------------------------------------------ statistics over seeds

@dataclass(frozen=True)
class SeedRate:
    """How many of the seeds a statement held on."""

    count: int
    total: int

    @property
    def fraction(self) -> float:
        return self.count / self.total

    def __str__(self) -> str:
        return f"{self.count} of {self.total} seeds"


@dataclass(frozen=True)
class MeanSpread:
    """Mean and sample standard deviation of one number measured once per seed."""

    mean: float
    sd: float
    total: int

    def __str__(self) -> str:
        return f"{self.mean:.3g} ± {self.sd:.2g} (mean ± sd over {self.total} seeds)"


def seed_rate(flags) -> SeedRate:
    flags = [bool(flag) for flag in flags]
    return SeedRate(sum(flags), len(flags))


def mean_spread(values) -> MeanSpread:
    values = np.asarray(values, dtype=float)
    return MeanSpread(float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0, int(values.size))


def _stream(seed: int, k: int) -> np.random.Generator:
    """The k-th independent random stream of ``seed`` (one stream per kind of draw)."""
    return np.random.default_rng([seed, k])


def _stream_seed(seed: int, k: int) -> int:
    """An integer seed for a lib function that takes ``seed=``, from the k-th stream of ``seed``."""
    return int(_stream(seed, k).integers(2**31))


# Streams, one per kind of draw.
_START, _SADDLE_START, _ROTATION, _DATA, _INIT, _ORDER, _NOISE_DATA, _NOISE_BATCHES, _HESSIANS, _SPARSE_DATA, \
    _SPARSE_BATCHES, _LBFGS_BATCHES = range(12)


# ------------------------------------------------------------------------------- the learning rates

MOMENTUM = 0.9  # μ for Momentum and Nesterov in every scenario

# Every learning rate the chapter uses: {optimizer: {scenario: η}}. An optimizer without an entry for a
# scenario does not take part in it.
# - path: Saito's f = x²/20 + y² (figure 6-8's rates for SGD, Momentum, AdaGrad, Adam; Nesterov and
#   RMSprop chosen the same way: large enough to show their character in 30 steps);
# - saddle: x² − y² from a hair off the ridge; beale: Beale's function;
# - rotation: ½(x² + 20y²), aligned and rotated by 45°;
# - network: the book's comparison (optimizer_compare_mnist.py), each optimizer's usual default rate;
# - sparse: least squares on sparse features; SGD near the largest rate that stays stable on every seed
#   (from the grid 0.5 … 3), AdaGrad the best of the grid 0.25 … 2.
LEARNING_RATES: dict[str, dict[str, float]] = {
    "SGD": {"path": 0.95, "saddle": 0.05, "beale": 0.01, "rotation": 0.09, "network": 0.01, "sparse": 2.0},
    "Momentum": {"path": 0.1, "saddle": 0.02, "beale": 0.002, "rotation": 0.02, "network": 0.01},
    "Nesterov": {"path": 0.1, "saddle": 0.02, "beale": 0.002, "network": 0.01},
    "AdaGrad": {"path": 1.5, "saddle": 0.3, "beale": 0.5, "rotation": 0.5, "network": 0.01, "sparse": 1.0},
    "RMSprop": {"path": 0.15, "saddle": 0.03, "beale": 0.05, "rotation": 0.05, "network": 0.001},
    "Adam": {"path": 0.3, "saddle": 0.1, "beale": 0.1, "rotation": 0.2, "network": 0.001},
}
BOOK_PATH_OPTIMIZERS = ("SGD", "Momentum", "AdaGrad", "Adam")  # the four of the book's figures 6-8 and 6-9


def make_optimizer(name: str, scenario: str) -> optimizers.Optimizer:
    """A fresh ``lib.optimizers`` optimizer ``name`` with its rate for ``scenario`` (μ = MOMENTUM)."""
    if scenario not in LEARNING_RATES[name]:
        raise ValueError(f"{name} has no learning rate for scenario {scenario!r}")
    kwargs = {"lr": LEARNING_RATES[name][scenario]}
    if name in ("Momentum", "Nesterov"):
        kwargs["momentum"] = MOMENTUM
    return optimizers.OPTIMIZERS[name](**kwargs)


def optimizers_for(scenario: str, names=None) -> dict[str, optimizers.Optimizer]:
    """{name: fresh optimizer} for every optimizer with a rate for ``scenario`` (or those in ``names``)."""
    names = [name for name in LEARNING_RATES if scenario in LEARNING_RATES[name]] if names is None else names
    return {name: make_optimizer(name, scenario) for name in names}


# ------------------------------------------------------------------------------ paths on Saito's f

def start_point(base, seed: int, jitter: float = 0.5) -> np.ndarray:
    """``base`` for seed 0, else ``base`` moved by up to ±``jitter`` in each coordinate."""
    base = np.asarray(base, dtype=float)
    if seed == 0:
        return base
    return base + _stream(seed, _START).uniform(-jitter, jitter, base.shape)


def paths_on(function, scenario: str = "path", *, names=None, start=None, steps: int = 30, seed: int = 0,
             jitter: float = 0.5) -> dict[str, np.ndarray]:
    """{name: path (steps+1, 2)} for each optimizer of ``scenario`` on ``function``."""
    start = start_point(function.start if start is None else start, seed, jitter)
    return {name: functions.run_optimizer(optimizer, function, start, steps)
            for name, optimizer in optimizers_for(scenario, names).items()}


def paths_from(name: str, scenario: str, function, starts, steps: int) -> np.ndarray:
    """Paths of optimizer ``name`` (its rate for ``scenario``) from every start at once, shape
    (steps+1, len(starts), 2): ``path[:, i]`` is exactly ``functions.run_optimizer`` from ``starts[i]``.

    Every update rule here is elementwise, so one optimizer updating an (n, 2) array runs n independent
    descents, each with its own state, in one numpy operation per step instead of n.
    """
    point = np.array(starts, dtype=np.float64).reshape(-1, 2)
    optimizer = make_optimizer(name, scenario)
    params = {"xy": point}
    path = np.empty((steps + 1,) + point.shape)
    path[0] = point
    for step in range(steps):
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
            gradient = np.stack(function.gradient(point[:, 0], point[:, 1]), axis=-1).astype(np.float64, copy=False)
        if not np.all(np.isfinite(gradient)):
            raise ValueError(f"{function.name}: a {name} path diverged before step {step}")
        optimizer.update(params, {"xy": gradient})
        path[step + 1] = point
    return path


def gradient_angle(function, point) -> float:
    """Degrees between the steepest-descent direction −∇f(point) and the straight line to the minimum."""
    point = np.asarray(point, dtype=float)
    downhill = -np.asarray(function.gradient(*point), dtype=float)
    to_minimum = np.asarray(function.minimum, dtype=float) - point
    cosine = downhill @ to_minimum / (np.linalg.norm(downhill) * np.linalg.norm(to_minimum))
    return math.degrees(math.acos(max(-1.0, min(1.0, float(cosine)))))


@dataclass
class PathStats:
    final_distance: float  # from the minimum
    path_length: float  # sum of step lengths
    straight_distance: float  # from the start to the minimum
    y_sign_changes: int  # how often the path crosses the valley floor y = 0 (zig-zag)


def path_stats(path: np.ndarray, minimum=(0.0, 0.0)) -> PathStats:
    path = np.asarray(path, dtype=float)
    minimum = np.asarray(minimum, dtype=float)
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    signs = np.sign(path[:, 1] - minimum[1])
    return PathStats(final_distance=float(np.linalg.norm(path[-1] - minimum)), path_length=float(steps.sum()),
                     straight_distance=float(np.linalg.norm(path[0] - minimum)),
                     y_sign_changes=int(np.count_nonzero(signs[1:] * signs[:-1] < 0)))


@dataclass
class PathStudy:
    """The six optimizers on Saito's f for 30 steps from the book's start jittered per seed."""

    seeds: tuple[int, ...]
    steps: int
    start_angles: list[float]  # degrees between −∇f and the way to the minimum, at each start
    stats: dict[str, list[PathStats]]  # per optimizer, one entry per seed

    @property
    def angle_above_60(self) -> SeedRate:
        return seed_rate(angle > 60 for angle in self.start_angles)

    @property
    def sgd_crosses_every_step(self) -> SeedRate:
        return seed_rate(s.y_sign_changes == self.steps for s in self.stats["SGD"])

    @property
    def sgd_path_twice_any_other(self) -> SeedRate:
        others = [name for name in self.stats if name != "SGD"]
        return seed_rate(self.stats["SGD"][i].path_length > 2 * max(self.stats[n][i].path_length for n in others)
                         for i in range(len(self.seeds)))

    @property
    def adagrad_closest_of_book_four(self) -> SeedRate:
        return seed_rate(min(BOOK_PATH_OPTIMIZERS, key=lambda n: self.stats[n][i].final_distance) == "AdaGrad"
                         for i in range(len(self.seeds)))

    @property
    def momentum_farther_than_sgd(self) -> SeedRate:
        return seed_rate(m.final_distance > s.final_distance for m, s in zip(self.stats["Momentum"], self.stats["SGD"]))

    def mean(self, name: str, attribute: str) -> MeanSpread:
        return mean_spread([getattr(s, attribute) for s in self.stats[name]])


def path_study(seeds, steps: int = 30) -> PathStudy:
    f = functions.saito
    starts = [start_point(f.start, seed) for seed in seeds]
    stats = {name: [path_stats(path) for path in np.moveaxis(paths_from(name, "path", f, starts, steps), 1, 0)]
             for name in optimizers_for("path")}
    return PathStudy(tuple(seeds), steps, [gradient_angle(f, start) for start in starts], stats)


def momentum_forms_gap(eta: float = 1.0, mu: float = 0.9, *, steps: int = 30, seed: int = 0) -> float:
    """Largest coordinate difference between the classic form Momentum(lr=η(1−μ), μ) and the EMA form
    MomentumEMA(lr=η, β=μ) on Saito's f — zero up to rounding."""
    start = start_point(functions.saito.start, seed)
    classic = functions.run_optimizer(optimizers.Momentum(lr=eta * (1 - mu), momentum=mu), functions.saito,
                                      start, steps)
    ema = functions.run_optimizer(optimizers.MomentumEMA(lr=eta, beta=mu), functions.saito, start, steps)
    return float(np.max(np.abs(classic - ema)))


def nesterov_lookahead_path(function, start, eta: float, mu: float, steps: int) -> np.ndarray:
    """Nesterov's method in its look-ahead form (Sutskever et al. 2013), written out:

        v ← μv − η∇f(θ + μv),    θ ← θ + v

    Returns the look-ahead points W = θ + μv (where each gradient is taken), shape (steps+1, 2)."""
    theta = np.array(start, dtype=float)
    v = np.zeros(2)
    points = [theta + mu * v]
    for _ in range(steps):
        gradient = np.array(function.gradient(*(theta + mu * v)), dtype=float)
        v = mu * v - eta * gradient
        theta = theta + v
        points.append(theta + mu * v)
    return np.array(points)


def nesterov_forms_gap(eta: float = 0.1, mu: float = 0.9, *, steps: int = 30, seed: int = 0) -> float:
    """Largest coordinate difference between the look-ahead points W = θ + μv and the path of
    ``lib.optimizers.Nesterov(lr=η, momentum=μ)`` on Saito's f — zero up to rounding."""
    start = start_point(functions.saito.start, seed)
    lookahead = nesterov_lookahead_path(functions.saito, start, eta, mu, steps)
    implemented = functions.run_optimizer(optimizers.Nesterov(lr=eta, momentum=mu), functions.saito, start, steps)
    return float(np.max(np.abs(lookahead - implemented)))


def bias_correction_trace(steps: int = 10, *, beta1: float = 0.9, beta2: float = 0.999, seed: int = 0) -> dict:
    """Adam's raw m, v and corrected m̂, v̂ for one weight whose gradient is 1 + small noise, read from
    ``lib.optimizers.Adam``'s state. Returns arrays per name, index = step − 1."""
    rng = np.random.default_rng(seed)
    gradients = 1.0 + 0.1 * rng.standard_normal(steps)
    adam = optimizers.Adam(lr=1e-3, beta1=beta1, beta2=beta2)
    params = {"w": np.zeros(1)}
    trace = {name: np.empty(steps) for name in ("g", "m", "v", "m_hat", "v_hat")}
    for index, gradient in enumerate(gradients):
        adam.update(params, {"w": np.array([gradient])})
        t = adam.t
        m, v = float(adam.m["w"][0]), float(adam.v["w"][0])
        trace["g"][index], trace["m"][index], trace["v"][index] = gradient, m, v
        trace["m_hat"][index], trace["v_hat"][index] = m / (1 - beta1**t), v / (1 - beta2**t)
    return trace


# -------------------------------------------------------------------------------- saddle and Beale

def saddle_start(seed: int = 0) -> np.ndarray:
    """(−1, 10⁻³) for seed 0; otherwise x in [−1.2, −0.8] and y = ±10^u, u in [−4, −2]: a hair off the ridge."""
    if seed == 0:
        return np.array([-1.0, 1e-3])
    rng = _stream(seed, _SADDLE_START)
    return np.array([rng.uniform(-1.2, -0.8), rng.choice([-1.0, 1.0]) * 10 ** rng.uniform(-4, -2)])


def saddle_escape_steps(paths: dict, threshold: float = 0.5) -> dict:
    """Steps until |y| first exceeds ``threshold`` (None if it never does) for each path on x² − y²."""
    result = {}
    for name, path in paths.items():
        escaped = np.nonzero(np.abs(np.asarray(path)[:, 1]) > threshold)[0]
        result[name] = int(escaped[0]) if escaped.size else None
    return result


def f_increases(function, path) -> int:
    """How many steps raise f: a descent method with a small step never does; velocity overshoots."""
    values = function(np.asarray(path)[:, 0], np.asarray(path)[:, 1])
    return int(np.count_nonzero(np.diff(values) > 1e-12))


SADDLE_STEPS, BEALE_STEPS, BEALE_JITTER = 40, 100, 0.15
ADAPTIVE = ("AdaGrad", "RMSprop", "Adam")


@dataclass
class SaddleBealeStudy:
    """Steps to leave the saddle x² − y² (None: not within SADDLE_STEPS) and steps that raise Beale's f,
    per optimizer, one entry per seed; ``paths`` are seed ``seeds[0]``'s, for the pictures."""

    seeds: tuple[int, ...]
    escape: dict[str, list[int | None]]
    rises: dict[str, list[int]]
    saddle_paths: dict[str, np.ndarray]
    beale_paths: dict[str, np.ndarray]

    @property
    def adaptive_escape_within_10(self) -> SeedRate:
        return seed_rate(all(self.escape[n][i] is not None and self.escape[n][i] <= 10 for n in ADAPTIVE)
                         for i in range(len(self.seeds)))

    @property
    def sgd_stays(self) -> SeedRate:
        return seed_rate(steps is None for steps in self.escape["SGD"])

    @property
    def momentum_slow_or_stays(self) -> SeedRate:
        return seed_rate(all(self.escape[n][i] is None or self.escape[n][i] >= 25 for n in ("Momentum", "Nesterov"))
                         for i in range(len(self.seeds)))

    @property
    def plain_descent_monotone(self) -> SeedRate:
        return seed_rate(all(self.rises[n][i] == 0 for n in ("SGD", "AdaGrad", "RMSprop"))
                         for i in range(len(self.seeds)))

    @property
    def momentum_overshoots(self) -> SeedRate:
        return seed_rate(rises >= 3 for rises in self.rises["Momentum"])


def saddle_beale_study(seeds) -> SaddleBealeStudy:
    saddle_starts = [saddle_start(seed) for seed in seeds]
    beale_starts = [start_point(functions.beale.start, seed, BEALE_JITTER) for seed in seeds]
    saddle = {name: paths_from(name, "saddle", functions.saddle, saddle_starts, SADDLE_STEPS)
              for name in optimizers_for("saddle")}
    beale = {name: paths_from(name, "beale", functions.beale, beale_starts, BEALE_STEPS)
             for name in optimizers_for("beale")}
    escape = {name: [saddle_escape_steps({name: paths[:, i]})[name] for i in range(len(seeds))]
              for name, paths in saddle.items()}
    rises = {name: [f_increases(functions.beale, paths[:, i]) for i in range(len(seeds))] for name, paths in beale.items()}
    return SaddleBealeStudy(tuple(seeds), escape, rises, {name: paths[:, 0] for name, paths in saddle.items()},
                            {name: paths[:, 0] for name, paths in beale.items()})


# -------------------------------------------------------------------------------------- rotation

ROTATION_DIRECTIONS = 12


@dataclass
class RotationResult:
    """Median f after ``steps`` steps over start directions, on the aligned and the rotated bowl."""

    values: dict[str, tuple[float, float]]  # name: (median f aligned, median f rotated)
    paths: dict[str, dict[str, np.ndarray]]  # "aligned"/"rotated": {name: path from the first start}
    bowls: tuple  # (aligned bowl, rotated bowl)


def rotation_effect(*, lambda1: float = 1.0, lambda2: float = 20.0, angle: float = math.pi / 4, steps: int = 50,
                    directions: int = ROTATION_DIRECTIONS, radius: float = 4.0, seed: int = 0) -> RotationResult:
    """Each optimizer of the "rotation" scenario on ½(λ₁x² + λ₂y²) and on the same bowl rotated by
    ``angle``, from ``directions`` start points on a circle of ``radius`` (offset by the seed), each start
    rotated along so both problems are identical up to the axes. One start alone can mislead: whether the
    per-coordinate scaling helps depends on where the start sits relative to the axes."""
    return rotation_study((seed,), lambda1=lambda1, lambda2=lambda2, angle=angle, steps=steps, directions=directions,
                          radius=radius).results[0]


@dataclass
class RotationStudy:
    """Per optimizer and seed, the median f after the steps over the seed's start directions (seed 0's first
    start: the direction of (−4, 1)), aligned and rotated."""

    seeds: tuple[int, ...]
    results: list[RotationResult]

    def ratios(self, name: str) -> np.ndarray:
        """f rotated / f aligned, per seed."""
        return np.array([r.values[name][1] / r.values[name][0] for r in self.results])

    @property
    def invariant_methods_gap(self) -> float:
        """Largest relative difference aligned vs rotated for SGD and Momentum over all seeds."""
        return max(abs(r.values[n][1] - r.values[n][0]) / max(abs(r.values[n][0]), 1e-300)
                   for r in self.results for n in ("SGD", "Momentum"))

    def worse_when_rotated(self, name: str) -> SeedRate:
        return seed_rate(ratio > 1 for ratio in self.ratios(name))

    @property
    def adaptive_median_ratio(self) -> dict[str, float]:
        return {name: float(np.median(self.ratios(name))) for name in ADAPTIVE}


def _rotation_starts(seed: int, angle: float, directions: int, radius: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """The start points of :func:`rotation_effect` for ``seed`` (``directions`` of them, evenly spaced on the
    circle from an offset drawn from the seed's own stream), and the same starts rotated by ``angle``."""
    offset = math.atan2(1.0, -4.0) if seed == 0 else _stream(seed, _ROTATION).uniform(0, 2 * math.pi)
    c, s = math.cos(angle), math.sin(angle)
    directions = offset + 2 * math.pi * np.arange(directions) / directions
    bases = radius * np.stack([np.cos(directions), np.sin(directions)], axis=1)
    rotated = np.stack([c * bases[:, 0] - s * bases[:, 1], s * bases[:, 0] + c * bases[:, 1]], axis=1)
    return bases, rotated


def rotation_study(seeds, *, lambda1: float = 1.0, lambda2: float = 20.0, angle: float = math.pi / 4,
                   steps: int = 50, directions: int = ROTATION_DIRECTIONS, radius: float = 4.0) -> RotationStudy:
    """Every seed's experiment of :func:`rotation_effect` (the median f over its ``directions`` starts), all
    seeds' descents run at once; the paths kept are each seed's first start."""
    aligned_bowl = functions.quadratic(lambda1, lambda2)
    rotated_bowl = functions.rotated_quadratic(lambda1, lambda2, angle)
    starts = [_rotation_starts(seed, angle, directions, radius) for seed in seeds]
    bases = [base for seed_bases, _ in starts for base in seed_bases]
    rotated_starts = [start for _, seed_starts in starts for start in seed_starts]
    names = list(optimizers_for("rotation"))
    aligned = {name: paths_from(name, "rotation", aligned_bowl, bases, steps) for name in names}
    rotated = {name: paths_from(name, "rotation", rotated_bowl, rotated_starts, steps) for name in names}
    results = []
    for i in range(len(seeds)):
        runs = range(i * directions, (i + 1) * directions)
        values = {name: (float(np.median([aligned_bowl(*aligned[name][-1, k]) for k in runs])),
                         float(np.median([rotated_bowl(*rotated[name][-1, k]) for k in runs])))
                  for name in names}
        first = runs[0]
        paths = {"aligned": {name: aligned[name][:, first] for name in names},
                 "rotated": {name: rotated[name][:, first] for name in names}}
        results.append(RotationResult(values, paths, (aligned_bowl, rotated_bowl)))
    return RotationStudy(tuple(seeds), results)


# ---------------------------------------------------------------------------------- the real network

NETWORK_HIDDEN = [100, 100, 100, 100]  # the book's 5-layer network: four hidden ReLU layers, He init
NETWORK_EPOCHS = 4
BATCH_SIZE = 128  # the book's mini-batch, used on the whole training set (the exercise's run)
# The ten-seed studies train on the first 704 of the 1,438 training images in mini-batches of 64: the same
# 11 steps per epoch as 128 on all of them, at half the arithmetic.
NETWORK_TRAIN_SIZE, NETWORK_BATCH = 704, 64
EVAL_SIZE = 100  # the per-epoch curves use 100 images; final test accuracies use the whole test set


def network_data(dataset: str = "digits", seed: int = 0):
    """The chapter's data in float32 (as fast as float64 is exact enough here), split by ``seed``'s data
    stream (seed 0: the split of ``load_dataset(seed=0)``)."""
    from lib.data import load_dataset

    return load_dataset(dataset, seed=0 if seed == 0 else _stream_seed(seed, _DATA), dtype=np.float32)


@functools.lru_cache(maxsize=64)
def _study_data(dataset: str, seed: int):
    """:func:`network_data` with the first NETWORK_TRAIN_SIZE training images, loaded once per (dataset, seed)
    for the studies, which only read it (the network, decay and L-BFGS studies share each seed's split).
    Callers outside the studies get fresh arrays."""
    (x_train, t_train), test = network_data(dataset, seed)
    return (x_train[:NETWORK_TRAIN_SIZE], t_train[:NETWORK_TRAIN_SIZE]), test


def build_network(data, seed: int = 0):
    """The chapter's one network: 4×100 ReLU, He initialization, float32 like ``data``, initial weights
    from ``seed``'s initialization stream."""
    from lib.data import count_classes
    from lib.networks import MultiLayerNet

    (x_train, t_train), (_, t_test) = data
    return MultiLayerNet(x_train.shape[1], NETWORK_HIDDEN, count_classes(t_train, t_test), activation="relu",
                         weight_init_std="relu", seed=0 if seed == 0 else _stream_seed(seed, _INIT),
                         dtype=x_train.dtype)


def _train(data, optimizer, seed: int, epochs: int, **options):
    """(history, test accuracy on the whole test set) of the chapter's network trained by ``optimizer``."""
    from lib.training import train

    network = build_network(data, seed)
    history = train(network, optimizer, data, epochs=epochs, batch_size=NETWORK_BATCH,
                    seed=0 if seed == 0 else _stream_seed(seed, _ORDER), eval_size=EVAL_SIZE, **options)
    (_, _), (x_test, t_test) = data
    return history, float(network.accuracy(x_test, t_test))


@functools.lru_cache(maxsize=64)
def _momentum_run(dataset: str, seed: int, epochs: int):
    """(history, test accuracy) of Momentum at its network rate and a constant rate: one run that both the
    network study (its "Momentum") and the decay study (its "constant") report, trained once per seed."""
    return _train(_study_data(dataset, seed), make_optimizer("Momentum", "network"), seed, epochs)


def final_loss(history) -> float:
    """Mean mini-batch training loss over a run's last epoch."""
    return float(np.mean(history.train_loss[-history.iterations_per_epoch:]))


@dataclass
class NetworkStudy:
    """The book's four optimizers (figure 6-9) at their default rates on the chapter's network, same initial
    weights and batch order per seed. ``losses``/``accuracies``: last-epoch training loss and final test accuracy per seed;
    ``histories``: the first seed's runs, for the picture."""

    seeds: tuple[int, ...]
    epochs: int
    losses: dict[str, list[float]]
    accuracies: dict[str, list[float]]
    histories: dict = field(repr=False, default_factory=dict)

    def _others(self, name):
        return [n for n in self.losses if n != name]

    @property
    def sgd_highest_loss(self) -> SeedRate:
        return seed_rate(self.losses["SGD"][i] > max(self.losses[n][i] for n in self._others("SGD"))
                         for i in range(len(self.seeds)))

    @property
    def sgd_loss_ratio(self) -> MeanSpread:
        """SGD's last-epoch loss / the largest of the others', per seed."""
        return mean_spread([self.losses["SGD"][i] / max(self.losses[n][i] for n in self._others("SGD"))
                            for i in range(len(self.seeds))])

    @property
    def sgd_accuracy_gap(self) -> MeanSpread:
        """Lowest test accuracy of the others minus SGD's, per seed (positive: SGD is behind)."""
        return mean_spread([min(self.accuracies[n][i] for n in self._others("SGD")) - self.accuracies["SGD"][i]
                            for i in range(len(self.seeds))])

    @property
    def adaptive_below_momentum(self) -> SeedRate:
        """Every adaptive method in the study ends with a lower training loss than every momentum method."""
        adaptive = [n for n in self.losses if n in ADAPTIVE]
        velocity = [n for n in self.losses if n in ("Momentum", "Nesterov")]
        return seed_rate(max(self.losses[n][i] for n in adaptive) < min(self.losses[n][i] for n in velocity)
                         for i in range(len(self.seeds)))


def network_study(seeds, *, dataset: str = "digits", epochs: int = NETWORK_EPOCHS,
                  names=BOOK_PATH_OPTIMIZERS) -> NetworkStudy:
    losses, accuracies, shown = {}, {}, {}
    for seed in seeds:
        data = _study_data(dataset, seed)
        for name, optimizer in optimizers_for("network", names).items():
            if name == "Momentum":
                history, accuracy = _momentum_run(dataset, seed, epochs)
            else:
                history, accuracy = _train(data, optimizer, seed, epochs)
            losses.setdefault(name, []).append(final_loss(history))
            accuracies.setdefault(name, []).append(accuracy)
            if seed == seeds[0]:
                shown[name] = history
    return NetworkStudy(tuple(seeds), epochs, losses, accuracies, shown)


# ---------------------------------------------------------------------------------------- schedules

# η₀ of Momentum(μ = 0.9) in the schedule study: its rate in the network study, so the constant-rate run is
# that study's Momentum run (trained once, reported twice).
SCHEDULE_LR = LEARNING_RATES["Momentum"]["network"]


def schedules_for(epochs: int, lr0: float = SCHEDULE_LR) -> dict:
    """{name: (schedule or None, 'epoch' | 'iteration')}; the last decays per iteration by mistake."""
    return {
        "constant": (None, "epoch"),
        "step ×0.1 at 2/3": (optimizers.StepDecay(lr0, step_size=max(1, 2 * epochs // 3), gamma=0.1), "epoch"),
        "exponential 0.8": (optimizers.ExponentialDecay(lr0, gamma=0.8), "epoch"),
        "1/t (k = 0.5)": (optimizers.InverseTimeDecay(lr0, k=0.5), "epoch"),
        "cosine": (optimizers.CosineDecay(lr0, total_steps=epochs), "epoch"),
        "warm-up 2 + cosine": (optimizers.LinearWarmup(optimizers.CosineDecay(lr0, total_steps=max(1, epochs - 2)), 2),
                               "epoch"),
        "exponential 0.8 per ITERATION": (optimizers.ExponentialDecay(lr0, gamma=0.8), "iteration"),
    }


def schedule_curves(epochs: int, lr0: float = SCHEDULE_LR, iterations_per_epoch: int = 11) -> dict:
    """{name: lr per iteration} as the training loop would set it, without training."""
    curves = {}
    for name, (schedule, per) in schedules_for(epochs, lr0).items():
        if schedule is None:
            values = [lr0] * (epochs * iterations_per_epoch)
        elif per == "epoch":
            values = [schedule(step // iterations_per_epoch) for step in range(epochs * iterations_per_epoch)]
        else:
            values = [schedule(step) for step in range(epochs * iterations_per_epoch)]
        curves[name] = np.array(values)
    return curves


DECAY_SCHEDULES = ("constant", "step ×0.1 at 2/3", "exponential 0.8 per ITERATION")


@dataclass
class DecayStudy:
    """Momentum(η₀, 0.9) trained without decay, with a step decay added at 2/3 of the run, and with the
    per-iteration trap; last-epoch loss and test accuracy per seed; the first seed's histories."""

    seeds: tuple[int, ...]
    losses: dict[str, list[float]]
    accuracies: dict[str, list[float]]
    final_lrs: dict[str, float]
    histories: dict = field(repr=False, default_factory=dict)

    @property
    def early_decay_raises_loss(self) -> SeedRate:
        """The step decay, added before the constant-rate run has levelled off, ends with a higher loss."""
        return seed_rate(d > c for d, c in zip(self.losses["step ×0.1 at 2/3"], self.losses["constant"]))

    @property
    def decay_loss_ratio(self) -> MeanSpread:
        return mean_spread(np.array(self.losses["step ×0.1 at 2/3"]) / np.array(self.losses["constant"]))

    @property
    def decay_accuracy_change(self) -> MeanSpread:
        return mean_spread(np.array(self.accuracies["step ×0.1 at 2/3"]) - np.array(self.accuracies["constant"]))

    @property
    def trap_stalls(self) -> SeedRate:
        """The per-iteration trap ends with a higher loss than the constant rate."""
        return seed_rate(t > c for t, c in zip(self.losses["exponential 0.8 per ITERATION"], self.losses["constant"]))

    @property
    def trap_loss_ratio(self) -> MeanSpread:
        return mean_spread(np.array(self.losses["exponential 0.8 per ITERATION"]) / np.array(self.losses["constant"]))


def decay_study(seeds, *, dataset: str = "digits", epochs: int = NETWORK_EPOCHS) -> DecayStudy:
    losses, accuracies, shown, final_lrs = {}, {}, {}, {}
    schedules = schedules_for(epochs)
    for seed in seeds:
        data = _study_data(dataset, seed)
        for name in DECAY_SCHEDULES:
            schedule, per = schedules[name]
            if schedule is None:
                history, accuracy = _momentum_run(dataset, seed, epochs)
            else:
                history, accuracy = _train(data, optimizers.Momentum(lr=SCHEDULE_LR, momentum=MOMENTUM), seed, epochs,
                                           schedule=schedule, schedule_per=per)
            losses.setdefault(name, []).append(final_loss(history))
            accuracies.setdefault(name, []).append(accuracy)
            final_lrs[name] = history.lr[-1]
            if seed == seeds[0]:
                shown[name] = history
    return DecayStudy(tuple(seeds), losses, accuracies, final_lrs, shown)


# ------------------------------------------------------------------ mini-batch noise on a quadratic bowl

NOISE_SAMPLES, NOISE_STEPS, NOISE_LR, NOISE_BATCHES = 1024, 300, 0.2, (1, 8, 64)
NOISE_TAIL = 50  # the excess loss is averaged over the last NOISE_TAIL steps
NOISE_DECAY_BATCH = 8  # the batch size of the run that adds the decay


def _noise_problem(seed: int):
    """Least squares ½·mean((x·w − y)²) in two weights: features with variances 1 and 0.25 (a stretched
    bowl), targets with noise, so single examples disagree and mini-batch gradients are noisy."""
    rng = _stream(seed, _NOISE_DATA)
    x = rng.standard_normal((NOISE_SAMPLES, 2)) * np.array([1.0, 0.7])
    y = x @ np.array([1.0, -1.0]) + 0.5 * rng.standard_normal(NOISE_SAMPLES)
    w_best = np.linalg.lstsq(x, y, rcond=None)[0]
    return x, y, w_best


def _least_squares_loss(x, y, w) -> float:
    return float(0.5 * np.mean((x @ w - y) ** 2))


def _minibatch_gradients(xb, yb, w) -> np.ndarray:
    """Least-squares gradients xᵦᵀ(xᵦ·w − yᵦ)/B of stacked batches xb (…, B, d), yb (…, B) at stacked
    weights w (…, d): one matrix product per batch, exactly as for a single batch."""
    residual = (xb @ w[..., None])[..., 0] - yb
    return (np.swapaxes(xb, -1, -2) @ residual[..., None])[..., 0] / xb.shape[-2]


def gradient_noise(batch_size: int, seed: int = 0, draws: int = 1000) -> float:
    """Mean squared distance between a mini-batch gradient and the full gradient, at the start
    w = (−1, 1.5): the variance of the gradient estimate, which falls like 1/batch_size."""
    x, y, _ = _noise_problem(seed)
    rng = _stream(seed, _NOISE_BATCHES)
    w = np.array([-1.0, 1.5])
    full = x.T @ (x @ w - y) / len(x)
    batches = rng.integers(0, len(x), (draws, batch_size))
    squared = np.sum((_minibatch_gradients(x[batches], y[batches], np.broadcast_to(w, (draws, 2))) - full) ** 2, axis=-1)
    total = 0.0
    for value in squared.tolist():  # summed in draw order, like a running total
        total += value
    return total / draws


def noisy_sgd_paths(batch_size: int, seeds, *, decay: bool = False, steps: int | None = None) -> tuple:
    """Mini-batch SGD (``lib.optimizers.SGD``, η = NOISE_LR) on each seed's noise problem from (−1, 1.5), all
    seeds at once, each with its own batches; with ``decay`` the rate drops tenfold halfway (``StepDecay``):
    first train without decay, then add it. Returns (paths (steps+1, seeds, 2), excess loss (seeds, steps+1))."""
    problems = [_noise_problem(seed) for seed in seeds]
    x = np.stack([problem[0] for problem in problems])
    y = np.stack([problem[1] for problem in problems])
    steps = NOISE_STEPS if steps is None else steps
    batches = np.stack([[rng.integers(0, NOISE_SAMPLES, batch_size) for _ in range(steps)]
                        for rng in (_stream(seed, _NOISE_BATCHES) for seed in seeds)]).reshape(len(seeds), steps, batch_size)
    sgd = optimizers.SGD(lr=NOISE_LR)
    schedule = optimizers.StepDecay(NOISE_LR, step_size=steps // 2, gamma=0.1) if decay else None
    params = {"w": np.tile([-1.0, 1.5], (len(seeds), 1))}
    paths = np.empty((steps + 1, len(seeds), 2))
    paths[0] = params["w"]
    for step in range(steps):
        if schedule is not None:
            sgd.lr = schedule(step)
        batch = (np.arange(len(seeds))[:, None], batches[:, step])
        sgd.update(params, {"w": _minibatch_gradients(x[batch], y[batch], params["w"])})
        paths[step + 1] = params["w"]
    excess = []
    for i, (xs, ys, w_best) in enumerate(problems):
        losses = 0.5 * np.mean((xs @ paths[:, i].T - ys[:, None]) ** 2, axis=0)  # L(w) at every point at once
        excess.append(losses - _least_squares_loss(xs, ys, w_best))
    return paths, np.array(excess)


def noisy_sgd_path(batch_size: int, seed: int = 0, *, decay: bool = False, steps: int | None = None) -> tuple:
    """:func:`noisy_sgd_paths` for one seed: (path (steps+1, 2), excess loss per step)."""
    paths, excess = noisy_sgd_paths(batch_size, (seed,), decay=decay, steps=steps)
    return paths[:, 0], excess[0]


@dataclass
class NoiseBallStudy:
    """Per seed: the gradient-noise variance and the excess loss over the last NOISE_TAIL steps for each
    batch size at a constant rate, and at batch size NOISE_DECAY_BATCH with the rate cut tenfold halfway."""

    seeds: tuple[int, ...]
    batch_sizes: tuple[int, ...]
    variance: dict[int, list[float]]
    plateau: dict[int, list[float]]
    decayed: list[float]
    curves: dict = field(repr=False, default_factory=dict)  # the first seed's (path, excess loss) per batch size
    decayed_curve: tuple = field(repr=False, default=())  # the first seed's run with the decay

    @property
    def variance_times_batch(self) -> dict[int, MeanSpread]:
        return {b: mean_spread(np.array(self.variance[b]) * b) for b in self.batch_sizes}

    @property
    def plateau_falls_with_batch(self) -> SeedRate:
        return seed_rate(all(self.plateau[a][i] > self.plateau[b][i] for a, b in zip(self.batch_sizes, self.batch_sizes[1:]))
                         for i in range(len(self.seeds)))

    @property
    def decay_shrinks_ball(self) -> SeedRate:
        """With the decay added halfway, the run ends more than 2× below the same batch size at a constant rate."""
        return seed_rate(d * 2 < c for d, c in zip(self.decayed, self.plateau[NOISE_DECAY_BATCH]))


def noise_ball_study(seeds, batch_sizes=NOISE_BATCHES) -> NoiseBallStudy:
    variance = {b: [gradient_noise(b, seed) for seed in seeds] for b in batch_sizes}
    plateau, curves = {}, {}
    for b in batch_sizes:
        paths, excess = noisy_sgd_paths(b, seeds)
        plateau[b] = [float(np.mean(run[-NOISE_TAIL:])) for run in excess]
        curves[b] = (paths[:, 0], excess[0])
    paths, excess = noisy_sgd_paths(NOISE_DECAY_BATCH, seeds, decay=True)
    decayed = [float(np.mean(run[-NOISE_TAIL:])) for run in excess]
    return NoiseBallStudy(tuple(seeds), tuple(batch_sizes), variance, plateau, decayed, curves, (paths[:, 0], excess[0]))


# ------------------------------------------------------------------ critical points in high dimensions

CRITICAL_DIMENSIONS, HESSIANS_PER_SEED = (1, 2, 3, 5, 10), 500


@dataclass
class CriticalPointStudy:
    """For random symmetric Hessians (GOE: H = (G + Gᵀ)/2, G Gaussian) of each dimension n: the fraction
    whose eigenvalues are all positive (a minimum) and of mixed sign (a saddle), one entry per seed."""

    seeds: tuple[int, ...]
    dimensions: tuple[int, ...]
    minima: dict[int, list[float]]
    saddles: dict[int, list[float]]

    @property
    def saddle_fraction_grows(self) -> SeedRate:
        return seed_rate(all(self.saddles[a][i] <= self.saddles[b][i] for a, b in zip(self.dimensions, self.dimensions[1:]))
                         and self.saddles[self.dimensions[-1]][i] > self.saddles[self.dimensions[0]][i]
                         for i in range(len(self.seeds)))

    def mean_saddles(self, n: int) -> MeanSpread:
        return mean_spread(self.saddles[n])

    def mean_minima(self, n: int) -> MeanSpread:
        return mean_spread(self.minima[n])


def critical_point_study(seeds, dimensions=CRITICAL_DIMENSIONS, count: int = HESSIANS_PER_SEED) -> CriticalPointStudy:
    minima = {n: [] for n in dimensions}
    saddles = {n: [] for n in dimensions}
    for seed in seeds:
        rng = _stream(seed, _HESSIANS)
        for n in dimensions:
            g = rng.standard_normal((count, n, n))
            eigenvalues = np.linalg.eigvalsh((g + np.swapaxes(g, 1, 2)) / 2)
            positive = eigenvalues > 0
            minima[n].append(float(np.mean(positive.all(axis=1))))
            saddles[n].append(float(np.mean(positive.any(axis=1) & ~positive.all(axis=1))))
    return CriticalPointStudy(tuple(seeds), tuple(dimensions), minima, saddles)


# ------------------------------------------------------------------------- AdaGrad on sparse features

SPARSE_SAMPLES, SPARSE_FEATURES, SPARSE_STEPS, SPARSE_BATCH = 1000, 100, 100, 16
SPARSE_RARE = 0.05  # features present in fewer than 5% of the examples count as rare


def sparse_problem(seed: int):
    """Least squares on binary features: feature j is present with probability 0.5/j, so the first few
    are common and most are rare; every feature carries a weight of its own."""
    rng = _stream(seed, _SPARSE_DATA)
    frequency = 0.5 / np.arange(1, SPARSE_FEATURES + 1)
    x = (rng.random((SPARSE_SAMPLES, SPARSE_FEATURES)) < frequency).astype(float)
    y = x @ rng.standard_normal(SPARSE_FEATURES) + 0.1 * rng.standard_normal(SPARSE_SAMPLES)
    return x, y, frequency


def _sparse_batches(seed: int) -> np.ndarray:
    """The SPARSE_STEPS mini-batches of ``seed`` (its own stream), shape (SPARSE_STEPS, SPARSE_BATCH)."""
    rng = _stream(seed, _SPARSE_BATCHES)
    return np.array([rng.integers(0, SPARSE_SAMPLES, SPARSE_BATCH) for _ in range(SPARSE_STEPS)])


def _sparse_runs(name: str, x: np.ndarray, y: np.ndarray, batches: np.ndarray, lr: float | None = None) -> np.ndarray:
    """Mini-batch ``name`` on stacked sparse problems x (seeds, samples, features), y (seeds, samples) with
    batches (seeds, steps, batch): one optimizer over a (seeds, features) array, so every seed is its own
    run (the update rules are elementwise). Returns the final weights, one row per seed."""
    optimizer = optimizers.OPTIMIZERS[name](lr=LEARNING_RATES[name]["sparse"] if lr is None else lr)
    params = {"w": np.zeros((len(x), SPARSE_FEATURES))}
    rows = np.arange(len(x))[:, None]
    for step in range(batches.shape[1]):
        batch = (rows, batches[:, step])
        optimizer.update(params, {"w": _minibatch_gradients(x[batch], y[batch], params["w"])})
    return params["w"]


def sparse_run(name: str, seed: int = 0, lr: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mini-batch ``name`` ("SGD" or "AdaGrad") on the sparse problem. Returns (weights, w_best)."""
    x, y, _ = sparse_problem(seed)
    w = _sparse_runs(name, x[None], y[None], _sparse_batches(seed)[None], lr)[0]
    return w, np.linalg.lstsq(x, y, rcond=None)[0]


def per_feature_sgd_excess(rates: np.ndarray, seed: int = 0) -> float:
    """Excess loss of mini-batch SGD with one learning rate per feature, w ← w − rates ⊙ g, on the sparse
    problem with the same batches as :func:`sparse_run` (inf if it blew up)."""
    x, y, _ = sparse_problem(seed)
    rng = _stream(seed, _SPARSE_BATCHES)
    w = np.zeros(SPARSE_FEATURES)
    with np.errstate(all="ignore"):
        for _ in range(SPARSE_STEPS):
            batch = rng.integers(0, SPARSE_SAMPLES, SPARSE_BATCH)
            w -= rates * (x[batch].T @ (x[batch] @ w - y[batch]) / SPARSE_BATCH)
        excess = _least_squares_loss(x, y, w) - _least_squares_loss(x, y, np.linalg.lstsq(x, y, rcond=None)[0])
    return excess if np.isfinite(excess) else math.inf


@dataclass
class SparseStudy:
    """Per seed and method: the full-batch excess loss (over the least-squares optimum) after
    SPARSE_STEPS mini-batch steps, and the RMS distance of the rare features' weights from the optimum."""

    seeds: tuple[int, ...]
    excess: dict[str, list[float]]
    rare_error: dict[str, list[float]]
    first_weights: dict = field(repr=False, default_factory=dict)  # the first seed's (weights, w_best) per method

    @property
    def adagrad_lower_loss(self) -> SeedRate:
        return seed_rate(a < s for a, s in zip(self.excess["AdaGrad"], self.excess["SGD"]))

    @property
    def loss_ratio(self) -> MeanSpread:
        """AdaGrad's excess loss / SGD's, per seed."""
        return mean_spread(np.array(self.excess["AdaGrad"]) / np.array(self.excess["SGD"]))

    @property
    def adagrad_closer_on_rare(self) -> SeedRate:
        return seed_rate(a < s for a, s in zip(self.rare_error["AdaGrad"], self.rare_error["SGD"]))


def sparse_study(seeds) -> SparseStudy:
    problems = [sparse_problem(seed) for seed in seeds]
    x = np.stack([problem[0] for problem in problems])
    y = np.stack([problem[1] for problem in problems])
    batches = np.stack([_sparse_batches(seed) for seed in seeds])
    best = [np.linalg.lstsq(xs, ys, rcond=None)[0] for xs, ys, _ in problems]
    excess, errors, first = {}, {}, {}
    for name in ("SGD", "AdaGrad"):
        weights = _sparse_runs(name, x, y, batches)
        excess[name] = [_least_squares_loss(xs, ys, w) - _least_squares_loss(xs, ys, w_best)
                        for (xs, ys, _), w, w_best in zip(problems, weights, best)]
        errors[name] = [float(np.sqrt(np.mean((w - w_best)[frequency < SPARSE_RARE] ** 2)))
                        for (_, _, frequency), w, w_best in zip(problems, weights, best)]
        first[name] = (weights[0], best[0])
    return SparseStudy(tuple(seeds), excess, errors, first)


# ---------------------------------------------------------------------------------- second order

@dataclass
class NewtonResult:
    before: float  # distance of the start from the minimum
    after_one_newton_step: float
    gd_after_30: float  # gradient descent with its best constant rate, after 30 steps
    newton_path: np.ndarray
    gd_path: np.ndarray


def newton_on_quadratic(seed: int = 0) -> NewtonResult:
    """One Newton step on Saito's f (a quadratic) from the book's start, against gradient descent with
    its best constant rate 2/(λ₁+λ₂) for 30 steps."""
    from lib.second_order import newton_path

    f = functions.saito
    start = start_point(f.start, seed)
    path = newton_path(lambda p: np.array(f.gradient(*p)), lambda p: f.hessian(*p), start, 1)
    lam = sorted((f.lambda1, f.lambda2))
    gd = functions.run_optimizer(optimizers.SGD(2.0 / (lam[0] + lam[1])), f, start, 30)
    return NewtonResult(float(np.linalg.norm(start)), float(np.linalg.norm(path[-1])), float(np.linalg.norm(gd[-1])),
                        path, gd)


def newton_log_bowl(starts=(0.5, 1.5), steps: int = 6) -> dict:
    """Newton's iterates on log(1 + x²) from each start: {start: array of x}."""
    from lib.second_order import LogBowl, newton_path

    bowl = LogBowl()
    return {x0: newton_path(bowl.grad, bowl.hess, x0, steps)[:, 0] for x0 in starts}


LBFGS_TRAIN_SIZE, LBFGS_EVALUATIONS = 200, 60  # a subset of the training images keeps ten seeds fast


def lbfgs_vs_adam(data, *, evaluations: int = 100, batch_size: int = 64, weight_decay: float = 1e-3,
                  adam_lr: float = 0.05, seed: int = 0) -> tuple[dict, float]:
    """Softmax regression on the training set (convex): full-batch L-BFGS and full-batch Adam with the same
    number of gradient evaluations, then mini-batch L-BFGS and mini-batch Adam with the same number of
    mini-batch gradients. Returns ({run: (evaluations array, full-batch loss array)}, the minimum loss),
    the minimum found by running the full-batch L-BFGS on to convergence."""
    from lib.second_order import SoftmaxRegression, lbfgs, minibatch_lbfgs

    (x_train, t_train), _ = data
    model = SoftmaxRegression(np.asarray(x_train, dtype=np.float64), t_train, weight_decay=weight_decay)
    full = lbfgs(model.loss_and_grad, model.initial(), iterations=2 * evaluations, tol=1e-8)
    used = np.array(full.evaluations)
    keep = used <= evaluations
    runs = {"L-BFGS, full batch": (used[keep], np.array(full.losses)[keep])}

    def adam_run(batches):
        adam = optimizers.Adam(lr=adam_lr)
        params = {"w": model.initial()}
        losses = [model.loss(params["w"])]
        for batch in batches:
            _, grad = model.loss_and_grad(params["w"], batch)
            adam.update(params, {"w": grad})
            losses.append(model.loss(params["w"]))
        return np.arange(len(losses)), np.array(losses)

    runs["Adam, full batch"] = adam_run([None] * evaluations)
    rng = _stream(seed, _LBFGS_BATCHES)
    n = len(x_train)
    batches = [rng.choice(n, batch_size, replace=False) for _ in range(evaluations)]
    runs["Adam, mini-batch"] = adam_run(batches)
    # Mini-batch L-BFGS may use several evaluations per step (line search); give it the same budget.
    stochastic = minibatch_lbfgs(model.loss_and_grad, model.loss, model.initial(), batches)
    used = np.array(stochastic.evaluations)
    keep = used <= evaluations
    runs["L-BFGS, mini-batch"] = (used[keep], np.array(stochastic.losses)[keep])
    minimum = min(full.losses[-1], *(float(np.min(losses)) for _, losses in runs.values()))
    return runs, float(minimum)


def loss_at(run, evaluations: int) -> float:
    """The loss of ``run = (evaluations, losses)`` once ``evaluations`` gradients had been used."""
    used, losses = run
    return float(losses[np.searchsorted(used, evaluations, side="right") - 1])


@dataclass
class LbfgsStudy:
    """Per seed (training subset and mini-batches): loss − minimum of each run after half and after all
    LBFGS_EVALUATIONS gradient evaluations; the first seed's runs for the picture."""

    seeds: tuple[int, ...]
    gap_at_50: dict[str, list[float]]
    gap_at_end: dict[str, list[float]]
    runs: dict = field(repr=False, default_factory=dict)
    minimum: float = 0.0

    @property
    def full_batch_lbfgs_ten_times_closer(self) -> SeedRate:
        return seed_rate(l * 10 < a for l, a in zip(self.gap_at_50["L-BFGS, full batch"], self.gap_at_50["Adam, full batch"]))

    @property
    def minibatch_lbfgs_behind_adam(self) -> SeedRate:
        return seed_rate(l > a for l, a in zip(self.gap_at_end["L-BFGS, mini-batch"], self.gap_at_end["Adam, mini-batch"]))


def lbfgs_study(seeds, dataset: str = "digits") -> LbfgsStudy:
    at_50, at_end, shown = {}, {}, None
    for seed in seeds:
        (x_train, t_train), test = _study_data(dataset, seed)
        subset = ((x_train[:LBFGS_TRAIN_SIZE], t_train[:LBFGS_TRAIN_SIZE]), test)
        runs, minimum = lbfgs_vs_adam(subset, evaluations=LBFGS_EVALUATIONS, seed=seed)
        for name, run in runs.items():
            at_50.setdefault(name, []).append(loss_at(run, LBFGS_EVALUATIONS // 2) - minimum)
            at_end.setdefault(name, []).append(float(run[1][-1]) - minimum)
        shown = shown or (runs, minimum)
    return LbfgsStudy(tuple(seeds), at_50, at_end, *shown)
