"""``MultiLayerNet``: the book's ``MultiLayerNet`` and ``MultiLayerNetExtend`` as one class.

Layer order for each hidden layer ``i``::

    Affine_i → [BatchNormalization_i] → activation_i → [Dropout_i]

then a final ``Affine`` and ``SoftmaxWithLoss``. The layers are kept in explicit lists
(``layers``, ``affine_layers``, ``batchnorm_layers``, ``activation_layers``, ``dropout_layers``);
behaviour never depends on matching layer names.
"""

from __future__ import annotations

import numpy as np

from lib import gradcheck
from lib.initializers import init_std
from lib.layers import (Affine, BatchNormalization, Dropout, LayerNormalization, SoftmaxWithLoss, activation_layer,
                        log_softmax)

__all__ = ["MultiLayerNet"]

_NORMALIZATIONS = {"none": None, "batch": BatchNormalization, "layer": LayerNormalization}


class _SharedParams(dict):
    """The network's ``params``: the very arrays its layers compute with.

    Optimizers update these arrays in place. Assigning ``params[key] = value`` to an existing key
    copies ``value`` into the existing array (so the layer sees it too) instead of silently
    detaching the dict from the layer; the shape must match and the dtype is kept.
    """

    def __setitem__(self, key, value):
        if key in self:
            target = dict.__getitem__(self, key)
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(f"params[{key!r}]: cannot assign shape {value.shape} to a parameter "
                                 f"of shape {target.shape}")
            if value is not target:
                np.copyto(target, value, casting="same_kind")
            return
        dict.__setitem__(self, key, value)


def _normalization_kind(normalization: str | None, use_batchnorm: bool) -> str:
    """``'batch'``, ``'layer'`` or ``'none'``; ``None`` follows the book's ``use_batchnorm`` switch."""
    if normalization is None:
        normalization = "batch" if use_batchnorm else "none"
    if normalization not in _NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}: use 'batch', 'layer' or 'none'")
    if use_batchnorm and normalization != "batch":
        raise ValueError(f"use_batchnorm=True contradicts normalization={normalization!r}")
    return normalization


class MultiLayerNet:
    """Fully connected network with optional Batch Normalization, dropout and weight decay.

    Parameters
    ----------
    input_size, hidden_size_list, output_size
        e.g. ``784, [100, 100, 100], 10``.
    activation
        ``'relu'``, ``'sigmoid'`` or ``'tanh'``.
    weight_init_std
        ``'relu'``/``'he'`` (√(2/n)), ``'sigmoid'``/``'xavier'`` (√(1/n)), or a number
        (the same standard deviation for every layer), where n is the layer's fan-in
        (``lib.initializers.init_std``, which also knows ``'kaiming'`` and ``'glorot'``).
    weight_decay_lambda
        λ of the L2 penalty（权重衰减） ½λΣ‖W‖² added to the loss (weights only: not biases,
        γ or β); ``gradient`` adds λW to each dW accordingly.
    use_dropout, dropout_ratio
        a ``Dropout`` (inverted) after each hidden activation.
    use_batchnorm
        a ``BatchNormalization`` between each hidden Affine and its activation (the book's switch;
        the same as ``normalization='batch'``).
    normalization
        ``'batch'``, ``'layer'`` (``LayerNormalization``, per-sample statistics) or ``'none'``; the
        default ``None`` follows ``use_batchnorm``. Either kind has parameters ``gamma{i}``, ``beta{i}``.
    seed
        seeds the initial weights and the dropout masks (``np.random.default_rng(seed)``).
    dtype
        ``np.float64`` (default) or ``np.float32``; inputs are cast to it.

    After each forward, ``activations`` holds the output of every hidden activation function
    and ``preactivations`` its input (what the initialization chapter plots).
    """

    def __init__(self, input_size: int, hidden_size_list, output_size: int, activation: str = "relu",
                 weight_init_std="relu", weight_decay_lambda: float = 0, use_dropout: bool = False,
                 dropout_ratio: float = 0.5, use_batchnorm: bool = False, seed: int = 0,
                 dtype=np.float64, normalization: str | None = None):
        activation_layer(activation)  # a ValueError for an unknown name, before anything is built
        normalization = _normalization_kind(normalization, use_batchnorm)
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        if not weight_decay_lambda >= 0:
            raise ValueError(f"weight_decay_lambda must be ≥ 0, got {weight_decay_lambda}")
        sizes = [int(input_size), *[int(h) for h in hidden_size_list], int(output_size)]
        if min(sizes) < 1:
            raise ValueError(f"layer sizes must be positive, got {sizes}")

        self.input_size = sizes[0]
        self.hidden_size_list = sizes[1:-1]
        self.output_size = sizes[-1]
        self.hidden_layer_num = len(self.hidden_size_list)
        self.activation = activation.lower()
        self.weight_init_std = weight_init_std
        self.weight_decay_lambda = float(weight_decay_lambda)
        self.use_dropout = use_dropout
        self.dropout_ratio = dropout_ratio
        self.normalization = normalization
        self.use_batchnorm = normalization == "batch"
        self.dtype = dtype
        self.rng = np.random.default_rng(seed)

        self.params = _SharedParams()
        self._init_affine_params(sizes)
        self._build_layers(sizes)
        self.activations: list[np.ndarray] = []
        self.preactivations: list[np.ndarray] = []
        self.last_loss = None

    def _init_affine_params(self, sizes: list[int]) -> None:
        """``W1, b1, …``: weights with the std ``weight_init_std`` gives each layer's fan-in, zero biases."""
        for i in range(1, len(sizes)):
            shape = (sizes[i - 1], sizes[i])
            try:
                std = init_std(shape, self.weight_init_std)
            except ValueError as error:
                raise ValueError(f"weight_init_std: {error}") from None
            # Drawn in float64 then cast: float32 and float64 networks with one seed start alike.
            self.params[f"W{i}"] = (std * self.rng.standard_normal(shape)).astype(self.dtype)
            self.params[f"b{i}"] = np.zeros(sizes[i], dtype=self.dtype)

    def _build_layers(self, sizes: list[int]) -> None:
        """Affine → [normalization] → activation → [Dropout] per hidden layer, then Affine and the loss."""
        self.layers = []
        self.affine_layers = []
        self.normalization_layers = []
        self.activation_layers = []
        self.dropout_layers = []
        normalization = _NORMALIZATIONS[self.normalization]
        for i in range(1, self.hidden_layer_num + 1):
            affine = Affine(self.params[f"W{i}"], self.params[f"b{i}"])
            self.affine_layers.append(affine)
            self.layers.append(affine)
            if normalization is not None:
                self.params[f"gamma{i}"] = np.ones(sizes[i], dtype=self.dtype)
                self.params[f"beta{i}"] = np.zeros(sizes[i], dtype=self.dtype)
                norm = normalization(self.params[f"gamma{i}"], self.params[f"beta{i}"])
                self.normalization_layers.append(norm)
                self.layers.append(norm)
            act = activation_layer(self.activation)
            self.activation_layers.append(act)
            self.layers.append(act)
            if self.use_dropout:
                dropout = Dropout(self.dropout_ratio, rng=self.rng)
                self.dropout_layers.append(dropout)
                self.layers.append(dropout)
        n = self.hidden_layer_num + 1
        output = Affine(self.params[f"W{n}"], self.params[f"b{n}"])
        self.affine_layers.append(output)
        self.layers.append(output)
        self.last_layer = SoftmaxWithLoss()
        self._affine_keys = [(f"W{i}", f"b{i}") for i in range(1, n + 1)]
        self._normalization_keys = [(f"gamma{i}", f"beta{i}") for i in range(1, len(self.normalization_layers) + 1)]
        # Which entries of `layers` are activation functions (positions survive copy.deepcopy; ids would not).
        self._is_activation = [any(layer is act for act in self.activation_layers) for layer in self.layers]

    @property
    def batchnorm_layers(self) -> list:
        """The ``BatchNormalization`` layers, in order (empty unless ``normalization='batch'``)."""
        return self.normalization_layers if self.normalization == "batch" else []

    # ------------------------------------------------------------------ forward
    def predict(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        """Scores (before softmax) of shape ``(N, output_size)``."""
        x = np.asarray(x)
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        self.preactivations = []
        self.activations = []
        for layer, is_activation in zip(self.layers, self._is_activation):
            if is_activation:
                self.preactivations.append(x)
                x = layer.forward(x, train_flg)
                self.activations.append(x)
            else:
                x = layer.forward(x, train_flg)
        return x

    def _weight_penalty(self) -> float:
        if self.weight_decay_lambda == 0:
            return 0.0
        total = 0.0
        for affine in self.affine_layers:
            w = affine.W.ravel()
            total += float(np.dot(w, w))
        return 0.5 * self.weight_decay_lambda * total

    def loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool = False) -> float:
        """Mean cross-entropy plus ½λΣ‖W‖² (weights only)."""
        scores = self.predict(x, train_flg)
        value = float(self.last_layer.forward(scores, t)) + self._weight_penalty()
        self.last_loss = value
        return value

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """Fraction of samples whose highest score is the label (evaluation mode)."""
        return self.evaluate(x, t)[1]

    def evaluate(self, x: np.ndarray, t: np.ndarray, chunk_size: int = 10_000) -> tuple[float, float]:
        """``(loss, accuracy)`` in evaluation mode, in one forward pass per chunk of samples.

        The loss includes the weight-decay term, as ``loss`` does.
        """
        t = np.asarray(t)
        labels = t.argmax(axis=1) if t.ndim != 1 else t
        n = len(labels)
        if n == 0:
            raise ValueError("evaluate: no samples")
        total_nll = 0.0
        correct = 0
        for start in range(0, n, chunk_size):
            scores = self.predict(x[start:start + chunk_size], train_flg=False)
            lab = labels[start:start + chunk_size]
            logp = log_softmax(scores)
            if t.ndim == 1:
                total_nll -= float(logp[np.arange(len(lab)), lab].sum())
            else:
                total_nll -= float(np.sum(t[start:start + chunk_size] * logp))
            correct += int(np.count_nonzero(scores.argmax(axis=1) == lab))
        return total_nll / n + self._weight_penalty(), correct / n

    # ----------------------------------------------------------------- backward
    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of ``loss(x, t, train_flg=True)`` by backpropagation, keyed like ``params``.

        A training-mode forward: dropout draws new masks (unless fixed) and BN updates its
        running statistics, as during training. The loss value is kept in ``last_loss``.
        """
        self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1)
        for layer in self.layers[:0:-1]:
            dout = layer.backward(dout)
        self.layers[0].backward(dout, compute_dx=False)  # nothing needs ∂loss/∂input

        lam = self.weight_decay_lambda
        grads = {}
        for (w_key, b_key), affine in zip(self._affine_keys, self.affine_layers):
            grads[w_key] = affine.dW + lam * affine.W if lam else affine.dW
            grads[b_key] = affine.db
        for (gamma_key, beta_key), norm in zip(self._normalization_keys, self.normalization_layers):
            grads[gamma_key] = norm.dgamma
            grads[beta_key] = norm.dbeta
        return grads

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Centered-difference gradients of ``loss(x, t, train_flg=True)`` (slow; for checking).

        BN running statistics are restored afterwards. With dropout, set each dropout layer's
        ``fixed_mask`` first, or every evaluation draws a different mask.
        """
        saved = [(bn.running_mean.copy(), bn.running_var.copy()) for bn in self.batchnorm_layers]
        # (Layer normalization keeps no running statistics: nothing to restore.)
        try:
            return {key: gradcheck.numerical_gradient(lambda: self.loss(x, t, train_flg=True), param)
                    for key, param in self.params.items()}
        finally:
            for bn, (mean, var) in zip(self.batchnorm_layers, saved):
                bn.running_mean[...] = mean
                bn.running_var[...] = var
