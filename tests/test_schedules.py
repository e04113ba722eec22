"""Learning-rate schedules in lib.optimizers: values at chosen steps (worked out by hand),
argument validation, and use with an optimizer."""

import math

import numpy as np
import pytest

from lib.optimizers import (SGD, CosineDecay, ExponentialDecay, InverseTimeDecay, LinearWarmup,
                            StepDecay)


def values(schedule, steps):
    return [schedule(step) for step in steps]


def test_step_decay_halves_every_three_steps():
    got = values(StepDecay(0.1, step_size=3, gamma=0.5), [0, 2, 3, 5, 6, 9])
    np.testing.assert_allclose(got, [0.1, 0.1, 0.05, 0.05, 0.025, 0.0125], rtol=1e-15)


def test_exponential_decay():
    got = values(ExponentialDecay(0.2, gamma=0.9), [0, 1, 2, 10])
    np.testing.assert_allclose(got, [0.2, 0.18, 0.162, 0.06973568802], rtol=1e-10)


def test_inverse_time_decay():
    got = values(InverseTimeDecay(0.5, k=0.25), [0, 4, 12])
    np.testing.assert_allclose(got, [0.5, 0.25, 0.125], rtol=1e-15)
    assert InverseTimeDecay(0.5, k=0)(1000) == 0.5


def test_cosine_decay_reaches_lr_min_and_stays_there():
    schedule = CosineDecay(1.0, total_steps=10, lr_min=0.1)
    got = values(schedule, [0, 3, 5, 10, 11, 1000])
    # step 3: 0.1 + 0.9·(1 + cos 54°)/2, cos 54° = 0.5877852523
    np.testing.assert_allclose(got, [1.0, 0.81450336353, 0.55, 0.1, 0.1, 0.1], rtol=1e-10)
    assert CosineDecay(2.0, total_steps=4)(4) == 0.0


def test_linear_warmup_to_a_constant():
    got = values(LinearWarmup(0.4, warmup_steps=4), [0, 1, 3, 4, 100])
    np.testing.assert_allclose(got, [0.1, 0.2, 0.4, 0.4, 0.4], rtol=1e-15)


def test_linear_warmup_then_the_whole_wrapped_schedule():
    schedule = LinearWarmup(CosineDecay(1.0, total_steps=10), warmup_steps=5)
    got = values(schedule, [0, 4, 5, 10, 15])
    np.testing.assert_allclose(got, [0.2, 1.0, 1.0, 0.5, 0.0], rtol=1e-15, atol=1e-15)


def test_linear_warmup_accepts_any_callable_and_returns_floats():
    schedule = LinearWarmup(lambda step: np.float64(0.3) / (step + 1), warmup_steps=2)
    assert values(schedule, [0, 1, 2, 3]) == pytest.approx([0.15, 0.3, 0.3, 0.15])
    assert all(type(value) is float for value in values(schedule, range(4)))


@pytest.mark.parametrize("schedule", [
    StepDecay(0.1, 7, 0.3), ExponentialDecay(0.1, 0.97), InverseTimeDecay(0.1, 0.05),
    CosineDecay(0.1, 50, 0.001), LinearWarmup(CosineDecay(0.1, 40), 10),
], ids=["step", "exponential", "inverse-time", "cosine", "warmup+cosine"])
def test_decays_never_increase_after_warmup_and_return_python_floats(schedule):
    got = values(schedule, range(60))
    assert all(type(value) is float and value >= 0 for value in got)
    start = getattr(schedule, "warmup_steps", 0)
    assert all(later <= earlier + 1e-15 for earlier, later in zip(got[start:], got[start + 1:]))
    assert got[-1] < got[start]


def test_numpy_integer_steps_are_accepted():
    assert StepDecay(0.1, 2, 0.5)(np.int64(4)) == pytest.approx(0.025)


@pytest.mark.parametrize("make, message", [
    (lambda: StepDecay(0.0, 3, 0.5), r"lr0 must be > 0"),
    (lambda: StepDecay(0.1, 0, 0.5), r"step_size must be >= 1"),
    (lambda: StepDecay(0.1, 2.5, 0.5), r"step_size must be an integer"),
    (lambda: StepDecay(0.1, 3, 1.5), r"gamma must be in \(0, 1\]"),
    (lambda: ExponentialDecay(0.1, 0.0), r"gamma must be > 0"),
    (lambda: ExponentialDecay(float("inf"), 0.9), r"lr0 must be finite"),
    (lambda: InverseTimeDecay(0.1, -1), r"k must be >= 0"),
    (lambda: CosineDecay(0.1, 0), r"total_steps must be >= 1"),
    (lambda: CosineDecay(0.1, 10, lr_min=0.2), r"lr_min \(0.2\) must not exceed lr0 \(0.1\)"),
    (lambda: LinearWarmup(0.1, 0), r"warmup_steps must be >= 1"),
    (lambda: LinearWarmup("cosine", 5), r"base must be a real number"),
])
def test_bad_arguments_are_rejected(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("step, message", [(-1, r"step must be >= 0"), (1.5, r"step must be an integer"),
                                           (True, r"step must be an integer")])
def test_bad_steps_are_rejected(step, message):
    with pytest.raises(ValueError, match=message):
        ExponentialDecay(0.1, 0.9)(step)


def test_a_schedule_drives_an_optimizer():
    schedule = StepDecay(0.1, step_size=2, gamma=0.5)
    optimizer, params = SGD(), {"W": np.array([1.0, -2.0])}
    for step in range(5):
        optimizer.lr = schedule(step)
        optimizer.update(params, {"W": np.array([1.0, 1.0])})
    total_lr = 0.1 + 0.1 + 0.05 + 0.05 + 0.025
    np.testing.assert_allclose(params["W"], [1.0 - total_lr, -2.0 - total_lr], rtol=1e-14)
    assert math.isclose(optimizer.lr, 0.025)


def test_repr_shows_arguments():
    assert repr(CosineDecay(0.1, 10)) == "CosineDecay(lr0=0.1, total_steps=10, lr_min=0.0)"
