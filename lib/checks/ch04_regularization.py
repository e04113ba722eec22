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

from lib.checks.core import call_student, expect_array, expect_scalar, fail, passed

__all__ = ["check_l2_penalty", "check_l2_gradient", "check_l2_consistency", "check_dropout",
           "check_early_stopping", "reference_early_stopping", "EARLY_STOPPING_BUGS", "EARLY_STOPPING_CASES"]


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
            numeric[index] = (float(plus) - float(minus)) / (2 * h)
        gradient = np.asarray(added[key], dtype=np.float64)
        if np.allclose(gradient, numeric, rtol=1e-6, atol=1e-7):
            continue
        if np.allclose(numeric, 2 * gradient, rtol=1e-6, atol=1e-7):
            fail(exercise, f"for '{key}' the derivative of your penalty is 2× the λW your gradient adds: the penalty "
                           "is missing the ½ while the gradient has it — loss and gradient disagree, so a gradient "
                           "check of the regularized network fails. Use ½λ‖W‖² in the loss.")
        if np.allclose(gradient, 2 * numeric, rtol=1e-6, atol=1e-7):
            fail(exercise, f"for '{key}' your gradient adds 2× the derivative of your penalty: the gradient "
                           "should be λW for the penalty ½λ‖W‖².")
        fail(exercise, f"for '{key}' the gradient l2_gradient adds ({gradient.ravel()[:3]}…) is not the derivative "
                       f"of l2_penalty ({numeric.ravel()[:3]}…): loss and gradient must agree.")
    passed(exercise, "the gradient is the derivative of the penalty (checked numerically)")


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
    out = np.asarray(out)
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
        fail(exercise, f"about {fraction:.1%} of the units were kept; expected {keep:.0%} (1 − dropout_ratio).")
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
        if dx is not None and np.shape(dx) == x.shape and not np.array_equal(np.asarray(dx) != 0, kept):
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
    if dx is not None and np.shape(dx) == x.shape and not np.array_equal(np.asarray(dx) != 0, second):
        fail(exercise, "backward(dout) does not use the mask of the most recent forward pass.")

    evaluation = _forward(exercise, layer, x, False)
    if evaluation is not None and np.shape(evaluation) == x.shape and np.any(np.asarray(evaluation) == 0):
        fail(exercise, f"forward(x, train_flg=False) zeroed {np.mean(np.asarray(evaluation) == 0):.0%} of the units: "
                       "dropout is still active at test time. With train_flg=False every unit is used: return x unchanged.")
    expect_array(exercise, "forward(x, train_flg=False)", evaluation, x, rtol=0, atol=0, likely_bugs={
        "the test-time output was multiplied by 1 − dropout_ratio: that is the book's non-inverted convention. "
        "Inverted dropout already rescaled during training, so at test time it is the identity.": x * keep,
        "the test-time output was divided by 1 − dropout_ratio: inverted dropout scales only while training; "
        "at test time it is the identity.": x / keep,
    })

    again = _forward(exercise, _dropout_layer(exercise, Dropout, ratio, seed=7), x, True)
    reference = _forward(exercise, _dropout_layer(exercise, Dropout, ratio, seed=7), x, True)
    if not np.array_equal(np.asarray(again), np.asarray(reference)):
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
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return int(value)
        fail(exercise, f"{what} must be an integer epoch number, got {type(value).__name__} ({value!r:.40}).")
    return int(value)


def check_early_stopping(early_stopping) -> None:
    """``early_stopping(curves, patience)`` must return ``(best_epoch, stop_epoch)`` chosen on
    ``curves['val_acc']``: stop once ``patience`` consecutive epochs fail to strictly improve on the
    best so far (or at the last epoch), keep the best epoch seen up to the stop."""
    exercise = "reg-early-stop"
    answers = []
    for curves, patience in EARLY_STOPPING_CASES:
        got = call_student(exercise, f"early_stopping(curves, patience={patience})", early_stopping, curves, patience)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            fail(exercise, f"early_stopping must return a pair (best_epoch, stop_epoch), got {got!r:.60}.")
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
    shown = (f"val_acc={curves['val_acc']}, patience={patience}: expected (best, stop) = {expected[index]}, "
             f"got {answers[index]}.")
    if matching:
        fail(exercise, f"{shown} Likely bug: {matching[0]}")
    fail(exercise, f"{shown} Rule: after each epoch e ≥ 1, a strictly higher validation accuracy makes e the best "
                   "epoch; stop at the first epoch that is `patience` epochs past the best (or at the last epoch); "
                   "return the best epoch and the stop epoch.")
