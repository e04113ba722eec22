"""Mutation suite for chapter 2's checks: plausible wrong answers fail with the message that names
their bug; correct answers written differently pass."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lib.checks import ch02_initialization as checks
from lib.checks.core import ExerciseFailure


# ----------------------------------------------------------------------------------------------
# init-fans
# ----------------------------------------------------------------------------------------------

def fans_reference(shape):
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def fans_numpy(shape):
    receptive = int(np.prod(shape[2:]))  # np.prod(()) is 1.0: a 2-D shape needs no special case
    in_axis, out_axis = (1, 0) if len(shape) > 2 else (0, 1)
    return np.int64(shape[in_axis] * receptive), np.int64(shape[out_axis] * receptive)


def fans_loop(shape):
    out_axis, in_axis = (0, 1) if len(shape) > 2 else (1, 0)
    receptive = 1
    for size in shape[2:]:
        receptive *= size
    return [shape[in_axis] * receptive, shape[out_axis] * receptive]


def fans_swapped(shape):
    fan_in, fan_out = fans_reference(shape)
    return fan_out, fan_in


def fans_no_kernel(shape):
    return (shape[1], shape[0]) if len(shape) > 2 else (shape[0], shape[1])


def fans_total(shape):
    return math.prod(shape), math.prod(shape)


def fans_conv_in_out(shape):
    receptive = math.prod(shape[2:])
    return (shape[0] * receptive, shape[1] * receptive) if len(shape) > 2 else (shape[0], shape[1])


class TalkativePair(tuple):
    """A subclass whose repr would run inside the check if the check called it."""

    def __repr__(self):
        raise RuntimeError("the check ran a student object's repr")


class TalkativeInt(int):
    def __int__(self):
        raise RuntimeError("the check ran a student object's __int__")


@pytest.mark.parametrize("student", [fans_reference, fans_numpy, fans_loop,
                                     lambda shape: list(map(float, fans_reference(shape)))])
def test_fans_correct(student):
    checks.check_fans(student, hidden=True)


@pytest.mark.parametrize("student, message", [
    (fans_swapped, "swapped"),
    (fans_no_kernel, "kernel size is ignored"),
    (fans_total, "total number of weights"),
    (fans_conv_in_out, r"read as \(in, out, kh, kw\)"),
    (lambda shape: None, "should return a pair"),
    (lambda shape: TalkativePair(fans_reference(shape)), "should return a pair .*got TalkativePair"),
    (lambda shape: tuple(TalkativeInt(v) for v in fans_reference(shape)), r"two integers, got \(TalkativeInt"),
    (lambda shape: tuple(v + 0.5 for v in fans_reference(shape)), "whole numbers"),
])
def test_fans_wrong(student, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_fans(student)


# ----------------------------------------------------------------------------------------------
# init-xavier and init-he
# ----------------------------------------------------------------------------------------------

def _n(shape, mode):
    fan_in, fan_out = fans_reference(shape)
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


def make_initializer(gain, *, std_of=None, draw="normal", fans=fans_reference, use_rng=True, cast=True):
    """An initializer with one deliberate difference from the formula (or none)."""
    def initializer(shape, rng, mode="fan_in", dtype=np.float64):
        fan_in, fan_out = fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        std = std_of(n, fan_in, fan_out, shape) if std_of else math.sqrt(gain / n)
        source = rng if use_rng else np.random
        if draw == "normal":
            weights = source.normal(0, std, shape)
        elif draw == "standard":
            weights = source.standard_normal(shape) * std
        elif draw == "uniform":
            weights = source.uniform(-math.sqrt(3) * std, math.sqrt(3) * std, shape)
        return weights.astype(dtype) if cast else weights
    return initializer


def xavier_float32_native(shape, rng, mode="fan_in", dtype=np.float64):
    weights = rng.standard_normal(tuple(shape), dtype=dtype)
    weights *= dtype(math.sqrt(1 / _n(shape, mode)))
    return weights


def he_out_of_place(shape, rng, mode="fan_in", dtype=np.float64):
    fan_in, fan_out = fans_numpy(shape)
    n = fan_in if mode == "fan_in" else fan_out
    return (np.sqrt(2.0 / n) * rng.standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("student", [
    make_initializer(1), make_initializer(1, draw="standard"), xavier_float32_native,
    make_initializer(1, fans=fans_numpy),
])
def test_xavier_correct(student):
    checks.check_xavier(student, hidden=True)


@pytest.mark.parametrize("student, message", [
    (make_initializer(1, std_of=lambda n, fi, fo, s: math.sqrt(2 / n)), "that is He's scale"),
    (make_initializer(1, std_of=lambda n, fi, fo, s: 1 / n), "variance was used as the std"),
    (make_initializer(1, fans=fans_swapped), "wrong fan"),
    (make_initializer(1, std_of=lambda n, fi, fo, s: math.sqrt(1 / fi)), "mode='fan_out' is ignored"),
    (make_initializer(1, std_of=lambda n, fi, fo, s: math.sqrt(1 / n) if n in (fi, fo) else math.sqrt(1 / (fi + fo))),
     "you used the sum"),
    (make_initializer(1, fans=fans_no_kernel), "kernel size is ignored"),
    (make_initializer(1, draw="uniform"), "looks uniform"),
    (make_initializer(1, cast=False), "expected dtype float32"),
    (make_initializer(1, use_rng=False), "not from np.random's global state"),
    (lambda shape, rng, mode="fan_in", dtype=np.float64:
     rng.standard_normal(shape, dtype=dtype) * np.sqrt(1 / _n(shape, mode)), "use math.sqrt"),
    (lambda shape, rng, mode="fan_in", dtype=np.float64: np.random.default_rng(0).normal(0, 0.05, shape),
     "the `rng` argument is ignored"),
    (lambda shape, rng, mode="fan_in", dtype=np.float64: np.full(shape, 0.05, dtype), "constant init"),
])
def test_xavier_wrong(student, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_xavier(student)


@pytest.mark.parametrize("student", [
    make_initializer(2), make_initializer(2, draw="standard"), he_out_of_place,
])
def test_he_correct(student):
    checks.check_he(student, hidden=True)


@pytest.mark.parametrize("student, message", [
    (make_initializer(2, std_of=lambda n, fi, fo, s: math.sqrt(1 / n)), "that is Xavier's scale"),
    (make_initializer(2, std_of=lambda n, fi, fo, s: 2 / n), "variance was used as the std"),
    (make_initializer(2, fans=fans_swapped), "wrong fan"),
    (make_initializer(2, fans=fans_no_kernel), "kernel size is ignored"),
    (make_initializer(2, fans=fans_total), "total number of weights"),
    (make_initializer(2, use_rng=False), "global state"),
    (lambda shape, rng, mode="fan_in", dtype=np.float64: list(rng.normal(0, 0.07, shape)), "expected a numpy array"),
])
def test_he_wrong(student, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_he(student)


# ----------------------------------------------------------------------------------------------
# init-stats
# ----------------------------------------------------------------------------------------------

def stats_reference(activations, low, high, margin):
    return {"mean": np.array([a.mean() for a in activations]),
            "std": np.array([a.std() for a in activations]),
            "saturated": np.array([np.mean((a <= low + margin) | (a >= high - margin)) for a in activations])}


def stats_ddof1_loop(activations, low, high, margin):
    means, stds, saturated = [], [], []
    for layer in activations:
        values = layer.ravel()
        means.append(np.sum(values) / values.size)
        stds.append(np.std(values, ddof=1))  # the sample std; with thousands of values it is the same number
        flat = np.logical_or(values - low <= margin, high - values <= margin)
        saturated.append(np.count_nonzero(flat) / values.size)
    return {key: np.asarray(value) for key, value in zip(("mean", "std", "saturated"), (means, stds, saturated))}


def stats_mutant(**changes):
    def student(activations, low, high, margin):
        result = stats_reference(activations, low, high, margin)
        for key, compute in changes.items():
            result[key] = np.array([compute(a, low, high, margin) for a in activations])
        return result
    return student


@pytest.mark.parametrize("student", [stats_reference, stats_ddof1_loop])
def test_stats_correct(student):
    checks.check_layer_statistics(student, hidden=True)


@pytest.mark.parametrize("student, message", [
    (stats_mutant(std=lambda a, lo, hi, m: np.std(a, axis=0).mean()), "axis=0"),
    (stats_mutant(std=lambda a, lo, hi, m: np.var(a)), "that is the variance"),
    (stats_mutant(saturated=lambda a, lo, hi, m: np.mean((a < lo + m) | (a > hi - m))), "use <= and >="),
    (stats_mutant(saturated=lambda a, lo, hi, m: np.mean(a <= lo + m)), "only the low end"),
    (lambda activations, low, high, margin: [a.mean() for a in activations], "expected a dict"),
    (lambda activations, low, high, margin: {"mean": [a.mean() for a in activations]}, "lacks"),
])
def test_stats_wrong(student, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_layer_statistics(student)


# ----------------------------------------------------------------------------------------------
# init-predict
# ----------------------------------------------------------------------------------------------

def prediction_by_moments():
    variance = 2 * 1.0                                # He: Var(z) = n · (2/n) · E[x²]
    mean = math.sqrt(variance) / math.sqrt(2 * math.pi)
    return math.sqrt(variance / 2 - mean**2)


@pytest.mark.parametrize("answer", [math.sqrt(1 - 1 / math.pi), 0.826, np.float32(0.83), prediction_by_moments])
def test_prediction_correct(answer):
    checks.check_prediction(answer)


@pytest.mark.parametrize("answer, message", [
    (1.0, "root-mean-square"),
    (math.sqrt(2), "pre-activation"),
    (1 - 1 / math.pi, "that is the variance|is the variance"),
    (math.sqrt(0.5 - 0.5 / math.pi), "He's factor 2"),
    (..., "is None"),
    (lambda: None, "is None"),
    (0.9, "which is too large"),
    (lambda: 1 / 0, "ZeroDivisionError"),
])
def test_prediction_wrong(answer, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_prediction(answer)


def test_fans_message_hides_the_expected_pair():
    with pytest.raises(ExerciseFailure) as failure:
        checks.check_fans(fans_no_kernel)                # first wrong at (64, 32, 3, 3), whose fans are (288, 576)
    assert "(288, 576)" not in str(failure.value) and "expected" not in str(failure.value)


def test_prediction_message_hides_the_answer():
    with pytest.raises(ExerciseFailure) as failure:
        checks.check_prediction(0.9)
    assert "0.82" not in str(failure.value) and "0.83" not in str(failure.value)


def test_no_answer_key_in_plain_text():
    source = (Path(checks.__file__)).read_text()
    assert "1 - 1 / math.pi" not in source and "0.8256" not in source
    assert '"b"' not in source.split("_DIAGNOSIS_FEEDBACK")[1].split("def check_diagnosis")[0]


# ----------------------------------------------------------------------------------------------
# init-backward
# ----------------------------------------------------------------------------------------------

def backward_reference(x, weights, activations, upstream, derivative):
    grads = [None] * len(weights)
    dout = upstream
    for l in reversed(range(len(weights))):
        delta = dout * derivative(activations[l])
        below = x if l == 0 else activations[l - 1]
        grads[l] = below.T @ delta
        dout = delta @ weights[l].T
    return grads


def backward_by_samples(x, weights, activations, upstream, derivative):
    """Sums the per-sample outer products explicitly, and builds the list from the top."""
    grads = []
    dout = upstream
    inputs = [x] + list(activations[:-1])
    for W, a, below in zip(weights[::-1], activations[::-1], inputs[::-1]):
        delta = dout * derivative(a)
        grads.insert(0, sum(np.outer(below[n], delta[n]) for n in range(len(x))))
        dout = np.einsum("nj,ij->ni", delta, W)
    return tuple(grads)


def backward_mutant(**switch):
    def student(x, weights, activations, upstream, derivative):
        from lib.checks.ch02_initialization import _backward_variant
        return _backward_variant(x, weights, activations, upstream, derivative, **switch)
    return student


def backward_reversed(x, weights, activations, upstream, derivative):
    return backward_reference(x, weights, activations, upstream, derivative)[::-1]


def backward_own_output(x, weights, activations, upstream, derivative):
    grads = [None] * len(weights)
    dout = upstream
    for l in reversed(range(len(weights))):
        delta = dout * derivative(activations[l])
        grads[l] = activations[l].T @ delta          # the layer's own output instead of its input
        dout = delta @ weights[l].T
    return grads


@pytest.mark.parametrize("student", [backward_reference, backward_by_samples])
def test_backward_correct(student):
    checks.check_backward(student, hidden=True)


@pytest.mark.parametrize("student, message", [
    (backward_mutant(use_derivative=False), "without multiplying by φ'"),
    (backward_mutant(pass_delta=False), "skips φ'"),
    (backward_mutant(batch_mean=True), "divided by the batch size"),
    (backward_mutant(first_sample=True), "only the first sample"),
    (backward_reversed, "reverse order"),
    (backward_own_output, "expected shape"),
    (lambda x, weights, activations, upstream, derivative: None, "returned None"),
])
def test_backward_wrong(student, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_backward(student)


# ----------------------------------------------------------------------------------------------
# init-diagnose
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["b", " B "])
def test_diagnosis_correct(answer):
    checks.check_diagnosis(answer)


@pytest.mark.parametrize("answer, message", [
    ("a", "overshooting"), ("c", "zeros are not the difference"), ("d", "units differ"),
    ("e", "capacity"), ("f", "one of the letters"), (2, "as a string"),
])
def test_diagnosis_wrong(answer, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_diagnosis(answer)


def fixed(init, **changes):
    def student(data, seed):
        from lib.chapters.ch02_initialization import experiments
        return experiments.build_network(data, init=init, hidden=changes.get("hidden", (40,) * 4),
                                         activation=changes.get("activation", "relu"), seed=seed)
    return student


def fixed_by_hand(data, seed):
    from lib.networks import MultiLayerNet
    (x_train, _), _ = data
    return MultiLayerNet(x_train.shape[1], [40, 40, 40, 40], 10, activation="relu", weight_init_std="relu", seed=seed)


@pytest.mark.parametrize("student", [fixed("he"), fixed(0.2), fixed_by_hand])
def test_fix_correct(student):
    checks.check_fix(student, hidden=True)


def fixed_with_batchnorm(data, seed):
    from lib.networks import MultiLayerNet
    return MultiLayerNet(64, [40] * 4, 10, activation="relu", weight_init_std=0.01, use_batchnorm=True, seed=seed)


@pytest.mark.parametrize("student, message", [
    (fixed(0.01), "activations still shrink"),
    (fixed(1.0), "too large"),
    (fixed("xavier"), "too slowly"),
    (fixed("he", activation="tanh"), "keep the colleague's architecture"),
    (fixed_with_batchnorm, "Batch Normalization would"),
    (lambda data, seed: None, "returned None"),
])
def test_fix_wrong(student, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_fix(student)


def test_diagnosis_feedback_on_dead_units_holds():
    """Option c's feedback says the share of zeros is the same under He's init: check it on the colleague's net."""
    from lib.chapters.ch02_initialization import experiments
    from lib.data import load_dataset

    data = load_dataset("digits", seed=0)
    (x_train, t_train), _ = data
    shares = [experiments.network_diagnostics(experiments.build_network(data, init=init, hidden=checks.FIX_HIDDEN),
                                              x_train[:200], t_train[:200]).zero_share for init in (0.01, "he")]
    np.testing.assert_array_equal(*shares)
