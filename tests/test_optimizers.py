"""lib.optimizers: each update rule against its formula, worked out element by element in plain
Python floats (never by calling the class), with non-default hyperparameters chosen so that the
usual mistakes (no bias correction, swapped betas, ε inside the root, the book's Nesterov) give
different numbers — each test also asserts that those mistakes would have been caught."""

import math

import numpy as np
import pytest

import lib.optimizers as optimizers
from lib.optimizers import SGD, AdaGrad, Adam, AdamW, Momentum, MomentumEMA, Nesterov, RMSprop

W0 = [0.5, -1.25, 2.0, 0.0]
# Three steps of gradients with mixed signs and magnitudes (a zero, a sign flip, a large value).
GRADS = [[0.3, -2.0, 0.0, 1.5], [-0.1, -1.0, 4.0, 1.5], [0.25, 0.5, -3.0, -0.75]]

ALL_OPTIMIZERS = [
    lambda: SGD(lr=0.1),
    lambda: Momentum(lr=0.1, momentum=0.7),
    lambda: MomentumEMA(lr=0.2, beta=0.6),
    lambda: Nesterov(lr=0.1, momentum=0.7),
    lambda: AdaGrad(lr=0.3, eps=0.1),
    lambda: RMSprop(lr=0.2, decay_rate=0.6, eps=0.05),
    lambda: Adam(lr=0.1, beta1=0.8, beta2=0.888, eps=1e-2),
    lambda: AdamW(lr=0.1, beta1=0.8, beta2=0.888, eps=1e-2, weight_decay=0.3),
]
OPTIMIZER_IDS = ["SGD", "Momentum", "MomentumEMA", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW"]


def run(optimizer, grads=GRADS, w0=W0, dtype=np.float64):
    """Apply ``optimizer`` to W0 with the given gradient sequence; return W after each step."""
    params = {"W": np.array(w0, dtype=dtype)}
    path = []
    for grad in grads:
        optimizer.update(params, {"W": np.array(grad, dtype=dtype)})
        path.append(params["W"].copy())
    return np.array(path)


def elementwise(rule, grads=GRADS, w0=W0):
    """Run a scalar update rule ``rule(w, g, state, t) -> w`` on each coordinate, plain Python."""
    path = [[0.0] * len(w0) for _ in grads]
    for i, w in enumerate(w0):
        state = {}
        for t, grad in enumerate(grads, start=1):
            w = rule(w, grad[i], state, t)
            path[t - 1][i] = w
    return np.array(path)


def assert_catches(expected, *wrong_paths, margin=1e-3):
    """A mistake is caught only if it moves some coordinate by clearly more than the tolerance."""
    for wrong in wrong_paths:
        assert np.max(np.abs(np.asarray(wrong) - expected)) > margin


# ---------------------------------------------------------------------------------------------
# each rule against its formula
# ---------------------------------------------------------------------------------------------

def test_sgd_matches_formula():
    expected = elementwise(lambda w, g, s, t: w - 0.1 * g)
    np.testing.assert_allclose(run(SGD(lr=0.1)), expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(expected[0], [0.47, -1.05, 2.0, -0.15])  # literal: W0 − 0.1·g₁


def momentum_rule(lr, alpha):
    def rule(w, g, s, t):
        s["v"] = alpha * s.get("v", 0.0) - lr * g
        return w + s["v"]
    return rule


def test_momentum_matches_classic_formula():
    expected = elementwise(momentum_rule(0.1, 0.7))
    optimizer = Momentum(lr=0.1, momentum=0.7)
    np.testing.assert_allclose(run(optimizer), expected, rtol=1e-13, atol=1e-15)
    # literal after two steps for coordinate 0: v = 0.7·(−0.03) + 0.01 = −0.011, W = 0.47 − 0.011
    assert math.isclose(expected[1][0], 0.459, rel_tol=1e-12)
    # the velocity kept per key is the classic v, in the book's attribute
    v3 = expected[2] - expected[1]
    np.testing.assert_allclose(optimizer.v["W"], v3, rtol=1e-12, atol=1e-15)
    # mistakes: momentum applied to the gradient instead of the velocity; plain SGD
    assert_catches(expected, elementwise(momentum_rule(0.1, 0.0)),
                   elementwise(lambda w, g, s, t: w - 0.1 * (g + 0.7 * s.setdefault("g", g))))


def quadratic_gradient(w):
    """∇ of f(w) = Σ aᵢ wᵢ²/2 with very different curvatures (an ill-conditioned bowl)."""
    return np.array([0.1, 1.0, 3.0, 0.5]) * w


def run_on_quadratic(optimizer, steps=25):
    params = {"W": np.array(W0)}
    path = []
    for _ in range(steps):
        optimizer.update(params, {"W": quadratic_gradient(params["W"])})
        path.append(params["W"].copy())
    return np.array(path)


def test_momentum_ema_form_gives_the_same_path_as_the_classic_form():
    beta, alpha = 0.85, 0.4
    ema = run_on_quadratic(MomentumEMA(lr=alpha, beta=beta))
    classic = run_on_quadratic(Momentum(lr=alpha * (1 - beta), momentum=beta))
    np.testing.assert_allclose(ema, classic, rtol=1e-12, atol=1e-14)
    # and the EMA form against its own formula
    def ema_rule(w, g, s, t):
        s["v"] = 0.6 * s.get("v", 0.0) + 0.4 * g
        return w - 0.2 * s["v"]

    expected = elementwise(ema_rule)
    np.testing.assert_allclose(run(MomentumEMA(lr=0.2, beta=0.6)), expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(run_on_quadratic(MomentumEMA()), run_on_quadratic(Momentum()), rtol=1e-12, atol=1e-14)
    # the same lr in both forms is NOT the same optimizer
    assert_catches(classic, run_on_quadratic(Momentum(lr=alpha, momentum=beta)))


def test_nesterov_equals_pytorch_nesterov_and_the_look_ahead_form():
    lr, mu, steps = 0.15, 0.8, 25
    ours = run_on_quadratic(Nesterov(lr=lr, momentum=mu), steps)

    # PyTorch SGD(momentum=mu, nesterov=True, dampening=0): buf = mu·buf + g; p -= lr·(g + mu·buf)
    p, buf, torch_path = np.array(W0), np.zeros(4), []
    for _ in range(steps):
        g = quadratic_gradient(p)
        buf = mu * buf + g
        p = p - lr * (g + mu * buf)
        torch_path.append(p)
    np.testing.assert_allclose(ours, torch_path, rtol=1e-12, atol=1e-14)

    # Sutskever's look-ahead form: v = mu·v − lr·∇f(θ + mu·v); θ += v. Our W is θ + mu·v.
    theta, v, look_ahead = np.array(W0), np.zeros(4), []
    for _ in range(steps):
        v = mu * v - lr * quadratic_gradient(theta + mu * v)
        theta = theta + v
        look_ahead.append(theta + mu * v)
    np.testing.assert_allclose(ours, look_ahead, rtol=1e-12, atol=1e-14)

    # Saito's book variant (μ² times the *new* v) and plain momentum are different methods
    p, vb, book = np.array(W0), np.zeros(4), []
    for _ in range(steps):
        g = quadratic_gradient(p)
        vb = mu * vb - lr * g
        p = p + mu * mu * vb - (1 + mu) * lr * g
        book.append(p)
    assert_catches(ours, book, run_on_quadratic(Momentum(lr=lr, momentum=mu), steps))


def adagrad_rule(lr, eps, eps_inside=False):
    def rule(w, g, s, t):
        s["h"] = s.get("h", 0.0) + g * g
        denominator = math.sqrt(s["h"] + eps) if eps_inside else math.sqrt(s["h"]) + eps
        return w - lr * g / denominator
    return rule


def test_adagrad_matches_formula():
    expected = elementwise(adagrad_rule(0.3, 0.1))
    np.testing.assert_allclose(run(AdaGrad(lr=0.3, eps=0.1)), expected, rtol=1e-13, atol=1e-15)
    # literal first step: W − 0.3·g/(|g| + 0.1) → coordinate 1: −1.25 + 0.3·2/2.1
    assert math.isclose(expected[0][1], -1.25 + 0.6 / 2.1, rel_tol=1e-14)
    assert_catches(expected, elementwise(adagrad_rule(0.3, 0.1, eps_inside=True)))


def rmsprop_rule(lr, rho, eps, swapped=False):
    def rule(w, g, s, t):
        keep = 1 - rho if swapped else rho
        s["h"] = keep * s.get("h", 0.0) + (1 - keep) * g * g
        return w - lr * g / (math.sqrt(s["h"]) + eps)
    return rule


def test_rmsprop_matches_formula():
    expected = elementwise(rmsprop_rule(0.2, 0.6, 0.05))
    np.testing.assert_allclose(run(RMSprop(lr=0.2, decay_rate=0.6, eps=0.05)), expected, rtol=1e-13, atol=1e-15)
    assert_catches(expected, elementwise(rmsprop_rule(0.2, 0.6, 0.05, swapped=True)),
                   elementwise(adagrad_rule(0.2, 0.05)))


def adam_rule(lr, b1, b2, eps, *, bias_correction=True, eps_form="paper", l2=0.0, decoupled=0.0):
    def rule(w, g, s, t):
        g = g + l2 * w
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        m_hat = s["m"] / (1 - b1 ** t) if bias_correction else s["m"]
        v_hat = s["v"] / (1 - b2 ** t) if bias_correction else s["v"]
        if eps_form == "paper":
            step = m_hat / (math.sqrt(v_hat) + eps)
        elif eps_form == "inside":
            step = m_hat / math.sqrt(v_hat + eps)
        else:  # the book's lr_t form: ε added to √v, not √v̂
            step = math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * s["m"] / (math.sqrt(s["v"]) + eps)
        return w - lr * (step + decoupled * w)
    return rule


ADAM_HYPER = dict(lr=0.1, beta1=0.8, beta2=0.888, eps=1e-2)


def test_adam_matches_paper_formula():
    optimizer = Adam(**ADAM_HYPER)
    got = run(optimizer)
    expected = elementwise(adam_rule(0.1, 0.8, 0.888, 1e-2))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    # literal first step: m̂ = g, v̂ = g², so W − 0.1·g/(|g| + 0.01)
    np.testing.assert_allclose(got[0], [0.5 - 0.03 / 0.31, -1.25 + 0.2 / 2.01, 2.0, -0.15 / 1.51], rtol=1e-13)
    # state: the paper's t (one count of update calls) and its uncorrected m and v, per key
    assert optimizer.t == 3
    m = v = 0.0
    for t, g in enumerate(GRADS, start=1):
        m = 0.8 * m + 0.2 * g[2]
        v = 0.888 * v + 0.112 * g[2] ** 2
    assert math.isclose(optimizer.m["W"][2], m, rel_tol=1e-13)
    assert math.isclose(optimizer.v["W"][2], v, rel_tol=1e-13)
    assert_catches(expected,
                   elementwise(adam_rule(0.1, 0.8, 0.888, 1e-2, bias_correction=False)),
                   elementwise(adam_rule(0.1, 0.888, 0.8, 1e-2)),  # swapped betas
                   elementwise(adam_rule(0.1, 0.8, 0.888, 1e-2, eps_form="inside")),
                   elementwise(adam_rule(0.1, 0.8, 0.888, 1e-2, eps_form="book")))


def test_adam_book_form_equals_paper_form_with_rescaled_eps():
    """The book's lr_t form with ε_book equals the paper's form with ε = ε_book/√(1−β₂ᵗ)."""
    eps_book, b2 = 1e-2, 0.888
    book = elementwise(adam_rule(0.1, 0.8, b2, eps_book, eps_form="book"))
    optimizer, params = Adam(lr=0.1, beta1=0.8, beta2=b2), {"W": np.array(W0)}
    for t, grad in enumerate(GRADS, start=1):
        optimizer.eps = eps_book / math.sqrt(1 - b2 ** t)
        optimizer.update(params, {"W": np.array(grad)})
        np.testing.assert_allclose(params["W"], book[t - 1], rtol=1e-12, atol=1e-15)
    # with a fixed ε the two forms differ
    assert_catches(book, elementwise(adam_rule(0.1, 0.8, b2, eps_book)))


def test_adamw_matches_decoupled_formula_and_differs_from_adam_with_l2():
    expected = elementwise(adam_rule(0.1, 0.8, 0.888, 1e-2, decoupled=0.3))
    np.testing.assert_allclose(run(AdamW(**ADAM_HYPER, weight_decay=0.3)), expected, rtol=1e-12, atol=1e-15)
    adam_l2 = elementwise(adam_rule(0.1, 0.8, 0.888, 1e-2, l2=0.3))
    assert_catches(expected, adam_l2, elementwise(adam_rule(0.1, 0.8, 0.888, 1e-2)))
    # no decay: exactly Adam
    np.testing.assert_allclose(run(AdamW(**ADAM_HYPER, weight_decay=0.0)), run(Adam(**ADAM_HYPER)), rtol=0, atol=0)


def test_adamw_decay_does_not_depend_on_gradient_scale_but_l2_in_adam_does():
    """Zero-mean gradients of two sizes: AdamW shrinks both weights alike, Adam+L2 barely
    shrinks the one whose gradients are large (the decay is divided by √v̂)."""
    rng = np.random.default_rng(0)
    grads = rng.choice([-1.0, 1.0], size=(200, 1)) * np.array([[0.01, 10.0]])
    w0 = [1.0, 1.0]
    shrink_w = run(AdamW(lr=0.01, weight_decay=1.0), grads.tolist(), w0)[-1]
    l2 = elementwise(adam_rule(0.01, 0.9, 0.999, 1e-8, l2=1.0), grads.tolist(), w0)[-1]
    assert abs(shrink_w[0] - shrink_w[1]) < 0.05
    assert l2[1] - l2[0] > 0.3


# ---------------------------------------------------------------------------------------------
# dtype, in-place, state, memory layout
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", ALL_OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_float32_stays_float32_and_matches_float64(make):
    path32 = run(make(), dtype=np.float32)
    assert path32.dtype == np.float32
    np.testing.assert_allclose(path32, run(make()), rtol=2e-6, atol=2e-6)
    optimizer = make()
    params = {"W": np.array(W0, dtype=np.float32)}
    optimizer.update(params, {"W": np.array(GRADS[0], dtype=np.float32)})
    assert params["W"].dtype == np.float32
    for name in optimizer._state_names:
        assert getattr(optimizer, name)["W"].dtype == np.float32


def test_numpy_float64_hyperparameters_do_not_promote_float32():
    # NumPy 2 promotes float32 arrays when combined with np.float64 scalars; hyperparameters are
    # stored as Python floats so this cannot happen.
    optimizer = Adam(lr=np.float64(0.1), beta1=np.float64(0.8), beta2=np.float64(0.888), eps=np.float64(1e-2))
    optimizer.lr = np.float64(0.05)
    assert type(optimizer.lr) is float and type(optimizer.beta2) is float
    params = {"W": np.array(W0, dtype=np.float32)}
    optimizer.update(params, {"W": np.array(GRADS[0], dtype=np.float32)})
    assert params["W"].dtype == np.float32


@pytest.mark.parametrize("make", ALL_OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_update_is_in_place(make):
    weights = np.array(W0)
    view = weights[1:3]  # e.g. what a layer holds
    params = {"W": weights}
    make().update(params, {"W": np.array(GRADS[0])})
    assert params["W"] is weights
    assert not np.array_equal(view, [W0[1], W0[2]])
    np.testing.assert_array_equal(view, weights[1:3])


def test_state_is_per_key_and_keys_are_independent():
    rng = np.random.default_rng(1)
    a0, b0 = rng.standard_normal((3, 4)), rng.standard_normal(5)
    grads = [{"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(5)} for _ in range(4)]
    together = Adam(**ADAM_HYPER)
    alone_a, alone_b = Adam(**ADAM_HYPER), Adam(**ADAM_HYPER)
    params = {"a": a0.copy(), "b": b0.copy()}
    pa, pb = {"a": a0.copy()}, {"b": b0.copy()}
    for g in grads:
        together.update(params, g)
        alone_a.update(pa, {"a": g["a"]})
        alone_b.update(pb, {"b": g["b"]})
    np.testing.assert_array_equal(params["a"], pa["a"])
    np.testing.assert_array_equal(params["b"], pb["b"])
    assert together.m["a"].shape == (3, 4) and together.v["b"].shape == (5,)


@pytest.mark.parametrize("make", ALL_OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_strided_parameters_take_the_same_steps(make):
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((10, 13))
    grads = [rng.standard_normal((10, 13)) for _ in range(3)]

    def every_other_column(array):
        """A non-contiguous view holding ``array``'s values (e.g. a slice a layer holds)."""
        wide = np.zeros((array.shape[0], 2 * array.shape[1]))
        wide[:, ::2] = array
        return wide[:, ::2]

    def final(params_array, layout):
        optimizer, params = make(), {"W": params_array}
        for g in grads:
            optimizer.update(params, {"W": layout(g)})
        return params["W"]

    contiguous = final(w0.copy(), np.ascontiguousarray)
    fortran = final(np.asfortranarray(w0), np.asfortranarray)
    strided = final(every_other_column(w0), every_other_column)
    np.testing.assert_array_equal(fortran, contiguous)
    np.testing.assert_array_equal(strided, contiguous)
    assert not np.array_equal(contiguous, w0)


def test_lr_can_change_between_steps():
    optimizer = SGD(lr=0.1)
    params = {"W": np.array(W0)}
    optimizer.update(params, {"W": np.array(GRADS[0])})
    optimizer.lr = 0.01
    optimizer.update(params, {"W": np.array(GRADS[1])})
    expected = [w - 0.1 * g1 - 0.01 * g2 for w, g1, g2 in zip(W0, GRADS[0], GRADS[1])]
    np.testing.assert_allclose(params["W"], expected, rtol=1e-14)


def test_reset_forgets_state():
    optimizer = Adam(**ADAM_HYPER)
    first = run(optimizer)
    optimizer.reset()
    assert optimizer.t == 0 and optimizer.m == {} and optimizer.v == {}
    np.testing.assert_array_equal(run(optimizer), first)


def test_repr_names_hyperparameters():
    assert repr(AdamW(lr=0.1, weight_decay=0.5)) == \
        "AdamW(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.5)"
    assert repr(Momentum()) == "Momentum(lr=0.01, momentum=0.9)"
    assert set(optimizers.OPTIMIZERS) == set(OPTIMIZER_IDS)


# ---------------------------------------------------------------------------------------------
# bad input: a clear ValueError, and nothing changed
# ---------------------------------------------------------------------------------------------

def good():
    return ({"W1": np.ones((2, 3)), "b1": np.zeros(3), "W2": np.ones((3, 2))},
            {"W1": np.full((2, 3), 0.5), "b1": np.full(3, 0.5), "W2": np.full((3, 2), 0.5)})


def _with(mapping, key, value):
    mapping = dict(mapping)
    if value is None:
        del mapping[key]
    else:
        mapping[key] = value
    return mapping


BAD_INPUTS = {
    "missing gradient": (lambda p, g: (p, _with(g, "W2", None)), r"no gradient for 'W2'"),
    "extra gradient": (lambda p, g: (p, _with(g, "W9", np.ones(2))), r"gradient without a parameter: 'W9'"),
    "shape": (lambda p, g: (p, _with(g, "W2", np.ones((2, 3)))),
              r"gradient for 'W2' has shape \(2, 3\) but the parameter has shape \(3, 2\)"),
    "dtype": (lambda p, g: (p, _with(g, "W2", np.ones((3, 2), dtype=np.float32))),
              r"gradient for 'W2' has dtype float32 but the parameter has dtype float64"),
    "nan": (lambda p, g: (p, _with(g, "W2", np.array([[0.5, 0.5], [np.nan, 0.5], [0.5, 0.5]]))),
            r"gradient for 'W2' contains NaN/inf — lower the learning rate or check the backward pass"),
    "inf": (lambda p, g: (p, _with(g, "W2", np.array([[0.5, 0.5], [0.5, -np.inf], [0.5, 0.5]]))),
            r"gradient for 'W2' contains NaN/inf"),
    "list param": (lambda p, g: (_with(p, "W2", [[1.0, 1.0]] * 3), g), r"params\['W2'\] must be a numpy array"),
    "list grad": (lambda p, g: (p, _with(g, "W2", [[0.5, 0.5]] * 3)), r"grads\['W2'\] must be a numpy array"),
    "integer param": (lambda p, g: (_with(p, "W2", np.ones((3, 2), dtype=int)), g),
                      r"params\['W2'\] has dtype int64; parameters must be floating point"),
    "read-only param": (lambda p, g: (_with(p, "W2", np.broadcast_to(1.0, (3, 2))), g), r"params\['W2'\] is read-only"),
    "not a dict": (lambda p, g: (list(p.values()), g), r"params must be a dict of arrays, got list"),
}


@pytest.mark.parametrize("make", ALL_OPTIMIZERS, ids=OPTIMIZER_IDS)
@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_raises_and_changes_nothing(make, case):
    corrupt, message = BAD_INPUTS[case]
    optimizer = make()
    params, grads = good()
    optimizer.update(params, grads)  # state exists; the failing call must not advance it
    before = {key: value.copy() for key, value in params.items()}
    state_before = {name: {k: a.copy() for k, a in getattr(optimizer, name).items()} for name in optimizer._state_names}
    bad_params, bad_grads = corrupt(params, grads)
    with pytest.raises(ValueError, match=message):
        optimizer.update(bad_params, bad_grads)
    for key in before:  # W1 and b1 come before W2: validation happens before any update
        np.testing.assert_array_equal(params[key], before[key])
    for name, arrays in state_before.items():
        for key, array in arrays.items():
            np.testing.assert_array_equal(getattr(optimizer, name)[key], array)
    if isinstance(optimizer, Adam):
        assert optimizer.t == 1


def test_a_parameter_that_changes_shape_is_rejected():
    optimizer = Momentum()
    optimizer.update({"W": np.ones(3)}, {"W": np.ones(3)})
    with pytest.raises(ValueError, match=r"params\['W'\] is now \(4,\) float64 but was \(3,\) float64"):
        optimizer.update({"W": np.ones(4)}, {"W": np.ones(4)})


def test_huge_but_finite_gradients_are_accepted():
    # the fast finiteness test is a sum, which overflows here; the exact test must take over
    params = {"W": np.zeros(4, dtype=np.float32)}
    SGD(lr=1e-30).update(params, {"W": np.full(4, 3e38, dtype=np.float32)})
    np.testing.assert_allclose(params["W"], -3e8, rtol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: SGD(lr=-0.1), r"lr must be >= 0"),
    (lambda: SGD(lr=float("nan")), r"lr must be finite"),
    (lambda: SGD(lr="0.1"), r"lr must be a real number"),
    (lambda: Momentum(momentum=1.0), r"momentum must be in \[0, 1\)"),
    (lambda: Nesterov(momentum=-0.1), r"momentum must be in \[0, 1\)"),
    (lambda: MomentumEMA(beta=1.5), r"beta must be in \[0, 1\)"),
    (lambda: AdaGrad(eps=0.0), r"eps must be > 0"),
    (lambda: RMSprop(decay_rate=1.0), r"decay_rate must be in \[0, 1\)"),
    (lambda: Adam(beta1=1.0), r"beta1 must be in \[0, 1\)"),
    (lambda: Adam(beta2=True), r"beta2 must be a real number"),
    (lambda: AdamW(weight_decay=-1e-4), r"weight_decay must be >= 0"),
])
def test_bad_hyperparameters_are_rejected(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_setting_a_negative_lr_is_rejected():
    optimizer = Adam()
    with pytest.raises(ValueError, match=r"lr must be >= 0"):
        optimizer.lr = -1e-3
    assert optimizer.lr == 0.001
