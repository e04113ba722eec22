"""Checks for chapter 5's exercises: a β sampler, a random-search loop that chooses on validation data only,
a coarse-to-fine range proposal, a flawed study to diagnose and fix, the border check, and the capstone.

- ``hp-sampler``:        ``sample_beta(low, high, size, rng) -> ndarray`` — β in [low, high] whose averaging
  windows 1/(1 − β) are spread evenly over their decades (1 − β log-uniform), drawn from ``rng``. Checked
  statistically with fixed seeds; any correct way of drawing passes.
- ``hp-random-search``:  ``random_search(sample_config, run_trial, n_trials, rng) -> (best_config, best_result)``
  — the best by ``result.val_acc`` (NaN = diverged, never the best); ``result.test_acc`` must never
  be read. The check's results record every attribute read.
- ``hp-narrow``:         ``narrow_range(values, scores, top_k, margin) -> (low, high)`` — the span of the
  ``top_k`` values by score (NaN ignored), widened by ``margin`` decades on each side.
- ``hp-diagnose``:       which flaw explains a study's numbers (a letter; the key is a salted digest).
- ``hp-diagnose-fix``:   ``select(trials) -> trial`` — the best by validation accuracy, never reading ``test_acc``.
- ``hp-border``:         ``border_check(values, scores, low, high, fraction) -> 'lower' | 'upper' | None``.
- ``hp-capstone``:       ``choose_plan(data) -> plan``, a dict of hyperparameters chosen on a validation split
  cut from ``data.x``; the check trains the plan itself within the budget of per-example gradients and
  scores it on a held-out split that never enters the student's code.
"""

from __future__ import annotations

import math

import numpy as np

from lib.checks.core import (SCALAR_TYPES, answer_digest, call_student, choice_letter, expect_scalar, fail, passed,
                             report_metric)

__all__ = ["check_beta_sampler", "check_random_search", "check_narrow_range", "reference_narrow_range",
           "check_flaw_choice", "check_select", "check_border", "capstone_data", "capstone_accuracy",
           "check_capstone", "plan_cost"]


# --------------------------------------------------------------------------- hp-sampler

def _inside(samples, low, high) -> bool:
    return bool(np.all(samples >= low * (1 - 1e-12)) and np.all(samples <= high * (1 + 1e-12)))


def _window_decades(beta: np.ndarray, low: float, high: float) -> np.ndarray:
    """Share of the samples' averaging windows 1/(1 − β) per decade between the range's windows."""
    windows = 1.0 / (1.0 - beta)
    edges = np.log10(1.0 / (1.0 - np.array([low, high])))
    bins = np.linspace(edges[0], edges[1], int(round(edges[1] - edges[0])) + 1)
    counts, _ = np.histogram(np.log10(windows), bins=bins)
    return counts / beta.size


def _window_diagnosis(shares: np.ndarray) -> str:
    if shares[0] > 0.6:
        return ("most windows fall in the lowest decade: β itself was drawn uniformly (or log-uniformly, which "
                "for β near 1 is nearly the same) — near 1, the distance 1 − β is what must spread over decades.")
    if shares[-1] > 0.6:
        return ("most windows fall in the highest decade: the window 1/(1 − β) was drawn uniformly — a uniform "
                "draw over [10, 1000] puts most of its mass in the top decade.")
    return "every decade of the window 1/(1 − β) must get the same share of samples."


def check_beta_sampler(sample_beta) -> None:
    """``sample_beta(low, high, size, rng)``: float64 array of shape ``size`` in [low, high] (both near
    1) whose averaging windows 1/(1 − β) are spread evenly over their decades, drawn from ``rng``."""
    exercise = "hp-sampler"
    for low, high in ((0.9, 0.999), (0.99, 0.9999)):
        n = 20_000
        what = f"sample_beta({low:g}, {high:g}, {n}, rng)"
        samples = call_student(exercise, what, sample_beta, low, high, n, np.random.default_rng(2024))
        if samples is None:
            fail(exercise, f"{what}: got None — did you forget to `return` the samples?")
        if type(samples) is not np.ndarray:
            fail(exercise, f"{what}: expected a numpy array, got {type(samples).__name__} — pass `size` on to "
                           "the generator.")
        if samples.shape != (n,):
            fail(exercise, f"{what}: got shape {samples.shape}, not the shape `size` asks for — pass `size` on "
                           "to the generator.")
        if samples.dtype != np.float64:
            fail(exercise, f"{what}: got dtype {samples.dtype}; β needs float64 (float32 cannot tell 0.9999 "
                           "from its neighbours well enough).")
        if not np.all(np.isfinite(samples)):
            fail(exercise, f"{what}: contains NaN or inf.")
        if not _inside(samples, low, high):
            hint = ""
            if _inside(samples, 1 - high, 1 - low):
                hint = " Likely bug: you returned 1 − β (the distance to 1), not β."
            elif _inside(samples, 1 / (1 - low), 1 / (1 - high)):
                hint = " Likely bug: you returned the window 1/(1 − β), not β."
            fail(exercise, f"{what}: samples range from {samples.min():.6g} to {samples.max():.6g}, outside "
                           f"[low, high].{hint}")
        shares = _window_decades(samples, low, high)
        # 20,000 draws: a decade's share has a standard deviation below 0.004; 0.03 is far beyond it.
        if np.max(np.abs(shares - 1 / shares.size)) > 0.03:
            shown = ", ".join(f"{share:.0%}" for share in shares)
            fail(exercise, f"{what}: the windows 1/(1 − β) of your samples fall into their decades with shares "
                           f"{shown}. Likely bug: {_window_diagnosis(shares)}")
        again = call_student(exercise, what, sample_beta, low, high, n, np.random.default_rng(2024))
        other = call_student(exercise, what, sample_beta, low, high, n, np.random.default_rng(7))
        if type(again) is not np.ndarray or not np.array_equal(again, samples):
            fail(exercise, f"{what}: two calls with generators seeded alike gave different samples. Likely bug: "
                           "you drew from np.random's global state instead of the `rng` argument.")
        if type(other) is np.ndarray and np.array_equal(other, samples):
            fail(exercise, f"{what}: generators with different seeds gave the same samples — draw from `rng`.")
    size = (40, 50)
    block = call_student(exercise, f"sample_beta(0.9, 0.999, {size}, rng)", sample_beta, 0.9, 0.999, size,
                         np.random.default_rng(5))
    if type(block) is not np.ndarray or block.shape != size:
        fail(exercise, f"sample_beta(0.9, 0.999, {size}, rng): expected an array of shape {size} — pass `size` on "
                       "to the generator.")
    passed(exercise, "range, shape, dtype, windows spread evenly over their decades, draws from rng")


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
        if type(got) not in (tuple, list) or len(got) != 2:
            fail(exercise, f"{what}: expected a pair (best_config, best_result), got {type(got).__name__}.")
        best_config, best_result = got
        expected = int(np.nanargmax(np.array(vals)))
        if type(best_config) is not dict or best_config not in sampled:
            fail(exercise, f"{what}: best_config {best_config!r:.80} is not one of the sampled configs.")
        chosen = sampled.index(best_config)
        if chosen != expected:
            fail(exercise, f"{what}: returned trial {chosen} (val_acc {vals[chosen]}), which is not the trial "
                           f"to choose. Likely bug: {_search_diagnosis(chosen, vals, tests)}")
        if type(best_result) is not _Result or best_result.config != best_config:
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
        if type(got) not in (tuple, list) or len(got) != 2 or any(type(v) not in SCALAR_TYPES for v in got):
            fail(exercise, f"{what}: expected a pair of numbers (low, high), got {type(got).__name__}.")
        low, high = (float(np.asarray(v)) for v in got)
        expected = reference_narrow_range(values, scores, top_k, margin)
        best = float(values[np.nanargmax(scores)])
        if np.allclose([low, high], expected, rtol=1e-6):
            continue
        if np.allclose([10 ** low, 10 ** high], expected, rtol=1e-6):
            fail(exercise, f"{what}: got ({low:.4g}, {high:.4g}), which is wrong. "
                           "Likely bug: you returned log10 of the bounds — return the values (10**…).")
        for diagnosis, switches in _NARROW_BUGS.items():
            wrong = _bug_answer(values, scores, top_k, margin, switches)
            if np.allclose([low, high], wrong, rtol=1e-6, equal_nan=True):
                fail(exercise, f"{what}: got ({low:.4g}, {high:.4g}), which is wrong. Likely bug: {diagnosis}")
        if not (low <= best <= high):
            fail(exercise, f"{what}: the range ({low:.4g}, {high:.4g}) does not contain the best value {best:.4g}: "
                           "a narrowed range must keep the best trials inside (do not clip it to the old range).")
        expect_scalar(exercise, f"{what}[0] (low)", low, expected[0])
        expect_scalar(exercise, f"{what}[1] (high)", high, expected[1])
    passed(exercise, "span of the top_k by score, NaN ignored, widened in decades")


# --------------------------------------------------------------------------- hp-diagnose

_FLAW_KEY = answer_digest("hp-diagnose", "b")
_FLAW_FEEDBACK = {
    "a": "a small validation set makes the choice noisy, but the number that fell is the test accuracy. Read the "
         "selection code line by line and ask which data each line looks at.",
    "c": "nothing in the numbers points to different data: the fresh score agrees with the validation accuracy the "
         "choice was made on. What disagrees is the reported test score — read the selection code.",
    "d": "max over val_acc is the right direction — a higher accuracy is better. The flaw is elsewhere in the "
         "selection code.",
}


def check_flaw_choice(answer) -> None:
    """The letter naming the flaw of the study in the exercise text."""
    exercise = "hp-diagnose"
    letter = choice_letter(exercise, "FLAW", answer, ("a", "b", "c", "d"))
    if answer_digest(exercise, letter) != _FLAW_KEY:
        fail(exercise, f"({letter}) is not the flaw: {_FLAW_FEEDBACK[letter]}")
    passed(exercise, "the shortlist reads the test set, so the reported test accuracy was chosen on")


# --------------------------------------------------------------------------- hp-diagnose-fix

class _Trial:
    """What the check hands to ``select``: ``config``, ``val_acc`` and a ``test_acc`` that notes every read."""

    def __init__(self, index, val_acc, test_acc, log):
        self.config = {"trial": index}
        self.val_acc = val_acc
        self._test_acc = test_acc
        self._log = log

    @property
    def test_acc(self):
        self._log.append(self.config["trial"])
        return self._test_acc

    def __repr__(self):
        return f"Trial({self.config['trial']}, val_acc={self.val_acc})"


# (val, test): the best by validation has a test accuracy under the flawed shortlist's 0.90; NaN = diverged.
_SELECT_CASES = [
    ([0.81, 0.93, math.nan, 0.90, 0.88, 0.62], [0.84, 0.86, math.nan, 0.95, 0.91, 0.60]),
    ([math.nan, 0.72, 0.91, 0.89, 0.55], [math.nan, 0.74, 0.88, 0.93, 0.57]),
]


def check_select(select) -> None:
    """``select(trials)`` returns the trial with the highest validation accuracy (NaN never wins) and
    never reads ``test_acc``: the check's trials note every read."""
    exercise = "hp-diagnose-fix"
    for case, (vals, tests) in enumerate(_SELECT_CASES, start=1):
        log = []
        trials = [_Trial(i, v, t, log) for i, (v, t) in enumerate(zip(vals, tests))]
        what = f"select(trials) on case {case}"
        # Not deep-copied: the trials must stay the check's own, so every read lands in ``log``.
        chosen = call_student(exercise, what, lambda: select(list(trials)))
        if log:
            fail(exercise, f"{what}: your selection read test_acc. Any use of the test set — a filter, a "
                           "tie-break, a print — makes it part of the choice, and the reported test accuracy "
                           "becomes a score you optimized. Choose on val_acc only.")
        if chosen is None:
            fail(exercise, f"{what}: got None — return the chosen trial.")
        if type(chosen) is not _Trial:
            fail(exercise, f"{what}: expected one of the trials, got {type(chosen).__name__}.")
        if not any(chosen is trial for trial in trials):
            fail(exercise, f"{what}: return one of the trials you were given, not a copy.")
        index = chosen.config["trial"]
        finite = [i for i, v in enumerate(vals) if not math.isnan(v)]
        best = max(finite, key=lambda i: vals[i])
        if index == best:
            continue
        if math.isnan(vals[index]):
            bug = ("a diverged trial (val_acc = NaN) was chosen: NaN compares False with everything, so np.argmax "
                   "picks it and a max started from a NaN never moves. Skip NaN trials.")
        elif index == min(finite, key=lambda i: vals[i]):
            bug = "the worst trial by validation accuracy: min instead of max (or a reversed comparison)."
        else:
            bug = "the chosen trial is not the best by validation accuracy among the finished trials."
        fail(exercise, f"{what}: returned trial {index} (val_acc {vals[index]}), which is wrong. Likely bug: {bug}")
    passed(exercise, "best by validation accuracy, diverged trials skipped, test accuracy never read")


# --------------------------------------------------------------------------- hp-border

def reference_border(values, scores, low, high, fraction, *, linear=False, nan_is_best=False, by_value=False,
                     swapped=False):
    """The right answer, and (with the switches) what known mistakes produce."""
    values, scores = np.asarray(values, dtype=float), np.asarray(scores, dtype=float)
    if by_value:
        best = values.max()
    elif nan_is_best:
        best = values[int(np.argmax(scores))]
    else:
        best = values[int(np.nanargmax(scores))]
    if linear:
        position = (best - low) / (high - low)
    else:
        position = (math.log10(best) - math.log10(low)) / (math.log10(high) - math.log10(low))
    side = "upper" if position >= 1 - fraction else "lower" if position <= fraction else None
    if swapped and side is not None:
        side = {"upper": "lower", "lower": "upper"}[side]
    return side


_BORDER_CASES = [
    # the best (0.6) is inside on a linear scale, at the top on a log scale
    (np.array([1e-3, 0.6, 2e-2]), np.array([0.20, 0.93, 0.70]), 1e-4, 1.0, 0.1),
    # the best (0.05) is near the bottom on a linear scale, inside on a log scale
    (np.array([1e-3, 0.05, 3e-4, 0.3]), np.array([0.40, 0.90, 0.20, math.nan]), 1e-4, 1.0, 0.1),
    # the best is the smallest value, near the lower border; the largest value is near the upper one
    (np.array([1.5e-8, 3e-6, 5e-5]), np.array([0.91, 0.85, 0.60]), 1e-8, 1e-4, 0.1),
    # a diverged trial (NaN) at the largest value: np.argmax picks it
    (np.array([0.9, 1e-2, 2e-3]), np.array([math.nan, 0.80, 0.60]), 1e-4, 1.0, 0.1),
    # fraction 0.2: 85 % of the way up counts as the upper border
    (np.array([3e-3, 1e-5]), np.array([0.30, 0.10]), 1e-6, 1e-2, 0.2),
]

_BORDER_BUGS = {
    "the position was measured on a linear scale: the range is searched on a log scale, so measure the best "
    "value's position between log10(low) and log10(high).": dict(linear=True),
    "a diverged trial (NaN score) was taken as the best: np.argmax picks NaN. Ignore NaN scores.": dict(nan_is_best=True),
    "you looked at the largest value tried, not at the value of the best-scoring trial.": dict(by_value=True),
    "'lower' and 'upper' are swapped.": dict(swapped=True),
}


def check_border(border_check) -> None:
    """``border_check(values, scores, low, high, fraction)`` returns 'upper' or 'lower' when the best
    trial's value lies within ``fraction`` of the log-width of [low, high] from that border, else None."""
    exercise = "hp-border"
    for case, (values, scores, low, high, fraction) in enumerate(_BORDER_CASES, start=1):
        what = f"border_check(values, scores, low={low:g}, high={high:g}, fraction={fraction}) (case {case})"
        got = call_student(exercise, what, border_check, values, scores, low, high, fraction)
        if got is not None and type(got) is not str:
            fail(exercise, f"{what}: expected 'lower', 'upper' or None, got {type(got).__name__}.")
        if got not in (None, "lower", "upper"):
            fail(exercise, f"{what}: expected 'lower', 'upper' or None, got a different string.")
        expected = reference_border(values, scores, low, high, fraction)
        if got == expected:
            continue
        if fraction != 0.1 and got == reference_border(values, scores, low, high, 0.1):
            fail(exercise, f"{what}: returned {got!r}, which is wrong. Likely bug: the fraction is hard-coded — use "
                           "the `fraction` argument.")
        for diagnosis, switches in _BORDER_BUGS.items():
            if got == reference_border(values, scores, low, high, fraction, **switches):
                fail(exercise, f"{what}: returned {got!r}, which is wrong. Likely bug: {diagnosis}")
        fail(exercise, f"{what}: returned {got!r}, which is wrong: find the best finished trial, then its "
                       "value's position as a fraction of the range's log-width.")
    passed(exercise, "best value's position on a log scale, NaN ignored, both borders, any fraction")


# --------------------------------------------------------------------------- hp-capstone
#
# The student's code chooses a plan; the check trains it. A budget counted inside the student's process
# could be bypassed by any hand-written backward pass, and weights handed back could have been trained on
# anything, so the check grades only the plan, a dict of plain values: it trains that plan itself, within
# the budget, on the training split, and scores the result on a held-out split that never enters the
# student's code.

CAPSTONE_BUDGET = 24_000   # per-example gradient evaluations of the final training run
CAPSTONE_THRESHOLDS = (0.85, 0.92, 0.95)
CAPSTONE_OPTIMIZERS = ("sgd", "momentum", "adam")
PLAN_KEYS = ("hidden", "optimizer", "lr", "weight_decay", "batch_size", "epochs")
_HELD_OUT = 597
_PRIVATE_PERMUTATION_SEED = 0x5F3759DF
_FINAL_RUN_SEED = 2024
_INTEGER_TYPES = (int, np.int64, np.int32, np.int16, np.int8)


def plan_cost(plan: dict, n_examples: int) -> int:
    """Per-example gradients a plan's training run uses: every epoch runs ``n // batch_size`` full batches."""
    return int(plan["epochs"]) * (n_examples // int(plan["batch_size"])) * int(plan["batch_size"])


def _validated_plan(exercise: str, plan, n_examples: int, budget: int | None) -> dict:
    """A clean copy of ``plan`` (plain Python values), or a failure naming the first problem."""
    if type(plan) is not dict:
        fail(exercise, f"the plan must be a dict with the keys {', '.join(PLAN_KEYS)}; got {type(plan).__name__}.")
    missing = [key for key in PLAN_KEYS if key not in plan]
    extra = [key for key in plan if key not in PLAN_KEYS]
    if missing or extra:
        parts = ([f"missing {', '.join(map(repr, missing))}"] if missing else []) + \
                ([f"unknown {', '.join(repr(k) if type(k) is str else type(k).__name__ for k in extra)}"] if extra else [])
        fail(exercise, f"the plan's keys must be exactly {', '.join(PLAN_KEYS)}: {'; '.join(parts)}.")
    hidden = plan["hidden"]
    if type(hidden) not in (tuple, list) or not 1 <= len(hidden) <= 3 \
            or any(type(width) not in _INTEGER_TYPES or not 1 <= width <= 256 for width in hidden):
        fail(exercise, "plan['hidden'] must be a tuple of one to three layer widths, each an int from 1 to 256.")
    if type(plan["optimizer"]) is not str or plan["optimizer"] not in CAPSTONE_OPTIMIZERS:
        fail(exercise, f"plan['optimizer'] must be one of {', '.join(map(repr, CAPSTONE_OPTIMIZERS))}.")
    for key, low, high in (("lr", 0.0, 10.0), ("weight_decay", 0.0, 1.0)):
        value = plan[key]
        if type(value) not in SCALAR_TYPES or not math.isfinite(float(value)) or not low <= float(value) <= high \
                or (key == "lr" and float(value) == 0.0):
            fail(exercise, f"plan[{key!r}] must be a number in {'(' if key == 'lr' else '['}{low:g}, {high:g}].")
    for key in ("batch_size", "epochs"):
        value = plan[key]
        if type(value) not in _INTEGER_TYPES or value < 1:
            fail(exercise, f"plan[{key!r}] must be a positive int.")
    clean = {"hidden": tuple(int(width) for width in hidden), "optimizer": str(plan["optimizer"]),
             "lr": float(plan["lr"]), "weight_decay": float(plan["weight_decay"]),
             "batch_size": min(int(plan["batch_size"]), n_examples), "epochs": int(plan["epochs"])}
    if budget is not None and plan_cost(clean, n_examples) > budget:
        fail(exercise, f"over budget: the plan's training run uses {plan_cost(clean, n_examples)} per-example gradients "
                       f"(epochs × {n_examples} // batch_size full batches × batch_size), more than the budget of "
                       f"{budget}. Fewer epochs, or count the batches again.")
    return clean


def _train_plan(plan: dict, x, t, seed: int):
    """The network ``plan`` trains on ``(x, t)``: He-initialized float32 ReLU layers, the plan's optimizer."""
    from lib.networks import MultiLayerNet
    from lib.optimizers import SGD, Adam, Momentum
    from lib.training import train

    optimizer = {"sgd": lambda lr: SGD(lr=lr), "momentum": lambda lr: Momentum(lr=lr, momentum=0.9),
                 "adam": lambda lr: Adam(lr=lr)}[plan["optimizer"]](plan["lr"])
    network = MultiLayerNet(x.shape[1], list(plan["hidden"]), 10, activation="relu",
                            weight_decay_lambda=plan["weight_decay"], seed=seed, dtype=np.float32)
    history = train(network, optimizer, ((x, t), (x[:1], t[:1])), epochs=plan["epochs"],
                    batch_size=plan["batch_size"], seed=seed)
    return network, history


def _accuracy(network, x, t) -> float:
    scores = network.predict(x)
    if not np.all(np.isfinite(scores)):
        return float("nan")
    return float(np.mean(scores.argmax(axis=1) == t))


class CapstoneData:
    """What ``choose_plan`` gets: training images ``x`` (64 features) and labels ``t`` — the held-out split
    is not here —, the ``budget`` of the final run, and ``trial(plan, fit, validation)``, which trains a plan
    exactly as the check will and returns its accuracy on ``validation`` (NaN if training diverged)."""

    def __init__(self, x, t, budget: int):
        self.x, self.t = x, t
        self.budget = budget

    def cost(self, plan: dict) -> int:
        """Per-example gradients ``plan`` would use on all of ``x``: what the budget limits."""
        return plan_cost(_validated_plan("hp-capstone", plan, len(self.x), None), len(self.x))

    def trial(self, plan: dict, fit: tuple, validation: tuple, seed: int = 0) -> float:
        """Train ``plan`` on ``fit = (x, t)`` and return its accuracy on ``validation = (x, t)``.
        Trials are yours to spend; only the final run, on all of ``x``, must fit the budget."""
        clean = _validated_plan("hp-capstone", plan, len(fit[0]), None)
        network, history = _train_plan(clean, np.asarray(fit[0], dtype=np.float32), np.asarray(fit[1]), seed)
        return float("nan") if history.diverged else _accuracy(network, np.asarray(validation[0], dtype=np.float32),
                                                                np.asarray(validation[1]))


def _capstone_split():
    from lib.data import load_dataset

    (x_a, t_a), (x_b, t_b) = load_dataset("digits", seed=0, dtype=np.float32)
    x, t = np.concatenate([x_a, x_b]), np.concatenate([t_a, t_b])
    order = np.random.default_rng(_PRIVATE_PERMUTATION_SEED).permutation(len(x))
    held, kept = order[:_HELD_OUT], order[_HELD_OUT:]
    return (x[kept], t[kept]), (x[held], t[held])


def capstone_data(budget: int = CAPSTONE_BUDGET) -> CapstoneData:
    """The training data the check gives ``choose_plan`` (fresh copies), to try your code on."""
    (x, t), _ = _capstone_split()
    return CapstoneData(x.copy(), t.copy(), budget)


def capstone_accuracy(choose_plan) -> float:
    """Held-out accuracy of the plan ``choose_plan(capstone_data())`` returns, trained by the check within the
    budget; fails with the reason when there is no valid plan or its training diverges."""
    exercise = "hp-capstone"
    (x, t), (x_held, t_held) = _capstone_split()
    plan = call_student(exercise, "choose_plan(data)", choose_plan, CapstoneData(x.copy(), t.copy(), CAPSTONE_BUDGET))
    if plan is None:
        fail(exercise, "choose_plan(data) returned None: return the plan, a dict.")
    clean = _validated_plan(exercise, plan, len(x), CAPSTONE_BUDGET)
    network, history = _train_plan(clean, x, t, _FINAL_RUN_SEED)
    accuracy = float("nan") if history.diverged else _accuracy(network, x_held, t_held)
    if not math.isfinite(accuracy):
        fail(exercise, "the plan's training run diverged (the loss blew up): the learning rate is too large for "
                       "this optimizer and batch size.")
    return accuracy


def check_capstone(choose_plan, threshold: float) -> None:
    """One point per threshold the plan's held-out accuracy reaches. The accuracy is never shown (only
    whether the threshold is reached); the grader records it for the instructor's leaderboard."""
    exercise = "hp-capstone"
    if threshold not in CAPSTONE_THRESHOLDS:
        raise ValueError(f"threshold must be one of {CAPSTONE_THRESHOLDS}")
    accuracy = capstone_accuracy(choose_plan)
    report_metric(exercise, round(accuracy, 4))
    if accuracy < threshold:
        fail(exercise, f"held-out accuracy below {threshold:.0%}. Spend the budget where it pays: a few short trials "
                       "over a log-scaled learning-rate range, chosen on a validation split you cut from data.x, "
                       "then a final plan whose epochs use the whole budget.")
    passed(exercise, f"held-out accuracy reaches {threshold:.0%} within {CAPSTONE_BUDGET} per-example gradients")
