"""Checks for chapter 3 (Batch Normalization): the forward pass in train and eval mode with the
running statistics, the backward pass, and the questions on what eval mode uses.

Every check builds its own data with batches of N ≥ 4 samples: with a batch of one, BN's output is
exactly β whatever the input, so dx = 0 and *any* backward formula that returns zeros passes a
numerical gradient check. The expected values come from the formulas below, written out here, never
from the student's object or from ``lib.layers``.
"""

from __future__ import annotations

import numpy as np

from lib.checks.core import ExerciseFailure, call_student, expect_array, expect_scalar, fail, passed

BATCH_OF_ONE_NOTE = ("(With a batch of one, BN's train-mode output is exactly β and dx is 0, so a check on a "
                     "single sample passes for almost any formula; this check uses batches of 6–10.)")


# --- reference formulas (with switches that reproduce the classic mistakes) -------------------------

def _statistics(x, *, ddof=0):
    """Per-feature batch mean and variance; ``ddof=1`` is the unbiased 1/(N−1) variance."""
    return x.mean(axis=0), x.var(axis=0, ddof=ddof)


def _normalize(x, mean, var, gamma, beta, eps, *, eps_inside=True):
    std = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
    return gamma * (x - mean) / std + beta


def reference_backward(dout, x, gamma, eps, *, ddof=0, eps_inside=True, mean_path=True, var_path=True):
    """dx, dγ, dβ of y = γ·(x − μ)/σ + β with batch statistics, through the computational graph.

    The switches give what a common mistake computes: ``ddof=1`` (unbiased variance), ``eps_inside=False``
    (σ = √var + ε), ``mean_path``/``var_path`` False (treating μ or var as constants)."""
    n = x.shape[0]
    mean = x.mean(axis=0)
    centered = x - mean
    var = (centered ** 2).sum(axis=0) / (n - ddof)
    root = np.sqrt(var + eps) if eps_inside else np.sqrt(var)
    std = root if eps_inside else root + eps
    x_hat = centered / std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dcentered = dx_hat / std
    if var_path:
        dstd = -(dx_hat * centered).sum(axis=0) / std ** 2
        dvar = dstd * 0.5 / root
        dcentered = dcentered + 2.0 * centered * dvar / (n - ddof)
    dx = dcentered - dcentered.mean(axis=0) if mean_path else dcentered
    return dx, dgamma, dbeta


# --- exercise bn-forward -----------------------------------------------------------------------------

def check_batchnorm_forward(BatchNorm, *, seed: int = 0) -> None:
    """``BatchNorm(gamma, beta, momentum, eps)`` with ``forward(x, train_flg)`` and attributes
    ``running_mean``/``running_var``: three train-mode batches (outputs and running statistics after each),
    then two eval-mode batches (outputs; running statistics must not move)."""
    exercise = "bn-forward"
    rng = np.random.default_rng(seed)
    n, d = 8, 5
    momentum, eps = 0.8, 1e-2  # not the defaults: a swapped momentum or a misplaced ε shows up
    gamma = rng.uniform(0.5, 2.0, d)
    beta = rng.normal(0.0, 1.0, d)
    layer = call_student(exercise, "BatchNorm(gamma, beta, momentum=0.8, eps=1e-2)", BatchNorm,
                         gamma, beta, momentum=momentum, eps=eps)
    running_mean = rng.normal(0.0, 1.0, d)
    running_var = rng.uniform(0.5, 2.0, d)
    layer.running_mean, layer.running_var = running_mean.copy(), running_var.copy()

    for step in range(1, 4):
        # Batches with their own offset and spread, so batch and running statistics differ clearly.
        x = rng.normal(rng.normal(0.0, 3.0, d), rng.uniform(0.3, 0.8, d), (n, d))
        what = f"train-mode batch {step}: forward(x, train_flg=True)"
        out = call_student(exercise, what, layer.forward, x, train_flg=True)
        mean, var = _statistics(x)
        expect_array(exercise, what, out, _normalize(x, mean, var, gamma, beta, eps), likely_bugs={
            "the variance uses 1/(N−1) (np.var(..., ddof=1) or pandas' default); BN normalizes with the biased "
            "1/N batch variance.": _normalize(x, mean, x.var(axis=0, ddof=1), gamma, beta, eps),
            "ε is outside the square root: use (x − μ) / sqrt(var + ε).":
                _normalize(x, mean, var, gamma, beta, eps, eps_inside=False),
            "train mode normalized with the running statistics; it must use this batch's mean and variance.":
                _normalize(x, running_mean, running_var, gamma, beta, eps),
            "train mode normalized with the just-updated running statistics; it must use this batch's mean and "
            "variance.": _normalize(x, momentum * running_mean + (1 - momentum) * mean,
                                    momentum * running_var + (1 - momentum) * var, gamma, beta, eps),
            "the statistics were taken along axis=1 (per sample); BN averages over the batch, axis=0.":
                _normalize(x, x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True), gamma, beta, eps),
            "γ and β were not applied: return γ·x̂ + β.": _normalize(x, mean, var, 1.0, 0.0, eps),
        })
        expected_mean = momentum * running_mean + (1 - momentum) * mean
        expected_var = momentum * running_var + (1 - momentum) * var
        _expect_running(exercise, f"running_mean after train-mode batch {step}", layer.running_mean,
                        expected_mean, running_mean, mean, momentum, "mean")
        _expect_running(exercise, f"running_var after train-mode batch {step}", layer.running_var,
                        expected_var, running_var, var, momentum, "var",
                        unbiased=momentum * running_var + (1 - momentum) * x.var(axis=0, ddof=1))
        running_mean, running_var = expected_mean, expected_var

    for step in range(1, 3):
        x = rng.normal(rng.normal(0.0, 3.0, d), rng.uniform(0.3, 0.8, d), (n, d))
        what = f"eval-mode batch {step}: forward(x, train_flg=False)"
        out = call_student(exercise, what, layer.forward, x, train_flg=False)
        mean, var = _statistics(x)
        expect_array(exercise, what, out, _normalize(x, running_mean, running_var, gamma, beta, eps), likely_bugs={
            "eval mode normalized with this batch's own statistics; it must use running_mean and running_var "
            "(a test batch of one would otherwise come out as exactly β).": _normalize(x, mean, var, gamma, beta, eps),
            "eval mode first updated the running statistics with the test batch, then used them; eval mode "
            "must only read them.": _normalize(x, momentum * running_mean + (1 - momentum) * mean,
                                               momentum * running_var + (1 - momentum) * var, gamma, beta, eps),
            "ε is outside the square root: use (x − running_mean) / sqrt(running_var + ε).":
                _normalize(x, running_mean, running_var, gamma, beta, eps, eps_inside=False),
        })
        for name, value, before in (("running_mean", layer.running_mean, running_mean),
                                    ("running_var", layer.running_var, running_var)):
            if not np.allclose(np.asarray(value, dtype=float), before, rtol=1e-6, atol=1e-9):
                fail(exercise, f"{name} changed during eval-mode batch {step}: eval mode must only read the running "
                               "statistics; updating them with test data leaks the test set into the model.")
    passed(exercise, f"train mode (3 batches, momentum={momentum}, eps={eps}) and eval mode (2 batches)")


def _expect_running(exercise, what, got, expected, old, batch, momentum, kind, *, unbiased=None):
    likely_bugs = {
        f"the momentum convention is swapped: here running = momentum·running + (1 − momentum)·batch with "
        f"momentum={momentum}; PyTorch's momentum={1 - momentum:g} weights the new batch instead — same update, "
        "opposite naming.": (1 - momentum) * old + momentum * batch,
        f"running_{kind} was not updated in train mode.": old,
        f"running_{kind} was replaced by the batch {kind} instead of averaged into it.": batch,
    }
    if unbiased is not None:
        likely_bugs["running_var stores the unbiased 1/(N−1) variance (PyTorch does this); this course's layer "
                    "keeps the biased 1/N variance it normalized with."] = unbiased
    expect_array(exercise, what, got, expected, likely_bugs=likely_bugs)


# --- exercise bn-backward ----------------------------------------------------------------------------

def check_batchnorm_backward(batchnorm_backward, *, seed: int = 0) -> None:
    """``batchnorm_backward(dout, x, gamma, eps) -> (dx, dgamma, dbeta)`` for the train-mode forward
    y = γ·(x − μ)/√(var + ε) + β with batch statistics; compared with the formula on two batches."""
    exercise = "bn-backward"
    rng = np.random.default_rng(seed)
    for n, d, eps in ((6, 4, 1e-2), (10, 3, 1e-5)):
        x = rng.normal(rng.normal(0.0, 2.0, d), rng.uniform(0.2, 1.0, d), (n, d))
        gamma = rng.uniform(0.5, 2.0, d)
        dout = rng.normal(0.0, 1.0, (n, d))
        what = f"batchnorm_backward(dout, x, gamma, eps={eps:g}) on a batch of {n}"
        result = call_student(exercise, what, batchnorm_backward, dout, x, gamma, eps)
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            fail(exercise, f"{what}: expected a tuple (dx, dgamma, dbeta), got {type(result).__name__}"
                           + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + ".")
        dx, dgamma, dbeta = result
        ref_dx, ref_dgamma, ref_dbeta = reference_backward(dout, x, gamma, eps)
        for name, got, expected in (("dgamma", dgamma, ref_dgamma), ("dbeta", dbeta, ref_dbeta)):
            if np.shape(got) == dout.shape:
                fail(exercise, f"{what}: {name} has shape {dout.shape}, one value per sample; γ and β are shared by "
                               f"the whole batch, so {name} is the sum over the batch axis (axis=0), shape ({d},).")
        expect_array(exercise, f"{what}: dbeta", dbeta, ref_dbeta, likely_bugs={
            "dγ and dβ are swapped: dβ = Σ dout, dγ = Σ dout·x̂.": ref_dgamma,
            "dβ is the mean over the batch; it is the sum (each sample contributes to β).": ref_dbeta / n,
        })
        expect_array(exercise, f"{what}: dgamma", dgamma, ref_dgamma, likely_bugs={
            "dγ and dβ are swapped: dβ = Σ dout, dγ = Σ dout·x̂.": ref_dbeta,
            "dγ is the mean over the batch; it is the sum.": ref_dgamma / n,
            "dγ uses x instead of the normalized x̂: dγ = Σ dout·x̂.": (dout * x).sum(axis=0),
            "x̂ was computed with the 1/(N−1) variance; BN's forward uses the biased 1/N batch variance.":
                reference_backward(dout, x, gamma, eps, ddof=1)[1],
            "x̂ was computed with ε outside the square root: σ = sqrt(var + ε).":
                reference_backward(dout, x, gamma, eps, eps_inside=False)[1],
        })
        bugs = {
            "μ and σ were treated as constants (dx = dout·γ/σ): they depend on every sample of the batch, so "
            "dx needs the paths through the mean and the variance.":
                reference_backward(dout, x, gamma, eps, mean_path=False, var_path=False)[0],
            "the path through the variance is missing (the term with Σ dout·x̂).":
                reference_backward(dout, x, gamma, eps, var_path=False)[0],
            "the path through the mean is missing: dx must sum to zero over the batch.":
                reference_backward(dout, x, gamma, eps, mean_path=False)[0],
            "the variance uses 1/(N−1); BN's forward uses the biased 1/N batch variance.":
                reference_backward(dout, x, gamma, eps, ddof=1)[0],
            "ε is outside the square root: σ = sqrt(var + ε).":
                reference_backward(dout, x, gamma, eps, eps_inside=False)[0],
            "γ is missing from dx: dx̂ = dout·γ.": reference_backward(dout, x, np.ones_like(gamma), eps)[0],
        }
        try:
            expect_array(exercise, f"{what}: dx", dx, ref_dx, likely_bugs=bugs)
        except ExerciseFailure as failure:
            hint = ""
            if "Likely bug" not in str(failure) and np.shape(dx) == ref_dx.shape:
                column_sums = np.abs(np.asarray(dx, dtype=float).sum(axis=0)).max()
                if column_sums > 1e-6:
                    hint = (f" Your dx does not sum to zero over the batch (largest column sum {column_sums:.3g}); "
                            "shifting every sample by the same amount leaves BN's output unchanged, so it must.")
            raise ExerciseFailure(f"{failure}{hint} {BATCH_OF_ONE_NOTE}") from None
    passed(exercise, "dx, dγ, dβ on batches of 6 and 10, eps 1e-2 and 1e-5")


# --- exercise bn-eval-question -----------------------------------------------------------------------

EVAL_STATISTICS_FEEDBACK = {
    "a": "the current test batch's statistics would make a prediction depend on which other samples share its "
         "batch, and a batch of one would come out as exactly β.",
    "c": "mean 0 and variance 1 would skip normalization; the layer's inputs are not standardized by themselves.",
    "d": "the whole test set's statistics are not available when one sample arrives, and using them leaks test "
         "data into the model.",
}
BATCH_OF_ONE_FEEDBACK = {
    "a": "train mode subtracts the batch mean; with one sample the mean is that sample.",
    "b": "that is eval mode; train mode uses the batch's own statistics.",
    "d": "the variance is 0 but ε keeps the division finite: x̂ = 0/√ε = 0.",
}


def _choice(exercise, what, answer, valid):
    if not isinstance(answer, str):
        fail(exercise, f"{what}: answer with one letter as a string, e.g. \"a\"; got {answer!r}.")
    letter = answer.strip().strip("()").strip().lower()
    if letter not in valid:
        fail(exercise, f"{what}: answer with one of {', '.join(repr(v) for v in valid)}; got {answer!r}.")
    return letter


def check_eval_questions(eval_statistics, batch_of_one_output, running_mean_for_eval) -> None:
    """Three answers: which statistics eval mode uses (letter), what train mode outputs for a batch of
    one (letter), and the running mean after three batches (number)."""
    exercise = "bn-eval-question"
    letter = _choice(exercise, "EVAL_STATISTICS", eval_statistics, "abcd")
    if letter != "b":
        fail(exercise, f"EVAL_STATISTICS = {letter!r} is not it: {EVAL_STATISTICS_FEEDBACK[letter]}")
    letter = _choice(exercise, "BATCH_OF_ONE_OUTPUT", batch_of_one_output, "abcd")
    if letter != "c":
        fail(exercise, f"BATCH_OF_ONE_OUTPUT = {letter!r} is not it: {BATCH_OF_ONE_FEEDBACK[letter]}")
    means, momentum, expected = (2.0, 4.0, 6.0), 0.9, 0.0
    for mean in means:
        expected = momentum * expected + (1 - momentum) * mean
    swapped = 0.0
    for mean in means:
        swapped = (1 - momentum) * swapped + momentum * mean
    expect_scalar(exercise, "RUNNING_MEAN_FOR_EVAL", running_mean_for_eval, expected, rtol=1e-3, likely_bugs={
        "that is the plain average of the batch means; the running mean is an exponential average that starts "
        "at 0 and keeps 90% of its old value each step.": sum(means) / len(means),
        "that is the last batch's mean; the running mean only moves 10% of the way each step.": means[-1],
        "the momentum weights are swapped (0.1·running + 0.9·batch is PyTorch's momentum=0.9, not ours).": swapped,
        "that is one step from 0 with the last batch only; apply the update once per batch, in order.":
            (1 - momentum) * means[-1],
    })
    passed(exercise, "eval mode uses the running statistics; a batch of one gives exactly β in train mode")
