"""Checks for chapter 3 (Batch Normalization): the forward pass in train and eval mode with the
running statistics, the backward pass derived from the graph (gradient-checked), the questions on what
eval mode uses, the diagnosis and repair of a network served in training mode, and Layer Normalization.

Every BN check builds its own data with batches of N ≥ 6 samples: with a batch of one, BN's output is
exactly β whatever the input, so dx = 0 and *any* backward formula that returns zeros passes a
numerical gradient check (the backward check tries one sample only to say so when it applies). The
expected values come from the formulas below or from the numerical gradient of the check's own forward,
never from the student's object or from ``lib.layers``. Answer keys are salted digests.
"""

from __future__ import annotations

import copy
import functools
import warnings

import numpy as np

from lib.checks.core import ExerciseFailure, answer_digest, call_student, expect_array, expect_scalar, fail, passed
from lib.data import load_dataset
from lib.gradcheck import numerical_gradient
from lib.networks import MultiLayerNet
from lib.optimizers import SGD
from lib.training import train

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


# --- exercise bn-backward (derive it from the graph) --------------------------------------------------

def reference_forward(x, gamma, beta, eps):
    """The train-mode forward the backward is checked against: y = γ·(x − μ)/√(σ² + ε) + β."""
    mean = x.mean(axis=0)
    var = ((x - mean) ** 2).mean(axis=0)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def numerical_gradients(dout, x, gamma, beta, eps):
    """The centered numerical gradients of Σ dout·forward with respect to x, γ and β."""
    x, gamma, beta = x.copy(), gamma.copy(), beta.copy()

    def loss():
        return float(np.sum(reference_forward(x, gamma, beta, eps) * dout))

    return numerical_gradient(loss, x), numerical_gradient(loss, gamma), numerical_gradient(loss, beta)


# The numerical gradient (h = 1e-5, float64) errs by about 1e-9 on these batches; a wrong formula by 1e-3 or more.
GRADCHECK_RTOL, GRADCHECK_ATOL = 1e-5, 1e-7


def _backward_result(exercise, what, result, shape, d):
    if type(result) not in (tuple, list) or len(result) != 3:
        fail(exercise, f"{what}: expected a tuple (dx, dgamma, dbeta), got {type(result).__name__}"
                       + (f" of length {len(result)}" if type(result) in (tuple, list) else "") + ".")
    dx, dgamma, dbeta = result
    for name, got in (("dgamma", dgamma), ("dbeta", dbeta)):
        if type(got) is np.ndarray and got.shape == shape and shape != (d,):
            fail(exercise, f"{what}: {name} has shape {shape}, one value per sample; γ and β are shared by the whole "
                           f"batch, so {name} is the sum over the batch axis (axis=0), shape ({d},).")
    return dx, dgamma, dbeta


def _passes_on_one_sample(batchnorm_backward, rng, d, eps) -> bool:
    """Whether the student's dx agrees with the numerical gradient on a batch of one (where both are 0)."""
    x = rng.normal(0.0, 2.0, (1, d))
    gamma = rng.uniform(0.5, 2.0, d)
    dout = rng.normal(0.0, 1.0, (1, d))
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a formula that divides by N − 1 or by √σ² warns here; not our concern
            result = call_student("bn-backward", "batchnorm_backward on a batch of one", batchnorm_backward,
                                  dout, x, gamma, eps)
        if type(result) not in (tuple, list) or len(result) != 3:
            return False
        dx = result[0]
        return type(dx) is np.ndarray and dx.shape == x.shape and bool(
            np.allclose(dx, numerical_gradients(dout, x, gamma, np.zeros(d), eps)[0], rtol=GRADCHECK_RTOL,
                        atol=GRADCHECK_ATOL))
    except Exception:  # noqa: BLE001 — a crash on one sample only means the trap note does not apply
        return False


def check_batchnorm_backward(batchnorm_backward, *, seed: int = 0) -> None:
    """``batchnorm_backward(dout, x, gamma, eps) -> (dx, dgamma, dbeta)`` for the train-mode forward,
    gradient-checked against the numerical gradient of the check's own forward on batches of 6 and 10
    (never on one sample, where every dx is 0). When the answer matches a known mistake the message names
    it; when it would have passed on a batch of one, the message says so."""
    exercise = "bn-backward"
    rng = np.random.default_rng([seed, 3])
    passes_on_one = _passes_on_one_sample(batchnorm_backward, np.random.default_rng([seed, 4]), 4, 1e-2)
    for n, d, eps in ((6, 4, 1e-2), (10, 3, 1e-5)):
        x = rng.normal(rng.normal(0.0, 2.0, d), rng.uniform(0.5, 1.5, d), (n, d))
        gamma = rng.uniform(0.5, 2.0, d)
        beta = rng.normal(0.0, 1.0, d)
        dout = rng.normal(0.0, 1.0, (n, d))
        what = f"batchnorm_backward(dout, x, gamma, eps={eps:g}) on a batch of {n}"
        result = call_student(exercise, what, batchnorm_backward, dout, x, gamma, eps)
        dx, dgamma, dbeta = _backward_result(exercise, what, result, dout.shape, d)
        num_dx, num_dgamma, num_dbeta = numerical_gradients(dout, x, gamma, beta, eps)
        ref_dx, ref_dgamma, ref_dbeta = reference_backward(dout, x, gamma, eps)
        tolerance = {"rtol": GRADCHECK_RTOL, "atol": GRADCHECK_ATOL}
        expect_array(exercise, f"{what}: dbeta (gradient check)", dbeta, num_dbeta, **tolerance, likely_bugs={
            "dγ and dβ are swapped: dβ = Σ dout, dγ = Σ dout·x̂.": ref_dgamma,
            "dβ is the mean over the batch; it is the sum (each sample contributes to β).": ref_dbeta / n,
        })
        expect_array(exercise, f"{what}: dgamma (gradient check)", dgamma, num_dgamma, **tolerance, likely_bugs={
            "dγ and dβ are swapped: dβ = Σ dout, dγ = Σ dout·x̂.": ref_dbeta,
            "dγ is the mean over the batch; it is the sum.": ref_dgamma / n,
            "dγ uses x instead of the normalized x̂.": (dout * x).sum(axis=0),
            "x̂ was computed with the 1/(N−1) variance; BN's forward uses the biased 1/N batch variance.":
                reference_backward(dout, x, gamma, eps, ddof=1)[1],
            "x̂ was computed with ε outside the square root: s = √(σ² + ε).":
                reference_backward(dout, x, gamma, eps, eps_inside=False)[1],
        })
        bugs = {
            "μ and σ² were treated as constants (dx = dout·γ/s): they depend on every sample of the batch, so "
            "dx needs the paths through the mean and through the variance.":
                reference_backward(dout, x, gamma, eps, mean_path=False, var_path=False)[0],
            "the path through the variance is missing: σ² depends on every x_i, so x_i also reaches the output "
            "through σ² (and s).": reference_backward(dout, x, gamma, eps, var_path=False)[0],
            "the path through the mean is missing: μ depends on every x_i (and dx must sum to zero over the batch).":
                reference_backward(dout, x, gamma, eps, mean_path=False)[0],
            "the variance uses 1/(N−1); BN's forward uses the biased 1/N batch variance.":
                reference_backward(dout, x, gamma, eps, ddof=1)[0],
            "ε is outside the square root: s = √(σ² + ε).":
                reference_backward(dout, x, gamma, eps, eps_inside=False)[0],
            "γ is missing from dx: the gradient reaching x̂ is dout·γ.":
                reference_backward(dout, x, np.ones_like(gamma), eps)[0],
            "the sign of dx is flipped.": -ref_dx,
        }
        try:
            expect_array(exercise, f"{what}: dx (gradient check)", dx, num_dx, **tolerance, likely_bugs=bugs)
        except ExerciseFailure as failure:
            hint = ""
            if "Likely bug" not in str(failure) and type(dx) is np.ndarray and dx.shape == ref_dx.shape:
                column_sums = np.abs(dx.sum(axis=0)).max()
                if column_sums > 1e-6:
                    hint = (" Your dx does not sum to zero over the batch; shifting every sample by the same amount "
                            "leaves BN's output unchanged, so it must.")
            trap = (" On a batch of one your dx agreed with the numerical gradient, because there BN's output is "
                    "exactly β and every gradient through x is 0: a check on one sample would have passed this "
                    "backward (the batch-of-one trap)." if passes_on_one else f" {BATCH_OF_ONE_NOTE}")
            raise ExerciseFailure(f"{failure}{hint}{trap}") from None
    passed(exercise, "dx, dγ, dβ agree with the numerical gradient on batches of 6 and 10")


# --- exercise bn-eval-question -----------------------------------------------------------------------

# Answer keys as salted digests (lib.checks.core.answer_digest), never as plain letters.
EVAL_STATISTICS_KEY = "bc936b2f944601eda0bca2390306583e1c19744d00849ea4a967435f77930bad"
BATCH_OF_ONE_KEY = "bb332ff60056d50d9084599ffa02b1d0c6adc5e0084d2f1919e5c7793e19b658"
EVAL_STATISTICS_FEEDBACK = {
    "a": "the current test batch's statistics would make a prediction depend on which other samples share its "
         "batch, and a batch of one would come out as exactly β.",
    "b": "the running statistics are fixed once training ends, so each sample is normalized the same way "
         "whatever its batch-mates.",
    "c": "mean 0 and variance 1 would skip normalization; the layer's inputs are not standardized by themselves.",
    "d": "the whole test set's statistics are not available when one sample arrives, and using them leaks test "
         "data into the model.",
}
BATCH_OF_ONE_FEEDBACK = {
    "a": "train mode subtracts the batch mean; with one sample the mean is that sample.",
    "b": "that is eval mode; train mode uses the batch's own statistics.",
    "c": "x − μ is 0 for the only sample, so x̂ = 0 and γ·x̂ + β = β.",
    "d": "the variance is 0 but ε keeps the division finite: x̂ = 0/√ε = 0.",
}


def _choice(exercise, what, answer, valid):
    if type(answer) is not str:
        fail(exercise, f"{what}: answer with one letter as a string, e.g. \"a\"; got {type(answer).__name__}.")
    letter = answer.strip().strip("()").strip().lower()
    if letter not in valid:
        fail(exercise, f"{what}: answer with one of {', '.join(repr(v) for v in valid)}; got {answer!r}.")
    return letter


def check_eval_questions(eval_statistics, batch_of_one_output, running_mean_for_eval) -> None:
    """Three answers: which statistics eval mode uses (letter), what train mode outputs for a batch of
    one (letter), and the running mean after three batches (number)."""
    exercise = "bn-eval-question"
    letter = _choice(exercise, "EVAL_STATISTICS", eval_statistics, "abcd")
    if answer_digest(exercise, letter) != EVAL_STATISTICS_KEY:
        fail(exercise, f"EVAL_STATISTICS = {letter!r} is not it: {EVAL_STATISTICS_FEEDBACK[letter]}")
    letter = _choice(exercise, "BATCH_OF_ONE_OUTPUT", batch_of_one_output, "abcd")
    if answer_digest(exercise, letter) != BATCH_OF_ONE_KEY:
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


# --- exercise bn-diagnose: a network served in training mode -----------------------------------------

DIAGNOSIS_KEY = "5115a5adfb4ef7b14cd43b1252156a013bcaa03754ea901e113c06cdc72f05cc"
DIAGNOSIS_FEEDBACK = {
    "a": "a too-large learning rate shows in training: a loss that blows up or accuracy that collapses. Here the "
         "training curves rise and eval-mode test accuracy is high; only the service is broken.",
    "b": "with BN the network trains whatever the initial scale, and the training curves show it learned; a "
         "vanished signal would keep training accuracy at chance too.",
    "c": "each BN layer normalizes the single image by its own mean, so x − μ = 0, the layer outputs β, and every "
         "image gets the same label; every call also overwrites the running statistics.",
    "d": "overfitting lowers test accuracy below training accuracy but keeps it far above chance, and it would "
         "not give every image the same label.",
    "e": "the service scales the pixels exactly as training did; a preprocessing mismatch would also not give "
         "every image one and the same label.",
}


def broken_service(network, images):
    """The service as deployed (the exercise's black box): it labels the images one at a time, as they arrive."""
    labels = []
    for image in images:
        scores = network.predict(image[None, :], train_flg=True)
        labels.append(int(scores.argmax()))
    return np.array(labels)


def check_diagnosis(cause) -> None:
    """The cause of the broken service, as one letter."""
    exercise = "bn-diagnose"
    letter = _choice(exercise, "CAUSE", cause, "abcde")
    if answer_digest(exercise, letter) != DIAGNOSIS_KEY:
        fail(exercise, f"CAUSE = {letter!r} does not explain the statistics: {DIAGNOSIS_FEEDBACK[letter]}")
    passed(exercise, "the cause named")


@functools.lru_cache(maxsize=1)
def _served_network():
    """A BN network trained normally on digits (the check's own), and held-out images with labels."""
    (x_train, t_train), (x_test, t_test) = load_dataset("digits", seed=11)
    network = MultiLayerNet(x_train.shape[1], [40, 40], 10, normalization="batch", seed=12)
    train(network, SGD(lr=0.1), ((x_train[:500], t_train[:500]), (x_test, t_test)), epochs=5, batch_size=50,
          seed=13, eval_size=50)
    return network, x_test[:200], t_test[:200]


def served_network():
    """A fresh copy of the check's trained network and its images, for one call of student code."""
    network, x, t = _served_network()
    return copy.deepcopy(network), x.copy(), t.copy()


def _labels(exercise, what, classify, network, images):
    # The network is handed over as is (not deep-copied), so the check can see what serving did to it.
    labels = call_student(exercise, what, lambda: classify(network, images))
    if type(labels) is not np.ndarray:
        fail(exercise, f"{what}: expected a numpy array of labels, got {type(labels).__name__}.")
    if labels.shape == (len(images), 10):
        fail(exercise, f"{what}: got an array of shape {labels.shape}, one score per class; return the labels "
                       "(the index of the largest score of each image, scores.argmax(axis=1)).")
    if labels.shape != (len(images),):
        fail(exercise, f"{what}: expected one label per image, shape ({len(images)},), got shape {labels.shape}.")
    if labels.dtype.kind not in "iu":
        fail(exercise, f"{what}: expected integer class labels, got dtype {labels.dtype}.")
    return labels


def check_classify(classify) -> None:
    """``classify(network, images) -> labels``: the check serves its own trained BN network on its own
    images: all at once, one image alone, and a batch of only one class. Labels must match what the
    network predicts in eval mode, and the running statistics must be left untouched."""
    exercise = "bn-diagnose"
    network, x, t = served_network()
    reference = network.predict(x, train_flg=False).argmax(axis=1)
    before = [(layer.running_mean.copy(), layer.running_var.copy()) for layer in network.batchnorm_layers]
    what = f"classify(network, images) on {len(x)} test images"
    labels = _labels(exercise, what, classify, network, x)
    changed = any(not (np.array_equal(layer.running_mean, mean) and np.array_equal(layer.running_var, var))
                  for layer, (mean, var) in zip(network.batchnorm_layers, before))
    if len(np.unique(labels)) == 1:
        fail(exercise, f"{what}: every image got the same label, as in the broken service. Each BN layer still "
                       "normalizes with the statistics of the batch it is given (training mode)"
                       + (", and serving also changed the running statistics." if changed else "."))
    if changed:
        fail(exercise, f"{what}: serving changed the network's running statistics. A forward pass in training "
                       "mode updates them with the served images; a deployed network must only read them "
                       "(train_flg=False).")
    alone = _labels(exercise, "classify(network, images) on a single image", classify, served_network()[0], x[:1])
    threes = t == 3
    skewed = _labels(exercise, "classify(network, images) on a batch of only 3s", classify, served_network()[0],
                     x[threes])
    if alone[0] != labels[0] or np.mean(skewed == labels[threes]) < 0.98:
        fail(exercise, "classify(network, images): an image's label depends on which other images share the call "
                       "(alone, among only 3s, or in the mixed batch), so the prediction depends on the batch: BN "
                       "still normalizes with the batch's own statistics (training mode).")
    agreement = float(np.mean(labels == reference))
    if agreement < 0.98:
        fail(exercise, f"{what}: your labels agree with the network's eval-mode predictions on only "
                       f"{agreement:.0%} of the images. Serve with the running statistics: "
                       "network.predict(images, train_flg=False).")
    passed(exercise, "the service's labels match eval mode (so its accuracy is back) for a full batch, a single "
                     "image and a batch of only 3s, and the running statistics stay untouched")


# --- exercise ln-forward -----------------------------------------------------------------------------

def reference_layer_norm(x, gamma, beta, eps, *, axis=1, ddof=0, eps_inside=True):
    """y = γ·(x − μ_i)/√(σ_i² + ε) + β with per-sample statistics; the switches reproduce common mistakes."""
    if axis is None:
        mean, var = x.mean(), x.var(ddof=ddof)
    else:
        mean, var = x.mean(axis=axis, keepdims=True), x.var(axis=axis, ddof=ddof, keepdims=True)
    std = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
    return gamma * (x - mean) / std + beta


def check_layer_norm_forward(layer_norm_forward, *, seed: int = 0) -> None:
    """``layer_norm_forward(x, gamma, beta, eps) -> y`` on batches of 5 and of 1 (LN does not need a batch)."""
    exercise = "ln-forward"
    rng = np.random.default_rng([seed, 5])
    for n, d, eps in ((5, 7, 1e-2), (1, 6, 1e-2), (4, 9, 1e-5)):
        x = rng.normal(rng.normal(0.0, 2.0, (n, 1)), rng.uniform(0.5, 2.0, (n, 1)), (n, d))
        gamma = rng.uniform(0.5, 2.0, d)
        beta = rng.normal(0.0, 1.0, d)
        what = f"layer_norm_forward(x, gamma, beta, eps={eps:g}) on a batch of {n} samples of {d} features"
        try:
            y = call_student(exercise, what, layer_norm_forward, x, gamma, beta, eps)
        except ExerciseFailure as failure:
            hint = (" The per-sample mean has shape (N,); keep it as a column, x.mean(axis=1, keepdims=True), so "
                    "that it broadcasts against x of shape (N, D)." if "broadcast" in str(failure) else "")
            raise ExerciseFailure(f"{failure}{hint}") from None
        expect_array(exercise, what, y, reference_layer_norm(x, gamma, beta, eps), likely_bugs={
            "the statistics were taken over the batch (axis=0): that is Batch Normalization. Layer Normalization "
            "takes each sample's mean and variance over its own features (axis=1).":
                reference_layer_norm(x, gamma, beta, eps, axis=0),
            "the variance uses 1/(D−1) (ddof=1); LN divides by the number of features D.":
                reference_layer_norm(x, gamma, beta, eps, ddof=1),
            "ε is outside the square root: use √(σ² + ε).": reference_layer_norm(x, gamma, beta, eps, eps_inside=False),
            "the mean and variance were taken over the whole array; each sample needs its own (axis=1).":
                reference_layer_norm(x, gamma, beta, eps, axis=None),
            "γ and β were not applied: return γ·x̂ + β.": reference_layer_norm(x, 1.0, 0.0, eps),
        })
    passed(exercise, "batches of 5, 1 and 4 samples, eps 1e-2 and 1e-5")
