"""Time one training step of the course's network, and one Adam update over 10M parameters.

    python benchmarks/train_step.py            # a minute or two
    python benchmarks/train_step.py --rounds 5 # quicker, noisier

The network is 784-100-100-100-100-100-10, ReLU, He initialization, batch 128, Adam; a step is
``network.gradient`` (forward + backward) plus ``optimizer.update``. Each row is the median over
rounds of the mean time of a block of steps, after warm-up; the rows are measured in interleaved
rounds so that load from other processes hits all of them alike. The "numpy reference" rows are
the same step written inline with plain numpy (no validation, no layer objects) — the floor that
``lib`` is compared with. When PyTorch is importable (it is not a course dependency), the same
float32 step and the 10M update are also timed with ``torch.optim.Adam`` in its default form and
with ``fused=True``, on one thread. Targets (this machine, one BLAS thread): float32 ≤ 1.5 ms and at
most PyTorch's, float64 ≤ 3 ms. The 10M update has no target: ``lib.optimizers.Adam`` is the paper's
rule on whole arrays, written to be read, and makes several passes over memory per update.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the targets are for one BLAS thread; must precede numpy

import argparse
import statistics
import time

import numpy as np

from lib.networks import MultiLayerNet
from lib.optimizers import Adam

SIZES = [784, 100, 100, 100, 100, 100, 10]
BATCH = 128
TARGETS_MS = {"float32": 1.5, "float64": 3.0}


def make_batch(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((BATCH, SIZES[0])).astype(dtype), rng.integers(0, SIZES[-1], BATCH)


class LibStep:
    """The course's own objects: MultiLayerNet.gradient + Adam.update."""

    def __init__(self, dtype):
        self.network = MultiLayerNet(SIZES[0], SIZES[1:-1], SIZES[-1], activation="relu",
                                     weight_init_std="relu", seed=0, dtype=dtype)
        self.optimizer = Adam(lr=1e-3)
        self.x, self.t = make_batch(dtype)

    def gradient(self):
        return self.network.gradient(self.x, self.t)

    def update(self, grads):
        self.optimizer.update(self.network.params, grads)

    def __call__(self):
        self.update(self.gradient())


class NumpyReferenceStep:
    """The same step written inline: what a careful numpy programmer would write."""

    def __init__(self, dtype):
        rng = np.random.default_rng(0)
        self.W = [(rng.standard_normal((m, n)) * np.sqrt(2.0 / m)).astype(dtype) for m, n in zip(SIZES, SIZES[1:])]
        self.b = [np.zeros(n, dtype) for n in SIZES[1:]]
        self.params = self.W + self.b
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t_step = 0
        self.x, self.t = make_batch(dtype)

    def gradient(self):
        activations = [self.x]
        for W, b in zip(self.W[:-1], self.b[:-1]):
            h = activations[-1] @ W
            h += b
            np.maximum(h, 0, out=h)
            activations.append(h)
        scores = activations[-1] @ self.W[-1]
        scores += self.b[-1]
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        scores[np.arange(BATCH), self.t] -= 1
        scores /= BATCH
        dW, db = [None] * len(self.W), [None] * len(self.W)
        dout = scores
        for i in range(len(self.W) - 1, -1, -1):
            dW[i] = activations[i].T @ dout
            db[i] = dout.sum(axis=0)
            if i:
                dout = dout @ self.W[i].T
                dout *= activations[i] > 0
        return dW + db

    def update(self, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.t_step += 1
        step = lr * np.sqrt(1 - b2 ** self.t_step) / (1 - b1 ** self.t_step)
        step, eps_hat = float(step), eps * float(np.sqrt(1 - b2 ** self.t_step))
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m += (1 - b1) * (g - m)
            v += (1 - b2) * (g * g - v)
            p -= step * m / (np.sqrt(v) + eps_hat)

    def __call__(self):
        self.update(self.gradient())


class Adam10M:
    """One update over 10M float32 parameters (a single array)."""

    def __init__(self, textbook: bool):
        rng = np.random.default_rng(0)
        self.params = {"W": rng.standard_normal(10_000_000, dtype=np.float32)}
        self.grads = {"W": rng.standard_normal(10_000_000, dtype=np.float32)}
        self.optimizer = Adam()
        self.textbook = textbook
        self.m = np.zeros_like(self.params["W"])
        self.v = np.zeros_like(self.params["W"])
        self.t = 0

    def __call__(self):
        if not self.textbook:
            self.optimizer.update(self.params, self.grads)
            return
        # as it is usually written: every line allocates full-size temporaries
        lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8
        W, g = self.params["W"], self.grads["W"]
        self.t += 1
        self.m = b1 * self.m + (1 - b1) * g
        self.v = b2 * self.v + (1 - b2) * g * g
        m_hat = self.m / (1 - b1 ** self.t)
        v_hat = self.v / (1 - b2 ** self.t)
        W -= lr * m_hat / (np.sqrt(v_hat) + eps)


def import_torch():
    """PyTorch on one thread, or None when it is not installed (the torch rows are optional)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


class TorchStep:
    """The same float32 step in PyTorch: nn.Sequential forward, autograd backward, torch.optim.Adam."""

    def __init__(self, torch, fused: bool):
        torch.manual_seed(0)
        layers = []
        for m, n in zip(SIZES[:-1], SIZES[1:]):
            layers += [torch.nn.Linear(m, n), torch.nn.ReLU()]
        self.torch = torch
        self.model = torch.nn.Sequential(*layers[:-1])
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, fused=fused or None)
        x, t = make_batch(np.float32)
        self.x, self.t = torch.from_numpy(x), torch.from_numpy(t)

    def gradient(self):
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.torch.nn.functional.cross_entropy(self.model(self.x), self.t)
        loss.backward()

    def update(self, grads):
        self.optimizer.step()

    def __call__(self):
        self.update(self.gradient())


class TorchAdam10M:
    """One torch.optim.Adam step over 10M float32 parameters (a single tensor)."""

    def __init__(self, torch, fused: bool):
        rng = np.random.default_rng(0)
        self.param = torch.nn.Parameter(torch.from_numpy(rng.standard_normal(10_000_000, dtype=np.float32)))
        self.param.grad = torch.from_numpy(rng.standard_normal(10_000_000, dtype=np.float32))
        self.optimizer = torch.optim.Adam([self.param], lr=1e-3, fused=fused or None)

    def __call__(self):
        self.optimizer.step()


def block_ms(function, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats * 1e3


def split_ms(step, repeats):
    """Median ms of step.gradient() and step.update() separately (for the profile rows)."""
    gradient, update = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        grads = step.gradient()
        middle = time.perf_counter()
        step.update(grads)
        gradient.append(middle - start)
        update.append(time.perf_counter() - middle)
    return statistics.median(gradient) * 1e3, statistics.median(update) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved measurement rounds (default 15)")
    parser.add_argument("--steps", type=int, default=50, help="training steps per block (default 50)")
    args = parser.parse_args()

    steps = {f"lib step {name}": LibStep(dtype) for name, dtype in (("float64", np.float64), ("float32", np.float32))}
    steps |= {f"numpy reference step {name}": NumpyReferenceStep(dtype)
              for name, dtype in (("float64", np.float64), ("float32", np.float32))}
    big = {"Adam 10M float32, lib": Adam10M(textbook=False), "Adam 10M float32, textbook numpy": Adam10M(textbook=True)}
    torch = import_torch()
    if torch is not None:
        for name, fused in (("default", False), ("fused", True)):
            steps[f"torch Adam {name} step float32"] = TorchStep(torch, fused)
            big[f"Adam 10M float32, torch {name}"] = TorchAdam10M(torch, fused)

    for function in list(steps.values()):
        block_ms(function, 20)  # warm-up: caches, allocator, lazily created optimizer state
    for function in big.values():
        block_ms(function, 2)

    samples = {name: [] for name in [*steps, *big]}
    splits = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, function in steps.items():
            samples[name].append(block_ms(function, args.steps))
            splits[name].append(split_ms(function, 10))
        for name, function in big.items():
            samples[name].append(block_ms(function, 1))

    median = {name: statistics.median(values) for name, values in samples.items()}
    torch_version = f", torch {torch.__version__} (1 thread)" if torch is not None else ", torch not installed"
    print(f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, numpy {np.__version__}{torch_version}, "
          f"{args.rounds} rounds; median ms (min–max over rounds); load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores (targets assume an idle machine)")
    print(f"{'':34s} {'ms':>8s} {'range':>15s} {'gradient':>9s} {'update':>7s}  target")
    for name in [*steps, *big]:
        values = samples[name]
        line = f"{name:34s} {median[name]:8.3f} {min(values):7.3f}–{max(values):7.3f}"
        if name in splits:
            line += f" {statistics.median(s[0] for s in splits[name]):9.3f} {statistics.median(s[1] for s in splits[name]):7.3f}"
        else:
            line += " " * 18
        dtype = name.rsplit(" ", 1)[-1]
        if name.startswith("lib step"):
            verdict = "ok" if median[name] <= TARGETS_MS[dtype] else "MISSED"
            line += f"  ≤ {TARGETS_MS[dtype]} ms: {verdict}"
            if dtype == "float32" and torch is not None:
                fastest = min(median[f"torch Adam {kind} step float32"] for kind in ("default", "fused"))
                line += f"; ≤ torch: {'ok' if median[name] <= fastest else 'MISSED'}"
        print(line)
    for dtype in ("float64", "float32"):
        ratio = median[f"lib step {dtype}"] / median[f"numpy reference step {dtype}"]
        print(f"lib / numpy reference, {dtype}: {ratio:.2f}")
    ratio = median["Adam 10M float32, lib"] / median["Adam 10M float32, textbook numpy"]
    print(f"Adam 10M: lib / textbook: {ratio:.2f}")
    if torch is not None:
        for kind in ("default", "fused"):
            step = median["lib step float32"] / median[f"torch Adam {kind} step float32"]
            update = median["Adam 10M float32, lib"] / median[f"Adam 10M float32, torch {kind}"]
            print(f"lib / torch {kind}: step float32 {step:.2f}, Adam 10M {update:.2f}")


if __name__ == "__main__":
    main()
