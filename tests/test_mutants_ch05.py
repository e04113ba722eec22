"""Mutation suite for chapter 5's exercises: plausible wrong answers fail with the intended message,
correct answers written differently pass."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from lib.checks import ch05_hyperparameter_search as checks
from lib.checks.core import ExerciseFailure


def expect_failure(check, implementation, match: str) -> None:
    with pytest.raises(ExerciseFailure) as raised:
        check(implementation)
    assert re.search(match, str(raised.value), flags=re.IGNORECASE | re.DOTALL), str(raised.value)


# --------------------------------------------------------------------------- hp-sampler

def sampler_exponent(low, high, size, rng):
    return 10.0 ** rng.uniform(np.log10(low), np.log10(high), size)


def sampler_natural(low, high, size, rng):
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def sampler_power(low, high, size, rng):
    return low * (high / low) ** rng.random(size)


@pytest.mark.parametrize("sampler", [sampler_exponent, sampler_natural, sampler_power])
def test_correct_samplers_pass(sampler):
    checks.check_log_uniform(sampler)


@pytest.mark.parametrize("sampler, match", [
    (lambda low, high, size, rng: rng.uniform(low, high, size), "drew uniformly between low and high"),
    (lambda low, high, size, rng: np.exp(rng.uniform(np.log10(low), np.log10(high), size)), "natural log / log10"),
    (lambda low, high, size, rng: 10 ** rng.uniform(np.log(low), np.log(high), size), "natural log / log10"),
    (lambda low, high, size, rng: rng.uniform(np.log10(low), np.log10(high), size), "returned the exponents"),
    (lambda low, high, size, rng: 10 ** np.random.uniform(np.log10(low), np.log10(high), size), "global state"),
    (lambda low, high, size, rng: 10 ** rng.uniform(-6, -2, size), "hard-coded"),
    (lambda low, high, size, rng: 10 ** rng.uniform(np.log10(low), np.log10(high)), "pass `size`"),
    (lambda low, high, size, rng: (10 ** rng.uniform(np.log10(low), np.log10(high), size)).astype(np.float32),
     "dtype float64"),
    (lambda low, high, size, rng: None, "got None"),
])
def test_wrong_samplers_fail(sampler, match):
    expect_failure(checks.check_log_uniform, sampler, match)


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
