"""Mutation suite for chapter 1's checks: each plausible wrong answer fails with the message naming its
bug, and correct answers written in different ways pass. The classes are written the way a student
would write them (the notebook gives ``__init__``; the student writes ``update``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lib.checks import ch01_optimizers as checks
from lib.checks.core import ExerciseFailure


def fails_with(check, cls, pattern):
    with pytest.raises(ExerciseFailure, match=pattern):
        check(cls)


def passes(check, cls, capsys):
    check(cls)
    check(cls, hidden=True)
    assert "passed" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------- opt-sgd

class SGDGiven:
    def __init__(self, lr=0.01):
        self.lr = lr


class SGDLoop(SGDGiven):
    def update(self, params, grads):
        for key in params.keys():
            params[key] -= self.lr * grads[key]


class SGDSubtract(SGDGiven):
    def update(self, params, grads):
        for key, grad in grads.items():
            np.subtract(params[key], self.lr * grad, out=params[key])


class SGDSliceAssign(SGDGiven):
    def update(self, params, grads):
        for key in params:
            params[key][...] = params[key] - self.lr * grads[key]


class SGDSign(SGDGiven):
    def update(self, params, grads):
        for key in params:
            params[key] += self.lr * grads[key]


class SGDNoLr(SGDGiven):
    def update(self, params, grads):
        for key in params:
            params[key] -= grads[key]


class SGDRebind(SGDGiven):
    def update(self, params, grads):
        for key in params:
            params[key] = params[key] - self.lr * grads[key]


class SGDHardCoded(SGDGiven):
    def update(self, params, grads):
        for key in params:
            params[key] -= 0.01 * grads[key]


class SGDStub(SGDGiven):
    def update(self, params, grads):
        raise NotImplementedError("opt-sgd: write SGD.update")


@pytest.mark.parametrize("cls", [SGDLoop, SGDSubtract, SGDSliceAssign])
def test_sgd_correct_variants_pass(cls, capsys):
    passes(checks.check_sgd, cls, capsys)


@pytest.mark.parametrize("cls, pattern", [
    (SGDSign, "wrong sign"),
    (SGDNoLr, "learning rate is missing"),
    (SGDRebind, r"rebound .*not updated in place"),
    (SGDHardCoded, "default learning rate"),
    (SGDStub, "not implemented yet"),
])
def test_sgd_mutants_fail(cls, pattern):
    fails_with(checks.check_sgd, cls, pattern)


# -------------------------------------------------------------------------------------- opt-momentum

class MomentumGiven:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.v = None


class MomentumBook(MomentumGiven):
    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(value) for key, value in params.items()}
        for key in params:
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class MomentumInPlace(MomentumGiven):
    def update(self, params, grads):
        self.v = self.v or {}
        for key, param in params.items():
            velocity = self.v.setdefault(key, np.zeros_like(param))
            velocity *= self.momentum
            velocity -= self.lr * grads[key]
            param += velocity


def momentum_mutant(bug):
    class Mutant(MomentumGiven):
        def update(self, params, grads):
            if self.v is None:
                self.v = {key: np.zeros_like(value) for key, value in params.items()}
                self.shared = np.zeros_like(next(iter(params.values())))
            for key in params:
                g = grads[key]
                if bug == "sign":
                    self.v[key] = self.momentum * self.v[key] + self.lr * g
                elif bug == "no_state":
                    self.v[key] = -self.lr * g
                elif bug == "shared":
                    self.shared = self.momentum * self.shared - self.lr * g
                    params[key] += self.shared
                    continue
                elif bug == "ema":
                    self.v[key] = self.momentum * self.v[key] + (1 - self.momentum) * g
                    params[key] -= self.lr * self.v[key]
                    continue
                elif bug == "old_velocity":
                    params[key] += self.v[key]
                    self.v[key] = self.momentum * self.v[key] - self.lr * g
                    continue
                else:
                    self.v[key] = self.momentum * self.v[key] - self.lr * g
                if bug == "rebind":
                    params[key] = params[key] + self.v[key]
                else:
                    params[key] += self.v[key]
    Mutant.__name__ = f"Momentum_{bug}"
    return Mutant


@pytest.mark.parametrize("cls", [MomentumBook, MomentumInPlace])
def test_momentum_correct_variants_pass(cls, capsys):
    passes(checks.check_momentum, cls, capsys)


@pytest.mark.parametrize("bug, pattern", [
    ("sign", "wrong sign"),
    ("no_state", "not kept between calls"),
    ("shared", "shared by all parameters"),
    ("ema", "EMA form"),
    ("old_velocity", "old velocity"),
    ("rebind", "rebound"),
])
def test_momentum_mutants_fail(bug, pattern):
    fails_with(checks.check_momentum, momentum_mutant(bug), pattern)


# -------------------------------------------------------------------------------------- opt-nesterov

class NesterovGiven(MomentumGiven):
    pass


class NesterovTorch(NesterovGiven):
    def update(self, params, grads):
        self.v = self.v or {}
        for key, param in params.items():
            buffer = self.v.setdefault(key, np.zeros_like(param))
            buffer *= self.momentum
            buffer += grads[key]
            param -= self.lr * (grads[key] + self.momentum * buffer)


class NesterovCS231n(NesterovGiven):
    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(value) for key, value in params.items()}
        for key in params:
            v_prev = self.v[key].copy()
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += -self.momentum * v_prev + (1 + self.momentum) * self.v[key]


def nesterov_mutant(bug):
    class Mutant(NesterovGiven):
        def update(self, params, grads):
            if self.v is None:
                self.v = {key: np.zeros_like(value) for key, value in params.items()}
            for key in params:
                g = grads[key]
                if bug == "book":  # Saito's common/optimizer.py
                    self.v[key] *= self.momentum
                    self.v[key] -= self.lr * g
                    params[key] += self.momentum * self.momentum * self.v[key]
                    params[key] -= (1 + self.momentum) * self.lr * g
                    continue
                if bug == "stale":  # the buffer used before it is updated: classic momentum in disguise
                    params[key] -= self.lr * (g + self.momentum * self.v[key])
                    self.v[key] = self.momentum * self.v[key] + g
                    continue
                if bug == "no_state":
                    self.v[key] = np.zeros_like(g)
                self.v[key] = self.momentum * self.v[key] + g
                if bug == "plain":
                    params[key] -= self.lr * self.v[key]
                elif bug == "sign":
                    params[key] += self.lr * (g + self.momentum * self.v[key])
                else:
                    params[key] -= self.lr * (g + self.momentum * self.v[key])
    Mutant.__name__ = f"Nesterov_{bug}"
    return Mutant


@pytest.mark.parametrize("cls", [NesterovTorch, NesterovCS231n])
def test_nesterov_correct_variants_pass(cls, capsys):
    passes(checks.check_nesterov, cls, capsys)


@pytest.mark.parametrize("bug, pattern", [
    ("book", "book's code"),
    ("stale", "classic momentum"),
    ("plain", "classic momentum"),
    ("no_state", "not kept between calls"),
    ("sign", "wrong sign"),
])
def test_nesterov_mutants_fail(bug, pattern):
    fails_with(checks.check_nesterov, nesterov_mutant(bug), pattern)


# --------------------------------------------------------------------------------------- opt-adagrad

class AdaGradGiven:
    def __init__(self, lr=0.01, eps=1e-7):
        self.lr, self.eps = lr, eps
        self.h = None


class AdaGradBook(AdaGradGiven):
    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(value) for key, value in params.items()}
        for key in params:
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + self.eps)


class AdaGradElementLoop(AdaGradGiven):
    """Element by element, with math.sqrt — slow but correct."""

    def update(self, params, grads):
        self.h = self.h or {}
        for key, param in params.items():
            h = self.h.setdefault(key, np.zeros_like(param))
            flat_p, flat_g, flat_h = param.reshape(-1), grads[key].reshape(-1), h.reshape(-1)
            for i in range(flat_p.size):
                flat_h[i] += flat_g[i] ** 2
                flat_p[i] -= self.lr * flat_g[i] / (math.sqrt(flat_h[i]) + self.eps)


def adagrad_mutant(bug):
    class Mutant(AdaGradGiven):
        def update(self, params, grads):
            if self.h is None:
                self.h = {key: np.zeros_like(value) for key, value in params.items()}
            for key in params:
                g = grads[key]
                if bug == "late":
                    params[key] -= self.lr * g / (np.sqrt(self.h[key]) + self.eps)
                    self.h[key] += g * g
                    continue
                if bug == "replace":
                    self.h[key] = g * g
                else:
                    self.h[key] += g * g
                if bug == "eps_inside":
                    params[key] -= self.lr * g / np.sqrt(self.h[key] + self.eps)
                elif bug == "no_sqrt":
                    params[key] -= self.lr * g / (self.h[key] + self.eps)
                else:
                    params[key] -= self.lr * g / (np.sqrt(self.h[key]) + self.eps)
    Mutant.__name__ = f"AdaGrad_{bug}"
    return Mutant


@pytest.mark.parametrize("cls", [AdaGradBook, AdaGradElementLoop])
def test_adagrad_correct_variants_pass(cls, capsys):
    passes(checks.check_adagrad, cls, capsys)


@pytest.mark.parametrize("bug, pattern", [
    ("eps_inside", "inside the square root"),
    ("replace", "replaced, not accumulated"),
    ("no_sqrt", "square root is missing"),
    ("late", "updated after W"),
])
def test_adagrad_mutants_fail(bug, pattern):
    fails_with(checks.check_adagrad, adagrad_mutant(bug), pattern)


# --------------------------------------------------------------------------------------- opt-rmsprop

class RMSpropGiven:
    def __init__(self, lr=0.01, decay_rate=0.99, eps=1e-7):
        self.lr, self.decay_rate, self.eps = lr, decay_rate, eps
        self.h = None


class RMSpropBook(RMSpropGiven):
    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(value) for key, value in params.items()}
        for key in params:
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + self.eps)


class RMSpropLerp(RMSpropGiven):
    """h moves toward g² by a fraction (1 − ρ): the same average, written as an interpolation."""

    def update(self, params, grads):
        self.h = self.h or {}
        for key, param in params.items():
            h = self.h.setdefault(key, np.zeros_like(param))
            h += (1 - self.decay_rate) * (np.square(grads[key]) - h)
            np.subtract(param, self.lr * grads[key] / (np.sqrt(h) + self.eps), out=param)


def rmsprop_mutant(bug):
    class Mutant(RMSpropGiven):
        def update(self, params, grads):
            if self.h is None:
                self.h = {key: np.zeros_like(value) for key, value in params.items()}
            rho = self.decay_rate
            for key in params:
                g2 = grads[key] ** 2
                if bug == "swapped":
                    self.h[key] = (1 - rho) * self.h[key] + rho * g2
                elif bug == "missing_one_minus":
                    self.h[key] = rho * self.h[key] + g2
                else:
                    self.h[key] = rho * self.h[key] + (1 - rho) * g2
                if bug == "eps_inside":
                    params[key] -= self.lr * grads[key] / np.sqrt(self.h[key] + self.eps)
                elif bug == "sign":
                    params[key] += self.lr * grads[key] / (np.sqrt(self.h[key]) + self.eps)
                else:
                    params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + self.eps)
    Mutant.__name__ = f"RMSprop_{bug}"
    return Mutant


@pytest.mark.parametrize("cls", [RMSpropBook, RMSpropLerp])
def test_rmsprop_correct_variants_pass(cls, capsys):
    passes(checks.check_rmsprop, cls, capsys)


@pytest.mark.parametrize("bug, pattern", [
    ("swapped", "swapped"),
    ("missing_one_minus", r"\(1 − decay_rate\) factor"),
    ("eps_inside", "inside the square root"),
    ("sign", "wrong sign"),
])
def test_rmsprop_mutants_fail(bug, pattern):
    fails_with(checks.check_rmsprop, rmsprop_mutant(bug), pattern)


# ------------------------------------------------------------------------------------------ opt-adam

class AdamGiven:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m, self.v = {}, {}


class AdamPaper(AdamGiven):
    def update(self, params, grads):
        self.t += 1
        for key, param in params.items():
            if key not in self.m:
                self.m[key], self.v[key] = np.zeros_like(param), np.zeros_like(param)
            g = grads[key]
            self.m[key] = self.beta1 * self.m[key] + (1 - self.beta1) * g
            self.v[key] = self.beta2 * self.v[key] + (1 - self.beta2) * g * g
            m_hat = self.m[key] / (1 - self.beta1 ** self.t)
            v_hat = self.v[key] / (1 - self.beta2 ** self.t)
            param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class AdamBookLrT(AdamGiven):
    """Saito's form: the corrections folded into lr_t, ε added to √v (accepted)."""

    def update(self, params, grads):
        self.t += 1
        lr_t = self.lr * math.sqrt(1.0 - self.beta2 ** self.t) / (1.0 - self.beta1 ** self.t)
        for key in params:
            if key not in self.m:
                self.m[key], self.v[key] = np.zeros_like(params[key]), np.zeros_like(params[key])
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + self.eps)


class AdamStartAtOne(AdamGiven):
    """t starts at 1 and is increased after use: the same sequence of t as the paper."""

    def update(self, params, grads):
        if self.t == 0:
            self.t = 1
        for key in params:
            m = self.m.setdefault(key, np.zeros_like(params[key]))
            v = self.v.setdefault(key, np.zeros_like(params[key]))
            m[...] = self.beta1 * m + (1 - self.beta1) * grads[key]
            v[...] = self.beta2 * v + (1 - self.beta2) * np.square(grads[key])
            denominator = np.sqrt(v / (1 - self.beta2 ** self.t)) + self.eps
            params[key] -= self.lr * (m / (1 - self.beta1 ** self.t)) / denominator
        self.t += 1


def adam_mutant(bug):
    class Mutant(AdamGiven):
        def update(self, params, grads):
            if bug != "t_after":
                self.t += 0 if bug == "t_per_key" else 1
            b1, b2 = (self.beta2, self.beta1) if bug == "swapped" else (self.beta1, self.beta2)
            for key, param in params.items():
                if bug == "t_per_key":
                    self.t += 1
                if key not in self.m:
                    self.m[key], self.v[key] = np.zeros_like(param), np.zeros_like(param)
                g = grads[key]
                self.m[key] = b1 * self.m[key] + (1 - b1) * g
                self.v[key] = b2 * self.v[key] + (1 - b2) * g * g
                m_hat, v_hat = self.m[key] / (1 - b1 ** self.t), self.v[key] / (1 - b2 ** self.t)
                if bug == "no_correction":
                    m_hat, v_hat = self.m[key], self.v[key]
                if bug == "eps_inside":
                    param -= self.lr * m_hat / np.sqrt(v_hat + self.eps)
                else:
                    param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
            if bug == "t_after":
                self.t += 1
    Mutant.__name__ = f"Adam_{bug}"
    return Mutant


@pytest.mark.parametrize("cls", [AdamPaper, AdamBookLrT, AdamStartAtOne])
def test_adam_correct_variants_pass(cls, capsys):
    passes(checks.check_adam, cls, capsys)


def test_adam_book_form_is_named(capsys):
    checks.check_adam(AdamBookLrT)
    assert "lr_t form" in capsys.readouterr().out


@pytest.mark.parametrize("bug, pattern", [
    ("no_correction", "no bias correction"),
    ("t_after", "t is used before it is increased"),
    ("t_per_key", "once per parameter"),
    ("swapped", "swapped"),
    ("eps_inside", "inside the square root"),
])
def test_adam_mutants_fail(bug, pattern):
    with np.errstate(all="ignore"):
        fails_with(checks.check_adam, adam_mutant(bug), pattern)


# -------------------------------------------------------------------------------- opt-adam-trains

@pytest.mark.slow
def test_adam_trains_passes_with_a_correct_class(capsys):
    checks.check_adam_trains(AdamBookLrT)
    assert "passed" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("bug", ["no_correction", "eps_inside"])
def test_adam_trains_fails_with_a_wrong_class(bug):
    with pytest.raises(ExerciseFailure, match="training loss of the first"):
        checks.check_adam_trains(adam_mutant(bug))


# -------------------------------------------------------------------------------------- opt-schedule

class CosineGiven:
    def __init__(self, lr0, total_steps, lr_min=0.0):
        self.lr0, self.total_steps, self.lr_min = lr0, total_steps, lr_min


class CosineClamp(CosineGiven):
    def __call__(self, step):
        progress = min(step, self.total_steps) / self.total_steps
        return self.lr_min + (self.lr0 - self.lr_min) * 0.5 * (1 + math.cos(math.pi * progress))


class CosineBranch(CosineGiven):
    def __call__(self, step):
        if step >= self.total_steps:
            return float(self.lr_min)
        return float(self.lr_min + (self.lr0 - self.lr_min) * np.cos(np.pi * step / (2 * self.total_steps)) ** 2)


def cosine_mutant(bug):
    class Mutant(CosineGiven):
        def __call__(self, step):
            total = self.total_steps - 1 if bug == "off_by_one" else self.total_steps
            progress = step / total if bug == "no_clamp" else min(step, total) / total
            angle = progress if bug == "no_pi" else math.pi * progress
            low = 0.0 if bug == "no_lr_min" else self.lr_min
            return low + ((self.lr0 if bug == "no_lr_min" else self.lr0 - self.lr_min)
                          * (1 + math.cos(angle)) * (1.0 if bug == "no_half" else 0.5))
    Mutant.__name__ = f"Cosine_{bug}"
    return Mutant


class CosineReturnsList(CosineGiven):
    def __call__(self, step):
        return [self.lr0]


@pytest.mark.parametrize("cls", [CosineClamp, CosineBranch])
def test_schedule_correct_variants_pass(cls, capsys):
    passes(checks.check_cosine_decay, cls, capsys)


@pytest.mark.parametrize("cls, pattern", [
    (cosine_mutant("no_clamp"), "stay at lr_min"),
    (cosine_mutant("no_lr_min"), "lr_min is ignored"),
    (cosine_mutant("no_half"), "factor ½ is missing"),
    (cosine_mutant("no_pi"), "π is missing"),
    (cosine_mutant("off_by_one"), "one step early"),
    (CosineReturnsList, "return a number"),
])
def test_schedule_mutants_fail(cls, pattern):
    fails_with(checks.check_cosine_decay, cls, pattern)


# ------------------------------------------------------------------------------------- opt-quadratic

LAM_MIN, LAM_MAX = min(checks.QUADRATIC_LAB_EIGENVALUES), max(checks.QUADRATIC_LAB_EIGENVALUES)
KAPPA = LAM_MAX / LAM_MIN
RIGHT = dict(eta_gd=2 / (LAM_MIN + LAM_MAX), rate_gd=(KAPPA - 1) / (KAPPA + 1),
             eta_momentum=(2 / (math.sqrt(LAM_MIN) + math.sqrt(LAM_MAX))) ** 2,
             mu_momentum=((math.sqrt(KAPPA) - 1) / (math.sqrt(KAPPA) + 1)) ** 2)


def test_quadratic_right_answers_pass(capsys):
    checks.check_quadratic_lab(**RIGHT)
    checks.check_quadratic_lab(**RIGHT, hidden=True)
    # Rounded to four digits, as read off the lab, still passes.
    checks.check_quadratic_lab(**{key: round(value, 4) for key, value in RIGHT.items()}, hidden=True)
    assert capsys.readouterr().out.count("passed") == 3


@pytest.mark.parametrize("change, pattern", [
    (dict(eta_gd=1 / LAM_MAX), "safe but not optimal"),
    (dict(eta_gd=2 / LAM_MAX), "edge of stability"),
    (dict(rate_gd=(math.sqrt(KAPPA) - 1) / (math.sqrt(KAPPA) + 1)), "momentum's rate"),
    (dict(eta_momentum=2 / (math.sqrt(LAM_MIN) + math.sqrt(LAM_MAX))), "square is missing"),
    (dict(mu_momentum=(math.sqrt(KAPPA) - 1) / (math.sqrt(KAPPA) + 1)), "square of the rate"),
    (dict(mu_momentum=None), "expected a number"),
])
def test_quadratic_wrong_answers_fail(change, pattern):
    with pytest.raises(ExerciseFailure, match=pattern):
        checks.check_quadratic_lab(**{**RIGHT, **change})


# ------------------------------------------------------------------------------ opt-diagnose

@pytest.mark.parametrize("answer", ["a", " A "])
def test_diagnosis_right_answers_pass(answer):
    checks.check_diagnosis(answer)


@pytest.mark.parametrize("answer, message", [
    ("b", "fall slowly but steadily"),
    ("c", "flat near log 10"),
    ("d", "never makes the loss grow"),
    ("e", "must be one of"),
    (1, "must be one letter as a string"),
])
def test_diagnosis_wrong_answers_explain_that_option(answer, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_diagnosis(answer)


def test_diagnosis_key_is_not_stored_as_text():
    source = Path(checks.__file__).read_text()
    assert '_DIAGNOSIS_KEY = "a"' not in source and "ANSWER" not in source


@pytest.mark.parametrize("lr", [0.05, 0.1])
def test_fixed_run_right_rates_pass(lr):
    checks.check_fixed_run(lr)


@pytest.mark.parametrize("lr, message", [
    (checks.BROKEN_RUN_LR, "still blows up"),
    (0.3, "overshoot"),
    (1e-4, "overcorrected"),
    ("0.05", "must be a number"),
    (True, "must be a number"),
    (-0.1, "positive"),
])
def test_fixed_run_wrong_rates_name_the_problem(lr, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_fixed_run(lr)


# ------------------------------------------------------------------------------- opt-sparse

@pytest.mark.parametrize("rates", [
    lambda f, eta: eta * np.sqrt(f.max() / f),
    lambda f, eta: eta / np.sqrt(f / np.max(f)),
    lambda f, eta: np.array([eta * math.sqrt(max(f) / p) for p in f]),
])
def test_sparse_right_rates_pass(rates):
    checks.check_sparse_rates(rates)


@pytest.mark.parametrize("rates, message", [
    (lambda f, eta: np.full(f.shape, eta), "that is plain SGD"),
    (lambda f, eta: eta * f / f.max(), "grow with the frequency"),
    (lambda f, eta: eta * f.max() / f, "blows up"),
    (lambda f, eta: eta * (f.max() / f) ** 0.25, "still too small"),
    (lambda f, eta: eta * np.sqrt(1 / f), "most frequent feature's rate"),
    (lambda f, eta: list(eta * np.sqrt(f.max() / f)), "float64 numpy array"),
    (lambda f, eta: (eta * np.sqrt(f.max() / f))[:-1], "one rate per feature"),
])
def test_sparse_wrong_rates_name_the_problem(rates, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_sparse_rates(rates)
