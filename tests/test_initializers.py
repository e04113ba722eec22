"""lib.initializers: fans of each weight shape, the Xavier and He scales, the draws' statistics,
float32 and seeding, argument errors, and the labels figures use."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib import initializers


@pytest.mark.parametrize("shape, fans", [
    ((784, 100), (784, 100)), ((100, 10), (100, 10)), ((64, 32, 3, 3), (288, 576)),
    ((16, 3, 5, 5), (75, 400)), ((8, 4, 7), (28, 56)), ((4, 2, 3, 3, 3), (54, 108)), ([5, 6], (5, 6)),
])
def test_compute_fans(shape, fans):
    assert initializers.compute_fans(shape) == fans
    assert all(type(value) is int for value in initializers.compute_fans(shape))


@pytest.mark.parametrize("shape", [(), (10,), (0, 5), (3, -1, 2, 2)])
def test_compute_fans_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match="compute_fans"):
        initializers.compute_fans(shape)


@pytest.mark.parametrize("scheme, mode, expected", [
    ("xavier", "fan_in", math.sqrt(1 / 400)), ("glorot", "fan_out", math.sqrt(1 / 250)),
    ("sigmoid", "fan_avg", math.sqrt(2 / 650)), ("he", "fan_in", math.sqrt(2 / 400)),
    ("relu", "fan_out", math.sqrt(2 / 250)), ("kaiming", "fan_avg", math.sqrt(4 / 650)), (0.01, "fan_in", 0.01),
])
def test_init_std(scheme, mode, expected):
    assert initializers.init_std((400, 250), scheme, mode) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("bad", ["lecun", -1.0, 0.0, math.nan, math.inf, True, [0.1], None])
def test_init_std_rejects(bad):
    with pytest.raises(ValueError):
        initializers.init_std((4, 4), bad)


def test_init_std_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        initializers.init_std((4, 4), "he", "fan_sum")


@pytest.mark.parametrize("draw, gain, mode, distribution", [
    (initializers.xavier_normal, 1, "fan_in", "normal"), (initializers.xavier_normal, 1, "fan_avg", "normal"),
    (initializers.he_normal, 2, "fan_in", "normal"), (initializers.he_normal, 2, "fan_out", "normal"),
    (initializers.xavier_uniform, 1, "fan_avg", "uniform"), (initializers.he_uniform, 2, "fan_in", "uniform"),
])
@pytest.mark.parametrize("shape", [(400, 250), (128, 64, 3, 3)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_draws_have_the_formula_std(draw, gain, mode, distribution, shape, seed):
    weights = draw(shape, np.random.default_rng(seed), mode)
    fan_in, fan_out = initializers.compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    expected = math.sqrt(gain / n)
    assert weights.shape == shape and weights.dtype == np.float64
    # ≥ 73,728 draws: the sample std's relative standard error is ≤ 0.3%; 1.5% is 5 of them
    assert weights.std() == pytest.approx(expected, rel=0.015)
    assert abs(weights.mean()) < 6 * expected / math.sqrt(weights.size)
    if distribution == "uniform":
        assert np.abs(weights).max() <= math.sqrt(3) * expected
        assert np.abs(weights).max() > 0.99 * math.sqrt(3) * expected


def test_draws_keep_float32_and_are_reproducible():
    first = initializers.he_normal((64, 32, 3, 3), np.random.default_rng(3), dtype=np.float32)
    again = initializers.he_normal((64, 32, 3, 3), seed=3, dtype=np.float32)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert initializers.xavier_uniform((10, 10), seed=0, dtype=np.float32).dtype == np.float32
    assert not np.array_equal(initializers.he_normal((10, 10), seed=0), initializers.he_normal((10, 10), seed=1))


def test_draw_argument_errors():
    with pytest.raises(ValueError, match="either rng or seed"):
        initializers.he_normal((3, 3), np.random.default_rng(0), seed=1)
    with pytest.raises(ValueError, match="Generator"):
        initializers.he_normal((3, 3), np.random.RandomState(0))
    with pytest.raises(ValueError, match="distribution"):
        initializers.variance_scaling((3, 3), 1.0, distribution="cauchy")
    with pytest.raises(ValueError, match="floating"):
        initializers.he_normal((3, 3), dtype=np.int64)


def test_scheme_label():
    assert initializers.scheme_label("he") == "He √(2/n)" and initializers.scheme_label(0.01) == "std=0.01"
    with pytest.raises(ValueError):
        initializers.scheme_label("lecun")
