"""Checks for chapter 4's exercises: the L2 penalty and its gradient, inverted Dropout, and
early-stopping epoch selection.

Every check computes its expected values from the formula, with non-default hyperparameters, and
names the likely bug when the student's answer equals what a known mistake produces.

- ``reg-l2-loss``:     ``l2_penalty(params, weight_decay_lambda) -> float`` = ½λ Σ_W ‖W‖² over weights only.
- ``reg-l2-grad``:     ``l2_gradient(params, grads, weight_decay_lambda) -> dict`` adds λW to each weight's
  gradient; ``check_l2_consistency`` also verifies that the gradient is the derivative of the penalty.
- ``reg-dropout``:     ``Dropout(dropout_ratio, rng)`` with ``forward(x, train_flg)`` / ``backward(dout)``,
  inverted convention.
- ``reg-early-stop``:  ``early_stopping(curves, patience) -> (best_epoch, stop_epoch)``.
"""

from __future__ import annotations

import numpy as np

from lib.checks.core import SCALAR_TYPES, ExerciseFailure, answer_digest, call_student, expect_array, expect_scalar, fail, passed

__all__ = ["check_l2_penalty", "check_l2_gradient", "check_l2_consistency", "check_dropout",
           "check_early_stopping", "reference_early_stopping", "EARLY_STOPPING_BUGS", "EARLY_STOPPING_CASES",
           "WatchedData", "CHOICE_LAMBDAS", "check_choose_lambda", "DIAGNOSIS_OPTIONS", "BrokenDropout",
           "dropout_evidence", "check_diagnosis", "check_dropout_fix"]


# --------------------------------------------------------------------------- L2 weight decay

def _l2_params(dtype=np.float64, *, with_batchnorm: bool = False, seed: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(5, 4)), "b1": rng.normal(size=4),
              "W2": rng.normal(size=(4, 3)), "b2": rng.normal(size=3)}
    if with_batchnorm:
        params.update(gamma1=1.0 + rng.normal(scale=0.3, size=4), beta1=rng.normal(size=4))
    return {key: value.astype(dtype) for key, value in params.items()}


def _is_weight(key: str) -> bool:
    return key.startswith("W")


def _sum_squares(params, keys) -> float:
    return float(sum(np.sum(params[key].astype(np.float64) ** 2) for key in keys))


def check_l2_penalty(l2_penalty) -> None:
    """``l2_penalty(params, λ)`` must return ½λ Σ‖W‖² summed over the weight matrices only."""
    exercise = "reg-l2-loss"
    lam = 0.37
    for dtype, with_batchnorm in ((np.float64, False), (np.float64, True), (np.float32, True)):
        params = _l2_params(dtype, with_batchnorm=with_batchnorm)
        weights = [key for key in params if _is_weight(key)]
        everything = list(params)
        squares = _sum_squares(params, weights)
        expected = 0.5 * lam * squares
        got = call_student(exercise, f"l2_penalty(params, {lam})", l2_penalty, params, lam)
        rtol = 1e-5 if dtype == np.float32 else 1e-9
        likely = {
            "the penalty is missing the ½: use ½λ‖W‖², whose gradient is exactly λW.": lam * squares,
            "biases (or γ/β) were penalized too: weight decay applies to the keys 'W1', 'W2', … only "
            "— a bias does not make the function more complex, and decaying γ would fight BatchNorm.":
                0.5 * lam * _sum_squares(params, everything),
            "the ½ is missing AND the biases were penalized.": lam * _sum_squares(params, everything),
            "‖W‖ was used instead of ‖W‖² (the norm, not its square).":
                0.5 * lam * sum(float(np.sqrt(np.sum(params[key].astype(np.float64) ** 2))) for key in weights),
            "np.mean was used instead of np.sum: the penalty is a sum over every weight.":
                0.5 * lam * sum(float(np.mean(params[key].astype(np.float64) ** 2)) for key in weights),
            "λ is missing from the penalty.": 0.5 * squares,
            "this is the L1 penalty (Σ|W|), not L2.":
                0.5 * lam * sum(float(np.sum(np.abs(params[key]))) for key in weights),
        }
        expect_scalar(exercise, f"l2_penalty(params, {lam}) with keys {sorted(params)} ({np.dtype(dtype).name})",
                      got, expected, rtol=rtol, atol=0.0, likely_bugs=likely)
    got_zero = call_student(exercise, "l2_penalty(params, 0.0)", l2_penalty, _l2_params(), 0.0)
    expect_scalar(exercise, "l2_penalty(params, 0.0)", got_zero, 0.0, atol=1e-12)
    passed(exercise, "½λΣ‖W‖² over weights only, float32 and float64")


def _l2_grads(params, seed: int = 9) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {key: rng.normal(size=value.shape).astype(value.dtype) for key, value in params.items()}


def check_l2_gradient(l2_gradient) -> None:
    """``l2_gradient(params, grads, λ)`` must return grads with λW added to every weight's gradient
    and every other gradient unchanged, in the params' dtype."""
    exercise = "reg-l2-grad"
    lam = 0.37
    for dtype in (np.float64, np.float32):
        params = _l2_params(dtype, with_batchnorm=True)
        grads = _l2_grads(params)
        got = call_student(exercise, f"l2_gradient(params, grads, {lam})", l2_gradient, params, grads, lam)
        if got is None:
            fail(exercise, "l2_gradient returned None — build and `return` the dict of gradients "
                           "(updating `grads` in place is fine, but return it too).")
        if not isinstance(got, dict):
            fail(exercise, f"l2_gradient must return a dict like `grads`, got {type(got).__name__}.")
        if set(got) != set(grads):
            fail(exercise, f"l2_gradient returned keys {sorted(got)}, expected the same keys as grads: "
                           f"{sorted(grads)}.")
        for key in sorted(params):
            if _is_weight(key):
                expected = grads[key] + dtype(lam) * params[key]
                likely = {
                    "2λW was added: that is the derivative of λ‖W‖² without the ½. With the penalty "
                    "½λ‖W‖² the gradient is λW.": grads[key] + dtype(2 * lam) * params[key],
                    "the sign is wrong: the penalty's gradient +λW is added to the loss gradient "
                    "(the optimizer's minus sign then shrinks W).": grads[key] - dtype(lam) * params[key],
                    "only λW was returned: add it to the loss gradient, don't replace it.": dtype(lam) * params[key],
                    "the weight's gradient is unchanged: λW was not added.": grads[key],
                    "λ·grad was added instead of λ·W: the penalty's gradient involves the weights themselves.":
                        grads[key] + dtype(lam) * grads[key],
                }
            else:
                expected = grads[key]
                likely = {
                    f"'{key}' was decayed: weight decay applies to the weights 'W1', 'W2', … only, "
                    "not to biases or BatchNorm's γ/β.": grads[key] + dtype(lam) * params[key],
                }
            expect_array(exercise, f"gradient for '{key}' ({np.dtype(dtype).name})", got[key], expected,
                         rtol=1e-5 if dtype == np.float32 else 1e-9, atol=1e-7 if dtype == np.float32 else 1e-12,
                         likely_bugs=likely)
    passed(exercise, "λW added to weights only; biases, γ and β untouched; dtype kept")


def check_l2_consistency(l2_penalty, l2_gradient) -> None:
    """The gradient the student adds must be the derivative of the penalty the student adds to the
    loss — otherwise gradient checking the regularized network fails."""
    exercise = "reg-l2-grad"
    lam = 0.37
    params = _l2_params(np.float64, with_batchnorm=True)
    zeros = {key: np.zeros_like(value) for key, value in params.items()}
    added = call_student(exercise, f"l2_gradient(params, zero grads, {lam})", l2_gradient, params, zeros, lam)
    if not isinstance(added, dict) or set(added) != set(params):
        fail(exercise, "l2_gradient must return a dict with the same keys as grads.")
    h = 1e-5
    for key in sorted(params):
        numeric = np.zeros_like(params[key])
        for index in np.ndindex(params[key].shape):
            shifted = {name: value.copy() for name, value in params.items()}
            shifted[key][index] += h
            plus = call_student(exercise, f"l2_penalty(params, {lam})", l2_penalty, shifted, lam)
            shifted[key][index] -= 2 * h
            minus = call_student(exercise, f"l2_penalty(params, {lam})", l2_penalty, shifted, lam)
            numeric[index] = (_number(exercise, plus) - _number(exercise, minus)) / (2 * h)
        if type(added[key]) is not np.ndarray or added[key].dtype.kind != "f":
            fail(exercise, f"l2_gradient must return numpy float arrays; for '{key}' got {type(added[key]).__name__}.")
        gradient = added[key].astype(np.float64)
        if np.allclose(gradient, numeric, rtol=1e-6, atol=1e-7):
            continue
        if np.allclose(numeric, 2 * gradient, rtol=1e-6, atol=1e-7):
            fail(exercise, f"for '{key}' the derivative of your penalty is 2× the λW your gradient adds: the penalty "
                           "is missing the ½ while the gradient has it — loss and gradient disagree, so a gradient "
                           "check of the regularized network fails. Use ½λ‖W‖² in the loss.")
        if np.allclose(gradient, 2 * numeric, rtol=1e-6, atol=1e-7):
            fail(exercise, f"for '{key}' your gradient adds 2× the derivative of your penalty: the gradient "
                           "should be λW for the penalty ½λ‖W‖².")
        fail(exercise, f"for '{key}' the gradient l2_gradient adds is not the derivative of l2_penalty (checked "
                       "numerically): loss and gradient must agree.")
    passed(exercise, "the gradient is the derivative of the penalty (checked numerically)")


def _number(exercise, value) -> float:
    """A student's scalar as a float, only if it is a built-in or numpy number."""
    if type(value) not in SCALAR_TYPES and not (type(value) is np.ndarray and value.shape == () and value.dtype.kind in "fiu"):
        fail(exercise, f"l2_penalty must return a number, got {type(value).__name__}.")
    return float(np.asarray(value))


# --------------------------------------------------------------------------- Dropout

def _dropout_layer(exercise, Dropout, ratio, seed):
    return call_student(exercise, f"Dropout(dropout_ratio={ratio}, rng=np.random.default_rng({seed}))",
                        Dropout, dropout_ratio=ratio, rng=np.random.default_rng(seed))


def _forward(exercise, layer, x, train_flg):
    return call_student(exercise, f"forward(x, train_flg={train_flg})", layer.forward, x, train_flg=train_flg)


def _kept_mask(exercise, out, x, keep, ratio) -> np.ndarray:
    """Recover which units were kept from the output (every input is nonzero) and check the rate."""
    if out is None:
        fail(exercise, "forward(x, train_flg=True) returned None — did you forget to `return`?")
    if type(out) is not np.ndarray or out.dtype.kind not in "fiu":
        fail(exercise, f"forward(x, train_flg=True) must return a numpy array of numbers, got {type(out).__name__}.")
    if out.shape != x.shape:
        fail(exercise, f"forward(x, train_flg=True): expected shape {x.shape}, got {out.shape}.")
    kept = out != 0
    fraction = kept.mean()
    if fraction == 1.0:
        fail(exercise, "forward(x, train_flg=True) dropped nothing: in training mode each unit is zeroed "
                       "with probability dropout_ratio.")
    if abs(fraction - keep) > 0.03:
        if abs(fraction - ratio) <= 0.03:
            fail(exercise, f"about {fraction:.0%} of the units were kept, but dropout_ratio={ratio} is the fraction "
                           f"DROPPED: keep each unit with probability 1 − ratio = {keep} "
                           "(mask = rng.random(x.shape) >= dropout_ratio, or > — the two differ with probability 0).")
        fail(exercise, f"about {fraction:.1%} of the units were kept; the kept fraction should be close to 1 − dropout_ratio.")
    return kept


def check_dropout(Dropout) -> None:
    """Inverted dropout: training keeps each unit with probability 1−r and divides the kept ones by
    1−r; backward reuses forward's mask with the same scaling; evaluation is the identity."""
    exercise = "reg-dropout"
    ratio, keep = 0.3, 0.7
    data = np.random.default_rng(21)

    for dtype in (np.float64, np.float32):
        layer = _dropout_layer(exercise, Dropout, ratio, seed=1)
        x = data.uniform(0.5, 1.5, size=(200, 60)).astype(dtype)
        out = _forward(exercise, layer, x, True)
        kept = _kept_mask(exercise, out, x, keep, ratio)
        tol = dict(rtol=1e-5, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-12)
        expect_array(exercise, f"forward(x, train_flg=True) on the kept units ({np.dtype(dtype).name})", out,
                     np.where(kept, x / dtype(keep), dtype(0)), **tol, likely_bugs={
                         "the kept units were not scaled — that is the book's non-inverted dropout. Inverted "
                         "dropout divides by the keep probability 1 − dropout_ratio while training.":
                             np.where(kept, x, 0).astype(dtype),
                         "the kept units were divided by dropout_ratio; divide by the KEEP probability 1 − dropout_ratio.":
                             np.where(kept, x / dtype(ratio), 0).astype(dtype),
                         "the kept units were multiplied by 1 − dropout_ratio; inverted dropout divides by it.":
                             np.where(kept, x * dtype(keep), 0).astype(dtype),
                     })

        dout = data.normal(size=x.shape).astype(dtype)
        dx = call_student(exercise, "backward(dout)", layer.backward, dout)
        if type(dx) is np.ndarray and dx.shape == x.shape and not np.array_equal(dx != 0, kept):
            fail(exercise, "backward(dout) zeroes different units than the forward pass did: did you draw a new mask "
                           "in backward? Store the mask in forward (e.g. self.mask) and reuse it — the gradient flows "
                           "only through the units that were kept.")
        expect_array(exercise, f"backward(dout) ({np.dtype(dtype).name})", dx,
                     np.where(kept, dout / dtype(keep), dtype(0)), **tol, likely_bugs={
                         "backward is missing the 1/(1 − dropout_ratio) factor: the forward pass multiplied the kept "
                         "units by it, so the gradient gets the same factor.": np.where(kept, dout, 0).astype(dtype),
                         "backward divides by dropout_ratio; use the keep probability 1 − dropout_ratio, as in forward.":
                             np.where(kept, dout / dtype(ratio), 0).astype(dtype),
                     })

    layer = _dropout_layer(exercise, Dropout, ratio, seed=2)
    x = data.uniform(0.5, 1.5, size=(100, 40))
    first = _kept_mask(exercise, _forward(exercise, layer, x, True), x, keep, ratio)
    second = _kept_mask(exercise, _forward(exercise, layer, x, True), x, keep, ratio)
    if np.array_equal(first, second):
        fail(exercise, "two training forward passes dropped exactly the same units: draw a fresh mask on every "
                       "training forward pass (not once in __init__).")
    dout = data.normal(size=x.shape)
    dx = call_student(exercise, "backward(dout) after a second forward pass", layer.backward, dout)
    if type(dx) is np.ndarray and dx.shape == x.shape and not np.array_equal(dx != 0, second):
        fail(exercise, "backward(dout) does not use the mask of the most recent forward pass.")

    evaluation = _forward(exercise, layer, x, False)
    if type(evaluation) is np.ndarray and evaluation.shape == x.shape and np.any(evaluation == 0):
        fail(exercise, f"forward(x, train_flg=False) zeroed {np.mean(evaluation == 0):.0%} of the units: "
                       "dropout is still active at test time. With train_flg=False every unit is used: return x unchanged.")
    expect_array(exercise, "forward(x, train_flg=False)", evaluation, x, rtol=0, atol=0, likely_bugs={
        "the test-time output was multiplied by 1 − dropout_ratio: that is the book's non-inverted convention. "
        "Inverted dropout already rescaled during training, so at test time it is the identity.": x * keep,
        "the test-time output was divided by 1 − dropout_ratio: inverted dropout scales only while training; "
        "at test time it is the identity.": x / keep,
    })

    again = _forward(exercise, _dropout_layer(exercise, Dropout, ratio, seed=7), x, True)
    reference = _forward(exercise, _dropout_layer(exercise, Dropout, ratio, seed=7), x, True)
    if type(again) is not np.ndarray or type(reference) is not np.ndarray or not np.array_equal(again, reference):
        fail(exercise, "two layers built with the same seeded rng dropped different units: draw the mask from "
                       "the layer's own generator (self.rng.random(x.shape)), not from np.random's global state, "
                       "so runs are reproducible.")
    passed(exercise, f"keeps ≈{keep:.0%}, scales by 1/(1−r), mask reused in backward, identity at test time")


# --------------------------------------------------------------------------- early stopping

def reference_early_stopping(curves: dict, patience: int, *, monitor: str = "val_acc",
                             ties_improve: bool = False, patience_slack: int = 0, reset_counter: bool = True,
                             first_epoch: int = 0, shift: int = 0, peek: bool = False,
                             return_stop_as_best: bool = False):
    """Early stopping on ``curves[monitor]`` (epoch 0 = before training) with the given patience, plus
    switches that reproduce the usual mistakes (used to name them in the check's messages)."""
    values = list(curves[monitor])[first_epoch:]
    best, waited = 0, 0
    stop = len(values) - 1
    for epoch in range(1, len(values)):
        improved = values[epoch] >= values[best] if ties_improve else values[epoch] > values[best]
        if improved:
            best = epoch
            if reset_counter:
                waited = 0
        else:
            waited += 1
            if waited >= patience + patience_slack:
                stop = epoch
                break
    if peek:
        best = int(np.argmax(values))
    if return_stop_as_best:
        best = stop
    return best + shift, stop + shift


EARLY_STOPPING_BUGS = {
    "the epoch was selected on the TEST curve. The test set must stay untouched until the very end: choose the "
    "epoch (and any hyperparameter) on the validation curve.": dict(monitor="test_acc"),
    "the epoch was selected on the TRAINING curve, which keeps improving while the model overfits: use the "
    "validation curve.": dict(monitor="train_acc"),
    "the epochs are off by one: entry 0 of each curve is epoch 0, measured BEFORE training, so the index "
    "into the list is the epoch number — do not skip it.": dict(first_epoch=1),
    "the epochs are off by one (one too high): entry 0 of each curve is epoch 0, measured BEFORE training, so "
    "the index into the list is already the epoch number — do not add 1.": dict(shift=1),
    "patience is off by one: stop as soon as `patience` epochs in a row have not improved on the best "
    "(stop at best + patience when nothing improves), not one epoch later.": dict(patience_slack=1),
    "patience was reached one epoch early: stop after `patience` epochs without improvement, not patience − 1.":
        dict(patience_slack=-1),
    "a tie counted as an improvement: only a strictly higher validation accuracy resets patience "
    "(otherwise a plateau never stops training).": dict(ties_improve=True),
    "the counter of epochs without improvement was not reset when the accuracy improved: patience counts "
    "CONSECUTIVE epochs without improvement.": dict(reset_counter=False),
    "the best epoch was searched over the whole curve, including epochs after training stopped: the model "
    "never saw those epochs. Search only up to the stop epoch.": dict(peek=True),
    "the stop epoch was returned as the best one: keep the weights of the best validation epoch, not the last.":
        dict(return_stop_as_best=True),
}


def _case(val, test, train):
    return {"train_acc": train, "val_acc": val, "test_acc": test}


# Curves chosen so every mistake in EARLY_STOPPING_BUGS gives a different pair of answers on at least one
# case (tests/test_regularization.py asserts it). Epoch 0 is before training, hence the low first entries.
EARLY_STOPPING_CASES = [
    (_case(val=[0.10, 0.50, 0.62, 0.70, 0.69, 0.72, 0.72, 0.71, 0.70, 0.74, 0.73, 0.73],
           test=[0.11, 0.48, 0.60, 0.71, 0.73, 0.70, 0.70, 0.69, 0.68, 0.69, 0.75, 0.70],
           train=[0.10, 0.55, 0.70, 0.80, 0.84, 0.88, 0.90, 0.93, 0.95, 0.96, 0.98, 0.99]), 3),
    (_case(val=[0.30, 0.20, 0.25, 0.28, 0.26, 0.27, 0.31, 0.29],
           test=[0.30, 0.33, 0.25, 0.28, 0.26, 0.27, 0.29, 0.29],
           train=[0.30, 0.35, 0.45, 0.55, 0.60, 0.65, 0.70, 0.75]), 4),
    (_case(val=[0.10, 0.40, 0.60, 0.55, 0.62, 0.61, 0.60, 0.66, 0.65, 0.64, 0.63, 0.62, 0.61],
           test=[0.10, 0.42, 0.58, 0.57, 0.60, 0.62, 0.61, 0.64, 0.66, 0.63, 0.62, 0.61, 0.60],
           train=[0.10, 0.45, 0.66, 0.70, 0.75, 0.80, 0.84, 0.88, 0.91, 0.94, 0.96, 0.98, 0.99]), 2),
    (_case(val=[0.10, 0.60, 0.65, 0.65, 0.64, 0.66, 0.63, 0.62, 0.61, 0.70],
           test=[0.10, 0.58, 0.66, 0.67, 0.63, 0.64, 0.62, 0.61, 0.60, 0.69],
           train=[0.10, 0.62, 0.70, 0.76, 0.80, 0.85, 0.89, 0.92, 0.95, 0.97]), 3),
]


def _as_epoch(exercise, value, what):
    if type(value) not in (int, np.int64, np.int32):
        if type(value) in (float, np.float64, np.float32) and float(value).is_integer():
            return int(value)
        fail(exercise, f"{what} must be an integer epoch number, got {type(value).__name__}.")
    return int(value)


def check_early_stopping(early_stopping) -> None:
    """``early_stopping(curves, patience)`` must return ``(best_epoch, stop_epoch)`` chosen on
    ``curves['val_acc']``: stop once ``patience`` consecutive epochs fail to strictly improve on the
    best so far (or at the last epoch), keep the best epoch seen up to the stop."""
    exercise = "reg-early-stop"
    answers = []
    for curves, patience in EARLY_STOPPING_CASES:
        got = call_student(exercise, f"early_stopping(curves, patience={patience})", early_stopping, curves, patience)
        if type(got) not in (tuple, list) or len(got) != 2:
            fail(exercise, f"early_stopping must return a pair (best_epoch, stop_epoch), got {type(got).__name__}.")
        answers.append((_as_epoch(exercise, got[0], "best_epoch"), _as_epoch(exercise, got[1], "stop_epoch")))
    expected = [reference_early_stopping(curves, patience) for curves, patience in EARLY_STOPPING_CASES]
    if answers == expected:
        passed(exercise, f"(best, stop) right on {len(expected)} curves")
        return
    matching = [diagnosis for diagnosis, switches in EARLY_STOPPING_BUGS.items()
                if answers == [reference_early_stopping(curves, patience, **switches)
                               for curves, patience in EARLY_STOPPING_CASES]]
    index = next(i for i, (a, e) in enumerate(zip(answers, expected)) if a != e)
    curves, patience = EARLY_STOPPING_CASES[index]
    shown = f"val_acc={curves['val_acc']}, patience={patience}: got (best, stop) = {answers[index]}, which is wrong."
    if matching:
        fail(exercise, f"{shown} Likely bug: {matching[0]}")
    fail(exercise, f"{shown} Rule: after each epoch e ≥ 1, a strictly higher validation accuracy makes e the best "
                   "epoch; stop at the first epoch that is `patience` epochs past the best (or at the last epoch); "
                   "return the best epoch and the stop epoch.")


# --------------------------------------------------------------------------- reg-choose-lambda (design)

class WatchedData:
    """Training, validation and test splits of one data set; every read of the test split is recorded.

    The student's code gets this object. ``data.train`` and ``data.validation`` are ``(x, t)`` pairs;
    reading ``data.test`` (or any attribute whose name mentions the test split) is allowed but logged,
    so the check can tell whether a choice looked at the test set.
    """

    def __init__(self, train, validation, test):
        object.__setattr__(self, "_splits", {"train": train, "validation": validation, "test": test})
        object.__setattr__(self, "_test_reads", [])

    def __getattribute__(self, name):
        if "test" in name.lower():
            object.__getattribute__(self, "_test_reads").append(name)
        if name in ("train", "validation", "test"):
            return object.__getattribute__(self, "_splits")[name]
        if name == "__dict__":
            object.__getattribute__(self, "_test_reads").append(name)
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value):
        raise AttributeError("WatchedData is read-only")

    def __deepcopy__(self, memo):
        return self  # the check hands out this very object, so every read is seen


CHOICE_LAMBDAS = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
CHOICE_SEED = 12
_CHOICE_SETTINGS = dict(hidden=(200,), epochs=20, lr=0.3, batch_size=20)


class _Trainer:
    """``fit(λ)``: trains the check's network with weight decay λ on the training split only, once per
    λ (later calls return the same trained network), and counts the calls."""

    def __init__(self, splits: dict, seed: int):
        self.splits = splits
        self.seed = seed
        self.calls: list[object] = []
        self.networks: dict[float, object] = {}

    def __call__(self, weight_decay_lambda):
        from lib.networks import MultiLayerNet
        from lib.optimizers import SGD
        from lib.training import train

        self.calls.append(weight_decay_lambda)
        if type(weight_decay_lambda) not in (float, int) or weight_decay_lambda not in CHOICE_LAMBDAS:
            shown = repr(weight_decay_lambda) if type(weight_decay_lambda) in (float, int) else \
                type(weight_decay_lambda).__name__   # a student object's repr could run its code
            raise ValueError(f"fit: λ must be one of the candidates, got {shown}")
        lam = float(weight_decay_lambda)
        if lam not in self.networks:
            x, t = self.splits["train"]
            network = MultiLayerNet(x.shape[1], list(_CHOICE_SETTINGS["hidden"]), 10, weight_decay_lambda=lam,
                                    seed=[self.seed, 3], dtype=x.dtype)
            # The monitored set is the training split itself: fitting never touches validation or test.
            train(network, SGD(lr=_CHOICE_SETTINGS["lr"]), ((x, t), (x, t)), epochs=_CHOICE_SETTINGS["epochs"],
                  batch_size=_CHOICE_SETTINGS["batch_size"], seed=[self.seed, 5])
            self.networks[lam] = network
        return self.networks[lam]

    def accuracy(self, lam: float, split: str) -> float:
        x, t = self.splits[split]
        return float(self.networks[lam].accuracy(x, t))


def _choice_data(seed: int = CHOICE_SEED):
    from lib.chapters.ch04_regularization.experiments import make_data

    data = make_data("digits", seed=seed)
    return {"train": data.train, "validation": data.validation, "test": data.test}


def check_choose_lambda(choose_lambda) -> None:
    """``choose_lambda(data, candidates, fit)`` must return the candidate whose network scores best on
    the validation split, training each candidate at most once, without reading the test split."""
    exercise = "reg-choose-lambda"
    splits = _choice_data()
    data = WatchedData(splits["train"], splits["validation"], splits["test"])
    fit = _Trainer(splits, CHOICE_SEED)
    budget = len(CHOICE_LAMBDAS)
    candidates = CHOICE_LAMBDAS
    try:
        choice = choose_lambda(data, candidates, fit)
    except NotImplementedError:
        fail(exercise, "choose_lambda is not implemented yet: replace the `raise NotImplementedError` line.")
    except Exception as error:  # student code may raise anything
        fail(exercise, f"choose_lambda(data, candidates, fit) raised {type(error).__name__}: {error}")
    reads = object.__getattribute__(data, "_test_reads")
    if reads:
        fail(exercise, "your code read the test split (data.test). A hyperparameter chosen while looking at the "
                       "test set makes the final test accuracy an optimistic estimate, not a measurement: score the "
                       "candidates on data.validation and leave the test set for the very end.")
    if len(fit.calls) > budget:
        fail(exercise, f"fit was called {len(fit.calls)} times for {budget} candidates: the budget is one training "
                       "run per candidate — keep each trained network (or its score) instead of training it again.")
    if type(choice) not in (float, int) or choice not in candidates:
        fail(exercise, f"choose_lambda must return one of the candidates (a number), got {type(choice).__name__}.")
    if len(fit.networks) < len(candidates):
        fail(exercise, f"only {len(fit.networks)} of the {len(candidates)} candidates were trained: compare every "
                       "candidate on the validation split before choosing.")
    validation = {lam: fit.accuracy(lam, "validation") for lam in candidates}
    best = max(validation.values())
    optimal = {lam for lam, acc in validation.items() if acc >= best - 1e-12}
    if float(choice) in optimal:
        passed(exercise, "chosen on validation within the budget; the test split was never read")
        return
    training = {lam: fit.accuracy(lam, "train") for lam in candidates}
    if training[float(choice)] >= max(training.values()) - 1e-12:
        fail(exercise, "your choice scores best on the TRAINING split. Training accuracy always prefers the "
                       "weakest regularization (it rewards memorizing); score each candidate on data.validation.")
    if validation[float(choice)] <= min(validation.values()) + 1e-12:
        fail(exercise, "your choice has the LOWEST validation accuracy: pick the candidate whose validation "
                       "accuracy is highest (argmax, not argmin).")
    fail(exercise, "your choice is not among the candidates with the highest validation accuracy. Score every "
                   "candidate's trained network on data.validation (e.g. network.accuracy(x_val, t_val)) and "
                   "return the best one.")


# --------------------------------------------------------------------------- reg-diagnose (diagnose)

DIAGNOSIS_OPTIONS = {
    "a": "The learning rate is too large.",
    "b": "Dropout is not inverted: kept units are not scaled in training, and nothing scales the output at test time.",
    "c": "Dropout is still active at test time.",
    "d": "The network overfits: it memorized its training images.",
}
# Salted digests (lib.checks.core.answer_digest): the answer key is not stored in plain text.
_DIAGNOSIS_KEY = "c3f7d117e43304e4bc232ba7256bf99d75f6a82108e2a4055d3add1e2901de7b"
_DIAGNOSIS_FEEDBACK = {
    "aebedc01feb553a74ea4ebcaf20ed4cbdd223846cbd62b4818c3025efe5406f0":
        "a learning rate that is too large shows in training itself (a loss that jumps or diverges). The evidence "
        "here is about the dropout layer's two modes: compare its evaluation output with its average training output.",
    "fb1958135311b7e97e448bbf2901038217d1d79cadcf4606d95468ab535c6ad8":
        "if dropout were active at test time, two evaluation passes would differ and units would be zeroed. The "
        "evidence shows evaluation is deterministic and nothing is dropped: look at the ratio of the two modes.",
    "7187a30d4e9d51868980ccaae3355b551f2958a5ec6a22105c768316227eb084":
        "overfitting means the training images score well and the test images worse. Here even the network's own "
        "training images score poorly in evaluation mode: what differs between training and evaluation mode?",
}


class BrokenDropout:
    """The layer of the broken run: keeps each unit with probability 1 − r in training and never scales."""

    def __init__(self, dropout_ratio=0.5, rng=None):
        self.dropout_ratio = dropout_ratio
        self.rng = np.random.default_rng(0) if rng is None else rng
        self.mask = None

    def forward(self, x, train_flg=True):
        if not train_flg:
            return x
        self.mask = self.rng.random(x.shape) >= self.dropout_ratio
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


DIAGNOSE_RATIO = 0.5
DIAGNOSE_SEED = 5
_DIAGNOSE_SETTINGS = dict(hidden=(100, 100), epochs=15, lr=0.1, batch_size=20)


def _train_with_dropout(layer_class, seed: int = DIAGNOSE_SEED):
    """Train the check's two-hidden-layer network with ``layer_class`` as its dropout layers; returns
    ``(network, history, data)``."""
    from lib.chapters.ch04_regularization.experiments import make_data
    from lib.networks import MultiLayerNet
    from lib.optimizers import SGD
    from lib.training import train

    data = make_data("digits", label_noise=0.0, seed=seed)
    network = MultiLayerNet(64, list(_DIAGNOSE_SETTINGS["hidden"]), 10, use_dropout=True,
                            dropout_ratio=DIAGNOSE_RATIO, seed=[seed, 3], dtype=np.float32)
    masks = np.random.default_rng([seed, 4])
    replaced = []
    for index, layer in enumerate(network.layers):
        if any(layer is dropout for dropout in network.dropout_layers):
            network.layers[index] = layer_class(DIAGNOSE_RATIO, rng=masks)
            replaced.append(network.layers[index])
    network.dropout_layers = replaced
    history = train(network, SGD(lr=_DIAGNOSE_SETTINGS["lr"]), (data.train, data.test),
                    epochs=_DIAGNOSE_SETTINGS["epochs"], batch_size=_DIAGNOSE_SETTINGS["batch_size"], seed=[seed, 5])
    return network, history, data


def _mode_ratio(layer, draws: int = 4000) -> tuple[float, np.ndarray, np.ndarray]:
    """(mean training output / evaluation output over a fixed positive input, evaluation output, a second
    evaluation output) for one layer."""
    x = np.random.default_rng(31).uniform(0.5, 1.5, size=(1, 40))
    batch = np.repeat(x, draws, axis=0)
    training = np.asarray(layer.forward(batch, train_flg=True), dtype=np.float64).mean(axis=0)
    first = np.asarray(layer.forward(x, train_flg=False), dtype=np.float64)
    second = np.asarray(layer.forward(x, train_flg=False), dtype=np.float64)
    return float(np.mean(training) / np.mean(first)), first, second


def dropout_evidence(layer_class=BrokenDropout) -> str:
    """The statistics of a run trained with ``layer_class`` as its dropout layers, as text."""
    network, history, data = _train_with_dropout(layer_class)
    ratio, first, second = _mode_ratio(layer_class(DIAGNOSE_RATIO, rng=np.random.default_rng(8)))
    x, t = data.train
    return "\n".join([
        f"dropout ratio r = {DIAGNOSE_RATIO}, two hidden layers, {_DIAGNOSE_SETTINGS['epochs']} epochs, clean labels",
        f"test accuracy after training:                                   {history.test_acc[-1]:.3f}",
        f"evaluation-mode accuracy on its own training images:            {network.accuracy(x, t):.3f}",
        f"one dropout layer, mean training output / evaluation output:    {ratio:.3f}",
        f"two evaluation passes identical: {bool(np.array_equal(first, second))}; "
        f"units zeroed in evaluation: {int(np.sum(first == 0))}",
    ])


def check_diagnosis(answer) -> None:
    """The cause of the broken run, as one option letter."""
    exercise = "reg-diagnose"
    if type(answer) is not str or answer.strip().lower() not in DIAGNOSIS_OPTIONS:
        fail(exercise, f"set ANSWER to one of the letters {', '.join(repr(k) for k in DIAGNOSIS_OPTIONS)} "
                       f"(a string), got {type(answer).__name__}.")
    digest = answer_digest(exercise, answer)
    if digest == _DIAGNOSIS_KEY:
        passed(exercise, "cause named")
        return
    fail(exercise, f"not this one: {_DIAGNOSIS_FEEDBACK[digest]}")


_REFERENCE_TEST_ACCURACY: list[float] = []


def _reference_test_accuracy() -> float:
    """The test accuracy of the same run with the course's inverted Dropout (computed once)."""
    if not _REFERENCE_TEST_ACCURACY:
        from lib.layers import Dropout

        _, history, _ = _train_with_dropout(lambda ratio, rng: Dropout(ratio, inverted=True, rng=rng))
        _REFERENCE_TEST_ACCURACY.append(history.test_acc[-1])
    return _REFERENCE_TEST_ACCURACY[0]


def check_dropout_fix(FixedDropout) -> None:
    """``FixedDropout(dropout_ratio, rng)`` must drop units in training, keep the mean training output
    equal to the evaluation output (either convention), be deterministic in evaluation, and then train
    the check's network as well as the course's Dropout does."""
    exercise = "reg-diagnose-fix"
    layer = call_student(exercise, f"FixedDropout({DIAGNOSE_RATIO}, rng=np.random.default_rng(8))", FixedDropout,
                         DIAGNOSE_RATIO, rng=np.random.default_rng(8))
    x = np.random.default_rng(3).uniform(0.5, 1.5, size=(200, 50))
    out = call_student(exercise, "forward(x, train_flg=True)", layer.forward, x, train_flg=True)
    out = _trusted_array_for(exercise, "forward(x, train_flg=True)", out, x.shape)
    dout = np.random.default_rng(4).normal(size=x.shape)
    dx = call_student(exercise, "backward(dout)", layer.backward, dout)
    if type(dx) is not np.ndarray or dx.shape != x.shape or not np.allclose(dx, dout * (out / x), rtol=1e-6, atol=1e-9):
        fail(exercise, "backward(dout) is not the derivative of your forward pass: the gradient must flow through "
                       "the kept units only, with the same factor forward applied to them.")
    dropped = float(np.mean(out == 0))
    if abs(dropped - DIAGNOSE_RATIO) > 0.05:
        fail(exercise, "forward(x, train_flg=True) no longer drops about a fraction dropout_ratio of the units: keep "
                     "the training-mode mask, fix only the scaling.")
    try:
        ratio, first, second = _mode_ratio(layer)
    except ExerciseFailure:
        raise
    except Exception as error:  # student code may raise anything
        fail(exercise, f"forward raised {type(error).__name__}: {error}")
    if not np.array_equal(first, second) or np.any(first == 0):
        fail(exercise, "evaluation mode drops units or changes from call to call: with train_flg=False every "
                       "unit is used, deterministically.")
    keep = 1 - DIAGNOSE_RATIO
    if abs(ratio - 1) > 0.03:
        if abs(ratio - keep) < 0.03:
            fail(exercise, "the mean training output is still (1 − r) times the evaluation output: the layer is as "
                           "broken as before. Scale the kept units by 1/(1 − r) in training, or multiply by (1 − r) "
                           "in evaluation — one of the two, not both.")
        if abs(ratio - 1 / keep) < 0.05:
            fail(exercise, "the factor is now applied twice (1/(1 − r) in training AND (1 − r) in evaluation): the "
                           "mean training output is 1/(1 − r) times the evaluation output. One of the two, not both.")
        if abs(ratio - keep ** 2) < 0.03:
            fail(exercise, "the scaling goes the wrong way: the evaluation output was divided by (1 − r), which makes "
                           "it even larger than before. In the book's convention evaluation MULTIPLIES by (1 − r).")
        fail(exercise, "the mean training output and the evaluation output still differ: one of the two modes "
                       "must carry the factor (1 − r) so that they agree in expectation.")
    kept = out != 0
    if np.allclose(out[kept], x[kept]):
        fail(exercise, "your layer now agrees in expectation — it is the book's convention (no scaling in training, "
                       "× (1 − r) at test) — but the run does not recover with it: without the 1/(1 − r) in training "
                       "the layer after dropout learns with a step (1 − r)² times smaller. Make the dropout inverted.")
    x32 = x.astype(np.float32)
    out32 = call_student(exercise, "forward(x, train_flg=True) on float32 input", layer.forward, x32, train_flg=True)
    if type(out32) is not np.ndarray or out32.dtype != np.float32:
        fail(exercise, "forward(x, train_flg=True) must keep the input's dtype (float32 in, float32 out): the "
                       "network trains in float32. Divide by a Python float, or cast the mask to x.dtype.")
    try:
        network, history, _ = _train_with_dropout(FixedDropout)
    except Exception as error:  # student code may raise anything
        fail(exercise, f"training the check's network with your layer raised {type(error).__name__}: {error}")
    if not history.test_acc[-1] >= _reference_test_accuracy() - 0.05:
        fail(exercise, "with your layer the check's training run does not recover: its test accuracy stays clearly "
                       "below the course's Dropout on the same run. Does backward use the same mask and factor as "
                       "forward?")
    passed(exercise, "training and evaluation agree in expectation; the check's run recovers")


def _trusted_array_for(exercise, what, got, shape):
    if type(got) is not np.ndarray or got.dtype.kind != "f":
        fail(exercise, f"{what} must return a numpy array of floats, got {type(got).__name__}.")
    if got.shape != shape:
        fail(exercise, f"{what}: expected shape {shape}, got {got.shape}.")
    return got
