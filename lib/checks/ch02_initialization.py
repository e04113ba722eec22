"""Checks for chapter 2's exercises (weight initialization).

``init-fans``    ``initializers.compute_fans(shape) -> (fan_in, fan_out)``
``init-xavier``  ``xavier_normal(shape, rng, mode="fan_in", dtype=np.float64)``
``init-he``      ``he_normal(shape, rng, mode="fan_in", dtype=np.float64)``
``init-stats``   ``layer_statistics(activations, low, high, margin) -> {"mean", "std", "saturated"}``
``init-predict`` a number: the wide-layer std of layer-5 activations for He + ReLU
``init-backward`` ``backward(x, weights, activations, upstream, derivative) -> [∂L/∂W per layer]``
``init-diagnose`` a choice: why a network does not learn
``init-repair``   ``fixed_network(data, seed)``: that network, repaired

Random initializers are checked statistically: a large draw (≥ 70,000 values) with a fixed seed, its
sample std compared with the formula at 2% (the sample std's own relative error is about
1/√(2N) ≤ 0.3%, so 2% is more than 6 standard errors, while every mistake the checks name is at
least 10% away). ``rng.normal(0, std, shape)`` and ``rng.standard_normal(shape) * std`` are both
correct and both pass; so does drawing in float32 or casting afterwards.
"""

from __future__ import annotations

import math

import numpy as np

from lib.checks.core import SCALAR_TYPES, answer_digest, call_student, expect_array, expect_scalar, fail, passed
from lib.chapters.ch02_initialization import experiments as reference
from lib import initializers

__all__ = ["check_fans", "check_xavier", "check_he", "check_layer_statistics", "check_prediction",
           "check_backward", "check_diagnosis", "check_fix", "DIAGNOSIS_OPTIONS"]

FAN_SHAPES = [(784, 100), (100, 10), (64, 32, 3, 3), (16, 3, 5, 5), (8, 4, 7), (4, 2, 3, 3, 3)]
HIDDEN_FAN_SHAPES = [(1, 1), (3, 1, 1, 1), (6, 5, 1, 2)]


def _receptive(shape):
    return math.prod(shape[2:]) if len(shape) > 2 else 1


_FAN_BUGS = {
    "fan_in and fan_out are swapped (for a 2-D weight (D, M) used as x @ W, fan_in = D = shape[0]; "
    "for a conv weight (out, in, kh, kw), fan_in = in·kh·kw)":
        lambda s: tuple(reversed(initializers.compute_fans(s))),
    "the kernel size is ignored: a conv weight (out, in, kh, kw) has fan_in = in·kh·kw, not in":
        lambda s: (s[1], s[0]) if len(s) > 2 else (s[0], s[1]),
    "a 2-D weight is read in PyTorch's (out, in) order; this course's Affine computes x @ W, so W is (fan_in, fan_out)":
        lambda s: (s[1], s[0]) if len(s) == 2 else initializers.compute_fans(s),
    "the fans use the total number of weights (np.prod(shape)) instead of the inputs/outputs of one unit":
        lambda s: (math.prod(s), math.prod(s)),
    "a conv weight's axes are read as (in, out, kh, kw); this course (like PyTorch) stores (out, in, kh, kw)":
        lambda s: (s[0] * _receptive(s), s[1] * _receptive(s)) if len(s) > 2 else (s[0], s[1]),
}


def check_fans(compute_fans, *, hidden: bool = False) -> None:
    """``initializers.compute_fans(shape)`` for dense and conv-style shapes, compared exactly."""
    exercise = "init-fans"
    shapes = FAN_SHAPES + (HIDDEN_FAN_SHAPES if hidden else [])
    answers = {}
    for shape in shapes:
        got = call_student(exercise, f"compute_fans({shape})", compute_fans, shape)
        # exact built-in types only: a subclass's repr, int or == could run the student's code
        if type(got) not in (tuple, list) or len(got) != 2:
            fail(exercise, f"compute_fans({shape}) should return a pair (fan_in, fan_out), got {type(got).__name__}"
                           f"{' of length ' + str(len(got)) if type(got) in (tuple, list) else ''}.")
        if any(type(value) not in SCALAR_TYPES or type(value) is bool for value in got):
            fail(exercise, f"compute_fans({shape}) should return two integers, got "
                           f"({', '.join(type(value).__name__ for value in got)}).")
        if any(not float(value).is_integer() for value in got):
            fail(exercise, f"compute_fans({shape}) should return whole numbers, got a fraction.")
        pair = tuple(int(value) for value in got)
        answers[shape] = pair
    wrong = {shape: pair for shape, pair in answers.items() if pair != initializers.compute_fans(shape)}
    if wrong:
        shape, pair = next(iter(wrong.items()))
        expected = initializers.compute_fans(shape)
        which = " and ".join(name for name, got, want in zip(("fan_in", "fan_out"), pair, expected) if got != want)
        which = f"{which} {'are' if ' and ' in which else 'is'}"
        for diagnosis, bug in _FAN_BUGS.items():
            if all(answers[s] == tuple(bug(s)) for s in answers):
                fail(exercise, f"compute_fans({shape}) returned {pair}: its {which} wrong. Likely bug: {diagnosis}.")
        kind = "a 2-D (dense) weight" if len(shape) == 2 else "a convolution weight (out, in, *kernel)"
        fail(exercise, f"compute_fans({shape}) returned {pair}: its {which} wrong for {kind}. How many inputs does "
                       f"one output value sum over, and how many outputs does one input value feed?")
    passed(exercise, f"{len(shapes)} shapes, dense and convolutional")


# ----------------------------------------------------------------------------------------------
# Random initializers: statistical checks
# ----------------------------------------------------------------------------------------------

DENSE = (400, 250)          # fan_in 400, fan_out 250: 100,000 values
CONV = (128, 64, 3, 3)      # fan_in 576, fan_out 1152: 73,728 values
HIDDEN_SHAPES = [(64, 48, 5, 5), (300, 300)]  # 76,800 and 90,000 values
STD_RTOL = 0.02


def _candidate_stds(shape, mode: str, gain: float) -> dict[str, float]:
    """What a known mistake makes the std of a weight of ``shape`` (``gain`` = 1 Xavier, 2 He)."""
    fan_in, fan_out = initializers.compute_fans(shape)
    fans = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}
    n = fans[mode]
    name = "He" if gain == 2 else "Xavier"
    bugs = {}
    if mode != "fan_in":
        bugs[f"mode={mode!r} is ignored: the std is the fan_in one"] = math.sqrt(gain / fan_in)
    purpose = ("keeps Var(z) of a linear-ish unit (tanh near 0): n·σ² = 1" if gain == 1 else
               "must put back the half of E[z²] that a ReLU zeroes")
    bugs |= {
        f"that is {'He' if gain == 1 else 'Xavier'}'s scale; {name} {purpose}": math.sqrt((3 - gain) / n),
        "the variance was used as the std (take its square root)": gain / n,
    }
    if mode != "fan_avg":
        other = fan_out if mode == "fan_in" else fan_in
        bugs[f"n is taken from the wrong fan: mode={mode!r} wants the other one"] = math.sqrt(gain / other)
    if mode == "fan_avg":
        bugs["fan_avg is the average (fan_in + fan_out)/2; you used the sum"] = math.sqrt(gain / (fan_in + fan_out))
    if len(shape) > 2:
        receptive = math.prod(shape[2:])
        bugs["the kernel size is ignored (a conv weight (out, in, kh, kw) has fan_in = in·kh·kw, "
             "fan_out = out·kh·kw)"] = math.sqrt(gain * receptive / n)
    bugs["n is the total number of weights (np.prod(shape)); it is the fan of one unit"] = \
        math.sqrt(gain / math.prod(shape))
    return bugs


def _check_draw(exercise, func, name, shape, mode, gain, dtype, seed, pass_mode=True):
    call = f"{name}({shape}, rng{', mode=' + repr(mode) if pass_mode else ''}, dtype=np.{np.dtype(dtype).name})"
    kwargs = {"dtype": dtype}
    if pass_mode:
        kwargs["mode"] = mode
    weights = call_student(exercise, call, func, shape, np.random.default_rng(seed), **kwargs)
    if weights is None:
        fail(exercise, f"{call}: got None — did you forget to `return` the weights?")
    if not isinstance(weights, np.ndarray):
        fail(exercise, f"{call}: expected a numpy array, got {type(weights).__name__}.")
    if weights.shape != tuple(shape):
        fail(exercise, f"{call}: expected shape {tuple(shape)}, got {weights.shape}.")
    if weights.dtype != np.dtype(dtype):
        fail(exercise, f"{call}: expected dtype {np.dtype(dtype)}, got {weights.dtype}. rng.normal returns float64 "
                       f"(cast with .astype(dtype), or draw with rng.standard_normal(shape, dtype=dtype)), and a "
                       f"float64 scalar such as np.sqrt(...) promotes a float32 array (use math.sqrt).")
    values = weights.astype(np.float64).ravel()
    if not np.all(np.isfinite(values)):
        fail(exercise, f"{call}: contains NaN or inf.")
    std = values.std()
    if std == 0:
        fail(exercise, f"{call}: every weight is {values[0]:.4g} — a constant init makes all units identical; "
                       f"draw random numbers.")
    fan_in, fan_out = initializers.compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    expected = math.sqrt(gain / n)
    expect_scalar(exercise, f"{call}: std of the weights", std, expected, rtol=STD_RTOL, atol=0,
                  likely_bugs=_candidate_stds(shape, mode, gain))
    mean_bound = 6 * expected / math.sqrt(values.size)
    if abs(values.mean()) > mean_bound:
        fail(exercise, f"{call}: the weights' mean is {values.mean():.3g}; it should be 0 (|mean| < {mean_bound:.2g} "
                       f"for {values.size} draws). Initializers are zero-mean.")
    excess_kurtosis = np.mean((values - values.mean()) ** 4) / std**4 - 3
    if abs(excess_kurtosis) > 0.15:  # its standard error here is √(24/N) ≤ 0.02
        looks = " — it looks uniform (−1.2); this exercise asks for the normal distribution" \
            if abs(excess_kurtosis + 1.2) < 0.15 else ""
        fail(exercise, f"{call}: the weights are not normally distributed (excess kurtosis {excess_kurtosis:.2f}, "
                       f"a normal has 0){looks}.")
    return weights


def _check_uses_rng(exercise, func, name):
    shape = (60, 50)
    first = call_student(exercise, f"{name}({shape}, rng)", func, shape, np.random.default_rng(7))
    again = call_student(exercise, f"{name}({shape}, rng)", func, shape, np.random.default_rng(7))
    other = call_student(exercise, f"{name}({shape}, rng)", func, shape, np.random.default_rng(8))
    for result in (first, again, other):
        if not isinstance(result, np.ndarray):
            fail(exercise, f"{name}({shape}, rng): expected a numpy array, got {type(result).__name__}.")
    if first.size and np.all(first == first.flat[0]):
        fail(exercise, f"{name}({shape}, rng): every weight is {first.flat[0]:.4g} — a constant init makes all "
                       f"units of a layer identical; draw random numbers from rng.")
    if not np.array_equal(first, again):
        fail(exercise, f"{name}: two calls with np.random.default_rng(7) gave different weights. Draw from the "
                       f"`rng` argument (rng.normal or rng.standard_normal), not from np.random's global state, "
                       f"so that a seed reproduces the network.")
    if np.array_equal(first, other):
        fail(exercise, f"{name}: np.random.default_rng(7) and default_rng(8) gave the same weights: the `rng` "
                       f"argument is ignored (a generator with a fixed seed inside the function?).")


def _check_initializer(exercise, func, name, gain, modes, hidden):
    _check_uses_rng(exercise, func, name)
    _check_draw(exercise, func, name, DENSE, "fan_in", gain, np.float64, 1, pass_mode=False)
    seed = 2
    for shape in (DENSE, CONV):
        for mode in modes:
            _check_draw(exercise, func, name, shape, mode, gain, np.float64, seed)
            seed += 1
    _check_draw(exercise, func, name, CONV, "fan_in", gain, np.float32, seed)
    if hidden:
        for shape in HIDDEN_SHAPES:
            for mode in modes:
                seed += 1
                _check_draw(exercise, func, name, shape, mode, gain, np.float32, seed)
    passed(exercise, f"std within {STD_RTOL:.0%} of √({gain}/n) for modes {', '.join(modes)} on dense and conv "
                     f"shapes, zero mean, normal, reproducible from rng, dtype kept")


def check_xavier(xavier_normal, *, hidden: bool = False) -> None:
    """``xavier_normal``: std √(1/n) with n = fan_in, fan_out or (fan_in + fan_out)/2."""
    _check_initializer("init-xavier", xavier_normal, "xavier_normal", 1, ("fan_in", "fan_out", "fan_avg"), hidden)


def check_he(he_normal, *, hidden: bool = False) -> None:
    """``he_normal``: std √(2/n) with n = fan_in or fan_out."""
    _check_initializer("init-he", he_normal, "he_normal", 2, ("fan_in", "fan_out"), hidden)


# ----------------------------------------------------------------------------------------------
# Per-layer statistics
# ----------------------------------------------------------------------------------------------

def _statistics_cases(seed: int):
    """Layers whose units have different means (so a per-unit std differs from the layer's std), and
    ReLU-like layers with exact zeros (so ``<=`` and ``<`` differ at ``low = 0, margin = 0``; a sigmoid
    value exactly on ``high − margin`` would be a floating-point coin toss, so there is none)."""
    rng = np.random.default_rng(seed)
    sigmoid_like = []
    for spread in (0.5, 2.0, 6.0):
        offsets = rng.normal(0, 2.0, size=(1, 50))
        sigmoid_like.append(1 / (1 + np.exp(-(offsets + spread * rng.standard_normal((400, 50))))))
    low, high, margin = 0.0, 1.0, 0.01
    relu_like = [np.maximum(rng.normal(0.3 * k, 1.0, size=(300, 40)), 0.0) for k in range(4)]
    return [(sigmoid_like, low, high, margin), (relu_like, 0.0, math.inf, 0.0)]


def _statistics_bugs(activations, low, high, margin):
    per_unit_std = np.array([np.mean(np.std(a, axis=0)) for a in activations])
    variance = np.array([np.var(a) for a in activations])
    strict = np.array([np.mean((a < low + margin) | (a > high - margin)) for a in activations])
    low_only = np.array([np.mean(a <= low + margin) for a in activations])
    return {
        "std": {"the std of each unit over the samples (axis=0) was averaged; the chapter's std is over all "
                "of a layer's values at once (a.std())": per_unit_std,
                "that is the variance; the std is its square root": variance},
        "saturated": {"strict < / > miss values exactly on the bound — a ReLU's zeros sit exactly at low = 0 "
                      "with margin = 0; use <= and >=": strict,
                      "only the low end is counted; saturation is near low OR near high": low_only},
    }


def check_layer_statistics(layer_statistics, *, hidden: bool = False) -> None:
    """``layer_statistics(activations, low, high, margin)`` against the reference on two stacks."""
    exercise = "init-stats"
    seeds = (0, 1, 2) if hidden else (0,)
    for seed in seeds:
        for activations, low, high, margin in _statistics_cases(seed):
            call = f"layer_statistics(<{len(activations)} layers>, low={low}, high={high}, margin={margin})"
            got = call_student(exercise, call, layer_statistics, activations, low, high, margin)
            if not isinstance(got, dict):
                fail(exercise, f"{call}: expected a dict with keys 'mean', 'std', 'saturated', "
                               f"got {type(got).__name__}.")
            missing = {"mean", "std", "saturated"} - set(got)
            if missing:
                fail(exercise, f"{call}: the dict lacks {sorted(missing)}.")
            expected = reference.layer_statistics(activations, low=low, high=high, margin=margin)
            bugs = _statistics_bugs(activations, low, high, margin)
            for key in ("mean", "std", "saturated"):
                # rtol 1e-3 accepts ddof=1 (a relative change of 1/(2N) ≈ 4e-5 here): both are fine
                expect_array(exercise, f"{call}['{key}']", got[key], getattr(expected, key), rtol=1e-3, atol=1e-9,
                             likely_bugs=bugs.get(key))
    passed(exercise, "mean, std and saturated fraction per layer")


# ----------------------------------------------------------------------------------------------
# The numeric prediction
# ----------------------------------------------------------------------------------------------

def _predicted_layer5_std() -> float:
    """The answer, computed privately by the chapter's variance recursion (not stored as a number)."""
    return float(reference.predicted_activation_std("relu", "he", n_layers=5)[-1])


def check_prediction(predicted) -> None:
    """The wide-layer std of layer-5 ReLU activations under He init, within 2%. ``predicted`` is the
    number or a function of no arguments returning it."""
    exercise = "init-predict"
    if callable(predicted):
        predicted = call_student(exercise, "predicted_layer5_std()", predicted)
    if predicted is None or predicted is Ellipsis:
        fail(exercise, "your prediction is None: return (or set) a number.")
    answer = _predicted_layer5_std()
    second_moment = reference.second_moment("relu", 2.0)   # E[y²] of ReLU(z), z ~ N(0, 2)
    expect_scalar(exercise, "predicted std of layer-5 activations", predicted, answer, rtol=0.02, atol=0,
                  likely_bugs={
                      "that is √E[y²], the root-mean-square; the std subtracts the mean E[y] first":
                          math.sqrt(second_moment),
                      "that is the std of the pre-activation z = a·W, before the ReLU":
                          math.sqrt(reference.predicted_preactivation_variance("relu", "he")[-1]),
                      "that is the variance of y; the std is its square root": answer**2,
                      "that is ReLU of a unit-variance z; what does He's factor 2 do to Var(z) in every layer?":
                          reference.activation_std("relu", 1.0),
                      "that treats ReLU as halving the std; it halves E[z²], and the mean must be removed":
                          math.sqrt(second_moment / 2),
                  })
    passed(exercise, "the same std in every layer: He's factor 2 keeps Var(z) constant")


# ----------------------------------------------------------------------------------------------
# The backward pass through the chapter's stack (derived, checked against numerical gradients)
# ----------------------------------------------------------------------------------------------

_ACTIVATION_PAIRS = {  # φ and φ' written in terms of the output a = φ(z), as the exercise gives them
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a: a * (1 - a)),
    "tanh": (np.tanh, lambda a: 1 - a * a),
    "relu": (lambda z: np.maximum(z, 0), lambda a: (a > 0).astype(a.dtype)),
}


def _stack_forward(x, weights, phi):
    activations, a = [], x
    for W in weights:
        a = phi(a @ W)
        activations.append(a)
    return activations


def _stack_case(activation: str, seed: int, widths, batch: int):
    rng = np.random.default_rng([seed, len(widths), batch])
    x = rng.standard_normal((batch, widths[0]))
    weights = [rng.standard_normal((n_in, n_out)) * math.sqrt(2.0 / n_in) for n_in, n_out in zip(widths, widths[1:])]
    phi, derivative = _ACTIVATION_PAIRS[activation]
    activations = _stack_forward(x, weights, phi)
    upstream = rng.standard_normal(activations[-1].shape)
    return x, weights, activations, upstream, phi, derivative


def _numerical_weight_grads(x, weights, upstream, phi):
    from lib.gradcheck import numerical_gradient

    weights = [W.copy() for W in weights]
    loss = lambda: float(np.sum(upstream * _stack_forward(x, weights, phi)[-1]))  # noqa: E731
    return [numerical_gradient(loss, W) for W in weights]


def _backward_variant(x, weights, activations, upstream, derivative, *, use_derivative=True, pass_delta=True,
                      batch_mean=False, first_sample=False):
    """The backward loop with one known mistake switched on (all off: the right answer)."""
    grads = [None] * len(weights)
    dout = upstream
    for l in reversed(range(len(weights))):
        delta = dout * derivative(activations[l]) if use_derivative else dout
        below = x if l == 0 else activations[l - 1]
        grad = np.outer(below[0], delta[0]) if first_sample else below.T @ delta
        grads[l] = grad / len(x) if batch_mean else grad
        dout = (delta if pass_delta else dout) @ weights[l].T
    return grads


_BACKWARD_BUGS = {
    "δ = ∂L/∂a was used without multiplying by φ'(z): each layer's activation has a derivative too":
        dict(use_derivative=False),
    "the gradient passed down to the layer below skips φ': pass δ·Wᵀ (δ = ∂L/∂a ⊙ φ'), not (∂L/∂a)·Wᵀ":
        dict(pass_delta=False),
    "the weight gradient is divided by the batch size: L sums over the samples, so ∂L/∂W sums over them "
    "too (a ᵀ·δ), with no mean": dict(batch_mean=True),
    "only the first sample enters ∂L/∂W (np.outer of one row): with a batch, ∂L/∂W sums the outer products "
    "of every sample — a ᵀ·δ": dict(first_sample=True),
}


def check_backward(backward, *, hidden: bool = False) -> None:
    """``backward(x, weights, activations, upstream, derivative)``: ∂L/∂W of every layer for
    ``L = Σ upstream ⊙ a_L``, against centred numerical gradients on batches of several samples, for
    sigmoid, tanh and ReLU and layers of different widths."""
    exercise = "init-backward"
    cases = [("sigmoid", (5, 4, 6, 3), 3), ("tanh", (4, 6, 5), 2), ("relu", (6, 5, 4, 3), 4)]
    if hidden:
        cases += [("relu", (3, 3, 3, 3, 3), 5), ("sigmoid", (7, 2, 5), 6), ("tanh", (2, 8, 8, 4), 3)]
    for seed, (activation, widths, batch) in enumerate(cases):
        x, weights, activations, upstream, phi, derivative = _stack_case(activation, seed, widths, batch)
        call = (f"backward(x {x.shape}, weights {[W.shape for W in weights]}, activations, upstream "
                f"{upstream.shape}, derivative of {activation})")
        got = call_student(exercise, call, backward, x, weights, activations, upstream, derivative)
        if got is None:
            fail(exercise, f"{call} returned None — did you forget to `return` the list of gradients?")
        if type(got) not in (list, tuple):
            fail(exercise, f"{call} should return a list with one ∂L/∂W per layer, got {type(got).__name__}.")
        if len(got) != len(weights):
            fail(exercise, f"{call} returned {len(got)} gradients for {len(weights)} layers.")
        shapes = [getattr(g, "shape", None) for g in got]
        if shapes == [W.shape for W in weights][::-1] and shapes != [W.shape for W in weights]:
            fail(exercise, f"{call}: the gradients come in reverse order; return them in layer order "
                           f"(layer 1 first), like `weights`.")
        expected = _numerical_weight_grads(x, weights, upstream, phi)
        bugs = {diagnosis: _backward_variant(x, weights, activations, upstream, derivative, **switch)
                for diagnosis, switch in _BACKWARD_BUGS.items()}
        # from the last layer down, as the gradient flows: the first wrong layer says the most
        for layer in reversed(range(len(weights))):
            what = f"{call}: ∂L/∂W of layer {layer + 1} of {len(weights)}"
            expect_array(exercise, what, got[layer], expected[layer], rtol=1e-5, atol=1e-7,
                         likely_bugs={diagnosis: grads[layer] for diagnosis, grads in bugs.items()
                                      if not np.allclose(grads[layer], expected[layer], rtol=1e-5, atol=1e-7)})
    passed(exercise, "matches numerical gradients for sigmoid, tanh and ReLU stacks on batches of several samples")


# ----------------------------------------------------------------------------------------------
# Diagnose a network that does not learn, then repair it
# ----------------------------------------------------------------------------------------------

DIAGNOSIS_OPTIONS = {
    "a": "The learning rate is too large: the updates overshoot.",
    "b": "The weights start too small: every layer shrinks the signal, so the activations and the gradients "
         "vanish before training can move anything.",
    "c": "About half of the ReLU units are dead (output exactly 0), so the network has no capacity left.",
    "d": "All units of a layer are identical copies (symmetry), so they learn the same feature.",
    "e": "The network is too small for the digits.",
}
_DIAGNOSIS_FEEDBACK = {
    answer_digest("init-diagnose", "a"):
        "an overshooting learning rate makes the loss jump about or grow; here the loss sits still and the printed "
        "gradients are tiny, so the steps are far too small, not too large.",
    answer_digest("init-diagnose", "c"):
        "the printed share of exact zeros is exactly what He's init gives this network (a ReLU only sees the sign of "
        "z, and rescaling every layer's weights keeps every sign), and with He's init it trains (the chapter's "
        "sections 2 and 6). The zeros are not the difference; look at the printed std from layer to layer.",
    answer_digest("init-diagnose", "d"):
        "the weights are drawn at random, so the units differ; and even the constant-init net of section 1 moves "
        "its loss. Here nothing moves: look at how the printed std changes from layer to layer.",
    answer_digest("init-diagnose", "e"):
        "the same architecture trains with another init (the chapter's section 6): capacity is not what stops it. "
        "Look at what happens to the printed std from layer to layer.",
}
_DIAGNOSIS_KEY = "8cb82aaff5972ec3ff478393f3a98fb4f9fbd200482161661165a4dd10e2858e"  # answer_digest of the answer


def check_diagnosis(answer) -> None:
    """The cause of the broken run, as one of the letters of ``DIAGNOSIS_OPTIONS``."""
    exercise = "init-diagnose"
    if type(answer) is not str:
        fail(exercise, f"DIAGNOSIS should be one of the letters {', '.join(DIAGNOSIS_OPTIONS)} as a string, "
                       f"got {type(answer).__name__}.")
    letter = answer.strip().lower()
    if letter not in DIAGNOSIS_OPTIONS:
        fail(exercise, f"DIAGNOSIS should be one of the letters {', '.join(DIAGNOSIS_OPTIONS)}, got {answer!r:.20}.")
    digest = answer_digest(exercise, letter)
    if digest != _DIAGNOSIS_KEY:
        fail(exercise, f"({letter}) is not it: {_DIAGNOSIS_FEEDBACK[digest]}")
    passed(exercise, "diagnosis")


FIX_HIDDEN = (40, 40, 40, 40)
FIX_EPOCHS = 3
FIX_LR = 0.1
FIX_MAX_LOSS = 1.8  # the broken run stays at ln 10 ≈ 2.30; He's init ends near 1.2 (chapter, section 6)


def check_fix(fixed_network, *, hidden: bool = False) -> None:
    """``fixed_network(data, seed)`` returns the colleague's network — ReLU, hidden layers ``FIX_HIDDEN``, no
    normalization or dropout — with a working initialization. The check trains it the colleague's way (plain
    SGD, same learning rate and epochs) on its own data and seeds and requires the loss to come down."""
    from lib.data import load_dataset
    from lib.networks import MultiLayerNet

    exercise = "init-repair"
    data = load_dataset("digits", seed=0)
    (x_train, t_train), _ = data
    for seed in ((11, 12, 13) if hidden else (11,)):
        call = f"fixed_network(data, seed={seed})"
        network = call_student(exercise, call, fixed_network, data, seed)
        if network is None:
            fail(exercise, f"{call} returned None — did you forget to `return` the network?")
        if type(network) is not MultiLayerNet:
            fail(exercise, f"{call} should return a lib.networks.MultiLayerNet, got {type(network).__name__}.")
        if (network.hidden_size_list != list(FIX_HIDDEN) or network.activation != "relu"
                or network.normalization != "none" or network.use_dropout):
            fail(exercise, f"{call}: keep the colleague's architecture (ReLU, hidden layers {list(FIX_HIDDEN)}, no "
                           f"normalization, no dropout) and change only what is broken. (Batch Normalization would "
                           f"hide the problem — chapter 3 — but not repair it.)")
        start = reference.network_diagnostics(network, x_train[:200], t_train[:200])
        first, last = start.activation_std[0], start.activation_std[-1]
        history = reference.train_sgd(network, data, epochs=FIX_EPOCHS, lr=FIX_LR, seed=seed)
        loss = reference.final_loss(history) if history.train_loss and not history.diverged else math.inf
        if loss <= FIX_MAX_LOSS:
            continue
        if history.diverged or last > 10 * max(first, 1e-300) and last > 10:
            fail(exercise, f"{call}: training diverged or the activations blow up (std {first:.3g} in hidden layer 1, "
                           f"{last:.3g} in the last): the new scale is too large; each ReLU layer multiplies the std "
                           f"by σ·√(n/2).")
        if last < 0.1 * first:
            fail(exercise, f"{call}: the loss still ends at {loss:.3f} and the activations still shrink (std {first:.3g} "
                           f"in hidden layer 1, {last:.3g} in the last). Which σ keeps E[z²] the same from one ReLU "
                           f"layer to the next?")
        fail(exercise, f"{call}: the network learns, but too slowly (loss {loss:.3f} after the check's "
                     f"{FIX_EPOCHS} epochs). Is the scale right for ReLU units, in every layer?")
    passed(exercise, "the repaired network trains under the colleague's own settings")
