"""Checks for chapter 5's exercises: a log-uniform sampler, a random-search loop that chooses on
validation data only, and a coarse-to-fine range proposal.

- ``hp-sampler``:        ``log_uniform(low, high, size, rng) -> ndarray`` — 10**U(log10 low, log10 high),
  drawn from ``rng``. Checked statistically with fixed seeds: range, shape, dtype, the quantiles of
  log10 of the samples, and that the samples come from ``rng``. Any correct way of drawing passes.
- ``hp-random-search``:  ``random_search(sample_config, run_trial, n_trials, rng) -> (best_config, best_result)``
  — the best by ``result.val_acc`` (NaN = diverged, never the best); ``result.test_acc`` must never
  be read. The check's results record every attribute read.
- ``hp-narrow``:         ``narrow_range(values, scores, top_k, margin) -> (low, high)`` — the span of the
  ``top_k`` values by score (NaN ignored), widened by ``margin`` decades on each side.
"""

from __future__ import annotations

import math

import numpy as np

from lib.checks.core import call_student, expect_scalar, fail, passed

__all__ = ["check_log_uniform", "check_random_search", "check_narrow_range", "reference_narrow_range"]


# --------------------------------------------------------------------------- hp-sampler

def _inside(samples, low, high) -> bool:
    return bool(np.all(samples >= low * (1 - 1e-12)) and np.all(samples <= high * (1 + 1e-12)))


def _range_diagnosis(samples: np.ndarray, low: float, high: float) -> str:
    """Name the mistake that puts samples outside [low, high], when it can be told."""
    lo, hi = math.log10(low), math.log10(high)
    if np.all(samples >= lo - 1e-9) and np.all(samples <= hi + 1e-9):
        return ("the samples lie between log10(low) and log10(high): you returned the exponents — "
                "raise 10 to them.")
    if _inside(samples, math.exp(lo), math.exp(hi)):
        return ("the samples lie between e**log10(low) and e**log10(high): you drew exponents in base 10 "
                "but exponentiated with np.exp (natural log / log10 confusion).")
    if _inside(samples, 10 ** math.log(low), 10 ** math.log(high)):
        return ("the samples lie between 10**ln(low) and 10**ln(high): you took natural logs (np.log) and "
                "raised 10 to them (natural log / log10 confusion) — use the same base both ways.")
    return "every sample must lie in [low, high]."


def check_log_uniform(log_uniform) -> None:
    """``log_uniform(low, high, size, rng)``: float64 array of shape ``size`` in [low, high] whose log10
    is uniform, drawn from ``rng``."""
    exercise = "hp-sampler"
    low, high, n = 1e-6, 1e-2, 20_000
    what = f"log_uniform({low:g}, {high:g}, {n}, rng)"
    samples = call_student(exercise, what, log_uniform, low, high, n, np.random.default_rng(2024))
    if samples is None:
        fail(exercise, f"{what}: got None — did you forget to `return` the samples?")
    if not isinstance(samples, np.ndarray):
        fail(exercise, f"{what}: expected a numpy array of shape ({n},), got {type(samples).__name__} — "
                       "pass `size` on to the generator.")
    if samples.shape != (n,):
        fail(exercise, f"{what}: expected shape ({n},), got {samples.shape} — pass `size` on to the generator.")
    if samples.dtype != np.float64:
        fail(exercise, f"{what}: expected dtype float64, got {samples.dtype}.")
    if not np.all(np.isfinite(samples)):
        fail(exercise, f"{what}: contains NaN or inf.")
    if not _inside(samples, low, high):
        fail(exercise, f"{what}: samples range from {samples.min():.3g} to {samples.max():.3g}, outside "
                       f"[{low:g}, {high:g}]. Likely bug: {_range_diagnosis(samples, low, high)}")

    exponents = np.log10(samples)
    quantiles = np.array([0.1, 0.25, 0.5, 0.75, 0.9])
    expected = math.log10(low) + quantiles * (math.log10(high) - math.log10(low))
    got = np.quantile(exponents, quantiles)
    # 20,000 draws: a quantile of log10 has a standard deviation below 0.015; 0.06 is four of them.
    if not np.allclose(got, expected, atol=0.06):
        below_top_decade = float(np.mean(samples < high / 10))
        shown = ", ".join(f"{q:.0%}: {g:.2f} (expected {e:.2f})" for q, g, e in zip(quantiles, got, expected))
        if below_top_decade < 0.2:
            fail(exercise, f"{what}: quantiles of log10(samples) are {shown}. Only {below_top_decade:.1%} of the "
                           f"samples fall below {high / 10:g}, where a log-uniform sampler puts 75 %. Likely bug: "
                           "you drew uniformly between low and high (rng.uniform(low, high)) instead of drawing "
                           "the exponent uniformly.")
        fail(exercise, f"{what}: quantiles of log10(samples) are {shown}: log10 of the samples must be "
                       "uniform between log10(low) and log10(high).")

    again = call_student(exercise, what, log_uniform, low, high, n, np.random.default_rng(2024))
    other = call_student(exercise, what, log_uniform, low, high, n, np.random.default_rng(7))
    if not np.array_equal(np.asarray(again), samples):
        fail(exercise, f"{what}: two calls with generators seeded alike gave different samples. Likely bug: "
                       "you drew from np.random's global state instead of the `rng` argument.")
    if np.array_equal(np.asarray(other), samples):
        fail(exercise, f"{what}: generators with different seeds gave the same samples — draw from `rng`.")

    low2, high2, size2 = 1e-3, 1e-1, (40, 50)
    what2 = f"log_uniform({low2:g}, {high2:g}, {size2}, rng)"
    block = call_student(exercise, what2, log_uniform, low2, high2, size2, np.random.default_rng(5))
    if not isinstance(block, np.ndarray) or block.shape != size2:
        fail(exercise, f"{what2}: expected an array of shape {size2}, got "
                       f"{getattr(block, 'shape', type(block).__name__)}.")
    if _inside(block, low, high) and not _inside(block, low2, high2):
        fail(exercise, f"{what2}: samples lie in [{low:g}, {high:g}], not in [{low2:g}, {high2:g}]. Likely bug: "
                       "low and high are hard-coded — use the arguments.")
    if not _inside(block, low2, high2):
        fail(exercise, f"{what2}: samples outside [{low2:g}, {high2:g}]. Likely bug: {_range_diagnosis(block, low2, high2)}")
    median = float(np.median(np.log10(block)))
    if abs(median - (-2.0)) > 0.15:
        fail(exercise, f"{what2}: median of log10(samples) is {median:.2f}, expected about -2.00 "
                       "(low and high must not be hard-coded).")
    passed(exercise, "range, shape, dtype, log10 quantiles and use of rng are right")


# --------------------------------------------------------------------------- hp-random-search

class _Result:
    """What the check's ``run_trial`` returns: ``val_acc``, ``test_acc`` and ``config``; it notes
    every read of ``test_acc``."""

    def __init__(self, config, val_acc, test_acc, log):
        self.config = config
        self.val_acc = val_acc
        self._test_acc = test_acc
        self._log = log

    @property
    def test_acc(self):
        self._log.append("test_acc")
        return self._test_acc

    def __repr__(self):
        return f"Result(val_acc={self.val_acc})"


# Per call order: validation and test accuracies that disagree on the winner. NaN = a diverged trial.
_SEARCH_CASES = [
    # (val, test); best by val = 4, by test = 6, worst by val = 5, last = 7, np.argmax picks the NaN (2)
    ([0.42, 0.81, math.nan, 0.67, 0.88, 0.35, 0.79, 0.55], [0.40, 0.86, math.nan, 0.70, 0.83, 0.30, 0.90, 0.52]),
    # a diverged first trial: a loop that starts from trial 0 and compares with `>` never moves
    ([math.nan, 0.61, 0.74, 0.58, 0.70, 0.66], [math.nan, 0.64, 0.69, 0.60, 0.77, 0.65]),
]


def _search_diagnosis(chosen: int, vals, tests) -> str:
    vals, tests = np.array(vals), np.array(tests)
    finite = np.isfinite(vals)
    if math.isnan(vals[chosen]):
        return ("a diverged trial (val_acc = NaN) was returned: NaN compares False with everything, so np.argmax "
                "picks it and a loop started from a NaN never moves. Skip trials whose val_acc is NaN.")
    if chosen == int(np.nanargmax(np.where(np.isfinite(tests), tests, np.nan))):
        return "it is the best by test accuracy: choose on val_acc."
    if chosen == int(np.flatnonzero(finite)[np.argmin(vals[finite])]):
        return "it is the worst by validation accuracy: min instead of max (or a reversed comparison)."
    if chosen == len(vals) - 1:
        return "it is the last trial: keep the best config seen, not the last one."
    return "keep the trial with the highest val_acc."


def check_random_search(random_search) -> None:
    """``random_search(sample_config, run_trial, n_trials, rng)`` samples ``n_trials`` configs with
    ``sample_config(rng)``, trains each once with ``run_trial(config)``, and returns
    ``(best_config, best_result)`` by validation accuracy, never reading ``test_acc``."""
    exercise = "hp-random-search"
    for vals, tests in _SEARCH_CASES:
        sampled, tried, log = [], [], []

        def sample_config(rng):
            config = {"lr": float(10 ** rng.uniform(-4, 0)), "weight_decay": float(10 ** rng.uniform(-8, -4))}
            sampled.append(config)
            return dict(config)

        def run_trial(config):
            index = len(tried)
            tried.append(dict(config) if isinstance(config, dict) else config)
            if index >= len(vals):
                return _Result(dict(config), math.nan, math.nan, log)
            return _Result(dict(config), vals[index], tests[index], log)

        n = len(vals)
        what = f"random_search(sample_config, run_trial, n_trials={n}, rng)"
        got = call_student(exercise, what, random_search, sample_config, run_trial, n, np.random.default_rng(11))
        if "test_acc" in log:
            fail(exercise, f"{what}: your loop read result.test_acc. The test set must stay untouched until the "
                           "search is over — otherwise the search tunes on it and its score becomes optimistic. "
                           "Choose, and print, on val_acc only.")
        if len(sampled) != n:
            hint = " Likely bug: you sampled once, outside the loop — every trial gets the same config." \
                if len(sampled) == 1 else ""
            fail(exercise, f"{what}: sample_config was called {len(sampled)} times, expected {n} (one new config "
                           f"per trial).{hint}")
        if len(tried) != n:
            fail(exercise, f"{what}: run_trial was called {len(tried)} times, expected {n} (each config trained "
                           "exactly once; an off-by-one in the loop, or training the best config again?).")
        if tried != sampled:
            fail(exercise, f"{what}: the configs given to run_trial are not the ones sample_config returned, "
                           "in order.")
        if got is None:
            fail(exercise, f"{what}: got None — return (best_config, best_result).")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            fail(exercise, f"{what}: expected a pair (best_config, best_result), got {type(got).__name__}.")
        best_config, best_result = got
        expected = int(np.nanargmax(np.array(vals)))
        if best_config not in sampled:
            fail(exercise, f"{what}: best_config {best_config!r:.80} is not one of the sampled configs.")
        chosen = sampled.index(best_config)
        if chosen != expected:
            fail(exercise, f"{what}: returned trial {chosen} (val_acc {vals[chosen]}), expected trial {expected} "
                           f"(val_acc {vals[expected]}). Likely bug: {_search_diagnosis(chosen, vals, tests)}")
        if not isinstance(best_result, _Result) or best_result.config != best_config:
            fail(exercise, f"{what}: best_result must be what run_trial returned for best_config, got "
                           f"{best_result!r:.80}.")
    passed(exercise, "best by validation accuracy, diverged trials skipped, test accuracy never read")


# --------------------------------------------------------------------------- hp-narrow

def reference_narrow_range(values, scores, top_k, margin, *, worst=False, nan_is_best=False, log=math.log10,
                           power=lambda e: 10.0 ** e, linear_margin=False, keep=None):
    """The right answer, and (with the switches) what known mistakes produce."""
    values, scores = np.asarray(values, dtype=float), np.asarray(scores, dtype=float)
    if nan_is_best:
        order = np.argsort(scores)[::-1]
    else:
        finite = np.flatnonzero(np.isfinite(scores))
        order = finite[np.argsort(scores[finite] if worst else -scores[finite], kind="stable")]
    chosen = values[order[: top_k if keep is None else keep(top_k)]]
    if linear_margin:
        return float(chosen.min() - margin), float(chosen.max() + margin)
    return float(power(log(chosen.min()) - margin)), float(power(log(chosen.max()) + margin))


_NARROW_CASES = [
    # values spread over four decades; the best sit in the middle; one diverged trial (the largest lr)
    (np.array([3.2e-4, 2.0e-1, 7.5e-3, 1.1e-2, 4.0e-2, 9.0e-1, 2.5e-3, 6.0e-2, 1.5e-4, 2.2e-2]),
     np.array([0.12, 0.58, 0.61, 0.83, 0.87, math.nan, 0.35, 0.79, 0.10, 0.91]), 3, 0.3),
    # the best at the top of the range: the new range must reach past it
    (np.array([1e-5, 4e-5, 2e-4, 8e-4, 3e-3, 9e-3]), np.array([0.1, 0.2, 0.4, 0.6, 0.8, 0.9]), 2, 0.5),
]

_NARROW_BUGS = {
    "you kept the top_k WORST trials (ascending sort): sort scores in decreasing order.": dict(worst=True),
    "the NaN score of a diverged trial was counted among the best (np.argsort puts NaN last, so reversing it "
    "puts NaN first). Drop NaN scores first.": dict(nan_is_best=True),
    "the margin was applied in natural-log units (np.log / np.exp): the margin is in decades, use log10 and 10**.":
        dict(log=math.log, power=math.exp),
    "the margin was added to the values themselves, not to their log10: widen by `margin` decades.":
        dict(linear_margin=True),
    "no margin was added: widen the span by `margin` decades on each side.": dict(margin_zero=True),
    "you kept top_k - 1 trials (off by one).": dict(keep=lambda k: k - 1),
    "you kept top_k + 1 trials (off by one).": dict(keep=lambda k: k + 1),
    "the range spans every trial, not only the top_k.": dict(keep=lambda k: 10 ** 6),
}


def _bug_answer(values, scores, top_k, margin, switches):
    switches = dict(switches)
    if switches.pop("margin_zero", False):
        margin = 0.0
    return reference_narrow_range(values, scores, top_k, margin, **switches)


def check_narrow_range(narrow_range) -> None:
    """``narrow_range(values, scores, top_k, margin)`` returns ``(low, high)``: the span of the
    ``top_k`` best values (NaN scores ignored) widened by ``margin`` decades on each side."""
    exercise = "hp-narrow"
    for values, scores, top_k, margin in _NARROW_CASES:
        what = f"narrow_range(values, scores, top_k={top_k}, margin={margin})"
        got = call_student(exercise, what, narrow_range, values, scores, top_k, margin)
        if got is None:
            fail(exercise, f"{what}: got None — return (low, high).")
        if not isinstance(got, (tuple, list, np.ndarray)) or len(got) != 2:
            fail(exercise, f"{what}: expected a pair (low, high), got {got!r:.80}.")
        low, high = (float(v) for v in got)
        expected = reference_narrow_range(values, scores, top_k, margin)
        best = float(values[np.nanargmax(scores)])
        if np.allclose([low, high], expected, rtol=1e-6):
            continue
        if np.allclose([10 ** low, 10 ** high], expected, rtol=1e-6):
            fail(exercise, f"{what}: expected ({expected[0]:.4g}, {expected[1]:.4g}), got ({low:.4g}, {high:.4g}). "
                           "Likely bug: you returned log10 of the bounds — return the values (10**…).")
        for diagnosis, switches in _NARROW_BUGS.items():
            wrong = _bug_answer(values, scores, top_k, margin, switches)
            if np.allclose([low, high], wrong, rtol=1e-6, equal_nan=True):
                fail(exercise, f"{what}: expected ({expected[0]:.4g}, {expected[1]:.4g}), got ({low:.4g}, "
                               f"{high:.4g}). Likely bug: {diagnosis}")
        if not (low <= best <= high):
            fail(exercise, f"{what}: the range ({low:.4g}, {high:.4g}) does not contain the best value {best:.4g}: "
                           "a narrowed range must keep the best trials inside (do not clip it to the old range).")
        expect_scalar(exercise, f"{what}[0] (low)", low, expected[0])
        expect_scalar(exercise, f"{what}[1] (high)", high, expected[1])
    passed(exercise, "span of the top_k by score, NaN ignored, widened in decades")
