"""Mutation suite for chapter 3's checks: each plausible wrong answer fails with the message that names
its bug, and correct answers written in different ways pass."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

from lib.checks import ch03_batchnorm as checks
from lib.checks.core import ExerciseFailure, answer_digest


# --- bn-forward ---------------------------------------------------------------------------------------

class GivenInit:
    """The part of the exercise's class that the notebook gives."""

    def __init__(self, gamma, beta, momentum=0.9, eps=1e-5):
        self.gamma, self.beta = gamma, beta
        self.momentum, self.eps = momentum, eps
        self.running_mean = np.zeros_like(gamma)
        self.running_var = np.ones_like(gamma)


class Vectorized(GivenInit):
    def forward(self, x, train_flg=True):
        if train_flg:
            mean, var = x.mean(axis=0), x.var(axis=0)
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mean
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            mean, var = self.running_mean, self.running_var
        return self.gamma * (x - mean) / np.sqrt(var + self.eps) + self.beta


class InPlaceSums(GivenInit):
    """Sums written out, running statistics updated in place."""

    def forward(self, x, train_flg=True):
        if not train_flg:
            x_hat = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
            return self.gamma * x_hat + self.beta
        n = x.shape[0]
        mean = np.sum(x, axis=0) / n
        centered = x - mean
        var = np.sum(centered * centered, axis=0) / n
        self.running_mean *= self.momentum
        self.running_mean += (1 - self.momentum) * mean
        self.running_var *= self.momentum
        self.running_var += (1 - self.momentum) * var
        return self.gamma * centered / np.sqrt(var + self.eps) + self.beta


class PerFeatureLoop(GivenInit):
    def forward(self, x, train_flg=True):
        out = np.empty_like(x)
        for j in range(x.shape[1]):
            column = x[:, j]
            if train_flg:
                mean, var = column.mean(), ((column - column.mean()) ** 2).mean()
                self.running_mean[j] = self.momentum * self.running_mean[j] + (1 - self.momentum) * mean
                self.running_var[j] = self.momentum * self.running_var[j] + (1 - self.momentum) * var
            else:
                mean, var = self.running_mean[j], self.running_var[j]
            out[:, j] = self.gamma[j] * (column - mean) / np.sqrt(var + self.eps) + self.beta[j]
        return out


def forward_mutant(**changes):
    """A Vectorized forward with one deliberate mistake."""

    class Mutant(GivenInit):
        def forward(self, x, train_flg=True):
            if train_flg:
                mean, var = x.mean(axis=0), x.var(axis=0, ddof=changes.get("ddof", 0))
                keep = 1 - self.momentum if changes.get("swap_momentum") else self.momentum
                stored_var = x.var(axis=0, ddof=1) if changes.get("unbiased_running") else var
                if changes.get("replace_running"):
                    self.running_mean, self.running_var = mean, stored_var
                elif not changes.get("no_running_update"):
                    self.running_mean = keep * self.running_mean + (1 - keep) * mean
                    self.running_var = keep * self.running_var + (1 - keep) * stored_var
                if changes.get("running_in_train"):
                    mean, var = self.running_mean, self.running_var
            elif changes.get("batch_in_eval"):
                mean, var = x.mean(axis=0), x.var(axis=0)
            elif changes.get("update_in_eval"):
                mean, var = x.mean(axis=0), x.var(axis=0)
                self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mean
                self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
                mean, var = self.running_mean, self.running_var
            elif changes.get("update_after_eval"):
                mean, var = self.running_mean, self.running_var
                self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * x.mean(axis=0)
            else:
                mean, var = self.running_mean, self.running_var
            std = np.sqrt(var) + self.eps if changes.get("eps_outside") else np.sqrt(var + self.eps)
            return self.gamma * (x - mean) / std + self.beta

    return Mutant


FORWARD_MUTANTS = {
    "unbiased variance": (forward_mutant(ddof=1), "1/(N−1)"),
    "eps outside the root": (forward_mutant(eps_outside=True), "outside the square root"),
    "momentum swapped": (forward_mutant(swap_momentum=True), "momentum convention is swapped"),
    "running var unbiased": (forward_mutant(unbiased_running=True), "PyTorch does this"),
    "running stats replaced": (forward_mutant(replace_running=True), "replaced by the batch mean"),
    "running stats never updated": (forward_mutant(no_running_update=True), "not updated in train mode"),
    "running stats used in train mode": (forward_mutant(running_in_train=True), "train mode normalized with the"),
    "batch statistics in eval mode": (forward_mutant(batch_in_eval=True), "eval mode normalized with this batch"),
    "running stats updated in eval mode, then used": (forward_mutant(update_in_eval=True), "must only read them"),
    "running stats updated after eval output": (forward_mutant(update_after_eval=True), "changed during eval-mode"),
}


@pytest.mark.parametrize("name", FORWARD_MUTANTS)
def test_wrong_forward_fails_with_its_diagnosis(name):
    mutant, message = FORWARD_MUTANTS[name]
    with pytest.raises(ExerciseFailure, match=re.escape(message)):
        checks.check_batchnorm_forward(mutant)


def test_unimplemented_forward_says_so():
    class Stub(GivenInit):
        def forward(self, x, train_flg=True):
            raise NotImplementedError("bn-forward")

    with pytest.raises(ExerciseFailure, match="not implemented yet"):
        checks.check_batchnorm_forward(Stub)


@pytest.mark.parametrize("implementation", [Vectorized, InPlaceSums, PerFeatureLoop])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correct_forward_passes(implementation, seed, capsys):
    checks.check_batchnorm_forward(implementation, seed=seed)
    assert "bn-forward: passed" in capsys.readouterr().out


# --- bn-backward --------------------------------------------------------------------------------------

def backward_closed_form(dout, x, gamma, eps):
    n = x.shape[0]
    x_hat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)
    dx_hat = dout * gamma
    dx = (n * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0)) / (n * np.sqrt(x.var(axis=0) + eps))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def backward_graph(dout, x, gamma, eps):
    """Saito's step-by-step graph: xc = x − μ, std = √(var + ε), xn = xc/std."""
    n = x.shape[0]
    xc = x - x.mean(axis=0)
    std = np.sqrt((xc ** 2).mean(axis=0) + eps)
    xn = xc / std
    dbeta = dout.sum(axis=0)
    dgamma = (xn * dout).sum(axis=0)
    dxn = gamma * dout
    dxc = dxn / std
    dstd = -((dxn * xc) / (std * std)).sum(axis=0)
    dvar = 0.5 * dstd / std
    dxc += (2.0 / n) * xc * dvar
    dmu = dxc.sum(axis=0)
    return dxc - dmu / n, dgamma, dbeta


def backward_through_lib_layer(dout, x, gamma, eps):
    from lib.layers import BatchNormalization

    layer = BatchNormalization(gamma.copy(), np.zeros_like(gamma), eps=eps)
    layer.forward(x, train_flg=True)
    dx = layer.backward(dout)
    return dx, layer.dgamma, layer.dbeta


def backward_mutant(**changes):
    def wrong(dout, x, gamma, eps):
        dx, dgamma, dbeta = checks.reference_backward(
            dout, x, gamma, eps, **{k: v for k, v in changes.items() if k in ("ddof", "eps_inside", "mean_path", "var_path")})
        if changes.get("no_sums"):
            x_hat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)
            return dx, dout * x_hat, dout
        if changes.get("swap"):
            return dx, dbeta, dgamma
        if changes.get("mean_not_sum"):
            return dx, dgamma / x.shape[0], dbeta / x.shape[0]
        if changes.get("no_gamma"):
            return checks.reference_backward(dout, x, np.ones_like(gamma), eps)[0], dgamma, dbeta
        if changes.get("sign"):
            return -dx, dgamma, dbeta
        return dx, dgamma, dbeta

    return wrong


BACKWARD_MUTANTS = {
    "dgamma/dbeta not summed": (backward_mutant(no_sums=True), "sum over the batch axis"),
    "dgamma/dbeta swapped": (backward_mutant(swap=True), "swapped"),
    "dgamma/dbeta averaged": (backward_mutant(mean_not_sum=True), "mean over the batch"),
    "mu and sigma constant": (backward_mutant(mean_path=False, var_path=False), "treated as constants"),
    "variance path missing": (backward_mutant(var_path=False), "path through the variance"),
    "mean path missing": (backward_mutant(mean_path=False), "path through the mean"),
    "unbiased variance": (backward_mutant(ddof=1), re.escape("1/(N−1)")),
    "eps outside the root": (backward_mutant(eps_inside=False), "outside the square root"),
    "gamma forgotten in dx": (backward_mutant(no_gamma=True), "γ is missing"),
    "wrong sign": (backward_mutant(sign=True), "sign of dx is flipped"),
}


@pytest.mark.parametrize("name", BACKWARD_MUTANTS)
def test_wrong_backward_fails_with_its_diagnosis(name):
    mutant, message = BACKWARD_MUTANTS[name]
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_batchnorm_backward(mutant)


def test_backward_failure_explains_the_batch_of_one_trap():
    with pytest.raises(ExerciseFailure, match="batch of one"):
        checks.check_batchnorm_backward(backward_mutant(var_path=False))


def test_backward_returning_a_list_of_two_is_reported():
    with pytest.raises(ExerciseFailure, match="expected a tuple"):
        checks.check_batchnorm_backward(lambda dout, x, gamma, eps: [dout, dout])


@pytest.mark.parametrize("implementation", [backward_closed_form, backward_graph, backward_through_lib_layer])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correct_backward_passes(implementation, seed, capsys):
    checks.check_batchnorm_backward(implementation, seed=seed)
    assert "bn-backward: passed" in capsys.readouterr().out


# --- bn-eval-question ---------------------------------------------------------------------------------

def running_mean_by_loop():
    running = 0.0
    for batch_mean in (2.0, 4.0, 6.0):
        running = 0.9 * running + 0.1 * batch_mean
    return running


@pytest.mark.parametrize("answers, message", [
    (("a", "c", 1.122), "depend on which other samples"),
    (("d", "c", 1.122), "leaks test"),
    (("c", "c", 1.122), "skip normalization"),
    (("b", "b", 1.122), "that is eval mode"),
    (("b", "d", 1.122), "ε keeps the division finite"),
    (("b", "c", 4.0), "plain average"),
    (("b", "c", 6.0), "last batch"),
    (("b", "c", 5.778), "swapped"),
    (("b", "c", 0.6), "one step from 0"),
    (("e", "c", 1.122), "one of"),
    ((2, "c", 1.122), "one letter as a string"),
])
def test_wrong_answers_fail_with_feedback(answers, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_eval_questions(*answers)


@pytest.mark.parametrize("answers", [("b", "c", 1.122), (" B ", "(c)", running_mean_by_loop()),
                                     ("b", "C", np.float64(0.9 * (0.9 * 0.2 + 0.4) + 0.6))])
def test_right_answers_pass(answers, capsys):
    checks.check_eval_questions(*answers)
    assert "bn-eval-question: passed" in capsys.readouterr().out


# --- bn-backward: the batch-of-one trap ---------------------------------------------------------------

def test_a_backward_that_passes_on_one_sample_is_told_about_the_trap():
    with pytest.raises(ExerciseFailure, match="would have passed this backward"):
        checks.check_batchnorm_backward(backward_mutant(var_path=False))


def test_a_backward_that_fails_on_one_sample_too_gets_the_general_note():
    def scaled(dout, x, gamma, eps):
        dx, dgamma, dbeta = backward_closed_form(dout, x, gamma, eps)
        return 2 * dx + 1.0, dgamma, dbeta

    with pytest.raises(ExerciseFailure, match="this check uses batches") as failure:
        checks.check_batchnorm_backward(scaled)
    assert "would have passed" not in str(failure.value)


def test_backward_messages_never_show_the_expected_values():
    with pytest.raises(ExerciseFailure) as failure:
        checks.check_batchnorm_backward(backward_mutant(var_path=False))
    message = str(failure.value)
    assert "expected [" not in message and "expected array" not in message


# --- bn-diagnose --------------------------------------------------------------------------------------

@pytest.mark.parametrize("letter, message", [("a", "learning rate"), ("b", "initial scale"), ("d", "overfitting"),
                                             ("e", "scales the pixels")])
def test_wrong_diagnosis_gets_its_own_feedback(letter, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_diagnosis(letter)


@pytest.mark.parametrize("answer, message", [(3, "one letter as a string"), ("f", "one of"), (None, "one letter")])
def test_malformed_diagnosis_is_reported(answer, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_diagnosis(answer)


@pytest.mark.parametrize("answer", ["c", " C ", "(c)"])
def test_right_diagnosis_passes(answer, capsys):
    checks.check_diagnosis(answer)
    assert "bn-diagnose: passed" in capsys.readouterr().out


def test_answer_keys_are_not_stored_as_plain_letters():
    source = open(checks.__file__, encoding="utf-8").read()
    assert 'letter != "' not in source and "letter != '" not in source
    assert checks.DIAGNOSIS_KEY == answer_digest("bn-diagnose", "c")


def classify_broken(network, images):
    """The broken service: one image at a time, in training mode."""
    return np.array([int(network.predict(image[None, :], train_flg=True).argmax()) for image in images])


def classify_train_mode_whole_batch(network, images):
    return network.predict(images, train_flg=True).argmax(axis=1)


def classify_train_mode_on_copies(network, images):
    """Protects the running statistics but still normalizes each image by itself."""
    return np.array([int(copy.deepcopy(network).predict(image[None, :], train_flg=True).argmax()) for image in images])


def classify_warm_up_then_eval(network, images):
    """'Adapts' the running statistics to the served images first: they leak into the model."""
    network.predict(images, train_flg=True)
    return network.predict(images, train_flg=False).argmax(axis=1)


def classify_scores(network, images):
    return network.predict(images, train_flg=False)


def classify_float_labels(network, images):
    return network.predict(images, train_flg=False).argmax(axis=1).astype(float)


CLASSIFY_MUTANTS = {
    "broken service unchanged": (classify_broken, "same label"),
    "train mode on copies": (classify_train_mode_on_copies, "same label"),
    "train mode, whole batch": (classify_train_mode_whole_batch, "changed the network's running statistics"),
    "running statistics adapted to the served images": (classify_warm_up_then_eval, "running statistics"),
    "scores instead of labels": (classify_scores, "one score per class"),
    "float labels": (classify_float_labels, "integer class labels"),
}


@pytest.mark.parametrize("name", CLASSIFY_MUTANTS)
def test_wrong_fix_fails_with_its_diagnosis(name):
    mutant, message = CLASSIFY_MUTANTS[name]
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_classify(mutant)


def test_train_mode_on_copies_of_the_whole_batch_is_caught_by_the_batch_dependence():
    def whole_batch_on_a_copy(network, images):
        return copy.deepcopy(network).predict(images, train_flg=True).argmax(axis=1)

    with pytest.raises(ExerciseFailure, match="depends on the batch"):
        checks.check_classify(whole_batch_on_a_copy)


def classify_eval_batch(network, images):
    return network.predict(images, train_flg=False).argmax(axis=1)


def classify_eval_one_at_a_time(network, images):
    return np.array([int(network.predict(image[None, :]).argmax()) for image in images], dtype=np.int64)


def classify_eval_mode_switch(network, images):
    """Sets every BN layer's mode by hand, the framework way (model.eval())."""
    scores = network.predict(images, train_flg=False)
    return np.argmax(scores, axis=1).astype(np.int32)


@pytest.mark.parametrize("implementation", [classify_eval_batch, classify_eval_one_at_a_time, classify_eval_mode_switch])
def test_correct_fix_passes(implementation, capsys):
    checks.check_classify(implementation)
    assert "bn-diagnose: passed" in capsys.readouterr().out


# --- ln-forward ---------------------------------------------------------------------------------------

def ln_keepdims(x, gamma, beta, eps):
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def ln_transposed(x, gamma, beta, eps):
    """BN's code on the transpose: per-sample statistics are per-column statistics of x.T."""
    xt = x.T
    x_hat = ((xt - xt.mean(axis=0)) / np.sqrt(xt.var(axis=0) + eps)).T
    return gamma * x_hat + beta


def ln_loop(x, gamma, beta, eps):
    out = np.empty_like(x)
    for i, row in enumerate(x):
        centered = row - row.sum() / row.size
        out[i] = gamma * centered / np.sqrt((centered ** 2).sum() / row.size + eps) + beta
    return out


def ln_mutant(**changes):
    def wrong(x, gamma, beta, eps):
        if changes.get("no_keepdims"):
            return gamma * (x - x.mean(axis=1)) / np.sqrt(x.var(axis=1) + eps) + beta
        if changes.get("no_affine"):
            return checks.reference_layer_norm(x, 1.0, 0.0, eps)
        return checks.reference_layer_norm(x, gamma, beta, eps, **changes)

    return wrong


LN_MUTANTS = {
    "batch statistics (axis=0)": (ln_mutant(axis=0), "that is Batch Normalization"),
    "unbiased variance": (ln_mutant(ddof=1), re.escape("1/(D−1)")),
    "eps outside the root": (ln_mutant(eps_inside=False), "outside the square root"),
    "statistics over the whole array": (ln_mutant(axis=None), "whole array"),
    "gamma and beta not applied": (ln_mutant(no_affine=True), "not applied"),
    "mean without keepdims": (ln_mutant(no_keepdims=True), "keepdims=True"),
}


@pytest.mark.parametrize("name", LN_MUTANTS)
def test_wrong_layer_norm_fails_with_its_diagnosis(name):
    mutant, message = LN_MUTANTS[name]
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_layer_norm_forward(mutant)


@pytest.mark.parametrize("implementation", [ln_keepdims, ln_transposed, ln_loop])
@pytest.mark.parametrize("seed", [0, 1])
def test_correct_layer_norm_passes(implementation, seed, capsys):
    checks.check_layer_norm_forward(implementation, seed=seed)
    assert "ln-forward: passed" in capsys.readouterr().out
