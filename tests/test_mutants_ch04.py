"""Mutation suite for chapter 4's exercises: plausible wrong answers fail with the intended message,
correct answers written differently pass."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lib.checks import ch04_regularization as checks
from lib.checks.core import ExerciseFailure


def expect_failure(check, *implementations, match: str) -> None:
    with pytest.raises(ExerciseFailure) as raised:
        check(*implementations)
    assert re.search(match, str(raised.value), flags=re.IGNORECASE | re.DOTALL), str(raised.value)


# --------------------------------------------------------------------------- reg-l2-loss / reg-l2-grad

def penalty_loop(params, weight_decay_lambda):
    total = 0.0
    for key, value in params.items():
        if key.startswith("W"):
            total += np.sum(value ** 2)
    return 0.5 * weight_decay_lambda * total


def penalty_einsum(params, weight_decay_lambda):
    weights = [value.ravel() for key, value in params.items() if key[0] == "W"]
    return weight_decay_lambda / 2 * sum(float(w @ w) for w in weights)


def gradient_new_dict(params, grads, weight_decay_lambda):
    return {key: grad + weight_decay_lambda * params[key] if key.startswith("W") else grad
            for key, grad in grads.items()}


def gradient_in_place(params, grads, weight_decay_lambda):
    for key in grads:
        if key.startswith("W"):
            grads[key] += weight_decay_lambda * params[key]
    return grads


@pytest.mark.parametrize("penalty", [penalty_loop, penalty_einsum])
def test_correct_penalties_pass(penalty):
    checks.check_l2_penalty(penalty)


@pytest.mark.parametrize("gradient", [gradient_new_dict, gradient_in_place])
def test_correct_gradients_pass(gradient):
    checks.check_l2_gradient(gradient)
    checks.check_l2_consistency(penalty_loop, gradient)


@pytest.mark.parametrize("penalty, match", [
    (lambda p, lam: lam * sum(np.sum(v ** 2) for k, v in p.items() if k.startswith("W")), "missing the ½"),
    (lambda p, lam: 0.5 * lam * sum(np.sum(v ** 2) for v in p.values()), "biases .*penalized"),
    (lambda p, lam: 0.5 * lam * sum(np.linalg.norm(v) for k, v in p.items() if k.startswith("W")), "the norm, not its square"),
    (lambda p, lam: 0.5 * lam * sum(np.mean(v ** 2) for k, v in p.items() if k.startswith("W")), "np.mean"),
    (lambda p, lam: 0.5 * lam * sum(np.sum(np.abs(v)) for k, v in p.items() if k.startswith("W")), "L1"),
    (lambda p, lam: None, "got None"),
])
def test_wrong_penalties_fail(penalty, match):
    expect_failure(checks.check_l2_penalty, penalty, match=match)


def gradient_twice_lambda(params, grads, lam):
    return {k: g + 2 * lam * params[k] if k.startswith("W") else g for k, g in grads.items()}


def gradient_decays_everything(params, grads, lam):
    return {k: g + lam * params[k] for k, g in grads.items()}


def gradient_wrong_sign(params, grads, lam):
    return {k: g - lam * params[k] if k.startswith("W") else g for k, g in grads.items()}


def gradient_replaces(params, grads, lam):
    return {k: lam * params[k] if k.startswith("W") else g for k, g in grads.items()}


def gradient_returns_nothing(params, grads, lam):
    for k in grads:
        if k.startswith("W"):
            grads[k] += lam * params[k]


def gradient_promotes(params, grads, lam):
    return {k: g + np.float64(lam) * params[k] if k.startswith("W") else g for k, g in grads.items()}


@pytest.mark.parametrize("gradient, match", [
    (gradient_twice_lambda, "2λW was added"),
    (gradient_decays_everything, "'b1' was decayed"),
    (gradient_wrong_sign, "sign is wrong"),
    (gradient_replaces, "only λW was returned"),
    (gradient_returns_nothing, "returned None"),
    (gradient_promotes, "expected dtype float32, got float64"),
])
def test_wrong_gradients_fail(gradient, match):
    expect_failure(checks.check_l2_gradient, gradient, match=match)


def test_penalty_without_half_but_gradient_with_it_is_inconsistent():
    no_half = lambda p, lam: lam * sum(np.sum(v ** 2) for k, v in p.items() if k.startswith("W"))  # noqa: E731
    expect_failure(checks.check_l2_consistency, no_half, gradient_new_dict, match="penalty is missing the ½ while the gradient has it")
    expect_failure(checks.check_l2_consistency, penalty_loop, gradient_twice_lambda, match="2× the derivative")


# --------------------------------------------------------------------------- reg-dropout

class DropoutBoolMask:
    def __init__(self, dropout_ratio=0.5, rng=None):
        self.dropout_ratio = dropout_ratio
        self.rng = np.random.default_rng() if rng is None else rng
        self.mask = None

    def forward(self, x, train_flg=True):
        if not train_flg:
            return x
        self.mask = self.rng.random(x.shape) >= self.dropout_ratio
        return x * self.mask / (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask / (1.0 - self.dropout_ratio)


class DropoutScaledMask:
    """Stores the already-scaled mask (as PyTorch does internally) in the input's dtype."""

    def __init__(self, dropout_ratio=0.5, rng=None):
        self.keep = 1.0 - dropout_ratio
        self.rng = rng if rng is not None else np.random.default_rng(0)

    def forward(self, x, train_flg=True):
        if train_flg:
            self.scale = (self.rng.random(x.shape) < self.keep).astype(x.dtype) / x.dtype.type(self.keep)
            return x * self.scale
        return x.copy()

    def backward(self, dout):
        return dout * self.scale


def dropout_variant(**changes):
    """DropoutBoolMask with one method replaced by a mistake."""
    return type("DropoutMutant", (DropoutBoolMask,), changes)


def forward_no_scaling(self, x, train_flg=True):
    if not train_flg:
        return x * (1.0 - self.dropout_ratio)
    self.mask = self.rng.random(x.shape) >= self.dropout_ratio
    return x * self.mask


def forward_scaled_by_ratio(self, x, train_flg=True):
    if not train_flg:
        return x
    self.mask = self.rng.random(x.shape) >= self.dropout_ratio
    return x * self.mask / self.dropout_ratio


def forward_keeps_ratio(self, x, train_flg=True):
    if not train_flg:
        return x
    self.mask = self.rng.random(x.shape) < self.dropout_ratio
    return x * self.mask / (1.0 - self.dropout_ratio)


def forward_active_at_test(self, x, train_flg=True):
    self.mask = self.rng.random(x.shape) >= self.dropout_ratio
    return x * self.mask / (1.0 - self.dropout_ratio)


def forward_test_scaled(self, x, train_flg=True):
    if not train_flg:
        return x * (1.0 - self.dropout_ratio)
    self.mask = self.rng.random(x.shape) >= self.dropout_ratio
    return x * self.mask / (1.0 - self.dropout_ratio)


def forward_global_rng(self, x, train_flg=True):
    if not train_flg:
        return x
    self.mask = np.random.rand(*x.shape) >= self.dropout_ratio
    return x * self.mask / (1.0 - self.dropout_ratio)


def forward_float64_scale(self, x, train_flg=True):
    if not train_flg:
        return x
    self.mask = self.rng.random(x.shape) >= self.dropout_ratio
    return x * (self.mask / np.float64(1.0 - self.dropout_ratio))


def backward_new_mask(self, dout):
    mask = self.rng.random(dout.shape) >= self.dropout_ratio
    return dout * mask / (1.0 - self.dropout_ratio)


def backward_unscaled(self, dout):
    return dout * self.mask


class DropoutMaskInInit(DropoutBoolMask):
    def forward(self, x, train_flg=True):
        if not train_flg:
            return x
        if self.mask is None:
            self.mask = self.rng.random(x.shape) >= self.dropout_ratio
        return x * self.mask / (1.0 - self.dropout_ratio)


@pytest.mark.parametrize("layer", [DropoutBoolMask, DropoutScaledMask])
def test_correct_dropouts_pass(layer):
    checks.check_dropout(layer)


@pytest.mark.parametrize("layer, match", [
    (dropout_variant(forward=forward_no_scaling), "book's non-inverted dropout"),
    (dropout_variant(forward=forward_scaled_by_ratio), "divided by dropout_ratio"),
    (dropout_variant(forward=forward_keeps_ratio), "fraction DROPPED"),
    (dropout_variant(forward=forward_active_at_test), "still active at test time"),
    (dropout_variant(forward=forward_test_scaled), "test-time output was multiplied by 1 − dropout_ratio"),
    (dropout_variant(forward=forward_global_rng), "np.random's global state"),
    (dropout_variant(forward=forward_float64_scale), "expected dtype float32, got float64"),
    (dropout_variant(backward=backward_new_mask), "draw a new mask in backward"),
    (dropout_variant(backward=backward_unscaled), "backward is missing the 1/\\(1 − dropout_ratio\\) factor"),
    (DropoutMaskInInit, "fresh mask on every training forward pass"),
])
def test_wrong_dropouts_fail(layer, match):
    expect_failure(checks.check_dropout, layer, match=match)


# --------------------------------------------------------------------------- reg-early-stop

def early_stopping_counter(curves, patience):
    values = curves["val_acc"]
    best_epoch, stop_epoch, waited = 0, len(values) - 1, 0
    for epoch in range(1, len(values)):
        if values[epoch] > values[best_epoch]:
            best_epoch, waited = epoch, 0
        else:
            waited += 1
            if waited == patience:
                stop_epoch = epoch
                break
    return best_epoch, stop_epoch


def early_stopping_numpy(curves, patience):
    values = np.asarray(curves["val_acc"])
    running_best = np.maximum.accumulate(values)
    # The epoch at which each running best was first reached (strict improvements only).
    best_so_far = np.array([int(np.argmax(values[: e + 1])) for e in range(len(values))])
    stale = np.arange(len(values)) - best_so_far
    stops = np.flatnonzero(stale >= patience)
    stop_epoch = int(stops[0]) if stops.size else len(values) - 1
    assert running_best[stop_epoch] == values[best_so_far[stop_epoch]]
    return int(best_so_far[stop_epoch]), stop_epoch


@pytest.mark.parametrize("selector", [early_stopping_counter, early_stopping_numpy])
def test_correct_early_stopping_passes(selector):
    checks.check_early_stopping(selector)


def on_test(curves, patience):
    return early_stopping_counter({"val_acc": curves["test_acc"]}, patience)


def skip_epoch_zero(curves, patience):
    return early_stopping_counter({"val_acc": curves["val_acc"][1:]}, patience)


def counts_from_one(curves, patience):
    best, stop = early_stopping_counter(curves, patience)
    return best + 1, stop + 1


def patience_plus_one(curves, patience):
    return early_stopping_counter(curves, patience + 1)


def ties_improve(curves, patience):
    values = curves["val_acc"]
    best_epoch, waited = 0, 0
    for epoch in range(1, len(values)):
        if values[epoch] >= values[best_epoch]:
            best_epoch, waited = epoch, 0
        else:
            waited += 1
            if waited == patience:
                return best_epoch, epoch
    return best_epoch, len(values) - 1


def on_train(curves, patience):
    return early_stopping_counter({"val_acc": curves["train_acc"]}, patience)


def patience_minus_one(curves, patience):
    return early_stopping_counter(curves, patience - 1)


def counter_never_reset(curves, patience):
    values = curves["val_acc"]
    best_epoch, waited = 0, 0
    for epoch in range(1, len(values)):
        if values[epoch] > values[best_epoch]:
            best_epoch = epoch
        else:
            waited += 1
            if waited == patience:
                return best_epoch, epoch
    return best_epoch, len(values) - 1


def peeks(curves, patience):
    _, stop = early_stopping_counter(curves, patience)
    return int(np.argmax(curves["val_acc"])), stop


def returns_last(curves, patience):
    _, stop = early_stopping_counter(curves, patience)
    return stop, stop


@pytest.mark.parametrize("selector, match", [
    (on_test, "TEST curve"),
    (on_train, "TRAINING curve"),
    (patience_minus_one, "one epoch early"),
    (counter_never_reset, "CONSECUTIVE epochs"),
    (skip_epoch_zero, "do not skip it"),
    (counts_from_one, "do not add 1"),
    (patience_plus_one, "patience is off by one"),
    (ties_improve, "a tie counted as an improvement"),
    (peeks, "including epochs after training stopped"),
    (returns_last, "stop epoch was returned as the best"),
    (lambda curves, patience: int(np.argmax(curves["val_acc"])), "must return a pair"),
])
def test_wrong_early_stopping_fails(selector, match):
    expect_failure(checks.check_early_stopping, selector, match=match)


def test_unimplemented_exercises_fail_clearly():
    def stub(*args, **kwargs):
        raise NotImplementedError("reg: replace this line")

    for check in (checks.check_l2_penalty, checks.check_l2_gradient, checks.check_early_stopping):
        expect_failure(check, stub, match="not implemented yet")
    expect_failure(checks.check_l2_consistency, stub, stub, match="not implemented yet")
    expect_failure(checks.check_dropout, stub, match="not implemented yet")


# --------------------------------------------------------------------------- reg-choose-lambda

def choose_argmax(data, candidates, fit):
    x_val, t_val = data.validation
    scores = [fit(lam).accuracy(x_val, t_val) for lam in candidates]
    return candidates[int(np.argmax(scores))]


def choose_by_predictions(data, candidates, fit):
    x_val, t_val = data.validation
    best, best_score = None, -1.0
    for lam in candidates:
        score = np.mean(fit(lam).predict(x_val).argmax(axis=1) == t_val)
        if score > best_score:
            best, best_score = lam, score
    return best


def choose_on_test(data, candidates, fit):
    x_test, t_test = data.test
    return max(candidates, key=lambda lam: fit(lam).accuracy(x_test, t_test))


def choose_on_train(data, candidates, fit):
    x_train, t_train = data.train
    return max(candidates, key=lambda lam: fit(lam).accuracy(x_train, t_train))


def choose_argmin(data, candidates, fit):
    x_val, t_val = data.validation
    return min(candidates, key=lambda lam: fit(lam).accuracy(x_val, t_val))


def choose_retraining(data, candidates, fit):
    x_val, t_val = data.validation
    best = max(candidates, key=lambda lam: fit(lam).accuracy(x_val, t_val))
    fit(best)  # trains the winner again: over budget
    return best


def choose_index(data, candidates, fit):
    x_val, t_val = data.validation
    return int(np.argmax([fit(lam).accuracy(x_val, t_val) for lam in candidates])) + 10


def choose_test_through_dict(data, candidates, fit):
    x_test, t_test = vars(data)["_splits"]["test"]
    return max(candidates, key=lambda lam: fit(lam).accuracy(x_test, t_test))


@pytest.mark.parametrize("choose", [choose_argmax, choose_by_predictions])
def test_correct_choices_pass(choose):
    checks.check_choose_lambda(choose)


@pytest.mark.parametrize("choose, match", [
    (choose_on_test, "read the test split"),
    (choose_test_through_dict, "read the test split"),
    (choose_on_train, "TRAINING split"),
    (choose_argmin, "LOWEST validation accuracy"),
    (choose_retraining, "budget is one training run per candidate"),
    (choose_index, "must return one of the candidates"),
])
def test_wrong_choices_fail(choose, match):
    expect_failure(checks.check_choose_lambda, choose, match=match)


# --------------------------------------------------------------------------- reg-diagnose, reg-diagnose-fix

@pytest.mark.parametrize("answer", ["b", " B "])
def test_the_right_diagnosis_passes(answer):
    checks.check_diagnosis(answer)


@pytest.mark.parametrize("answer, match", [
    ("a", "learning rate that is too large"),
    ("c", "evaluation is deterministic"),
    ("d", "overfitting means"),
    ("e", "one of the letters"),
    (2, "one of the letters"),
])
def test_wrong_diagnoses_fail_with_their_own_feedback(answer, match):
    expect_failure(checks.check_diagnosis, answer, match=match)


def test_the_answer_key_is_not_stored_in_plain_text():
    import inspect

    source = inspect.getsource(checks)
    assert 'ANSWER = "b"' not in source and "_DIAGNOSIS_KEY = \"b\"" not in source
    from lib.checks.core import answer_digest

    assert answer_digest("reg-diagnose", "b") == checks._DIAGNOSIS_KEY


class InvertedFix(DropoutBoolMask):
    """The inverted layer of reg-dropout is also the fix of reg-diagnose-fix."""


class InvertedScaleStored:
    def __init__(self, dropout_ratio=0.5, rng=None):
        self.keep = 1.0 - dropout_ratio
        self.rng = rng

    def forward(self, x, train_flg=True):
        if not train_flg:
            return x.copy()
        self.scale = ((self.rng.random(x.shape) < self.keep) / self.keep).astype(x.dtype)
        return x * self.scale

    def backward(self, dout):
        return dout * self.scale


class BookFix(checks.BrokenDropout):
    def forward(self, x, train_flg=True):
        if not train_flg:
            return x * (1.0 - self.dropout_ratio)
        return super().forward(x, train_flg)


class ScaledTwice(InvertedFix):
    def forward(self, x, train_flg=True):
        if not train_flg:
            return x * (1.0 - self.dropout_ratio)
        return super().forward(x, train_flg)


class DividedAtTest(checks.BrokenDropout):
    def forward(self, x, train_flg=True):
        if not train_flg:
            return x / (1.0 - self.dropout_ratio)
        return super().forward(x, train_flg)


class ActiveAtTest(InvertedFix):
    def forward(self, x, train_flg=True):
        return super().forward(x, True)


class BackwardUnscaled(InvertedFix):
    def backward(self, dout):
        return dout * self.mask


@pytest.mark.parametrize("layer", [InvertedFix, InvertedScaleStored])
def test_correct_fixes_pass(layer):
    checks.check_dropout_fix(layer)


@pytest.mark.parametrize("layer, match", [
    (checks.BrokenDropout, "as broken as before"),
    (ScaledTwice, "one of the two, not both"),
    (DividedAtTest, "wrong way"),
    (ActiveAtTest, "evaluation mode drops units"),
    (BookFix, "book's convention"),
    (BackwardUnscaled, "not the derivative of your forward pass"),
    (type("Promotes", (InvertedFix,), {"forward": lambda self, x, train_flg=True: InvertedFix.forward(self, x, train_flg)
                                       * np.float64(1.0)}), "keep the input's dtype"),
])
def test_wrong_fixes_fail(layer, match):
    expect_failure(checks.check_dropout_fix, layer, match=match)
