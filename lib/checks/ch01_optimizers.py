"""Checks for chapter 1's exercises (optimizers, a learning-rate schedule, the quadratic lab).

Each optimizer check drives the student's class for several steps with non-default hyperparameters,
two parameters of the same shape (so a state shared between keys shows), a learning rate changed
halfway (schedules set ``optimizer.lr``), then a float32 pair of different shapes. Expected values come
from the formulas written out below, never from the student's object. When an answer matches what a
known mistake produces — simulated here from the same inputs — the message names that mistake.

Adam accepts two forms: the paper's (ε added to √v̂) and the reordering used by Saito's book and
TensorFlow (lr_t = η√(1−β₂ᵗ)/(1−β₁ᵗ), ε added to √v), which equals the paper's form with ε replaced by
ε/√(1−β₂ᵗ). The check uses a large ε so that ε inside the square root is caught, and therefore tests
the two accepted forms separately instead of widening a tolerance.
"""

from __future__ import annotations

import math

import numpy as np

from lib.checks.core import (SCALAR_TYPES, ExerciseFailure, answer_digest, call_student, expect_array, expect_scalar,
                             fail, passed)

__all__ = [
    "check_sgd", "check_momentum", "check_nesterov", "check_adagrad", "check_rmsprop", "check_adam",
    "check_adam_trains", "check_cosine_decay", "check_quadratic_lab", "QUADRATIC_LAB_EIGENVALUES",
    "BROKEN_RUN_LR", "DIAGNOSIS_OPTIONS", "check_diagnosis", "check_fixed_run", "SPARSE_ETA", "check_sparse_rates",
]

REBOUND = ("params[{key!r}] is a new array after update(): it was rebound (`params[key] = ...`), not updated "
           "in place (`params[key] -= ...`). The network's layers hold the original arrays and would not see "
           "the change.")

# ------------------------------------------------------------------------------ reference rules
# Each rule simulates ``steps`` updates on copies of ``params`` and returns the parameters after every
# step. ``bug`` selects a deliberate mistake, so the check can recognise it in a student's answer.


def _shared_or_per_key(bug):
    """State store: one dict per key, or a single slot every key writes to ('shared_state')."""
    return (lambda key: "shared") if bug == "shared_state" else (lambda key: key)


def _simulate(step_fn, params, grads, lrs, bug=None):
    params = {key: value.astype(np.float64) for key, value in params.items()}
    state: dict = {}
    slot = _shared_or_per_key(bug)
    history = []
    with np.errstate(all="ignore"):
        for step, (grad, lr) in enumerate(zip(grads, lrs), start=1):
            context = {"calls": step}  # update() calls so far, this one included
            for index, key in enumerate(params):
                context["key_index"] = index
                params[key] = step_fn(params[key], grad[key].astype(np.float64), lr,
                                      state.setdefault(slot(key), {}), context)
            history.append({key: value.copy() for key, value in params.items()})
    return history


def _zeros(store, name, like):
    if name not in store or store[name].shape != like.shape:
        store[name] = np.zeros_like(like)
    return store[name]


def _sgd_rule(hp, bug=None):
    def step(w, g, lr, store, context):
        lr = {"no_lr": 1.0}.get(bug, lr)
        return w + lr * g if bug == "sign" else w - lr * g
    return step


def _momentum_rule(hp, bug=None):
    mu = hp["momentum"]

    def step(w, g, lr, store, context):
        v = _zeros(store, "v", w)
        if bug == "no_state":
            v = np.zeros_like(w)
        if bug == "ema":
            store["v"] = mu * v + (1 - mu) * g
            return w - lr * store["v"]
        if bug == "old_velocity":
            new_w = w + v
            store["v"] = mu * v - lr * g
            return new_w
        store["v"] = mu * v + lr * g if bug == "sign" else mu * v - lr * g
        return w + store["v"]
    return step


def _nesterov_rule(hp, bug=None):
    mu = hp["momentum"]

    def step(w, g, lr, store, context):
        b = _zeros(store, "b", w)  # PyTorch's buffer: b ← μb + g, W ← W − η(g + μb)
        if bug in ("book", "cs231n"):  # both keep a velocity v ← μv − ηg instead of the buffer
            v = _zeros(store, "v", w)
            store["v"] = v_new = mu * v - lr * g
            if bug == "book":  # Saito's code: W + μ²·v_new − (1+μ)ηg
                return w + mu * mu * v_new - (1 + mu) * lr * g
            return w - mu * v + (1 + mu) * v_new  # CS231n: accepted, equal to PyTorch's at constant η
        if bug == "plain_momentum":
            store["b"] = mu * b + g
            return w - lr * store["b"]
        if bug == "no_state":
            b = np.zeros_like(w)
        store["b"] = mu * b + g
        delta = lr * (g + mu * store["b"])
        return w + delta if bug == "sign" else w - delta
    return step


def _scaled_step(w, g, lr, h, eps, bug):
    """AdaGrad's and RMSprop's shared last line, W − η∇L/(√h + ε), and its ε, root and sign mistakes."""
    denominator = {"eps_inside": np.sqrt(h + eps), "no_sqrt": h + eps}.get(bug, np.sqrt(h) + eps)
    return w + lr * g / denominator if bug == "sign" else w - lr * g / denominator


def _adagrad_rule(hp, bug=None):
    eps = hp["eps"]

    def step(w, g, lr, store, context):
        h = _zeros(store, "h", w)
        if bug == "late_accumulate":
            new_w = _scaled_step(w, g, lr, h, eps, None)  # with the old h
            store["h"] = h + g * g
            return new_w
        store["h"] = g * g if bug == "no_accumulate" else h + g * g
        return _scaled_step(w, g, lr, store["h"], eps, bug)
    return step


def _rmsprop_rule(hp, bug=None):
    rho, eps = hp["decay_rate"], hp["eps"]

    def step(w, g, lr, store, context):
        h = _zeros(store, "h", w)
        if bug == "swapped_decay":
            store["h"] = (1 - rho) * h + rho * g * g
        elif bug == "missing_one_minus":
            store["h"] = rho * h + g * g
        elif bug == "accumulate":
            store["h"] = h + (1 - rho) * g * g
        else:
            store["h"] = rho * h + (1 - rho) * g * g
        return _scaled_step(w, g, lr, store["h"], eps, bug)
    return step


def _adam_rule(hp, bug=None):
    beta1, beta2, eps = hp["beta1"], hp["beta2"], hp["eps"]
    if bug == "swapped_betas":
        beta1, beta2 = beta2, beta1

    def step(w, g, lr, store, context):
        m, v = _zeros(store, "m", w), _zeros(store, "v", w)
        if bug == "t_per_key":  # one counter incremented inside the loop over keys
            t = (context["calls"] - 1) * context["n_keys"] + context["key_index"] + 1
        elif bug == "t_after_use":
            t = context["calls"] - 1
        else:
            t = context["calls"]
        store["m"] = m = beta1 * m + (1 - beta1) * g
        store["v"] = v = beta2 * v + (1 - beta2) * (g if bug == "v_of_g" else g * g)
        m_hat = m if bug in ("no_correction", "only_v_corrected") else m / (1 - beta1**t)
        v_hat = v if bug in ("no_correction", "only_m_corrected") else v / (1 - beta2**t)
        if bug == "lr_t":  # the book's form: accepted
            lr_t = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
            return w - lr_t * m / (np.sqrt(v) + eps)
        denominator = np.sqrt(v_hat + eps) if bug == "eps_inside" else np.sqrt(v_hat) + eps
        step_vector = lr * m_hat / denominator
        return w + step_vector if bug == "sign" else w - step_vector
    return step


# ------------------------------------------------------------------------------ the shared driver

def _data(shapes: dict[str, tuple], steps: int, seed: int, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = {key: rng.normal(0.0, 1.0, shape).astype(dtype) for key, shape in shapes.items()}
    grads = []
    for _ in range(steps):
        # Magnitudes from 0.03 to 3, so ε's placement and square roots change the result visibly.
        grads.append({key: (rng.normal(0.0, 1.0, shape) * np.exp(rng.uniform(-3.5, 1.1, shape))).astype(dtype)
                      for key, shape in shapes.items()})
    return params, grads


def _run_student(exercise, cls, hp, params0, grads, lrs):
    """Construct the student's optimizer and step it; returns the params after every step. Fails at
    once if an update rebinds a parameter instead of updating it in place."""
    name = getattr(cls, "__name__", "optimizer")
    arguments = ", ".join(f"{key}={value!r}" for key, value in hp.items())
    optimizer = call_student(exercise, f"{name}({arguments})", cls, **hp)
    params = {key: value.copy() for key, value in params0.items()}
    originals = dict(params)
    history = []
    for step, (grad, lr) in enumerate(zip(grads, lrs), start=1):
        optimizer.lr = lr
        grad_copy = {key: value.copy() for key, value in grad.items()}
        call_student(exercise, f"{name}.update(params, grads) (call {step})",
                     lambda: optimizer.update(params, grad_copy))
        for key, original in originals.items():
            if params.get(key) is not original:
                fail(exercise, REBOUND.format(key=key))
        history.append({key: value.copy() for key, value in params.items()})
    return history


def _same_history(got_history, want_history, rtol, atol, equal_nan=False):
    return all(np.allclose(got_step[key], want, rtol=rtol, atol=atol, equal_nan=equal_nan)
               for got_step, want_step in zip(got_history, want_history) for key, want in want_step.items())


def _matches(got, wrong, rtol, atol):
    return got.shape == wrong.shape and np.allclose(got, wrong, rtol=rtol, atol=atol, equal_nan=True)


def _compare_history(exercise, got_history, expected_history, bug_histories, *, rtol=1e-6, atol=1e-9,
                     accepted=(), first_call_non_finite=None):
    """Compare step by step; at the first mismatch, name the mistake whose simulation matches.
    Returns the name of the accepted alternative that matched, if the main form did not."""
    for label, alternative in (("", expected_history), *accepted):
        if _same_history(got_history, alternative, rtol, atol):
            return label
    for step, (got_step, want_step) in enumerate(zip(got_history, expected_history), start=1):
        for key, want in want_step.items():
            got = np.asarray(got_step[key])
            if got.dtype != want.dtype:
                expect_array(exercise, f"params[{key!r}] after update {step}", got, want)
            if np.allclose(got, want, rtol=rtol, atol=atol):
                continue
            what = f"params[{key!r}] after update {step}"
            # A mistake that reproduces the whole run is the best explanation; one that only matches at
            # this step (several agree on the first update) comes next.
            ranked = sorted(bug_histories.items(),
                            key=lambda item: not _same_history(got_history, item[1], rtol, atol, equal_nan=True))
            for diagnosis, history in ranked:
                if _matches(got, history[step - 1][key], rtol, atol):
                    fail(exercise, f"{what}: got {_array_text(got)}, which is wrong. "
                                   f"Likely bug: {diagnosis}")
            if step == 1 and first_call_non_finite and not np.all(np.isfinite(got)):
                fail(exercise, f"{what} contains NaN or inf. Likely bug: {first_call_non_finite}")
            expect_array(exercise, what, got, want, rtol=rtol, atol=atol)
    return ""


def _array_text(array):
    flat = np.asarray(array).ravel()
    shown = np.array2string(flat[:4], precision=5, separator=", ")
    return shown[:-1] + ", …]" if flat.size > 4 else shown


def _check_optimizer(exercise, cls, rule, hp, bugs, *, seed, steps=5, accepted=(), first_call_non_finite=None):
    """Phase 1: float64, two same-shaped keys, lr changed before the last two steps, compared with the
    reference and with each simulated mistake. Phase 2: float32, two keys of different shapes, dtype kept."""
    lr0 = hp["lr"]
    lrs = [lr0] * (steps - 2) + [lr0 / 2] * 2
    params, grads = _data({"W1": (2, 3), "W2": (2, 3)}, steps, seed)
    got = _run_student(exercise, cls, hp, params, grads, lrs)
    reference = _simulate(rule(hp), params, grads, lrs)
    bug_histories = {}
    for diagnosis, bug in bugs.items():
        if bug == "lr_cached":
            bug_histories[diagnosis] = _simulate(rule(hp), params, grads, [lr0] * steps)
        elif bug == "default_lr":
            bug_histories[diagnosis] = _simulate(rule(hp), params, grads, [_default_lr(cls)] * steps)
        else:
            bug_histories[diagnosis] = _simulate_with_keys(rule(hp, bug), params, grads, lrs, bug)
    accepted_histories = [(label, _simulate_with_keys(rule(hp, bug), params, grads, lrs, bug))
                          for label, bug in accepted]
    form = _compare_history(exercise, got, reference, bug_histories, accepted=accepted_histories,
                            first_call_non_finite=first_call_non_finite)

    params32, grads32 = _data({"W": (3, 2), "b": (2,)}, 3, seed + 1, np.float32)
    got32 = _run_student(exercise, cls, hp, params32, grads32, [lr0] * 3)
    accepted_rule = dict(accepted).get(form)
    reference32 = _simulate_with_keys(rule(hp, accepted_rule), params32, grads32, [lr0] * 3, accepted_rule)
    for step, (got_step, want_step) in enumerate(zip(got32, reference32), start=1):
        for key, want in want_step.items():
            expect_array(exercise, f"float32 params[{key!r}] after update {step}", got_step[key],
                         want.astype(np.float32), rtol=2e-4, atol=1e-6)
    return form


def _simulate_with_keys(step_fn, params, grads, lrs, bug):
    """``_simulate`` that also tells the rule how many keys there are (Adam's per-key counter mistake)."""
    n_keys = len(params)

    def with_count(w, g, lr, store, context):
        context["n_keys"] = n_keys
        return step_fn(w, g, lr, store, context)
    return _simulate(with_count, params, grads, lrs, bug)


def _default_lr(cls):
    import inspect

    try:
        return float(inspect.signature(cls).parameters["lr"].default)
    except (KeyError, TypeError, ValueError):
        return 0.01


COMMON_BUGS = {
    "the learning rate is taken once, so changing `optimizer.lr` between calls has no effect — read "
    "self.lr inside update() (schedules set it).": "lr_cached",
    "the constructor's default learning rate is used instead of self.lr.": "default_lr",
}


def check_sgd(cls, *, hidden: bool = False) -> None:
    """SGD: W ← W − η∇L, in place."""
    exercise = "opt-sgd"
    hp = {"lr": 0.37 if hidden else 0.23}
    bugs = {
        "wrong sign: step against the gradient, W ← W − η∇L.": "sign",
        "the learning rate is missing: multiply the gradient by self.lr.": "no_lr",
        **COMMON_BUGS,
    }
    _check_optimizer(exercise, cls, _sgd_rule, hp, bugs, seed=11 if hidden else 1)
    passed(exercise, "in place, float32 kept, lr read at every call")


def check_momentum(cls, *, hidden: bool = False) -> None:
    """Momentum: v ← μv − η∇L, W ← W + v, v per key."""
    exercise = "opt-momentum"
    hp = {"lr": 0.11, "momentum": 0.65} if hidden else {"lr": 0.07, "momentum": 0.8}
    bugs = {
        "wrong sign: v ← μv − η∇L (the velocity points downhill).": "sign",
        "the velocity is not kept between calls (it restarts at 0, which is plain SGD): store it in self.v[key].": "no_state",
        "one velocity is shared by all parameters: keep one per key, self.v[key].": "shared_state",
        "this is the EMA form v ← μv + (1−μ)∇L, W ← W − ηv; the exercise uses v ← μv − η∇L, W ← W + v.": "ema",
        "W is moved with the old velocity: update v first, then W ← W + v.": "old_velocity",
        **COMMON_BUGS,
    }
    _check_optimizer(exercise, cls, _momentum_rule, hp, bugs, seed=12 if hidden else 2)
    passed(exercise, "velocity per key, in place, float32 kept")


def check_nesterov(cls, *, hidden: bool = False) -> None:
    """Nesterov in PyTorch's form: b ← μb + ∇L, W ← W − η(∇L + μb). CS231n's velocity form passes too."""
    exercise = "opt-nesterov"
    hp = {"lr": 0.09, "momentum": 0.7} if hidden else {"lr": 0.05, "momentum": 0.85}
    bugs = {
        "this is the book's code, which multiplies the *new* velocity by μ² (W ← W + μ²v_new − (1+μ)ηg); "
        "Nesterov's step is W ← W + μ²v_old − (1+μ)ηg, i.e. W ← W − η(g + μb) with the updated buffer b.": "book",
        "this is classic momentum (W ← W − ηb, or the buffer used before it is updated): Nesterov's "
        "look-ahead is W ← W − η(∇L + μb) with the updated b.": "plain_momentum",
        "wrong sign: W ← W − η(∇L + μb).": "sign",
        "the buffer is not kept between calls: store it per key.": "no_state",
        "one buffer is shared by all parameters: keep one per key.": "shared_state",
        **COMMON_BUGS,
    }
    form = _check_optimizer(exercise, cls, _nesterov_rule, hp, bugs, seed=13 if hidden else 3,
                            accepted=[("CS231n's velocity form (equal to PyTorch's at a constant learning rate)",
                                       "cs231n")])
    passed(exercise, form or "look-ahead form, buffer per key, in place")


def check_adagrad(cls, *, hidden: bool = False) -> None:
    """AdaGrad: h ← h + ∇L², W ← W − η∇L/(√h + ε). ε is large here so its placement shows."""
    exercise = "opt-adagrad"
    hp = {"lr": 0.4, "eps": 0.07} if hidden else {"lr": 0.3, "eps": 0.05}
    bugs = {
        "ε is inside the square root: use np.sqrt(h) + eps, not np.sqrt(h + eps).": "eps_inside",
        "h is replaced, not accumulated: h ← h + ∇L ⊙ ∇L (a running sum).": "no_accumulate",
        "the square root is missing: divide by √h + ε.": "no_sqrt",
        "h is updated after W: add ∇L² to h first, then divide by √h + ε.": "late_accumulate",
        "one h is shared by all parameters: keep one per key, self.h[key].": "shared_state",
        "wrong sign: W ← W − η∇L/(√h + ε).": "sign",
        **COMMON_BUGS,
    }
    _check_optimizer(exercise, cls, _adagrad_rule, hp, bugs, seed=14 if hidden else 4)
    passed(exercise, "h accumulates per key, ε outside the root")


def check_rmsprop(cls, *, hidden: bool = False) -> None:
    """RMSprop: h ← ρh + (1−ρ)∇L², W ← W − η∇L/(√h + ε)."""
    exercise = "opt-rmsprop"
    hp = ({"lr": 0.02, "decay_rate": 0.8, "eps": 0.06} if hidden
          else {"lr": 0.03, "decay_rate": 0.7, "eps": 0.04})
    bugs = {
        "decay_rate and 1 − decay_rate are swapped: h ← ρh + (1−ρ)∇L² keeps most of the old h.": "swapped_decay",
        "the (1 − decay_rate) factor on ∇L² is missing.": "missing_one_minus",
        "h keeps growing like AdaGrad's sum: decay the old h, h ← ρh + (1−ρ)∇L².": "accumulate",
        "ε is inside the square root: use np.sqrt(h) + eps.": "eps_inside",
        "the square root is missing: divide by √h + ε.": "no_sqrt",
        "one h is shared by all parameters: keep one per key.": "shared_state",
        "wrong sign: W ← W − η∇L/(√h + ε).": "sign",
        **COMMON_BUGS,
    }
    _check_optimizer(exercise, cls, _rmsprop_rule, hp, bugs, seed=15 if hidden else 5)
    passed(exercise, "decaying average per key, ε outside the root")


def check_adam(cls, *, hidden: bool = False) -> None:
    """Adam, paper form (or the book's lr_t form, accepted): t incremented first, bias-corrected m̂, v̂."""
    exercise = "opt-adam"
    hp = ({"lr": 0.05, "beta1": 0.75, "beta2": 0.9, "eps": 0.03} if hidden
          else {"lr": 0.1, "beta1": 0.8, "beta2": 0.888, "eps": 0.02})
    bugs = {
        "no bias correction: m̂ = m/(1−β₁ᵗ) and v̂ = v/(1−β₂ᵗ) (m̂ is off by the factor 1/(1−β₁ᵗ)).": "no_correction",
        "only m is bias-corrected: also v̂ = v/(1−β₂ᵗ).": "only_m_corrected",
        "only v is bias-corrected: also m̂ = m/(1−β₁ᵗ).": "only_v_corrected",
        "t is increased once per parameter (inside the loop over keys): increase it once per update() call.": "t_per_key",
        "β₁ and β₂ are swapped: m uses β₁, v uses β₂.": "swapped_betas",
        "ε is inside the square root: use np.sqrt(v̂) + eps.": "eps_inside",
        "v must average the squared gradient, ∇L ⊙ ∇L.": "v_of_g",
        "one m and v are shared by all parameters: keep them per key.": "shared_state",
        "wrong sign: W ← W − η m̂/(√v̂ + ε).": "sign",
        **COMMON_BUGS,
    }
    form = _check_optimizer(
        exercise, cls, _adam_rule, hp, bugs, seed=16 if hidden else 6,
        accepted=[("the book's lr_t form (ε effectively ε/√(1−β₂ᵗ))", "lr_t")],
        first_call_non_finite="t is used before it is increased: with t = 0 the correction 1 − β⁰ is 0. "
                              "Increase t first (t ← t + 1), then correct.")
    passed(exercise, form or "paper form, t incremented first, bias-corrected")


def check_adam_trains(cls, *, epochs: int = 3, seed: int = 0) -> None:
    """The student's Adam trains the chapter's network exactly like ``lib.optimizers.Adam``."""
    from lib.data import load_dataset
    from lib.networks import MultiLayerNet
    from lib.optimizers import Adam
    from lib.training import train

    exercise = "opt-adam"
    data = load_dataset("digits", seed=seed)
    histories = {}
    for label, optimizer_class in (("yours", cls), ("lib", Adam)):
        network = MultiLayerNet(64, [100, 100, 100, 100], 10, weight_init_std="relu", seed=seed)
        optimizer = call_student(exercise, "Adam(lr=0.003)", optimizer_class, lr=0.003)
        try:
            histories[label] = train(network, optimizer, data, epochs=epochs, batch_size=128, seed=seed)
        except ExerciseFailure:
            raise
        except Exception as error:  # the student's update runs inside the loop
            fail(exercise, f"training with your Adam raised {type(error).__name__}: {error}")
    yours, reference = histories["yours"], histories["lib"]
    if yours.diverged:
        fail(exercise, f"training with your Adam diverged at iteration {yours.diverged_at} (NaN/inf loss or gradient).")
    # The first updates must agree closely; later ones may drift apart (the book's lr_t form differs in
    # how ε enters, and training amplifies tiny differences), so the end is compared loosely.
    early = 5
    expect_array(exercise, f"training loss of the first {early} iterations with your Adam",
                 np.asarray(yours.train_loss[:early]), np.asarray(reference.train_loss[:early]),
                 rtol=1e-3, atol=1e-6, check_dtype=False)
    final, final_reference = float(np.mean(yours.train_loss[-5:])), float(np.mean(reference.train_loss[-5:]))
    if not final <= 1.25 * final_reference + 0.02:
        fail(exercise, f"after {epochs} epochs your Adam's training loss is {final:.4f}, lib's {final_reference:.4f}.")
    accuracy = yours.test_acc[-1]
    if accuracy < 0.85:
        fail(exercise, f"test accuracy after {epochs} epochs is {accuracy:.3f}; expected at least 0.85.")
    passed(exercise, f"test accuracy {accuracy:.3f} after {epochs} epochs (lib's Adam: {reference.test_acc[-1]:.3f})")


def check_cosine_decay(cls, *, hidden: bool = False) -> None:
    """CosineDecay(lr0, total_steps, lr_min)(step) = lr_min + (lr0−lr_min)(1+cos(π·min(step,T)/T))/2."""
    exercise = "opt-schedule"
    lr0, total, lr_min = (0.8, 12, 0.05) if hidden else (0.4, 10, 0.02)
    schedule = call_student(exercise, f"CosineDecay({lr0}, {total}, lr_min={lr_min})", cls, lr0, total,
                            lr_min=lr_min)
    steps = np.arange(0, 2 * total + 1)
    got = np.array([call_student(exercise, f"schedule({step})", schedule, int(step)) for step in steps],
                   dtype=object)
    for step, value in zip(steps, got):
        if not isinstance(value, (float, int, np.floating, np.integer)):
            fail(exercise, f"schedule({step}) returned {type(value).__name__}; return a number (a float).")
    got = got.astype(float)
    progress = np.minimum(steps, total) / total
    expected = lr_min + (lr0 - lr_min) * 0.5 * (1 + np.cos(np.pi * progress))
    bugs = {
        "after total_steps the rate must stay at lr_min: use min(step, total_steps).":
            lr_min + (lr0 - lr_min) * 0.5 * (1 + np.cos(np.pi * steps / total)),
        "lr_min is ignored: lr = lr_min + (lr0 − lr_min)·(1 + cos(π·step/T))/2.":
            lr0 * 0.5 * (1 + np.cos(np.pi * progress)),
        "the factor ½ is missing: (1 + cos) runs from 2 to 0.":
            lr_min + (lr0 - lr_min) * (1 + np.cos(np.pi * progress)),
        "π is missing inside the cosine: cos(π·step/T) goes from 1 to −1 over the schedule.":
            lr_min + (lr0 - lr_min) * 0.5 * (1 + np.cos(progress)),
        "the schedule reaches lr_min one step early: divide by total_steps, not total_steps − 1.":
            lr_min + (lr0 - lr_min) * 0.5 * (1 + np.cos(np.pi * np.minimum(steps, total - 1) / (total - 1))),
    }
    wrong = np.nonzero(~np.isclose(got, expected, rtol=1e-9, atol=1e-12))[0]
    if wrong.size:
        first = int(wrong[0])
        direction = "too large" if got[first] > expected[first] else "too small"
        message = (f"schedule({first}) returned {got[first]:.6g}, which is {direction} "
                   f"(steps 0 … {2 * total} checked; {wrong.size} differ)")
        for diagnosis, values in bugs.items():
            if np.allclose(got, values, rtol=1e-9, atol=1e-12):
                fail(exercise, f"{message}. Likely bug: {diagnosis}")
        fail(exercise, message + ".")
    passed(exercise, f"lr0 at step 0, lr_min from step {total} on")


# The numeric question of the quadratic lab: a quadratic whose Hessian has these eigenvalues.
QUADRATIC_LAB_EIGENVALUES = (0.5, 2.0, 8.0, 32.0)


def check_quadratic_lab(eta_gd, rate_gd, eta_momentum, mu_momentum, *, hidden: bool = False) -> None:
    """The best constant step of gradient descent and its rate, and the best (η, μ) of momentum, for
    ``QUADRATIC_LAB_EIGENVALUES``; the hidden part runs the student's (η, μ) and measures the rate."""
    from lib.quadratic import measured_rate, optimal_gd, optimal_momentum, simulate

    exercise = "opt-quadratic"
    lam = np.asarray(QUADRATIC_LAB_EIGENVALUES)
    low, high = float(lam.min()), float(lam.max())
    best_eta, best_rate = optimal_gd(low, high)
    best_eta_hb, best_mu_hb, best_rate_hb = optimal_momentum(low, high)
    middle = float(lam[1])
    expect_scalar(exercise, "eta_gd", eta_gd, best_eta, rtol=1e-3, likely_bugs={
        "1/λ_max is safe but not optimal: η* = 2/(λ_min + λ_max) balances the slowest and the fastest direction.": 1 / high,
        "2/λ_max is the edge of stability (the fastest direction oscillates forever), not the optimum.": 2 / high,
        "only the smallest and largest eigenvalues matter: η* = 2/(λ_min + λ_max).": 2 / (middle + high),
    })
    kappa = high / low
    expect_scalar(exercise, "rate_gd", rate_gd, best_rate, rtol=1e-3, likely_bugs={
        "that is momentum's rate (√κ−1)/(√κ+1); gradient descent's is (κ−1)/(κ+1).": best_rate_hb,
        "the rate is (κ−1)/(κ+1) with κ = λ_max/λ_min.": (kappa - 1) / kappa,
    })
    expect_scalar(exercise, "eta_momentum", eta_momentum, best_eta_hb, rtol=1e-3, likely_bugs={
        "that is gradient descent's step; momentum's is η* = (2/(√λ_min + √λ_max))².": best_eta,
        "the square is missing: η* = (2/(√λ_min + √λ_max))².": 2 / (math.sqrt(low) + math.sqrt(high)),
    })
    expect_scalar(exercise, "mu_momentum", mu_momentum, best_mu_hb, rtol=1e-3, likely_bugs={
        "μ* is the square of the rate: μ* = ((√κ−1)/(√κ+1))².": best_rate_hb,
        "μ* uses square roots: ((√κ−1)/(√κ+1))², not ((κ−1)/(κ+1))².": best_rate**2,
    })
    if hidden:
        # The formulas are not the point; the speed is. The optimum sits on a knife edge (0.1% too large
        # an η costs about 7% in rate), so the bar is "clearly momentum-fast", not the optimum itself.
        eta, mu = (float(np.asarray(value, dtype=float)) for value in (eta_momentum, mu_momentum))
        errors = simulate(lam, eta, mu, steps=400)
        rate = measured_rate(errors)
        bar = best_rate_hb + 0.3 * (best_rate - best_rate_hb)
        if not rate <= bar:
            fail(exercise, f"momentum with your η, μ contracts the error by {rate:.4f} per step: much slower than "
                           f"momentum's optimum, closer to gradient descent's best. Recheck μ* = ((√κ−1)/(√κ+1))².")
    passed(exercise, f"gradient descent's rate {best_rate:.4f}, momentum's {best_rate_hb:.4f}")


# ------------------------------------------------------------------------ diagnose a broken run

BROKEN_RUN_LR = 0.5  # Momentum(μ = 0.9) on the chapter's network with this rate blows up

DIAGNOSIS_OPTIONS = {
    "a": "the learning rate is too large",
    "b": "the learning rate is too small",
    "c": "the initial weights are too small (std 0.01 instead of He)",
    "d": "the learning-rate schedule decays per iteration instead of per epoch",
}
# Salted digest of the right letter (lib.checks.core.answer_digest), so the key is not stored as text.
_DIAGNOSIS_KEY = "f06f4e738679cfa095b42de79be164cfe62cc3d36449388ecd63551ebc994c4d"
_WHY_NOT = {
    "b": "a rate that is too small makes the loss fall slowly but steadily; here it rises and explodes within "
         "a few iterations, which a small step cannot do.",
    "c": "tiny initial weights keep the loss flat near log 10 ≈ 2.3 at first (weak signals, small gradients); "
         "they do not make it grow without bound.",
    "d": "a per-iteration decay makes the learning rate vanish, so the loss stalls; it never makes the loss grow.",
}


def check_diagnosis(answer) -> None:
    """The student's letter for the broken run's cause; wrong letters get that option's explanation."""
    exercise = "opt-diagnose"
    if type(answer) is not str:
        fail(exercise, f"DIAGNOSIS must be one letter as a string, e.g. \"b\"; got {type(answer).__name__}.")
    letter = answer.strip().lower()
    if letter not in DIAGNOSIS_OPTIONS:
        fail(exercise, f"DIAGNOSIS must be one of {', '.join(map(repr, DIAGNOSIS_OPTIONS))}; got {answer!r}.")
    if answer_digest(exercise, letter) != _DIAGNOSIS_KEY:
        fail(exercise, f"({letter}) {DIAGNOSIS_OPTIONS[letter]}: not what the curves show — {_WHY_NOT[letter]}")
    passed(exercise, "the loss explodes because each step overshoots the valley and lands higher")


def check_fixed_run(lr, *, epochs: int = 3) -> None:
    """Momentum(lr, μ = 0.9) trains the chapter's network (digits, seed 0) without blowing up and reaches a
    last-epoch training loss below 0.6 within ``epochs`` epochs."""
    from lib.chapters.ch01_optimizers import experiments
    from lib.optimizers import Momentum
    from lib.training import train

    exercise = "opt-diagnose"
    if type(lr) not in SCALAR_TYPES or type(lr) is bool:
        fail(exercise, f"FIXED_LR must be a number, got {type(lr).__name__}.")
    value = float(np.asarray(lr))
    if not (math.isfinite(value) and value > 0):
        fail(exercise, f"FIXED_LR must be a positive number, got {value!r}.")
    data = experiments.network_data("digits", 0)
    history = train(experiments.build_network(data, 0), Momentum(lr=value, momentum=0.9), data, epochs=epochs,
                    batch_size=experiments.BATCH_SIZE, seed=0, eval_size=experiments.EVAL_SIZE)
    if history.diverged:
        fail(exercise, f"with lr = {value:g} training still blows up (at iteration {history.diverged_at}): "
                       f"the rate is still too large for this network.")
    loss = experiments.final_loss(history)
    if loss >= 0.6:
        if value >= BROKEN_RUN_LR / 3:
            fail(exercise, f"with lr = {value:g} the run no longer blows up but the loss still ends high "
                           f"({loss:.3f}): the steps still overshoot; go lower.")
        fail(exercise, f"with lr = {value:g} the run is stable but slow: the loss is still {loss:.3f} after "
                       f"{epochs} epochs. You overcorrected; a rate a few times larger trains much faster.")
    passed(exercise, f"lr = {value:g} trains: last-epoch loss {loss:.3f} after {epochs} epochs")


# ------------------------------------------------------------------ per-feature rates on sparse features

SPARSE_ETA = 1.0  # the rate of the most frequent feature, given to the student's function
SPARSE_CHECK_SEEDS = (0, 1, 2)


def check_sparse_rates(per_feature_rates) -> None:
    """The student's per-feature learning rates let plain SGD train the sparse problem about as well as
    AdaGrad (excess loss at most 1.5× AdaGrad's on every check seed)."""
    from lib.chapters.ch01_optimizers import experiments

    exercise = "opt-sparse"
    for seed in SPARSE_CHECK_SEEDS:
        _, _, frequency = experiments.sparse_problem(seed)
        rates = call_student(exercise, "per_feature_rates(frequency, eta)", per_feature_rates, frequency.copy(),
                             SPARSE_ETA)
        if type(rates) is not np.ndarray or rates.dtype != np.float64:
            fail(exercise, f"per_feature_rates must return a float64 numpy array, got "
                           f"{type(rates).__name__}{'' if type(rates) is not np.ndarray else ' of dtype ' + str(rates.dtype)}.")
        if rates.shape != frequency.shape:
            fail(exercise, f"per_feature_rates must return one rate per feature: shape {frequency.shape}, "
                           f"got {rates.shape}.")
        if not (np.all(np.isfinite(rates)) and np.all(rates > 0)):
            fail(exercise, "every rate must be a positive finite number.")
        most_frequent = int(np.argmax(frequency))
        if not np.isclose(rates[most_frequent], SPARSE_ETA, rtol=1e-6):
            fail(exercise, f"the most frequent feature's rate is {rates[most_frequent]:.4g}; it must be eta, "
                           f"the rate known to be safe for it.")
        if np.allclose(rates, rates[0]):
            fail(exercise, "every feature gets the same rate: that is plain SGD, which leaves the rare features' "
                           "weights behind. Rare features need larger steps.")
        if np.corrcoef(rates, frequency)[0, 1] > 0:
            fail(exercise, "your rates grow with the frequency: the common features get the larger steps. "
                           "It should be the other way round.")
        excess = experiments.per_feature_sgd_excess(rates, seed)
        adagrad = experiments.sparse_study((seed,)).excess["AdaGrad"][0]
        if not np.isfinite(excess) or excess > 1e3:
            fail(exercise, "SGD with your rates blows up: the rare features' rates are too large. A rare weight "
                           "shares every example it appears in with common features, so it cannot take steps "
                           "as large as its own frequency alone would allow. Think about what AdaGrad's h grows "
                           "like for a feature present in a fraction p of the examples.")
        if excess > 1.5 * adagrad:
            fail(exercise, f"SGD with your rates trains (seed {seed}) but ends well above AdaGrad: the rare "
                           f"features' rates are still too small. Think about what AdaGrad's h grows like for a "
                           f"feature present in a fraction p of the examples.")
    passed(exercise, "with your per-feature rates plain SGD keeps up with AdaGrad on sparse features")
