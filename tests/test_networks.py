import copy

import numpy as np
import pytest

from conftest import UNIT_TEST_SEEDS
from lib.gradcheck import relative_error
from lib.networks import MultiLayerNet

CONFIGS = {
    "relu": dict(),
    "batchnorm": dict(use_batchnorm=True),
    "layernorm": dict(normalization="layer"),
    "dropout": dict(use_dropout=True, dropout_ratio=0.3),
    "weight_decay": dict(weight_decay_lambda=0.1),
    "sigmoid": dict(activation="sigmoid", weight_init_std="xavier"),
    "tanh": dict(activation="tanh", weight_init_std="xavier"),
    "everything": dict(use_batchnorm=True, use_dropout=True, weight_decay_lambda=0.05, activation="tanh"),
}
# Batch of 4: the smallest for which BN's gradient check is meaningful (see test_layers).
N, D, HIDDEN, C = 4, 3, [4, 4], 3


def small_problem(seed, **config):
    """A small network with every parameter randomized (zero biases put ReLU inputs exactly on
    the kink when a whole layer is dead), inputs kept away from 0, and dropout masks fixed.

    Float64 centered differences carry about 1e-11 of absolute rounding error, so a gradient
    entry smaller than about 1e-4 can exceed a relative error of 1e-7 on its own, whatever the
    backward pass; with seeds 0–2 no entry is that small. A wrong backward pass gives ≥ 1e-3.
    """
    rng = np.random.default_rng(seed)
    net = MultiLayerNet(D, HIDDEN, C, seed=seed, **config)
    for key, value in net.params.items():
        value += 0.3 * rng.standard_normal(value.shape)
    for layer, width in zip(net.dropout_layers, HIDDEN):
        layer.fixed_mask = rng.random((N, width)) >= 0.3
    x = rng.standard_normal((N, D))
    x = np.where(x >= 0, x + 0.5, x - 0.5)
    t = rng.integers(0, C, N)
    return net, x, t


@pytest.mark.parametrize("seed", UNIT_TEST_SEEDS)
@pytest.mark.parametrize("name", list(CONFIGS))
def test_network_gradient_check(name, seed):
    net, x, t = small_problem(seed, **CONFIGS[name])
    analytic = net.gradient(x, t)
    numeric = net.numerical_gradient(x, t)
    assert analytic.keys() == numeric.keys() == net.params.keys()
    redundant = set()
    if net.use_batchnorm:
        # A bias right before BN is removed by the mean subtraction: its gradient is exactly 0.
        redundant = {f"b{i}" for i in range(1, len(HIDDEN) + 1)}
        for key in redundant:
            assert np.max(np.abs(analytic[key])) < 1e-12 and np.max(np.abs(numeric[key])) < 1e-9
    errors = {key: relative_error(analytic[key], numeric[key]) for key in analytic if key not in redundant}
    assert max(errors.values()) < 1e-7, errors


def test_gradient_check_detects_a_missing_weight_decay_term():
    net, x, t = small_problem(0, weight_decay_lambda=0.1)
    numeric = net.numerical_gradient(x, t)
    net.weight_decay_lambda = 0.0
    without_decay = net.gradient(x, t)
    net.weight_decay_lambda = 0.1
    assert relative_error(without_decay["W1"], numeric["W1"]) > 1e-3


def test_params_are_the_layers_arrays():
    net = MultiLayerNet(5, [4, 3], 2, use_batchnorm=True)
    assert net.params["W1"] is net.affine_layers[0].W and net.params["b3"] is net.affine_layers[2].b
    assert net.params["gamma2"] is net.batchnorm_layers[1].gamma
    x = np.random.default_rng(0).standard_normal((6, 5))
    before = net.predict(x)
    net.params["W3"] -= 1.0                        # an optimizer's in-place update
    assert not np.allclose(net.predict(x), before)
    net.params["W3"] = np.zeros((3, 2))            # assignment copies into the shared array
    assert net.affine_layers[2].W is net.params["W3"] and np.all(net.affine_layers[2].W == 0)
    with pytest.raises(ValueError, match=r"W3.*\(2, 2\).*\(3, 2\)"):
        net.params["W3"] = np.zeros((2, 2))


def test_layer_order_and_keys():
    net = MultiLayerNet(5, [4, 3], 2, use_batchnorm=True, use_dropout=True)
    names = [type(layer).__name__ for layer in net.layers]
    assert names == ["Affine", "BatchNormalization", "ReLU", "Dropout"] * 2 + ["Affine"]
    assert list(net.params) == ["W1", "b1", "W2", "b2", "W3", "b3", "gamma1", "beta1", "gamma2", "beta2"]


@pytest.mark.parametrize("seed", UNIT_TEST_SEEDS)
def test_weight_decay_penalizes_weights_only(seed):
    net, x, t = small_problem(seed, weight_decay_lambda=0.2, use_batchnorm=True)
    plain_loss = net.last_layer.forward(net.predict(x), t)
    weights = sum(float(np.sum(net.params[f"W{i}"] ** 2)) for i in (1, 2, 3))
    assert net.loss(x, t) == pytest.approx(float(plain_loss) + 0.5 * 0.2 * weights, rel=1e-12)
    penalty = net.loss(x, t) - float(net.last_layer.forward(net.predict(x), t))
    for key in ("b1", "b3", "gamma1", "beta2"):
        net.params[key] += 5.0
    changed = net.loss(x, t) - float(net.last_layer.forward(net.predict(x), t))
    assert changed == pytest.approx(penalty, rel=1e-12)


@pytest.mark.parametrize("init, factor", [("relu", 2.0), ("he", 2.0), ("sigmoid", 1.0), ("Xavier", 1.0)])
def test_named_initializations(init, factor):
    net = MultiLayerNet(400, [300], 200, weight_init_std=init, seed=3)
    assert net.params["W1"].std() == pytest.approx(np.sqrt(factor / 400), rel=0.01)   # 120,000 draws
    assert net.params["W2"].std() == pytest.approx(np.sqrt(factor / 300), rel=0.01)
    assert np.all(net.params["b1"] == 0)


def test_numeric_initialization_and_errors():
    net = MultiLayerNet(400, [300], 10, weight_init_std=0.01, seed=1)
    assert net.params["W1"].std() == pytest.approx(0.01, rel=0.01)
    with pytest.raises(ValueError, match="weight_init_std"):
        MultiLayerNet(4, [3], 2, weight_init_std="lecun")
    with pytest.raises(ValueError, match="weight_init_std"):
        MultiLayerNet(4, [3], 2, weight_init_std=-1.0)
    with pytest.raises(ValueError, match="activation"):
        MultiLayerNet(4, [3], 2, activation="gelu")
    with pytest.raises(ValueError, match="dtype"):
        MultiLayerNet(4, [3], 2, dtype=np.int32)


def test_seed_determines_the_network():
    a, b, c = (MultiLayerNet(6, [5], 3, seed=s) for s in (4, 4, 5))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    f32 = MultiLayerNet(6, [5], 3, seed=4, dtype=np.float32)
    assert np.allclose(f32.params["W1"], a.params["W1"], rtol=1e-6)


def test_float32_network_stays_float32():
    net = MultiLayerNet(6, [5, 5], 3, use_batchnorm=True, use_dropout=True, dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((8, 6))          # float64 input is cast
    t = np.arange(8) % 3
    grads = net.gradient(x, t)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert net.predict(x).dtype == np.float32
    assert all(a.dtype == np.float32 for a in net.activations)


def test_activations_are_recorded_per_hidden_layer():
    net = MultiLayerNet(6, [5, 4, 3], 2, activation="sigmoid")
    x = np.random.default_rng(0).standard_normal((10, 6))
    net.predict(x)
    assert [a.shape for a in net.activations] == [(10, 5), (10, 4), (10, 3)]
    assert all(np.allclose(a, 1 / (1 + np.exp(-z))) for a, z in zip(net.activations, net.preactivations))


def test_numerical_gradient_leaves_batchnorm_running_statistics_alone():
    net, x, t = small_problem(0, use_batchnorm=True)
    net.gradient(x, t)
    before = [(bn.running_mean.copy(), bn.running_var.copy()) for bn in net.batchnorm_layers]
    net.numerical_gradient(x, t)
    for bn, (mean, var) in zip(net.batchnorm_layers, before):
        assert np.array_equal(bn.running_mean, mean) and np.array_equal(bn.running_var, var)


@pytest.mark.parametrize("seed", UNIT_TEST_SEEDS)
def test_evaluate_matches_loss_and_accuracy(seed):
    net, x, t = small_problem(seed, use_batchnorm=True, weight_decay_lambda=0.1, use_dropout=True)
    loss, accuracy = net.evaluate(x, t, chunk_size=3)          # chunks must not change the answer
    assert loss == pytest.approx(net.loss(x, t), rel=1e-12)
    assert accuracy == net.accuracy(x, t) == np.mean(net.predict(x).argmax(axis=1) == t)
    assert net.accuracy(x, np.eye(C)[t]) == accuracy           # one-hot labels too


def test_dropout_is_off_at_test_time_and_on_in_training():
    net = MultiLayerNet(6, [50], 3, use_dropout=True, dropout_ratio=0.5)
    x = np.random.default_rng(0).standard_normal((4, 6))
    assert np.array_equal(net.predict(x), net.predict(x))
    assert not np.array_equal(net.predict(x, train_flg=True), net.predict(x, train_flg=True))


def test_a_deep_copy_is_an_independent_working_network():
    net = MultiLayerNet(6, [5, 4], 3, use_batchnorm=True)
    clone = copy.deepcopy(net)
    assert clone.params["W1"] is clone.affine_layers[0].W and clone.params["W1"] is not net.params["W1"]
    assert clone.params["gamma1"] is clone.batchnorm_layers[0].gamma
    x = np.random.default_rng(0).standard_normal((4, 6))
    clone.params["W3"] += 1.0
    assert not np.allclose(clone.predict(x), net.predict(x))
    assert len(clone.activations) == 2


def test_normalization_names_the_layer_kind_and_rejects_contradictions():
    layer_net = MultiLayerNet(D, HIDDEN, C, normalization="layer")
    assert [type(layer).__name__ for layer in layer_net.normalization_layers] == ["LayerNormalization"] * 2
    assert layer_net.batchnorm_layers == [] and not layer_net.use_batchnorm
    assert MultiLayerNet(D, HIDDEN, C, use_batchnorm=True).normalization == "batch"
    with pytest.raises(ValueError, match="unknown normalization 'group'"):
        MultiLayerNet(D, HIDDEN, C, normalization="group")
    with pytest.raises(ValueError, match="contradicts"):
        MultiLayerNet(D, HIDDEN, C, use_batchnorm=True, normalization="layer")
