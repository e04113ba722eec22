"""Optimizers and learning-rate schedules (book-compatible API).

Every optimizer has ``update(params, grads)``: ``params`` and ``grads`` are dicts of numpy arrays
with the same keys (``W1``, ``b1``, …, ``gamma1``, …). Each ``update`` is its textbook rule written
with in-place numpy operations: the parameter arrays are changed **in place**, because the layers of
a network hold the very same arrays. The state is named as in the formula (Momentum's ``v``,
AdaGrad's ``h``, Adam's ``m``, ``v`` and ``t``), one array per key, created as zeros of the
parameter's shape and dtype at the key's first update.

The first line of every ``update`` validates every key before touching anything: missing or extra
keys, a non-array, a read-only parameter, a shape or dtype mismatch, and a NaN/inf gradient each
raise ``ValueError`` naming the key, and then nothing has changed. float32 parameters stay float32:
hyperparameters are stored as Python floats, which NumPy never lets promote an array.

``lr`` can be changed between steps (it must be a finite number ≥ 0); the schedules below return the
value to put there (``optimizer.lr = schedule(step)``), which is what ``lib.training.train`` does.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping

import numpy as np

__all__ = [
    "Optimizer", "SGD", "Momentum", "MomentumEMA", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW",
    "OPTIMIZERS",
    "Schedule", "StepDecay", "ExponentialDecay", "InverseTimeDecay", "CosineDecay", "LinearWarmup",
]


# --------------------------------------------------------------------------------------------------
# argument checks shared by optimizers and schedules
# --------------------------------------------------------------------------------------------------

def _real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _non_negative(name: str, value) -> float:
    value = _real(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _positive(name: str, value) -> float:
    value = _real(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def _fraction(name: str, value) -> float:
    """A decay factor in [0, 1): 1 would never forget, so it is rejected."""
    value = _real(name, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


def _count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


# --------------------------------------------------------------------------------------------------
# optimizers
# --------------------------------------------------------------------------------------------------

class Optimizer:
    """Base class: the learning rate, the validation of ``update``'s arguments, and per-key state.

    A subclass lists its per-key state dicts in ``_state_names`` (each becomes an attribute, e.g.
    ``Momentum.v``, so that ``Momentum.v['W1']`` is the velocity of ``W1``, as in the book) and writes
    its rule in ``update``, which starts with ``self._validate(params, grads)`` and gets each state
    array with ``self._state(self.v, key, W)``.
    """

    _state_names: tuple[str, ...] = ()

    def __init__(self, lr: float):
        self.lr = lr
        for name in self._state_names:
            setattr(self, name, {})

    @property
    def lr(self) -> float:
        """The learning rate η used by the next ``update``; schedules set it between steps."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = _non_negative("lr", value)

    def __repr__(self) -> str:
        hyper = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._hyperparameters())
        return f"{type(self).__name__}({hyper})"

    def _hyperparameters(self) -> tuple[str, ...]:
        return ("lr",)

    def reset(self) -> None:
        """Forget all per-key state, as if the optimizer were new (hyperparameters are kept)."""
        for name in self._state_names:
            getattr(self, name).clear()

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every array of ``params`` in place from ``grads`` (same keys, shapes, dtypes)."""
        raise NotImplementedError

    @staticmethod
    def _state(state: dict[str, np.ndarray], key: str, param: np.ndarray) -> np.ndarray:
        """``state[key]``, created as zeros of ``param``'s shape and dtype at the key's first update."""
        if key not in state:
            state[key] = np.zeros_like(param)
        return state[key]

    # -- validation ---------------------------------------------------------------------------------

    def _validate(self, params, grads) -> None:
        """Raise ValueError, naming the key, unless ``update(params, grads)`` can run to the end."""
        if not isinstance(params, Mapping):
            raise ValueError(f"params must be a dict of arrays, got {type(params).__name__}")
        if not isinstance(grads, Mapping):
            raise ValueError(f"grads must be a dict of arrays, got {type(grads).__name__}")
        if params.keys() != grads.keys():
            problems = []
            missing = [key for key in params if key not in grads]
            extra = [key for key in grads if key not in params]
            if missing:
                problems.append("no gradient for " + ", ".join(repr(key) for key in missing))
            if extra:
                problems.append("gradient without a parameter: " + ", ".join(repr(key) for key in extra))
            raise ValueError("params and grads must have the same keys: " + "; ".join(problems))
        first_state = getattr(self, self._state_names[0]) if self._state_names else {}
        with np.errstate(over="ignore", invalid="ignore"):  # the finiteness test may overflow; that is handled
            for key, param in params.items():
                self._validate_one(key, param, grads[key], first_state.get(key))

    @staticmethod
    def _validate_one(key, param, grad, state) -> None:
        if not isinstance(param, np.ndarray):
            raise ValueError(f"params[{key!r}] must be a numpy array (updated in place), "
                             f"got {type(param).__name__}")
        if not isinstance(grad, np.ndarray):
            raise ValueError(f"grads[{key!r}] must be a numpy array, got {type(grad).__name__}")
        if param.dtype.kind != "f":
            raise ValueError(f"params[{key!r}] has dtype {param.dtype}; parameters must be floating point")
        if not param.flags.writeable:
            raise ValueError(f"params[{key!r}] is read-only; the optimizer updates parameters in place")
        if grad.shape != param.shape:
            raise ValueError(f"gradient for {key!r} has shape {grad.shape} "
                             f"but the parameter has shape {param.shape}")
        if grad.dtype != param.dtype:
            raise ValueError(f"gradient for {key!r} has dtype {grad.dtype} but the parameter has dtype "
                             f"{param.dtype}; cast one of them (mixing them would promote or round silently)")
        if state is not None and (state.shape != param.shape or state.dtype != param.dtype):
            raise ValueError(f"params[{key!r}] is now {param.shape} {param.dtype} but was "
                             f"{state.shape} {state.dtype} at the previous update; "
                             f"call reset() or create a new optimizer")
        # g·g is finite only if every element is (NaN and inf propagate, squares cannot cancel), and a
        # BLAS dot product costs one fast read; only when it is not finite (possibly a mere overflow)
        # do we look element by element.
        flat = grad.reshape(-1)
        if not math.isfinite(np.dot(flat, flat)) and not np.isfinite(grad).all():
            raise ValueError(f"gradient for {key!r} contains NaN/inf — lower the learning rate "
                             f"or check the backward pass")


class SGD(Optimizer):
    """Stochastic gradient descent（随机梯度下降）:

        W ← W − η∇L
    """

    def __init__(self, lr: float = 0.01):
        super().__init__(lr)

    def update(self, params, grads):
        self._validate(params, grads)
        for key, W in params.items():
            W -= self.lr * grads[key]


class Momentum(Optimizer):
    """Momentum（动量）, the classic form of CS231n and Saito's book:

        v ← μv − η∇L,    W ← W + v          (μ = ``momentum``; v starts at 0, kept in ``self.v[key]``)

    ``v`` is the velocity, a sum of past steps decaying by μ per step; on a constant gradient it
    approaches −η∇L/(1−μ): steps 1/(1−μ) = 10× larger than SGD's for μ = 0.9. PyTorch's
    ``SGD(momentum=μ)`` (b ← μb + ∇L, W ← W − ηb) is the same at constant η, with v = −ηb.

    The EMA form of Andrew Ng's course (v ← βv + (1−β)∇L, W ← W − η·v, see :class:`MomentumEMA`)
    gives exactly the same path when this η is that η·(1−β) and this μ = β: by induction the classic
    velocity is −η times the EMA one. The two differ only in what "learning rate" means.
    """

    _state_names = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = _fraction("momentum", momentum)

    def _hyperparameters(self):
        return ("lr", "momentum")

    def update(self, params, grads):
        self._validate(params, grads)
        for key, W in params.items():
            v = self._state(self.v, key, W)
            v *= self.momentum
            v -= self.lr * grads[key]
            W += v


class MomentumEMA(Optimizer):
    """Momentum in the exponential-moving-average form (Andrew Ng's deeplearning.ai course):

        v ← βv + (1−β)∇L,    W ← W − η·v          (v starts at 0, kept in ``self.v[key]``)

    Identical paths to ``Momentum(lr=η·(1−β), momentum=β)``: the classic velocity is −η times this v.
    With β = 0.9 the same ``lr`` therefore takes steps 10× smaller than in the classic form; the
    defaults (lr=0.1, β=0.9) are the same optimizer as ``Momentum()``'s (lr=0.01, momentum=0.9).
    """

    _state_names = ("v",)

    def __init__(self, lr: float = 0.1, beta: float = 0.9):
        super().__init__(lr)
        self.beta = _fraction("beta", beta)

    def _hyperparameters(self):
        return ("lr", "beta")

    def update(self, params, grads):
        self._validate(params, grads)
        for key, W in params.items():
            v = self._state(self.v, key, W)
            v *= self.beta
            v += (1.0 - self.beta) * grads[key]
            W -= self.lr * v


class Nesterov(Optimizer):
    """Nesterov momentum（Nesterov 加速梯度）: take the gradient where the velocity is about to carry
    the weights (the look-ahead form of Sutskever et al. 2013):

        v ← μv − η∇L(θ + μv),    θ ← θ + v          (μ = ``momentum``, v starts at 0)

    Change of variables: store the look-ahead point W = θ + μv instead of θ, so that the gradient is
    taken at the stored weights, and write the velocity as v = −ηb. The two lines above become
    exactly (at constant η) the form implemented here, which is PyTorch's ``SGD(nesterov=True)``:

        b ← μb + ∇L(W),    W ← W − η(∇L(W) + μb)    (b starts at 0, kept in ``self.b[key]``)

    CS231n's ``x += −μ·v_prev + (1+μ)·v`` is the same update with v = −ηb. With a schedule the forms
    differ slightly (PyTorch, like this class, applies the current η to the whole buffer).

    Saito's book (``common/optimizer.py``) updates v ← μv − η∇L first and then does
    W ← W + μ²v − (1+μ)η∇L with the *new* v; that equals W + μ³v_old − (1+μ+μ²)η∇L, whereas
    Nesterov's method is W + μ²v_old − (1+μ)η∇L = W + μv_new − η∇L. The book's variant converges too,
    but along a different path.
    """

    _state_names = ("b",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = _fraction("momentum", momentum)

    def _hyperparameters(self):
        return ("lr", "momentum")

    def update(self, params, grads):
        self._validate(params, grads)
        for key, W in params.items():
            g = grads[key]
            b = self._state(self.b, key, W)
            b *= self.momentum
            b += g
            W -= self.lr * (g + self.momentum * b)


class AdaGrad(Optimizer):
    """AdaGrad (Duchi et al. 2011), as in Saito's book:

        h ← h + ∇L ⊙ ∇L,    W ← W − η ∇L / (√h + ε)          (h starts at 0, kept in ``self.h[key]``)

    ε is added *after* the square root and only prevents division by zero (h = 0 at the first step
    of a zero gradient). Because h only grows, the effective step η/√h shrinks forever.
    """

    _state_names = ("h",)

    def __init__(self, lr: float = 0.01, eps: float = 1e-7):
        super().__init__(lr)
        self.eps = _positive("eps", eps)

    def _hyperparameters(self):
        return ("lr", "eps")

    def update(self, params, grads):
        self._validate(params, grads)
        for key, W in params.items():
            g = grads[key]
            h = self._state(self.h, key, W)
            h += g * g
            W -= self.lr * g / (np.sqrt(h) + self.eps)


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), as in Saito's book:

        h ← ρh + (1−ρ) ∇L ⊙ ∇L,    W ← W − η ∇L / (√h + ε)
                                    (ρ = ``decay_rate``; h starts at 0, kept in ``self.h[key]``)

    AdaGrad with a decaying average instead of a sum, so the step size does not vanish; h keeps
    AdaGrad's (and the book's) name. ε is added after the square root, as in PyTorch (whose default
    ε is 1e-8). Without bias correction h starts at 0, so the first steps are larger than η (the
    first is η/√(1−ρ) = 10η).
    """

    _state_names = ("h",)

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99, eps: float = 1e-7):
        super().__init__(lr)
        self.decay_rate = _fraction("decay_rate", decay_rate)
        self.eps = _positive("eps", eps)

    def _hyperparameters(self):
        return ("lr", "decay_rate", "eps")

    def update(self, params, grads):
        self._validate(params, grads)
        for key, W in params.items():
            g = grads[key]
            h = self._state(self.h, key, W)
            h *= self.decay_rate
            h += (1.0 - self.decay_rate) * g * g
            W -= self.lr * g / (np.sqrt(h) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1), the paper's form:

        t ← t + 1
        m ← β₁m + (1−β₁)∇L,         v ← β₂v + (1−β₂)∇L ⊙ ∇L
        m̂ = m / (1−β₁ᵗ),             v̂ = v / (1−β₂ᵗ)
        W ← W − η m̂ / (√v̂ + ε)

    ``self.m[key]`` and ``self.v[key]`` are the paper's m and v (both start at 0), and ``self.t`` is
    its t: one count of ``update`` calls, shared by all keys. ε is added to √v̂, outside the root (as
    in the paper and PyTorch). The bias corrections undo the zero start of m and v: without them the
    first step would be (1−β₁)/√(1−β₂) ≈ 3.2η for the default betas instead of η (the first
    corrected step is η·g/(|g| + ε), about η per element).

    Saito's book (and TensorFlow/Keras) use the reordering of the paper's Section 2,
    lr_t = η√(1−β₂ᵗ)/(1−β₁ᵗ), W ← W − lr_t·m/(√v + ε): that is this form with ε replaced by
    ε/√(1−β₂ᵗ), i.e. a larger effective ε in the first steps (the book's default ε is 1e-7).
    """

    _state_names = ("m", "v")

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        self.beta1 = _fraction("beta1", beta1)
        self.beta2 = _fraction("beta2", beta2)
        self.eps = _positive("eps", eps)
        self.t = 0

    def _hyperparameters(self):
        return ("lr", "beta1", "beta2", "eps")

    def reset(self) -> None:
        super().reset()
        self.t = 0

    def update(self, params, grads):
        self._validate(params, grads)
        self.t += 1
        for key, W in params.items():
            g = grads[key]
            m = self._state(self.m, key, W)
            v = self._state(self.v, key, W)
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            m_hat = m / (1.0 - self.beta1 ** self.t)
            v_hat = v / (1.0 - self.beta2 ** self.t)
            # W ← W − η m̂ / (√v̂ + ε), worked out in m_hat's and v_hat's memory: fresh temporaries
            # the size of a large W would be page-faulted in on every update, which doubles its time.
            np.sqrt(v_hat, out=v_hat)
            v_hat += self.eps
            m_hat /= v_hat
            m_hat *= self.lr
            W -= m_hat


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019): Adam with *decoupled* weight decay（权重衰减）:

        W ← W − η (m̂ / (√v̂ + ε) + λW)          (λ = ``weight_decay``; m̂, v̂ as in :class:`Adam`)

    The decay term does not pass through m and v. Adam with an L2 penalty (λW added to the
    gradient) instead divides the decay by √v̂, so weights with large gradients are barely
    regularized — the two are not the same. Same as PyTorch's ``AdamW``: W is first scaled by
    1 − ηλ, then takes Adam's step. The decay applies to every key passed in, biases and BN
    parameters included.
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(lr, beta1, beta2, eps)
        self.weight_decay = _non_negative("weight_decay", weight_decay)

    def _hyperparameters(self):
        return ("lr", "beta1", "beta2", "eps", "weight_decay")

    def update(self, params, grads):
        self._validate(params, grads)  # before the decay changes anything
        for W in params.values():
            W *= 1.0 - self.lr * self.weight_decay
        super().update(params, grads)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.__name__: cls for cls in (SGD, Momentum, MomentumEMA, Nesterov, AdaGrad, RMSprop, Adam, AdamW)
}


# --------------------------------------------------------------------------------------------------
# learning-rate schedules
# --------------------------------------------------------------------------------------------------

class Schedule:
    """A learning-rate schedule: ``schedule(step) -> lr`` for step = 0, 1, 2, …

    Whether a step is an iteration or an epoch is the training loop's choice
    (``lib.training.train(..., schedule_per='epoch' | 'iteration')``).
    """

    def __call__(self, step: int) -> float:
        return self._value(_count("step", step, 0))

    def _value(self, step: int) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"{type(self).__name__}({fields})"


class StepDecay(Schedule):
    """lr = lr0 · γ^⌊step / step_size⌋ — multiply by γ every ``step_size`` steps."""

    def __init__(self, lr0: float, step_size: int, gamma: float = 0.1):
        self.lr0 = _positive("lr0", lr0)
        self.step_size = _count("step_size", step_size, 1)
        self.gamma = _positive("gamma", gamma)
        if self.gamma > 1:
            raise ValueError(f"gamma must be in (0, 1] for a decay, got {self.gamma}")

    def _value(self, step):
        return self.lr0 * self.gamma ** (step // self.step_size)


class ExponentialDecay(Schedule):
    """lr = lr0 · γ^step — a smooth version of :class:`StepDecay`."""

    def __init__(self, lr0: float, gamma: float):
        self.lr0 = _positive("lr0", lr0)
        self.gamma = _positive("gamma", gamma)
        if self.gamma > 1:
            raise ValueError(f"gamma must be in (0, 1] for a decay, got {self.gamma}")

    def _value(self, step):
        return self.lr0 * self.gamma ** step


class InverseTimeDecay(Schedule):
    """lr = lr0 / (1 + k·step) — the 1/t decay of stochastic-approximation theory."""

    def __init__(self, lr0: float, k: float):
        self.lr0 = _positive("lr0", lr0)
        self.k = _non_negative("k", k)

    def _value(self, step):
        return self.lr0 / (1.0 + self.k * step)


class CosineDecay(Schedule):
    """lr = lr_min + (lr0 − lr_min)·(1 + cos(π·step/total_steps))/2, then lr_min after ``total_steps``
    (SGDR without restarts, Loshchilov & Hutter 2017)."""

    def __init__(self, lr0: float, total_steps: int, lr_min: float = 0.0):
        self.lr0 = _positive("lr0", lr0)
        self.total_steps = _count("total_steps", total_steps, 1)
        self.lr_min = _non_negative("lr_min", lr_min)
        if self.lr_min > self.lr0:
            raise ValueError(f"lr_min ({self.lr_min}) must not exceed lr0 ({self.lr0})")

    def _value(self, step):
        progress = min(step, self.total_steps) / self.total_steps
        return self.lr_min + (self.lr0 - self.lr_min) * 0.5 * (1.0 + math.cos(math.pi * progress))


class LinearWarmup(Schedule):
    """Linear warm-up（学习率预热）in front of a constant or another schedule:

        lr = base(0) · (step + 1) / warmup_steps      for step < warmup_steps
        lr = base(step − warmup_steps)                afterwards

    ``base`` is a number (constant lr) or a schedule; the wrapped schedule starts at its own step 0
    when the warm-up ends, so ``LinearWarmup(CosineDecay(lr0, T), W)`` warms up for W steps and then
    runs the whole cosine over the next T. The ramp's first value is base(0)/warmup_steps (not 0,
    which would waste a step) and its last is base(0), so the curve is continuous.
    """

    def __init__(self, base: float | Callable[[int], float], warmup_steps: int):
        if callable(base):
            self.base = base
        else:
            self.base = _positive("base", base)
        self.warmup_steps = _count("warmup_steps", warmup_steps, 1)

    def _base(self, step: int) -> float:
        return float(self.base(step)) if callable(self.base) else self.base

    def _value(self, step):
        if step < self.warmup_steps:
            return self._base(0) * (step + 1) / self.warmup_steps
        return self._base(step - self.warmup_steps)
