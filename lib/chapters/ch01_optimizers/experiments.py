"""The experiments of chapter 1 (optimizers), shared by the notebook and its claim tests.

Every number the chapter states comes from a function here; ``tests/test_claims_ch01.py`` calls the same
functions over several seeds. ``seed=0`` reproduces the book's setting exactly (e.g. the start (−7, 2) on
Saito's f); other seeds perturb it (a jittered start, another data split and initialization), so a claim
is checked beyond the one picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lib import functions, optimizers

__all__ = [
    "BOOK_PATH_OPTIMIZERS", "PATH_OPTIMIZERS", "SADDLE_OPTIMIZERS", "BEALE_OPTIMIZERS", "ROTATION_OPTIMIZERS",
    "NETWORK_OPTIMIZERS", "NETWORK_EPOCHS", "EVAL_SIZE", "ROTATION_DIRECTIONS", "SCHEDULE_LR", "TRAINED_SCHEDULES",
    "epochs_for",
    "make_optimizers", "start_point", "paths_on", "gradient_angle", "path_stats", "momentum_forms_gap",
    "bias_correction_trace", "saddle_start", "saddle_escape_steps", "f_increases", "rotation_effect",
    "network_comparison", "final_losses", "schedules_for", "schedule_curves", "schedule_study",
    "newton_on_quadratic", "newton_log_bowl", "lbfgs_vs_adam", "loss_at", "animate_paths",
]

# The book's learning rates for the paths on f(x, y) = x²/20 + y² (Saito, figure 6-8), plus Nesterov and
# RMSprop with rates chosen the same way: large enough to show their character in 30 steps.
BOOK_PATH_OPTIMIZERS = {
    "SGD": ("SGD", {"lr": 0.95}),
    "Momentum": ("Momentum", {"lr": 0.1, "momentum": 0.9}),
    "AdaGrad": ("AdaGrad", {"lr": 1.5}),
    "Adam": ("Adam", {"lr": 0.3}),
}
PATH_OPTIMIZERS = {
    **BOOK_PATH_OPTIMIZERS,
    "Nesterov": ("Nesterov", {"lr": 0.1, "momentum": 0.9}),
    "RMSprop": ("RMSprop", {"lr": 0.15}),
}


def make_optimizers(spec: dict) -> dict:
    """Fresh optimizers from {name: (class name in lib.optimizers, keyword arguments)}."""
    return {name: optimizers.OPTIMIZERS[cls](**kwargs) for name, (cls, kwargs) in spec.items()}


def start_point(base, seed: int, jitter: float = 0.5) -> np.ndarray:
    """``base`` for seed 0, else ``base`` moved by up to ±``jitter`` in each coordinate."""
    base = np.asarray(base, dtype=float)
    if seed == 0:
        return base
    return base + np.random.default_rng(seed).uniform(-jitter, jitter, base.shape)


def paths_on(function, spec: dict | None = None, *, start=None, steps: int = 30, seed: int = 0,
             jitter: float = 0.5) -> dict:
    """{name: path (steps+1, 2)} for each optimizer of ``spec`` (default: all six) on ``function``."""
    start = start_point(function.start if start is None else start, seed, jitter)
    return {name: functions.run_optimizer(optimizer, function, start, steps)
            for name, optimizer in make_optimizers(spec or PATH_OPTIMIZERS).items()}


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


def momentum_forms_gap(alpha: float = 1.0, beta: float = 0.9, *, steps: int = 30, seed: int = 0) -> float:
    """Largest coordinate difference between the classic form Momentum(lr=α(1−β), β) and the EMA form
    MomentumEMA(lr=α, β) on Saito's f — zero up to rounding."""
    start = start_point(functions.saito.start, seed)
    classic = functions.run_optimizer(optimizers.Momentum(lr=alpha * (1 - beta), momentum=beta), functions.saito,
                                      start, steps)
    ema = functions.run_optimizer(optimizers.MomentumEMA(lr=alpha, beta=beta), functions.saito, start, steps)
    return float(np.max(np.abs(classic - ema)))


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


SADDLE_OPTIMIZERS = {
    "SGD": ("SGD", {"lr": 0.05}),
    "Momentum": ("Momentum", {"lr": 0.02, "momentum": 0.9}),
    "Nesterov": ("Nesterov", {"lr": 0.02, "momentum": 0.9}),
    "AdaGrad": ("AdaGrad", {"lr": 0.3}),
    "RMSprop": ("RMSprop", {"lr": 0.03}),
    "Adam": ("Adam", {"lr": 0.1}),
}
BEALE_OPTIMIZERS = {
    "SGD": ("SGD", {"lr": 0.01}),
    "Momentum": ("Momentum", {"lr": 0.002, "momentum": 0.9}),
    "Nesterov": ("Nesterov", {"lr": 0.002, "momentum": 0.9}),
    "AdaGrad": ("AdaGrad", {"lr": 0.5}),
    "RMSprop": ("RMSprop", {"lr": 0.05}),
    "Adam": ("Adam", {"lr": 0.1}),
}


def saddle_start(seed: int = 0) -> np.ndarray:
    """(−1, 10⁻³) for seed 0; otherwise x in [−1.2, −0.8] and y = ±10^u, u in [−4, −2]: a hair off the ridge."""
    if seed == 0:
        return np.array([-1.0, 1e-3])
    rng = np.random.default_rng(seed)
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


ROTATION_OPTIMIZERS = {
    "SGD": ("SGD", {"lr": 0.09}),
    "Momentum": ("Momentum", {"lr": 0.02, "momentum": 0.9}),
    "AdaGrad": ("AdaGrad", {"lr": 0.5}),
    "RMSprop": ("RMSprop", {"lr": 0.05}),
    "Adam": ("Adam", {"lr": 0.2}),
}


ROTATION_DIRECTIONS = 12


def rotation_effect(*, lambda1: float = 1.0, lambda2: float = 20.0, angle: float = math.pi / 4, steps: int = 50,
                    directions: int = ROTATION_DIRECTIONS, radius: float = 4.0, seed: int = 0) -> dict:
    """Each optimizer of ROTATION_OPTIMIZERS on ½(λ₁x² + λ₂y²) and on the same bowl rotated by ``angle``,
    from ``directions`` start points on a circle of ``radius`` (offset by the seed), each start rotated
    along so both problems are identical up to the axes.

    Returns ``values[name] = (median f aligned, median f rotated)`` after ``steps`` steps, and the paths
    from the first start (seed 0: the direction of (−4, 1)) for the picture. One start alone can mislead:
    whether the per-coordinate scaling helps depends on where the start sits relative to the axes.
    """
    offset = math.atan2(1.0, -4.0) if seed == 0 else np.random.default_rng(seed).uniform(0, 2 * math.pi)
    c, s = math.cos(angle), math.sin(angle)
    aligned_bowl = functions.quadratic(lambda1, lambda2)
    rotated_bowl = functions.rotated_quadratic(lambda1, lambda2, angle)
    finals = {name: ([], []) for name in ROTATION_OPTIMIZERS}
    paths = {"aligned": {}, "rotated": {}}
    for index in range(directions):
        direction = offset + 2 * math.pi * index / directions
        base = radius * np.array([math.cos(direction), math.sin(direction)])
        rotated_start = np.array([c * base[0] - s * base[1], s * base[0] + c * base[1]])
        for name, spec in ROTATION_OPTIMIZERS.items():
            aligned = functions.run_optimizer(make_optimizers({name: spec})[name], aligned_bowl, base, steps)
            rotated = functions.run_optimizer(make_optimizers({name: spec})[name], rotated_bowl, rotated_start, steps)
            finals[name][0].append(float(aligned_bowl(*aligned[-1])))
            finals[name][1].append(float(rotated_bowl(*rotated[-1])))
            if index == 0:
                paths["aligned"][name], paths["rotated"][name] = aligned, rotated
    values = {name: (float(np.median(a)), float(np.median(r))) for name, (a, r) in finals.items()}
    return {"values": values, "paths": paths, "bowls": (aligned_bowl, rotated_bowl)}


# ---------------------------------------------------------------------------------- the real network

# The book's comparison (ch. 6, optimizer_compare_mnist.py) uses each optimizer's default rate.
NETWORK_OPTIMIZERS = {
    "SGD": ("SGD", {"lr": 0.01}),
    "Momentum": ("Momentum", {"lr": 0.01, "momentum": 0.9}),
    "Nesterov": ("Nesterov", {"lr": 0.01, "momentum": 0.9}),
    "AdaGrad": ("AdaGrad", {"lr": 0.01}),
    "RMSprop": ("RMSprop", {"lr": 0.001}),
    "Adam": ("Adam", {"lr": 0.001}),
}
HIDDEN_LAYERS = [100, 100, 100, 100]
NETWORK_EPOCHS = 10  # digits: 1,438 training images, 11 mini-batches of 128 per epoch


def epochs_for(dataset: str) -> int:
    """Epochs for the network experiments: 10 on digits (110 iterations), 3 on MNIST (1,404 iterations,
    close to the book's 2,000)."""
    return 3 if dataset == "mnist" else NETWORK_EPOCHS


EVAL_SIZE = 400  # per-epoch evaluation on 400 training and (up to) 400 test images keeps runs fast


def _network(data, seed: int):
    from lib.networks import MultiLayerNet

    (x_train, t_train), _ = data
    classes = int(np.max(t_train)) + 1 if np.ndim(t_train) == 1 else np.shape(t_train)[1]
    return MultiLayerNet(x_train.shape[1], HIDDEN_LAYERS, classes, activation="relu", weight_init_std="relu",
                         seed=seed)


def network_comparison(data, *, epochs: int = NETWORK_EPOCHS, batch_size: int = 128, seed: int = 0,
                       spec: dict | None = None, progress: bool = False) -> dict:
    """{name: History}: the 5-layer (4×100) ReLU/He network trained by each optimizer from the same initial
    weights and the same mini-batch order (``seed``)."""
    from lib.training import train

    histories = {}
    for name, optimizer in make_optimizers(spec or NETWORK_OPTIMIZERS).items():
        if progress:
            print(name)
        histories[name] = train(_network(data, seed), optimizer, data, epochs=epochs, batch_size=batch_size,
                                seed=seed, progress=progress, eval_size=EVAL_SIZE)
    return histories


def final_losses(histories: dict) -> dict:
    """Mean mini-batch training loss over each run's last epoch."""
    return {name: float(np.mean(h.train_loss[-h.iterations_per_epoch:])) for name, h in histories.items()}


# ---------------------------------------------------------------------------------------- schedules

SCHEDULE_LR = 0.1  # Momentum(0.9)'s rate for the schedule study: fast but stable on this network


def schedules_for(epochs: int, lr0: float = SCHEDULE_LR) -> dict:
    """{name: (schedule or None, 'epoch' | 'iteration')}; the last decays per iteration by mistake."""
    return {
        "constant": (None, "epoch"),
        "step ×0.3 every 5": (optimizers.StepDecay(lr0, step_size=5, gamma=0.3), "epoch"),
        "exponential 0.8": (optimizers.ExponentialDecay(lr0, gamma=0.8), "epoch"),
        "1/t (k = 0.5)": (optimizers.InverseTimeDecay(lr0, k=0.5), "epoch"),
        "cosine": (optimizers.CosineDecay(lr0, total_steps=epochs), "epoch"),
        "warm-up 2 + cosine": (optimizers.LinearWarmup(optimizers.CosineDecay(lr0, total_steps=epochs - 2), 2),
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


TRAINED_SCHEDULES = tuple(schedules_for(NETWORK_EPOCHS))


def schedule_study(data, *, epochs: int = NETWORK_EPOCHS, batch_size: int = 128, seed: int = 0,
                   names=TRAINED_SCHEDULES) -> dict:
    """{name: History}: Momentum(lr0, 0.9) on the chapter's network under each schedule in ``names``."""
    from lib.training import train

    histories = {}
    for name, (schedule, per) in schedules_for(epochs).items():
        if names is not None and name not in names:
            continue
        optimizer = optimizers.Momentum(lr=SCHEDULE_LR, momentum=0.9)
        histories[name] = train(_network(data, seed), optimizer, data, epochs=epochs, batch_size=batch_size,
                                seed=seed, schedule=schedule, schedule_per=per, eval_size=EVAL_SIZE)
    return histories


# ---------------------------------------------------------------------------------- second order

def newton_on_quadratic(seed: int = 0) -> dict:
    """One Newton step on Saito's f (a quadratic) from the book's start: the distance to the minimum
    before and after, and what gradient descent with its best rate reaches in 30 steps."""
    from lib.second_order import newton_path

    f = functions.saito
    start = start_point(f.start, seed)
    path = newton_path(lambda p: np.array(f.gradient(*p)), lambda p: f.hessian(*p), start, 1)
    lam = sorted((f.lambda1, f.lambda2))
    best_lr = 2.0 / (lam[0] + lam[1])
    gd = functions.run_optimizer(optimizers.SGD(best_lr), f, start, 30)
    return {"before": float(np.linalg.norm(start)), "after_one_newton_step": float(np.linalg.norm(path[-1])),
            "gd_after_30": float(np.linalg.norm(gd[-1])), "newton_path": path, "gd_path": gd}


def newton_log_bowl(starts=(0.5, 1.5), steps: int = 6) -> dict:
    """Newton's iterates on log(1 + x²) from each start: {start: array of x}."""
    from lib.second_order import LogBowl, newton_path

    bowl = LogBowl()
    return {x0: newton_path(bowl.grad, bowl.hess, x0, steps)[:, 0] for x0 in starts}


def lbfgs_vs_adam(data, *, evaluations: int = 100, batch_size: int = 64, weight_decay: float = 1e-3,
                  adam_lr: float = 0.05, seed: int = 0) -> tuple[dict, float]:
    """Softmax regression on the training set (convex): full-batch L-BFGS and full-batch Adam with the same
    number of gradient evaluations, then mini-batch L-BFGS and mini-batch Adam with the same number of
    mini-batch gradients. Returns ({run: (evaluations array, full-batch loss array)}, the minimum loss),
    the minimum found by running the full-batch L-BFGS on to convergence."""
    from lib.second_order import SoftmaxRegression, lbfgs, minibatch_lbfgs

    (x_train, t_train), _ = data
    model = SoftmaxRegression(x_train, t_train, weight_decay=weight_decay)
    full = lbfgs(model.loss_and_grad, model.initial(), iterations=3 * evaluations, tol=1e-8)
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
    rng = np.random.default_rng(seed)
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


# ---------------------------------------------------------------------------------------- pictures

def animate_paths(panels, *, frames: int = 16, figsize=(7.5, 3.2), dpi: int = 60):
    """An HTML/JS animation of optimizer paths growing, one panel per ``(function, paths, options)``
    (options: xlim, ylim, title, log_levels, levels). At most 40 frames.

    The contours, labels and legend are drawn once and frozen into a background image; each frame then
    draws only the paths on top, which is several times faster than redrawing the whole figure and keeps
    the embedded frames (PNG, low dpi) small.
    """
    import matplotlib.pyplot as plt

    from lib.plots import animation_html, color_for, contour_paths

    frames = max(1, min(int(frames), 40))
    fig, axes = plt.subplots(1, len(panels), figsize=figsize, dpi=dpi, squeeze=False)
    axes = axes[0]
    for ax, (function, paths, options) in zip(axes, panels):
        contour_paths(ax, function, {}, xlim=options.get("xlim", function.xlim), ylim=options.get("ylim", function.ylim),
                      levels=options.get("levels", 10), log_levels=options.get("log_levels", False), resolution=80,
                      legend=False, title=options.get("title", function.name))
    names = list(panels[0][1])
    for index, name in enumerate(names):
        axes[0].plot([], [], color=color_for(name, index), label=name)
    axes[0].legend(fontsize="x-small", loc="lower right")
    fig.tight_layout()
    fig.canvas.draw()
    background = np.asarray(fig.canvas.buffer_rgba()).copy()
    for ax in axes:
        for artist in ax.get_children():
            artist.set_visible(False)
    fig.figimage(background, origin="upper", zorder=-1)
    lines = [{name: ax.plot([], [], "-", linewidth=1.4, color=color_for(name, index))[0]
              for index, name in enumerate(paths)} for ax, (_, paths, _) in zip(axes, panels)]

    def update(frame):
        for panel_lines, (_, paths, _) in zip(lines, panels):
            for name, path in paths.items():
                upto = 1 + round((frame + 1) * (len(path) - 1) / frames)
                panel_lines[name].set_data(path[:upto, 0], path[:upto, 1])
        return [line for panel_lines in lines for line in panel_lines.values()]

    return animation_html(fig, update, frames, interval=200)
