"""Layers with ``forward``/``backward``: the API of Saito's ``common/layers.py``, with its faults fixed.

Every layer has ``forward(x, train_flg=False)`` (layers that behave the same in training and
evaluation simply ignore the flag, so a network can call all its layers the same way) and
``backward(dout)``, which returns the gradient with respect to the input of the last forward call.
Layers with parameters keep them as arrays given at construction (shared by reference with the
network's ``params`` dict, so an optimizer's in-place update is seen by the layer) and store their
gradients in ``dW``/``db`` or ``dgamma``/``dbeta`` after ``backward``.

Precision: parameters define a layer's dtype. A float32 layer given float32 input computes, stores
and returns float32 — nothing is promoted to float64 (scalars are Python floats, never numpy float64).

What differs from the book:

- ``Affine`` casts its input to the parameters' dtype and checks shapes (clear ``ValueError``).
- ``Sigmoid`` is computed without overflow for large negative inputs.
- ``BatchNormalization`` starts ``running_var`` at 1 (not 0, which makes evaluation before enough
  training divide by √eps), normalizes per channel for 4-D input (the book normalizes every pixel
  separately), back-propagates correctly in evaluation mode too, and offers both the closed-form
  backward and the step-by-step computational-graph backward.
- ``Dropout`` is inverted by default, uses its own seeded generator (never the global
  ``np.random``), and can be given a fixed mask for gradient checks.
- ``SoftmaxWithLoss`` uses log-sum-exp (no ``log(y + 1e-7)`` fudge) and accepts integer labels or
  one-hot (or any probability-vector) targets.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Affine", "ReLU", "Sigmoid", "Tanh", "ACTIVATIONS", "activation_layer", "BatchNormalization",
           "LayerNormalization", "Dropout", "SoftmaxWithLoss", "softmax", "log_softmax"]


def _require_forward(layer, attribute: str) -> None:
    if getattr(layer, attribute, None) is None:
        raise ValueError(f"{type(layer).__name__}.backward called before forward")


def _check_dout(layer, dout: np.ndarray, expected_shape: tuple) -> np.ndarray:
    if type(dout) is not np.ndarray:
        dout = np.asarray(dout)
    if dout.shape != expected_shape:
        raise ValueError(f"{type(layer).__name__}.backward: dout has shape {dout.shape}, "
                         f"expected {expected_shape} (the shape of the last forward output)")
    return dout


class Affine:
    """Fully connected layer ``out = x · W + b``.

    ``x`` may have any shape ``(N, ...)``; it is flattened to ``(N, D)`` with ``D = W.shape[0]``
    and ``backward`` returns ``dx`` in the original shape. Gradients: ``dW = xᵀ · dout``,
    ``db = Σₙ dout``, ``dx = dout · Wᵀ``. The input is cast to ``W``'s dtype.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray):
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"Affine: W must be 2-D (D, M) and b of shape (M,); got W {W.shape}, b {b.shape}")
        if W.dtype != b.dtype:
            raise ValueError(f"Affine: W and b must share a dtype; got {W.dtype} and {b.dtype}")
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim < 2 or math.prod(x.shape[1:]) != self.W.shape[0]:
            raise ValueError(f"Affine.forward: input of shape {x.shape} does not fit W of shape "
                             f"{self.W.shape} (need (N, {self.W.shape[0]}) or (N, ...) with "
                             f"{self.W.shape[0]} values per sample)")
        self.original_x_shape = x.shape
        if x.ndim != 2:
            x = x.reshape(x.shape[0], -1)
        if x.dtype != self.W.dtype:
            x = x.astype(self.W.dtype)
        self.x = x
        out = x @ self.W
        out += self.b
        return out

    def backward(self, dout: np.ndarray, *, compute_dx: bool = True) -> np.ndarray | None:
        """Store ``dW`` and ``db``; return ``dx`` (``None`` with ``compute_dx=False``: a network's
        first layer skips it, saving one of its three largest matrix products)."""
        _require_forward(self, "x")
        dout = _check_dout(self, dout, (self.x.shape[0], self.W.shape[1]))
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        if not compute_dx:
            return None
        dx = dout @ self.W.T
        return dx if len(self.original_x_shape) == 2 else dx.reshape(self.original_x_shape)


class ReLU:
    """``out = max(0, x)``; ``dx = dout · [x > 0]`` (the gradient at exactly 0 is taken as 0)."""

    def __init__(self):
        self.out = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        self.out = np.maximum(x, 0)
        return self.out

    @property
    def mask(self) -> np.ndarray | None:
        """Where the input was ≤ 0 (the units whose gradient is blocked), as in the book."""
        return None if self.out is None else self.out <= 0

    def backward(self, dout: np.ndarray) -> np.ndarray:
        _require_forward(self, "out")
        dout = _check_dout(self, dout, self.out.shape)
        return dout * (self.out > 0)


class Sigmoid:
    """``out = 1 / (1 + e^(−x))``, evaluated without overflow; ``dx = dout · out · (1 − out)``."""

    def __init__(self):
        self.out = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        x = np.asarray(x)
        # e^(−|x|) never overflows; for x < 0 use σ(x) = e^x / (1 + e^x).
        z = np.exp(-np.abs(x))
        out = 1 / (1 + z)
        out = np.where(x < 0, z * out, out)
        self.out = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        _require_forward(self, "out")
        dout = _check_dout(self, dout, self.out.shape)
        return dout * (1 - self.out) * self.out


class Tanh:
    """``out = tanh(x)``; ``dx = dout · (1 − out²)``."""

    def __init__(self):
        self.out = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        _require_forward(self, "out")
        dout = _check_dout(self, dout, self.out.shape)
        return dout * (1 - self.out * self.out)


# The activation functions by name: each layer's ``forward`` is the function and its ``backward``
# multiplies by the derivative (``dout · φ'(x)``, read from the stored output).
ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


def activation_layer(name: str):
    """A new activation layer by name (``'relu'``, ``'sigmoid'`` or ``'tanh'``, any case)."""
    if not isinstance(name, str) or name.lower() not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: use one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name.lower()]()


class BatchNormalization:
    """Batch Normalization（批标准化）, Ioffe & Szegedy 2015.

    Training (``train_flg=True``), per feature over the batch of ``N`` samples::

        μ = mean(x),  σ² = mean((x − μ)²)   (biased: divides by N),
        x̂ = (x − μ) / √(σ² + eps),  out = γ · x̂ + β

    and the running statistics used in evaluation are updated as::

        running = momentum · running + (1 − momentum) · batch_statistic

    so ``momentum=0.9`` keeps 90 % of the old value. **PyTorch names this the other way round:**
    its ``BatchNorm1d(momentum=0.1)`` performs exactly this update with our ``momentum=0.9``
    (PyTorch's momentum is the weight of the *new* batch). Keras' ``momentum=0.99`` follows our
    convention.

    Running variance: by default we store the **biased** batch variance (1/N), the same number
    the training pass normalizes with, as Saito's book and Keras do; PyTorch (and the original
    paper's inference rule) store the unbiased variance ``N/(N−1) · σ²``. The factor is 1.03 at
    N = 32 and negligible at the batch sizes where BN works well; ``unbiased_running_var=True``
    gives PyTorch's behaviour for comparison.

    Evaluation (``train_flg=False``) normalizes with ``running_mean``/``running_var``, which start
    at 0 and 1 (PyTorch's choice; the book starts the variance at 0, so an untrained network in
    evaluation mode divides by √eps).

    Input: ``(N, D)`` with ``gamma``/``beta`` of shape ``(D,)``, or ``(N, C, H, W)`` with shape
    ``(C,)`` — then statistics are per channel over N·H·W values (spatial BN, as for conv nets).

    ``backward`` uses the simplified closed form::

        dx = (1/N) · (1/√(σ²+eps)) · (N·dx̂ − Σ dx̂ − x̂ · Σ(dx̂ · x̂)),   dx̂ = dout · γ

    ``backward_graph`` computes the same gradient node by node through the computational graph
    (the book's version); the two agree to rounding error. After a forward in evaluation mode the
    layer is a fixed affine map and ``backward`` returns ``dout · γ / √(running_var + eps)``.
    """

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, momentum: float = 0.9, eps: float = 1e-5,
                 running_mean: np.ndarray | None = None, running_var: np.ndarray | None = None,
                 unbiased_running_var: bool = False):
        if gamma.ndim != 1 or beta.shape != gamma.shape:
            raise ValueError(f"BatchNormalization: gamma and beta must be 1-D of the same shape; "
                             f"got {gamma.shape} and {beta.shape}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum}")
        if eps <= 0:
            raise ValueError(f"BatchNormalization: eps must be positive, got {eps}")
        self.gamma = gamma
        self.beta = beta
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.unbiased_running_var = unbiased_running_var
        self.running_mean = np.zeros_like(gamma) if running_mean is None else running_mean
        self.running_var = np.ones_like(gamma) if running_var is None else running_var
        for name, value in (("running_mean", self.running_mean), ("running_var", self.running_var)):
            if value.shape != gamma.shape:
                raise ValueError(f"BatchNormalization: {name} has shape {value.shape}, expected {gamma.shape}")
        # Kept from the last forward for backward.
        self.input_shape = None
        self.train_mode = None
        self.batch_size = None
        self.xc = None
        self.xn = None
        self.std = None
        self.dgamma = None
        self.dbeta = None

    # 4-D input is normalized per channel: view it as (N·H·W, C) rows.
    def _to_rows(self, x: np.ndarray) -> np.ndarray:
        D = self.gamma.shape[0]
        if x.ndim == 2 and x.shape[1] == D:
            return x
        if x.ndim == 4 and x.shape[1] == D:
            return x.transpose(0, 2, 3, 1).reshape(-1, D)
        raise ValueError(f"BatchNormalization.forward: input of shape {x.shape} does not fit gamma of "
                         f"shape {self.gamma.shape} (need (N, {D}) or (N, {D}, H, W))")

    def _from_rows(self, rows: np.ndarray) -> np.ndarray:
        if len(self.input_shape) == 2:
            return rows
        N, C, H, W = self.input_shape
        return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != self.gamma.dtype:
            x = x.astype(self.gamma.dtype)
        rows = self._to_rows(x)
        self.input_shape = x.shape
        self.train_mode = bool(train_flg)
        n = rows.shape[0]
        self.batch_size = n
        if train_flg:
            mu = rows.mean(axis=0)
            xc = rows - mu
            var = np.mean(xc * xc, axis=0)
            std = np.sqrt(var + self.eps)
            m = self.momentum
            self.running_mean *= m
            self.running_mean += (1 - m) * mu
            stored_var = var * (n / (n - 1)) if (self.unbiased_running_var and n > 1) else var
            self.running_var *= m
            self.running_var += (1 - m) * stored_var
        else:
            xc = rows - self.running_mean
            std = np.sqrt(self.running_var + self.eps)
        xn = xc / std
        self.xc, self.xn, self.std = xc, xn, std
        out = self.gamma * xn
        out += self.beta
        return self._from_rows(out)

    def _drows(self, dout: np.ndarray) -> np.ndarray:
        _require_forward(self, "xn")
        dout = _check_dout(self, dout, self.input_shape)
        if dout.dtype != self.gamma.dtype:
            dout = dout.astype(self.gamma.dtype)
        return self._to_rows(dout)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = self._drows(dout)
        xn = self.xn
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(dout * xn, axis=0)
        dxn = dout * self.gamma
        if not self.train_mode:
            return self._from_rows(dxn / self.std)
        n = self.batch_size
        dx = dxn * n
        dx -= dxn.sum(axis=0)
        dx -= xn * np.sum(dxn * xn, axis=0)
        dx *= 1 / n
        dx /= self.std
        return self._from_rows(dx)

    def backward_graph(self, dout: np.ndarray) -> np.ndarray:
        """The same gradient, node by node through the computational graph (as in the book):
        out = γ·x̂ + β ← x̂ = xc / std ← std = √(var + eps) ← var = mean(xc²) ← xc = x − μ ← μ = mean(x)."""
        dout = self._drows(dout)
        if not self.train_mode:
            return self.backward(self._from_rows(dout))
        n = self.batch_size
        xc, xn, std = self.xc, self.xn, self.std
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / std                                  # through x̂ = xc / std, xc branch
        dstd = -np.sum((dxn * xc) / (std * std), axis=0)  # through x̂ = xc / std, std branch
        dvar = 0.5 * dstd / std                          # std = √(var + eps)
        dxc += (2 / n) * xc * dvar                       # var = mean(xc²)
        dmu = np.sum(dxc, axis=0)                        # xc = x − μ, μ branch
        dx = dxc - dmu / n                               # μ = mean(x)
        return self._from_rows(dx)


class LayerNormalization:
    """Layer Normalization（层标准化）, Ba, Kiros & Hinton 2016: like BN, but the mean and variance
    are taken per sample over its ``D`` features, so the result does not depend on the batch size
    and training and evaluation behave the same (``train_flg`` is ignored; there are no running
    statistics). Input ``(N, D)``, ``gamma``/``beta`` of shape ``(D,)``.

    ``dx = (1/D) · (1/√(σ²+eps)) · (D·dx̂ − Σ_d dx̂ − x̂ · Σ_d(dx̂ · x̂))``, ``dx̂ = dout · γ``.
    """

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5):
        if gamma.ndim != 1 or beta.shape != gamma.shape:
            raise ValueError(f"LayerNormalization: gamma and beta must be 1-D of the same shape; "
                             f"got {gamma.shape} and {beta.shape}")
        self.gamma = gamma
        self.beta = beta
        self.eps = float(eps)
        self.xn = None
        self.std = None
        self.dgamma = None
        self.dbeta = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        x = np.asarray(x)
        D = self.gamma.shape[0]
        if x.ndim != 2 or x.shape[1] != D:
            raise ValueError(f"LayerNormalization.forward: input of shape {x.shape} does not fit gamma "
                             f"of shape {self.gamma.shape} (need (N, {D}))")
        if x.dtype != self.gamma.dtype:
            x = x.astype(self.gamma.dtype)
        xc = x - x.mean(axis=1, keepdims=True)
        std = np.sqrt(np.mean(xc * xc, axis=1, keepdims=True) + self.eps)
        self.xn = xc / std
        self.std = std
        out = self.gamma * self.xn
        out += self.beta
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        _require_forward(self, "xn")
        dout = _check_dout(self, dout, self.xn.shape)
        xn = self.xn
        D = xn.shape[1]
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(dout * xn, axis=0)
        dxn = dout * self.gamma
        dx = dxn * D
        dx -= dxn.sum(axis=1, keepdims=True)
        dx -= xn * np.sum(dxn * xn, axis=1, keepdims=True)
        dx *= 1 / D
        dx /= self.std
        return dx


class Dropout:
    """Dropout（随机失活）: during training each unit is kept with probability ``1 − dropout_ratio``.

    ``inverted=True`` (default, what every framework does): kept units are scaled by
    ``1/(1 − dropout_ratio)`` during training and the layer is the identity at test time, so the
    expected activation is the same in both modes and nothing changes at deployment.
    ``inverted=False`` is the book's variant: no scaling while training, and the output is
    multiplied by ``1 − dropout_ratio`` at test time. Both have the same expected output.

    The mask is drawn in ``forward(x, train_flg=True)`` from this layer's own generator
    (``rng``: a ``np.random.Generator`` or a seed; ``None`` means seed 0, so runs repeat) and
    reused by ``backward``. For a gradient check, set ``fixed_mask`` to a boolean array of the
    input's shape (``True`` = keep); every training forward then uses it instead of drawing.
    """

    def __init__(self, dropout_ratio: float = 0.5, inverted: bool = True, rng=None):
        if not 0 <= dropout_ratio < 1:
            raise ValueError(f"Dropout: dropout_ratio must be in [0, 1), got {dropout_ratio}")
        self.dropout_ratio = float(dropout_ratio)
        self.inverted = inverted
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(0 if rng is None else rng)
        self.fixed_mask = None
        self.mask = None      # boolean keep-mask of the last training forward
        self._scale = None    # what backward multiplies dout by (mask, scaled, in the input's dtype)

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)
        keep = 1 - self.dropout_ratio
        if not train_flg:
            self.mask = None
            self._scale = None if self.inverted else keep
            return x if self.inverted else x * keep
        if self.fixed_mask is not None:
            mask = np.asarray(self.fixed_mask, dtype=bool)
            if mask.shape != x.shape:
                raise ValueError(f"Dropout.forward: fixed_mask has shape {mask.shape}, input has shape {x.shape}")
        else:
            # Drawn in float64 whatever x's dtype, so float32 and float64 runs see the same masks.
            mask = self.rng.random(x.shape) >= self.dropout_ratio
        self.mask = mask
        scale = mask.astype(x.dtype)
        if self.inverted:
            scale *= 1 / keep
        self._scale = scale
        return x * scale

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = np.asarray(dout)
        if self._scale is None:      # inverted dropout at test time: identity
            return dout
        return dout * self._scale


def _shifted_exp(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise ``z = x − max(x)``, ``e^z`` and ``Σ e^z``: the log-sum-exp core of softmax and
    log-softmax (the shift makes every exponent ≤ 0, so nothing overflows, and Σ e^z ≥ 1)."""
    z = x - x.max(axis=1, keepdims=True)
    exp_z = np.exp(z)
    return z, exp_z, exp_z.sum(axis=1, keepdims=True)


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise ``log softmax(x) = z − log Σ e^z`` of scores ``(N, C)``, exact for any magnitude."""
    z, _, sums = _shifted_exp(x)
    z -= np.log(sums)
    return z


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax ``e^z / Σ e^z`` of scores ``(N, C)``, numerically stable."""
    _, exp_z, sums = _shifted_exp(x)
    exp_z /= sums
    return exp_z


class SoftmaxWithLoss:
    """Softmax followed by the mean cross-entropy（交叉熵） loss over the batch.

    ``forward(x, t)``: ``x`` are scores ``(N, C)``; ``t`` is either integer labels ``(N,)`` or
    target distributions ``(N, C)`` (one-hot). Returns ``−(1/N) Σₙ Σ_c t_nc · log softmax(x)_nc``
    as a scalar of ``x``'s dtype, computed with log-sum-exp (exact for any score magnitude).
    ``backward(dout=1)`` returns ``dout · (softmax(x) − t) / N``.
    """

    def __init__(self):
        self.y = None
        self.t = None
        self.loss = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> np.floating:
        x = np.asarray(x)
        t = np.asarray(t)
        if x.ndim != 2:
            raise ValueError(f"SoftmaxWithLoss.forward: scores must be 2-D (N, C), got shape {x.shape}")
        N, C = x.shape
        if t.ndim == 1:
            if t.shape[0] != N:
                raise ValueError(f"SoftmaxWithLoss.forward: {t.shape[0]} labels for {N} score rows "
                                 f"(scores {x.shape}, labels {t.shape})")
            if not np.issubdtype(t.dtype, np.integer):
                raise ValueError(f"SoftmaxWithLoss.forward: 1-D labels must be integers, got dtype {t.dtype}")
            if N and not 0 <= t.min() <= t.max() < C:
                raise ValueError(f"SoftmaxWithLoss.forward: labels must lie in [0, {C}), got range "
                                 f"[{t.min()}, {t.max()}]")
        elif t.shape != x.shape:
            raise ValueError(f"SoftmaxWithLoss.forward: targets of shape {t.shape} do not match scores {x.shape} "
                             f"(give labels (N,) or one-hot (N, C))")
        # softmax and log softmax = z − log Σ e^z from one exp: no overflow, no log(0).
        z, y, row_sums = _shifted_exp(x)
        y /= row_sums
        log_sums = np.log(row_sums)
        self.y = y
        # N as a scalar of x's dtype: NumPy 1.x turns float32 scalar / Python int into float64.
        n = x.dtype.type(N)
        if t.ndim == 1:
            self.t = t
            loss = (log_sums.sum() - z[np.arange(N), t].sum()) / n
        else:
            t = t.astype(x.dtype, copy=False)
            self.t = t
            loss = -np.sum(t * (z - log_sums)) / n
        self.loss = loss
        return loss

    def backward(self, dout=1) -> np.ndarray:
        _require_forward(self, "y")
        N = self.y.shape[0]
        if self.t.ndim == 1:
            dx = self.y.copy()
            dx[np.arange(N), self.t] -= 1
        else:
            dx = self.y - self.t
        dx *= float(dout) / N
        return dx
