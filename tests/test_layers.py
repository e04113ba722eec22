import warnings

import numpy as np
import pytest

from conftest import UNIT_TEST_SEEDS
from lib.gradcheck import numerical_gradient, relative_error
from lib.layers import (ACTIVATIONS, Affine, BatchNormalization, Dropout, LayerNormalization, ReLU, Sigmoid,
                        SoftmaxWithLoss, Tanh, activation_layer, log_softmax, softmax)

TOL = 1e-7


def check_layer(layer, x, params=(), train_flg=True, seed=0):
    """Gradient check of ``L = Σ forward(x) · R`` for a random R: dx and every named parameter
    gradient from backward against centered differences. Returns the worst relative error."""
    rng = np.random.default_rng(seed + 100)
    out = layer.forward(x, train_flg)
    weights = rng.standard_normal(out.shape)

    def loss():
        return float(np.sum(layer.forward(x, train_flg) * weights))

    layer.forward(x, train_flg)
    dx = layer.backward(weights)
    analytic = {"x": dx, **{name: getattr(layer, grad) for name, grad in params}}
    numeric = {"x": numerical_gradient(loss, x),
               **{name: numerical_gradient(loss, getattr(layer, name)) for name, _ in params}}
    return max(relative_error(analytic[k], numeric[k]) for k in analytic)


def away_from_zero(rng, shape, margin=0.05):
    """Inputs at least ``margin`` from 0, so ReLU's kink is never within the difference step."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)


@pytest.mark.parametrize("seed", UNIT_TEST_SEEDS)
def test_affine_gradient_and_shape_restoring(seed):
    rng = np.random.default_rng(seed)
    layer = Affine(rng.standard_normal((12, 5)), rng.standard_normal(5))
    x = rng.standard_normal((4, 3, 2, 2))            # any (N, ...) shape is flattened
    assert check_layer(layer, x, [("W", "dW"), ("b", "db")], seed=seed) < TOL
    assert layer.backward(np.ones((4, 5))).shape == x.shape


@pytest.mark.parametrize("seed", UNIT_TEST_SEEDS)
@pytest.mark.parametrize("make", [ReLU, Sigmoid, Tanh], ids=["relu", "sigmoid", "tanh"])
def test_activation_gradients(make, seed):
    x = away_from_zero(np.random.default_rng(seed), (5, 7))
    assert check_layer(make(), x, seed=seed) < TOL


def test_relu_and_sigmoid_values():
    x = np.array([[-2.0, 0.0, 3.0]])
    assert np.array_equal(ReLU().forward(x), [[0.0, 0.0, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # no overflow in exp for very negative inputs
        y = Sigmoid().forward(np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]]))
    assert np.allclose(y, [[0.0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-30.0)), 1.0]], rtol=1e-12, atol=0)
    assert y[0, 1] > 0                             # relative precision kept in the tail


def test_activation_layers_by_name():
    assert ACTIVATIONS == {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}
    first, second = activation_layer("ReLU"), activation_layer("relu")
    assert type(first) is ReLU and first is not second  # a new layer each time: each keeps its own output
    # forward is the function, backward multiplies by its derivative at the last input
    z = np.array([[-1.5, 0.5, 2.0]])
    for name, derivative in (("relu", (z > 0) * 1.0), ("sigmoid", np.exp(-z) / (1 + np.exp(-z)) ** 2),
                             ("tanh", 1 / np.cosh(z) ** 2)):
        layer = activation_layer(name)
        layer.forward(z)
        np.testing.assert_allclose(layer.backward(np.full_like(z, 3.0)), 3.0 * derivative, rtol=1e-12)
    with pytest.raises(ValueError, match=r"unknown activation 'gelu': use one of \['relu', 'sigmoid', 'tanh'\]"):
        activation_layer("gelu")


@pytest.mark.parametrize("seed", UNIT_TEST_SEEDS)
def test_batchnorm_training_gradient(seed):
    rng = np.random.default_rng(seed)
    bn = BatchNormalization(rng.standard_normal(6), rng.standard_normal(6))
    x = rng.standard_normal((8, 6)) * 3 + 1
    assert check_layer(bn, x, [("gamma", "dgamma"), ("beta", "dbeta")], seed=seed) < TOL


@pytest.mark.parametrize("seed", UNIT_TEST_SEEDS)
def test_batchnorm_evaluation_gradient(seed):
    rng = np.random.default_rng(seed)
    bn = BatchNormalization(rng.standard_normal(6), rng.standard_normal(6),
                            running_mean=rng.standard_normal(6), running_var=rng.random(6) + 0.5)
    x = rng.standard_normal((5, 6))
    assert check_layer(bn, x, [("gamma", "dgamma"), ("beta", "dbeta")], train_flg=False, seed=seed) < TOL


@pytest.mark.parametrize("seed", UNIT_TEST_SEEDS)
def test_batchnorm_per_channel_for_4d_input(seed):
    rng = np.random.default_rng(seed)
    bn = BatchNormalization(rng.standard_normal(3), rng.standard_normal(3))
    x = rng.standard_normal((4, 3, 2, 2)) + 2
    out = bn.forward(x, train_flg=True)
    normalized = (out - bn.beta[None, :, None, None]) / bn.gamma[None, :, None, None]
    assert np.allclose(normalized.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    assert np.allclose(normalized.var(axis=(0, 2, 3)), 1, atol=1e-3)   # eps = 1e-5 shrinks it slightly
    assert check_layer(bn, x, [("gamma", "dgamma"), ("beta", "dbeta")], seed=seed) < TOL


@pytest.mark.parametrize("seed", UNIT_TEST_SEEDS)
def test_batchnorm_graph_backward_equals_closed_form(seed):
    rng = np.random.default_rng(seed)
    bn = BatchNormalization(rng.standard_normal(10), rng.standard_normal(10))
    x = rng.standard_normal((16, 10)) * 5 - 3
    dout = rng.standard_normal((16, 10))
    bn.forward(x, train_flg=True)
    dx_closed = bn.backward(dout)
    dgamma, dbeta = bn.dgamma.copy(), bn.dbeta.copy()
    dx_graph = bn.backward_graph(dout)
    assert relative_error(dx_closed, dx_graph) < 1e-8
    assert relative_error(dgamma, bn.dgamma) < 1e-12 and relative_error(dbeta, bn.dbeta) < 1e-12
    # Both are right, not just alike: dx sums to zero over the batch (the mean is subtracted).
    assert np.allclose(dx_closed.sum(axis=0), 0, atol=1e-10)


def test_batchnorm_with_a_batch_of_one_is_a_vacuous_gradient_check():
    """Every sample equals the batch mean, so the output is β whatever x is: dx is 0 both ways and
    a gradient check "passes" without testing anything — hence batches of ≥ 4 above."""
    rng = np.random.default_rng(0)
    bn = BatchNormalization(rng.standard_normal(5), rng.standard_normal(5))
    x = rng.standard_normal((1, 5))
    out = bn.forward(x, train_flg=True)
    assert np.allclose(out, bn.beta, atol=1e-12)
    assert np.allclose(bn.forward(x * 7 + 3, train_flg=True), out, atol=1e-12)
    weights = rng.standard_normal((1, 5))
    dx = bn.backward(weights)
    numeric = numerical_gradient(lambda: float(np.sum(bn.forward(x, True) * weights)), x)
    assert np.max(np.abs(dx)) < 1e-12 and np.max(np.abs(numeric)) < 1e-9


def test_batchnorm_running_statistics_follow_the_documented_momentum_convention():
    rng = np.random.default_rng(0)
    bn = BatchNormalization(np.ones(4), np.zeros(4), momentum=0.7)
    assert np.array_equal(bn.running_mean, np.zeros(4)) and np.array_equal(bn.running_var, np.ones(4))
    expected_mean, expected_var = np.zeros(4), np.ones(4)
    for _ in range(3):
        x = rng.standard_normal((10, 4)) * 2 + 5
        bn.forward(x, train_flg=True)
        # running = momentum·running + (1 − momentum)·batch, with the biased (1/N) variance
        expected_mean = 0.7 * expected_mean + 0.3 * x.mean(axis=0)
        expected_var = 0.7 * expected_var + 0.3 * x.var(axis=0)
    assert np.allclose(bn.running_mean, expected_mean, rtol=1e-12)
    assert np.allclose(bn.running_var, expected_var, rtol=1e-12)

    unbiased = BatchNormalization(np.ones(4), np.zeros(4), momentum=0.7, unbiased_running_var=True)
    unbiased.forward(x, train_flg=True)
    assert np.allclose(unbiased.running_var, 0.7 + 0.3 * x.var(axis=0, ddof=1), rtol=1e-12)


def test_batchnorm_evaluation_uses_running_statistics_not_the_batch():
    rng = np.random.default_rng(1)
    gamma, beta = rng.random(3) + 0.5, rng.standard_normal(3)
    mean, var = rng.standard_normal(3), rng.random(3) + 0.1
    bn = BatchNormalization(gamma, beta, running_mean=mean.copy(), running_var=var.copy())
    x = rng.standard_normal((6, 3)) * 4 + 2
    out = bn.forward(x, train_flg=False)
    assert np.allclose(out, gamma * (x - mean) / np.sqrt(var + 1e-5) + beta, rtol=1e-12)
    # one sample alone gives the same output as inside the batch, and nothing is updated
    assert np.allclose(bn.forward(x[2:3], train_flg=False), out[2:3], rtol=1e-12)
    assert np.array_equal(bn.running_mean, mean) and np.array_equal(bn.running_var, var)
    # training mode, by contrast, normalizes with the batch's own statistics
    train_out = bn.forward(x, train_flg=True)
    assert np.allclose(((train_out - beta) / gamma).mean(axis=0), 0, atol=1e-12)


@pytest.mark.parametrize("seed", UNIT_TEST_SEEDS)
def test_layer_normalization_gradient_and_independence_from_the_batch(seed):
    rng = np.random.default_rng(seed)
    ln = LayerNormalization(rng.standard_normal(10), rng.standard_normal(10))
    x = rng.standard_normal((6, 10)) + 1
    assert check_layer(ln, x, [("gamma", "dgamma"), ("beta", "dbeta")], seed=seed) < TOL
    assert np.allclose(ln.forward(x[1:2]), ln.forward(x)[1:2], rtol=1e-12)
    assert np.allclose(ln.forward(x, train_flg=True), ln.forward(x, train_flg=False))


@pytest.mark.parametrize("inverted", [True, False])
@pytest.mark.parametrize("seed", UNIT_TEST_SEEDS)
def test_dropout_gradient_with_a_fixed_mask(inverted, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, 8))
    layer = Dropout(0.3, inverted=inverted, rng=seed)
    layer.fixed_mask = rng.random(x.shape) > 0.3
    assert check_layer(layer, x, seed=seed) < TOL
    out = layer.forward(x, train_flg=True)
    scale = 1 / 0.7 if inverted else 1.0
    assert np.allclose(out, x * layer.fixed_mask * scale, rtol=1e-12)


def test_dropout_backward_reuses_the_forward_mask():
    layer = Dropout(0.5, rng=3)
    x = np.ones((50, 40))
    out = layer.forward(x, train_flg=True)
    assert np.array_equal(layer.backward(np.ones_like(x)), out)   # same units dropped, same scale


@pytest.mark.parametrize("seed", UNIT_TEST_SEEDS)
def test_dropout_conventions_agree_in_expectation(seed):
    """Inverted: E[train] = x = test output. Book's: E[train] = (1−p)x = test output.
    Either way the test-time output is the expected training output."""
    p = 0.4
    x = np.full((400, 500), 2.0)
    for inverted in (True, False):
        layer = Dropout(p, inverted=inverted, rng=seed)
        train_mean = layer.forward(x, train_flg=True).mean()
        kept = np.count_nonzero(layer.mask) / layer.mask.size
        test_value = layer.forward(x, train_flg=False)[0, 0]
        # mean of 200,000 scaled Bernoulli draws: standard error ≈ 0.0022 (inverted), 0.0014 (book)
        assert abs(train_mean - test_value) < 0.012
        assert test_value == pytest.approx(2.0 if inverted else 2.0 * (1 - p))
        assert abs(kept - (1 - p)) < 0.005


def test_dropout_is_seeded_and_leaves_the_global_generator_alone():
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    a = Dropout(0.5, rng=7).forward(np.ones((10, 10)), train_flg=True)
    b = Dropout(0.5, rng=np.random.default_rng(7)).forward(np.ones((10, 10)), train_flg=True)
    assert np.array_equal(a, b)
    assert np.array_equal(np.random.get_state()[1], state)
    with pytest.raises(ValueError, match="dropout_ratio"):
        Dropout(1.0)


@pytest.mark.parametrize("seed", UNIT_TEST_SEEDS)
def test_softmax_with_loss_gradient_for_labels_and_one_hot(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((5, 4)) * 3
    labels = rng.integers(0, 4, 5)
    for t in (labels, np.eye(4)[labels]):
        layer = SoftmaxWithLoss()
        layer.forward(x, t)
        dx = layer.backward()
        numeric = numerical_gradient(lambda: float(layer.forward(x, t)), x)
        assert relative_error(dx, numeric) < TOL
    assert SoftmaxWithLoss().forward(x, labels) == pytest.approx(SoftmaxWithLoss().forward(x, np.eye(4)[labels]))


def test_softmax_with_loss_is_exact_for_huge_scores():
    layer = SoftmaxWithLoss()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = layer.forward(np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]]), np.array([2, 1]))
    # row 1: −log softmax = 2000 exactly (the book's log(y + 1e-7) would cap it at 16.1); row 2: log 3
    assert loss == pytest.approx((2000 + np.log(3)) / 2, rel=1e-12)
    assert np.all(np.isfinite(layer.backward()))


def test_log_softmax_softmax_and_the_loss_agree():
    x = np.random.default_rng(5).standard_normal((6, 4)) * 40  # large scores: the shift matters
    labels = np.arange(6) % 4
    np.testing.assert_allclose(np.exp(log_softmax(x)), softmax(x), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(softmax(x).sum(axis=1), 1.0, rtol=1e-14)
    layer = SoftmaxWithLoss()
    assert layer.forward(x, labels) == pytest.approx(-log_softmax(x)[np.arange(6), labels].mean(), rel=1e-13)
    np.testing.assert_allclose(layer.y, softmax(x), rtol=1e-13, atol=1e-300)


def test_float32_is_preserved_through_forward_and_backward():
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.standard_normal((8, 6)).astype(f32)
    layers = [
        (Affine(rng.standard_normal((6, 6)).astype(f32), np.zeros(6, f32)), ["dW", "db"]),
        (ReLU(), []), (Sigmoid(), []), (Tanh(), []),
        (BatchNormalization(np.ones(6, f32), np.zeros(6, f32)), ["dgamma", "dbeta"]),
        (LayerNormalization(np.ones(6, f32), np.zeros(6, f32)), ["dgamma", "dbeta"]),
        (Dropout(0.5, inverted=True), []), (Dropout(0.5, inverted=False), []),
    ]
    for layer, grads in layers:
        for train_flg in (True, False):
            out = layer.forward(x, train_flg)
            dx = layer.backward(np.ones_like(out))
            assert out.dtype == f32 and dx.dtype == f32, (type(layer).__name__, train_flg)
            assert all(getattr(layer, g).dtype == f32 for g in grads), type(layer).__name__
        if isinstance(layer, BatchNormalization):
            assert layer.running_mean.dtype == f32 and layer.running_var.dtype == f32
            layer.forward(x, True)
            assert layer.backward_graph(np.ones_like(x)).dtype == f32
    softmax = SoftmaxWithLoss()
    assert softmax.forward(x, np.arange(8) % 6).dtype == f32
    assert softmax.backward(np.float64(1.0)).dtype == f32


def test_bad_shapes_raise_errors_naming_the_layer_and_shapes():
    affine = Affine(np.zeros((4, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"Affine.*\(2, 5\).*\(4, 3\)"):
        affine.forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="Affine"):
        Affine(np.zeros((4, 3)), np.zeros(4))
    affine.forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"Affine.backward.*\(2, 4\).*\(2, 3\)"):
        affine.backward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"BatchNormalization.*\(2, 5\).*\(3,\)"):
        BatchNormalization(np.ones(3), np.zeros(3)).forward(np.zeros((2, 5)), True)
    with pytest.raises(ValueError, match=r"LayerNormalization.*\(2, 5\)"):
        LayerNormalization(np.ones(3), np.zeros(3)).forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"SoftmaxWithLoss.*3 labels for 2"):
        SoftmaxWithLoss().forward(np.zeros((2, 4)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"SoftmaxWithLoss.*\[0, 4\)"):
        SoftmaxWithLoss().forward(np.zeros((2, 4)), np.array([0, 4]))
    with pytest.raises(ValueError, match=r"SoftmaxWithLoss.*\(2, 3\).*\(2, 4\)"):
        SoftmaxWithLoss().forward(np.zeros((2, 4)), np.zeros((2, 3)))
    layer = Dropout(0.5)
    layer.fixed_mask = np.ones((3, 3), dtype=bool)
    with pytest.raises(ValueError, match=r"Dropout.*\(3, 3\).*\(2, 2\)"):
        layer.forward(np.zeros((2, 2)), train_flg=True)
    with pytest.raises(ValueError, match="ReLU.backward called before forward"):
        ReLU().backward(np.zeros(3))
