"""Mutation suite for chapter 5's exercises: plausible wrong answers fail with the intended message,
correct answers written differently pass."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from lib.checks import ch05_hyperparameter_search as checks
from lib.checks import core
from lib.checks.core import ExerciseFailure


def expect_failure(check, implementation, match: str) -> None:
    with pytest.raises(ExerciseFailure) as raised:
        check(implementation)
    assert re.search(match, str(raised.value), flags=re.IGNORECASE | re.DOTALL), str(raised.value)


# --------------------------------------------------------------------------- hp-sampler

def beta_distance(low, high, size, rng):
    return 1.0 - 10.0 ** rng.uniform(np.log10(1 - high), np.log10(1 - low), size)


def beta_window(low, high, size, rng):
    windows = np.exp(rng.uniform(np.log(1 / (1 - low)), np.log(1 / (1 - high)), size))
    return 1.0 - 1.0 / windows


def beta_power(low, high, size, rng):
    return 1.0 - (1 - high) * ((1 - low) / (1 - high)) ** rng.random(size)


@pytest.mark.parametrize("sampler", [beta_distance, beta_window, beta_power])
def test_correct_beta_samplers_pass(sampler):
    checks.check_beta_sampler(sampler)


@pytest.mark.parametrize("sampler, match", [
    (lambda low, high, size, rng: rng.uniform(low, high, size), "lowest decade: β itself was drawn uniformly"),
    (lambda low, high, size, rng: 10 ** rng.uniform(np.log10(low), np.log10(high), size), "lowest decade"),
    (lambda low, high, size, rng: 1 - 1 / rng.uniform(1 / (1 - low), 1 / (1 - high), size),
     "highest decade: the window 1/\\(1 − β\\) was drawn uniformly"),
    (lambda low, high, size, rng: 10 ** rng.uniform(np.log10(1 - high), np.log10(1 - low), size),
     "returned 1 − β"),
    (lambda low, high, size, rng: 1 - 10 ** np.random.uniform(np.log10(1 - high), np.log10(1 - low), size),
     "global state"),
    (lambda low, high, size, rng: 1 - 10 ** rng.uniform(-3, -1, size), "outside \\[low, high\\]"),
    (lambda low, high, size, rng: 1 - 10 ** rng.uniform(np.log10(1 - high), np.log10(1 - low)), "pass `size`"),
    (lambda low, high, size, rng: (1 - 10 ** rng.uniform(np.log10(1 - high), np.log10(1 - low), size)).astype(np.float32),
     "dtype float32"),
    (lambda low, high, size, rng: None, "got None"),
])
def test_wrong_beta_samplers_fail(sampler, match):
    expect_failure(checks.check_beta_sampler, sampler, match)


# --------------------------------------------------------------------------- hp-random-search

def search_loop(sample_config, run_trial, n_trials, rng):
    best_config, best_result = None, None
    for _ in range(n_trials):
        config = sample_config(rng)
        result = run_trial(config)
        if not math.isnan(result.val_acc) and (best_result is None or result.val_acc > best_result.val_acc):
            best_config, best_result = config, result
    return best_config, best_result


def search_nanargmax(sample_config, run_trial, n_trials, rng):
    configs = [sample_config(rng) for _ in range(n_trials)]
    results = [run_trial(c) for c in configs]
    best = int(np.nanargmax([r.val_acc for r in results]))
    return configs[best], results[best]


def search_sorted(sample_config, run_trial, n_trials, rng):
    pairs = []
    for _ in range(n_trials):
        config = sample_config(rng)
        pairs.append((config, run_trial(config)))
    finished = [p for p in pairs if p[1].val_acc == p[1].val_acc]
    return max(finished, key=lambda p: p[1].val_acc)


@pytest.mark.parametrize("search", [search_loop, search_nanargmax, search_sorted])
def test_correct_searches_pass(search):
    checks.check_random_search(search)


def search_by_test(sample_config, run_trial, n_trials, rng):
    pairs = [(c, run_trial(c)) for c in (sample_config(rng) for _ in range(n_trials))]
    finished = [p for p in pairs if not math.isnan(p[1].test_acc)]
    return max(finished, key=lambda p: p[1].test_acc)


def search_prints_test(sample_config, run_trial, n_trials, rng):
    best = search_loop(sample_config, run_trial, n_trials, rng)
    print("test accuracy of the winner:", best[1].test_acc)
    return best


def search_min(sample_config, run_trial, n_trials, rng):
    pairs = [(c, run_trial(c)) for c in (sample_config(rng) for _ in range(n_trials))]
    return min((p for p in pairs if not math.isnan(p[1].val_acc)), key=lambda p: p[1].val_acc)


def search_argmax_nan(sample_config, run_trial, n_trials, rng):
    configs = [sample_config(rng) for _ in range(n_trials)]
    results = [run_trial(c) for c in configs]
    best = int(np.argmax([r.val_acc for r in results]))
    return configs[best], results[best]


def search_from_first(sample_config, run_trial, n_trials, rng):
    config = sample_config(rng)
    best = (config, run_trial(config))
    for _ in range(n_trials - 1):
        config = sample_config(rng)
        result = run_trial(config)
        if result.val_acc > best[1].val_acc:
            best = (config, result)
    return best


def search_sample_once(sample_config, run_trial, n_trials, rng):
    config = sample_config(rng)
    results = [run_trial(config) for _ in range(n_trials)]
    return config, results[0]


def search_last(sample_config, run_trial, n_trials, rng):
    for _ in range(n_trials):
        config = sample_config(rng)
        result = run_trial(config)
    return config, result


def search_off_by_one(sample_config, run_trial, n_trials, rng):
    pairs = [(c, run_trial(c)) for c in (sample_config(rng) for _ in range(n_trials - 1))]
    return max((p for p in pairs if not math.isnan(p[1].val_acc)), key=lambda p: p[1].val_acc)


@pytest.mark.parametrize("search, match", [
    (search_by_test, "read result.test_acc"),
    (search_prints_test, "read result.test_acc"),
    (search_min, "min instead of max"),
    (search_argmax_nan, "diverged trial"),
    (search_from_first, "diverged trial"),
    (search_sample_once, "sampled once, outside the loop"),
    (search_last, "the last trial"),
    (search_off_by_one, "called 7 times, expected 8"),
])
def test_wrong_searches_fail(search, match):
    expect_failure(checks.check_random_search, search, match)


# --------------------------------------------------------------------------- hp-narrow

def narrow_sorted(values, scores, top_k, margin):
    finite = ~np.isnan(scores)
    values, scores = values[finite], scores[finite]
    best = values[np.argsort(scores)[::-1][:top_k]]
    return 10 ** (np.log10(best.min()) - margin), 10 ** (np.log10(best.max()) + margin)


def narrow_python(values, scores, top_k, margin):
    pairs = sorted(((s, v) for v, s in zip(values, scores) if not math.isnan(s)), reverse=True)[:top_k]
    kept = [v for _, v in pairs]
    factor = 10 ** margin
    return min(kept) / factor, max(kept) * factor


@pytest.mark.parametrize("narrow", [narrow_sorted, narrow_python])
def test_correct_narrowing_passes(narrow):
    checks.check_narrow_range(narrow)


def narrow_worst(values, scores, top_k, margin):
    finite = ~np.isnan(scores)
    best = values[finite][np.argsort(scores[finite])[:top_k]]
    return 10 ** (np.log10(best.min()) - margin), 10 ** (np.log10(best.max()) + margin)


def narrow_nan_first(values, scores, top_k, margin):
    best = values[np.argsort(scores)[::-1][:top_k]]
    return 10 ** (np.log10(best.min()) - margin), 10 ** (np.log10(best.max()) + margin)


def narrow_natural(values, scores, top_k, margin):
    finite = ~np.isnan(scores)
    best = values[finite][np.argsort(-scores[finite])[:top_k]]
    return np.exp(np.log(best.min()) - margin), np.exp(np.log(best.max()) + margin)


def narrow_linear(values, scores, top_k, margin):
    finite = ~np.isnan(scores)
    best = values[finite][np.argsort(-scores[finite])[:top_k]]
    return best.min() - margin, best.max() + margin


def narrow_no_margin(values, scores, top_k, margin):
    finite = ~np.isnan(scores)
    best = values[finite][np.argsort(-scores[finite])[:top_k]]
    return best.min(), best.max()


def narrow_exponents(values, scores, top_k, margin):
    finite = ~np.isnan(scores)
    best = values[finite][np.argsort(-scores[finite])[:top_k]]
    return np.log10(best.min()) - margin, np.log10(best.max()) + margin


def narrow_off_by_one(values, scores, top_k, margin):
    return narrow_sorted(values, scores, top_k - 1, margin)


def narrow_clipped(values, scores, top_k, margin):
    low, high = narrow_sorted(values, scores, top_k, margin)
    return max(low, values.min()), min(high, values.max())


@pytest.mark.parametrize("narrow, match", [
    (narrow_worst, "WORST"),
    (narrow_nan_first, "NaN score"),
    (narrow_natural, "natural-log units"),
    (narrow_linear, "added to the values themselves"),
    (narrow_no_margin, "no margin"),
    (narrow_exponents, "returned log10 of the bounds"),
    (narrow_off_by_one, "top_k - 1"),
    (narrow_clipped, "got .* which is too small"),
    (lambda v, s, k, m: None, "got None"),
])
def test_wrong_narrowing_fails(narrow, match):
    expect_failure(checks.check_narrow_range, narrow, match)


# --------------------------------------------------------------------------- hp-diagnose

@pytest.mark.parametrize("answer", ["b", " B ", "b\n"])
def test_the_flaw_is_recognised(answer):
    checks.check_flaw_choice(answer)


@pytest.mark.parametrize("answer, match", [
    ("a", "the number that fell is the test accuracy"),
    ("c", "nothing in the numbers points to different data"),
    ("d", "right direction"),
    (None, "set FLAW"),
    (2, "must be one of"),
    ("e", "must be one of"),
])
def test_wrong_flaws_get_their_feedback(answer, match):
    expect_failure(checks.check_flaw_choice, answer, match)


def test_the_answer_key_is_a_salted_digest():
    assert len(checks._FLAW_KEY) == 64 and checks._FLAW_KEY == checks.answer_digest("hp-diagnose", "b")


# --------------------------------------------------------------------------- hp-diagnose-fix

def select_max(trials):
    return max((t for t in trials if not math.isnan(t.val_acc)), key=lambda t: t.val_acc)


def select_nanargmax(trials):
    return trials[int(np.nanargmax([t.val_acc for t in trials]))]


def select_loop(trials):
    best = None
    for trial in trials:
        if trial.val_acc == trial.val_acc and (best is None or trial.val_acc > best.val_acc):
            best = trial
    return best


@pytest.mark.parametrize("select", [select_max, select_nanargmax, select_loop])
def test_correct_selections_pass(select):
    checks.check_select(select)


def select_flawed(trials):
    shortlist = [t for t in trials if t.test_acc >= 0.90]
    return max(shortlist, key=lambda t: t.val_acc)


def select_tie_break_on_test(trials):
    finished = [t for t in trials if not math.isnan(t.val_acc)]
    return max(finished, key=lambda t: (t.val_acc, t.test_acc))


def select_argmax(trials):
    return trials[int(np.argmax([t.val_acc for t in trials]))]


def select_min(trials):
    return min((t for t in trials if not math.isnan(t.val_acc)), key=lambda t: t.val_acc)


def select_copy(trials):
    import copy
    return copy.copy(select_max(trials))


@pytest.mark.parametrize("select, match", [
    (select_flawed, "read test_acc"),
    (select_tie_break_on_test, "read test_acc"),
    (select_argmax, "diverged trial"),
    (select_min, "min instead of max"),
    (select_copy, "not a copy"),
    (lambda trials: None, "got None"),
])
def test_wrong_selections_fail(select, match):
    expect_failure(checks.check_select, select, match)


# --------------------------------------------------------------------------- hp-border

def border_log(values, scores, low, high, fraction):
    finished = ~np.isnan(scores)
    best = values[finished][np.argmax(scores[finished])]
    position = np.log(best / low) / np.log(high / low)
    return "upper" if position >= 1 - fraction else "lower" if position <= fraction else None


def border_thresholds(values, scores, low, high, fraction):
    best = max((s, v) for v, s in zip(values, scores) if not math.isnan(s))[1]
    width = math.log10(high) - math.log10(low)
    if math.log10(best) >= math.log10(high) - fraction * width:
        return "upper"
    if math.log10(best) <= math.log10(low) + fraction * width:
        return "lower"
    return None


@pytest.mark.parametrize("border", [border_log, border_thresholds])
def test_correct_border_checks_pass(border):
    checks.check_border(border)


def border_linear(values, scores, low, high, fraction):
    best = values[np.nanargmax(scores)]
    position = (best - low) / (high - low)
    return "upper" if position >= 1 - fraction else "lower" if position <= fraction else None


def border_nan(values, scores, low, high, fraction):
    best = values[np.argmax(scores)]
    position = np.log10(best / low) / np.log10(high / low)
    return "upper" if position >= 1 - fraction else "lower" if position <= fraction else None


def border_largest_value(values, scores, low, high, fraction):
    position = np.log10(values.max() / low) / np.log10(high / low)
    return "upper" if position >= 1 - fraction else "lower" if position <= fraction else None


def border_swapped(values, scores, low, high, fraction):
    side = border_log(values, scores, low, high, fraction)
    return {"upper": "lower", "lower": "upper", None: None}[side]


def border_fixed_fraction(values, scores, low, high, fraction):
    return border_log(values, scores, low, high, 0.1)


@pytest.mark.parametrize("border, match", [
    (border_linear, "linear scale"),
    (border_nan, "NaN score"),
    (border_largest_value, "largest value tried"),
    (border_swapped, "swapped"),
    (border_fixed_fraction, "fraction is hard-coded"),
    (lambda *args: "top", "different string"),
    (lambda *args: True, "got bool"),
])
def test_wrong_border_checks_fail(border, match):
    expect_failure(checks.check_border, border, match)


# --------------------------------------------------------------------------- hp-capstone

def plan(**changes):
    return {"hidden": (100,), "optimizer": "sgd", "lr": 1.0, "weight_decay": 0.0, "batch_size": 100, "epochs": 20,
            **changes}


def capstone_search(data, hidden=(100,), lrs=(0.03, 0.1, 0.3, 1.0), seed=0):
    order = np.random.default_rng(seed).permutation(len(data.x))
    validation = (data.x[order[:200]], data.t[order[:200]])
    fit = (data.x[order[200:]], data.t[order[200:]])
    trials = [(np.nan_to_num(data.trial(plan(hidden=hidden, lr=lr, epochs=3), fit, validation)), lr) for lr in lrs]
    _, lr = max(trials)
    epochs = data.budget // (len(data.x) // 100 * 100)
    return plan(hidden=hidden, lr=lr, epochs=epochs)


def capstone_adam_in_small_batches(data):
    per_epoch = len(data.x) // 32 * 32
    return {"epochs": np.int64(data.budget // per_epoch), "batch_size": 32, "hidden": [64, 64],
            "optimizer": "adam", "lr": np.float32(0.002), "weight_decay": 1e-4}


@pytest.mark.parametrize("choose_plan", [capstone_search, capstone_adam_in_small_batches,
                                         lambda data: capstone_search(data, hidden=(50,), seed=2)])
@pytest.mark.parametrize("threshold", checks.CAPSTONE_THRESHOLDS)
def test_good_capstones_reach_every_threshold(choose_plan, threshold):
    checks.check_capstone(choose_plan, threshold)


class PlanLookalike(dict):
    def __getitem__(self, key):
        return plan()[key]


@pytest.mark.parametrize("choose_plan, threshold, match", [
    (lambda data: plan(epochs=21), 0.85, "over budget"),                              # one epoch too many
    (lambda data: plan(epochs=data.budget // (len(data.x) // 100)), 0.85, "over budget"),  # forgot × batch size
    (lambda data: plan(lr=0.003), 0.85, "below 85%"),                                 # untuned, far too small
    (lambda data: plan(lr=0.02), 0.92, "below 92%"),                                  # untuned, too small
    (lambda data: plan(lr=1.0, epochs=2), 0.95, "below 95%"),                         # most of the budget left unused
    (lambda data: plan(optimizer="adam", lr=3.0), 0.85, "diverged"),                  # Adam at an SGD step size
    (lambda data: None, 0.85, "returned None"),
    (lambda data: PlanLookalike(plan()), 0.85, "must be a dict"),
    (lambda data: {k: v for k, v in plan().items() if k != "weight_decay"}, 0.85, "missing 'weight_decay'"),
    (lambda data: plan(seed=3), 0.85, "unknown 'seed'"),
    (lambda data: plan(hidden=100), 0.85, "tuple of one to three layer widths"),
    (lambda data: plan(epochs=20.0), 0.85, "positive int"),
    (lambda data: plan(optimizer="Adam"), 0.85, "must be one of"),
])
def test_weak_or_malformed_plans_fail(choose_plan, threshold, match):
    expect_failure(lambda f: checks.check_capstone(f, threshold), choose_plan, match)


def test_the_check_records_the_held_out_accuracy_for_the_leaderboard():
    core.METRICS.clear()
    checks.check_capstone(capstone_search, 0.85)
    accuracy = core.METRICS["hp-capstone"]
    assert 0.95 <= accuracy <= 1.0
    with pytest.raises(core.ExerciseFailure) as failure:
        checks.check_capstone(lambda data: plan(lr=0.02), 0.92)
    shown = str(failure.value)
    assert not re.search(r"\d\.\d{2}|\d{2}\.\d", shown), shown   # the accuracy is never shown to the student


def test_a_trial_is_the_check_s_own_training_run():
    data = checks.capstone_data()
    assert data.cost(plan()) == 20 * (len(data.x) // 100) * 100 <= data.budget
    assert data.cost(plan(epochs=21)) > data.budget
    score = data.trial(plan(epochs=2), (data.x[200:], data.t[200:]), (data.x[:200], data.t[:200]))
    assert 0.5 < score <= 1.0
    with pytest.raises(core.ExerciseFailure, match="must be a positive int"):
        data.trial(plan(epochs=0), (data.x, data.t), (data.x, data.t))


def test_the_capstone_data_holds_no_held_out_sample():
    data = checks.capstone_data()
    (x, t), (x_held, t_held) = checks._capstone_split()
    assert len(data.x) + len(x_held) == 1797
    seen = {row.tobytes() for row in data.x}
    assert sum(row.tobytes() in seen for row in x_held) <= 5   # digits has a few duplicate images
