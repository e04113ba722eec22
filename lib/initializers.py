"""Weight initializers: the Xavier (Glorot) and He (Kaiming) scales.

Shapes and fans
---------------
``compute_fans(shape)`` follows this course's layer conventions:

- a 2-D weight is ``(fan_in, fan_out)`` — ``Affine`` computes ``x @ W``, as in Saito's book
  (PyTorch's ``nn.Linear`` stores the transpose, ``(out, in)``);
- a weight with 3 or more axes is convolution-style ``(out_channels, in_channels, *kernel)``, so
  ``fan_in = in_channels · prod(kernel)`` and ``fan_out = out_channels · prod(kernel)`` (as in PyTorch).

Scales (all zero-mean; ``n`` is the fan chosen by ``mode``)
-----------------------------------------------------------
- Xavier / Glorot: ``Var(W) = 1/n``. ``mode="fan_in"`` is Saito's "Xavier" (std ``1/√n``); Glorot and
  Bengio's compromise between the forward and the backward pass is ``mode="fan_avg"``:
  ``Var(W) = 2/(fan_in + fan_out)``.
- He / Kaiming: ``Var(W) = 2/n``; the 2 compensates for ReLU zeroing half of its inputs.
  ``mode="fan_in"`` preserves the variance of activations in the forward pass, ``mode="fan_out"`` that
  of gradients in the backward pass.

Random draws always come from a ``numpy.random.Generator`` passed in (``rng``) or built from ``seed``,
never from the global ``np.random`` state. Float64 by default; ``dtype=np.float32`` gives float32 arrays.
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np

__all__ = ["compute_fans", "init_std", "variance_scaling", "xavier_normal", "xavier_uniform", "he_normal",
           "he_uniform", "scheme_label", "XAVIER_NAMES", "HE_NAMES"]

XAVIER_NAMES = ("xavier", "glorot", "sigmoid")
HE_NAMES = ("he", "kaiming", "relu")


# ----------------------------------------------------------------------------------------------
# Fans and scales
# ----------------------------------------------------------------------------------------------

def compute_fans(shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of this shape (conventions in the module docstring).

    >>> compute_fans((784, 100))
    (784, 100)
    >>> compute_fans((64, 32, 3, 3))   # 64 filters over 32 channels, 3×3 kernels
    (288, 576)
    """
    shape = tuple(int(size) for size in shape)
    if len(shape) < 2:
        raise ValueError(f"compute_fans: a weight needs at least 2 axes to have a fan-in and a fan-out, "
                         f"got shape {shape}")
    if any(size <= 0 for size in shape):
        raise ValueError(f"compute_fans: every axis must be positive, got shape {shape}")
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(shape, mode: str) -> float:
    fan_in, fan_out = compute_fans(shape)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    if mode == "fan_avg":
        return (fan_in + fan_out) / 2
    raise ValueError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")


def init_std(shape: Sequence[int], scheme, mode: str = "fan_in") -> float:
    """Standard deviation of a weight of ``shape`` under ``scheme``.

    ``scheme`` is ``'xavier'`` (also ``'glorot'``, ``'sigmoid'``: std ``√(1/n)``), ``'he'`` (also
    ``'kaiming'``, ``'relu'``: std ``√(2/n)``) or a positive number (used as the std itself, as in
    Saito's ``weight_init_std=0.01``); ``n`` is the fan selected by ``mode``.
    """
    if isinstance(scheme, str):
        name = scheme.lower()
        if name in XAVIER_NAMES:
            return math.sqrt(1.0 / _fan(shape, mode))
        if name in HE_NAMES:
            return math.sqrt(2.0 / _fan(shape, mode))
        raise ValueError(f"unknown init scheme {scheme!r}: use 'xavier', 'he' or a number")
    if isinstance(scheme, bool) or not isinstance(scheme, numbers.Real):
        raise ValueError(f"an init scheme is 'xavier', 'he' or a positive number, got {scheme!r}")
    std = float(scheme)
    if not (std > 0 and math.isfinite(std)):
        raise ValueError(f"a numeric init scale must be a positive finite std, got {scheme!r}")
    compute_fans(shape)  # validates the shape the same way as the named schemes
    return std


def _generator(rng, seed) -> np.random.Generator:
    if rng is not None and seed is not None:
        raise ValueError("pass either rng or seed, not both")
    if rng is None:
        return np.random.default_rng(0 if seed is None else seed)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                         f"got {type(rng).__name__}")
    return rng


def variance_scaling(shape: Sequence[int], scale: float, mode: str = "fan_in", distribution: str = "normal",
                     *, rng: np.random.Generator | None = None, seed: int | None = None,
                     dtype=np.float64) -> np.ndarray:
    """Zero-mean weights with ``Var(W) = scale / n`` (``n`` from ``mode``), normal or uniform.

    The uniform variant draws from ``[-limit, limit]`` with ``limit = √3·std`` (a uniform on
    ``[-a, a]`` has variance ``a²/3``), so both distributions have the same variance.
    """
    generator = _generator(rng, seed)
    std = math.sqrt(scale / _fan(shape, mode))
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a floating type, got {dtype}")
    shape = tuple(int(size) for size in shape)
    if distribution == "normal":
        weights = generator.standard_normal(shape, dtype=dtype if dtype in (np.float32, np.float64) else np.float64)
        weights *= dtype.type(std)
    elif distribution == "uniform":
        limit = math.sqrt(3.0) * std
        weights = generator.uniform(-limit, limit, shape)
    else:
        raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
    return weights.astype(dtype, copy=False)


def xavier_normal(shape, rng=None, mode: str = "fan_in", dtype=np.float64, *, seed=None) -> np.ndarray:
    """Xavier/Glorot normal weights: std ``√(1/n)``; ``mode="fan_avg"`` is Glorot and Bengio's
    ``√(2/(fan_in+fan_out))``."""
    return variance_scaling(shape, 1.0, mode, "normal", rng=rng, seed=seed, dtype=dtype)


def xavier_uniform(shape, rng=None, mode: str = "fan_avg", dtype=np.float64, *, seed=None) -> np.ndarray:
    """Glorot and Bengio's original: uniform on ``±√(6/(fan_in+fan_out))`` with the default ``mode="fan_avg"``."""
    return variance_scaling(shape, 1.0, mode, "uniform", rng=rng, seed=seed, dtype=dtype)


def he_normal(shape, rng=None, mode: str = "fan_in", dtype=np.float64, *, seed=None) -> np.ndarray:
    """He/Kaiming normal weights: std ``√(2/n)`` (``n = fan_in`` keeps forward variance, ``fan_out`` backward)."""
    return variance_scaling(shape, 2.0, mode, "normal", rng=rng, seed=seed, dtype=dtype)


def he_uniform(shape, rng=None, mode: str = "fan_in", dtype=np.float64, *, seed=None) -> np.ndarray:
    """He/Kaiming uniform weights on ``±√(6/n)``."""
    return variance_scaling(shape, 2.0, mode, "uniform", rng=rng, seed=seed, dtype=dtype)


def scheme_label(init) -> str:
    """How a figure names an init: ``'std=0.01'``, ``'Xavier 1/√n'``, ``'He √(2/n)'``."""
    if isinstance(init, str):
        name = init.lower()
        if name in XAVIER_NAMES:
            return "Xavier 1/√n"
        if name in HE_NAMES:
            return "He √(2/n)"
        raise ValueError(f"unknown init scheme {init!r}")
    return f"std={float(init):g}"
