"""The one training loop of the course: mini-batch training with any optimizer and schedule.

Every chapter trains through :func:`train`; no notebook writes its own loop.
"""

from __future__ import annotations

import functools
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["History", "train"]


@dataclass
class History:
    """What :func:`train` measured.

    Per iteration: ``train_loss`` (mini-batch loss in training mode, before that iteration's
    update) and ``lr`` (the learning rate used for the update).
    Per epoch, with index 0 = before training: ``train_acc``, ``test_acc``, ``train_eval_loss``,
    ``test_loss`` (evaluation mode, on the fixed evaluation subsets).
    ``diverged`` is True when training stopped because the loss or a gradient became NaN or
    infinite (``diverged_at`` is then that iteration's index); ``stopped_early`` when the
    callback asked to stop.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    train_eval_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    iterations_per_epoch: int = 0
    diverged: bool = False
    diverged_at: int | None = None
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def epochs_completed(self) -> int:
        return max(len(self.test_acc) - 1, 0)


def _evaluate(network, x, t):
    if hasattr(network, "evaluate"):
        return network.evaluate(x, t)
    return network.loss(x, t, train_flg=False), network.accuracy(x, t)


class Progress:
    """One status line, updated in place: an IPython display handle in a notebook (its final
    text stays in the saved notebook), a carriage-return line in a terminal.

    ``update`` takes the text or a function that makes it, so a disabled or throttled display costs
    nothing per iteration. While running, the line ends with the elapsed seconds; ``close`` leaves the
    last text without them, so a re-executed notebook saves the same line every time."""

    def __init__(self, enabled: bool, min_interval: float = 0.25):
        self.enabled = enabled
        self.min_interval = min_interval
        self.start = time.perf_counter()
        self.last = 0.0
        self.handle = None
        self.text = ""
        self.shown = ""
        if enabled and _in_notebook():
            from IPython.display import display
            self.handle = display(_Line(""), display_id=True)

    def update(self, text, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < self.min_interval:
            return
        self.last = now
        self.text = text() if callable(text) else text
        self._show(f"{self.text} · {now - self.start:.1f} s")

    def close(self) -> None:
        if not self.enabled:
            return
        self._show(self.text)
        if self.handle is None:
            sys.stdout.write("\n")
            sys.stdout.flush()

    def _show(self, line: str) -> None:
        if self.handle is not None:
            self.handle.update(_Line(line))
        else:
            padding = " " * max(len(self.shown) - len(line), 0)
            sys.stdout.write("\r" + line + padding)
            sys.stdout.flush()
        self.shown = line


class _Line:
    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def train(network, optimizer, data, *, epochs: int, batch_size: int = 100, schedule=None,
          schedule_per: str = "epoch", eval_size: int | None = None, seed: int = 0,
          progress: bool = False, callback=None, divergence_factor: float | None = 1e3) -> History:
    """Train ``network`` with ``optimizer`` on ``data = ((x_train, t_train), (x_test, t_test))``.

    - Each epoch visits the training set in a fresh random order (a permutation drawn from
      ``np.random.default_rng(seed)``) in mini-batches of ``batch_size``; when the set is larger
      than a batch, the last incomplete batch is dropped, so every step sees exactly
      ``batch_size`` samples (BN statistics stay comparable) and ``iterations_per_epoch =
      n_train // batch_size``. Dropped samples differ from epoch to epoch.
    - ``schedule``: a callable ``step -> lr`` (see ``lib.optimizers``) that sets ``optimizer.lr`` before
      every epoch (``schedule_per='epoch'``, step = epoch index from 0) or every iteration
      (``'iteration'``, step = global iteration index from 0); ``None`` keeps the optimizer's lr.
    - Evaluation: loss and accuracy in evaluation mode on the training and test sets (or ``eval_size``
      samples of each, chosen once from their own stream, ``default_rng([seed, 1])``, so the size of the
      evaluation subsets never changes the order of training), before training and after every epoch.
    - Divergence: if a gradient or the mini-batch loss becomes NaN or infinite, or the loss exceeds
      ``divergence_factor`` times the first mini-batch loss, training stops and ``history.diverged``
      is True — no exception: diverging is a result to report. ``None`` stops only on NaN or inf.
    - ``callback(epoch, history)`` runs after each epoch's evaluation; returning True stops
      training (``history.stopped_early``).
    - ``progress=True`` shows a live one-line status; nothing is printed otherwise.

    The same network, optimizer settings, data and seed give the same history.
    """
    (x_train, t_train), (x_test, t_test) = data
    _check_arguments(data, epochs, batch_size, schedule, schedule_per)
    n_train = len(x_train)
    rng = np.random.default_rng(seed)
    subset_rng = np.random.default_rng([seed, 1])
    evaluation_sets = (_subset(x_train, t_train, eval_size, subset_rng), _subset(x_test, t_test, eval_size, subset_rng))
    batch_size = min(int(batch_size), n_train)
    history = History(iterations_per_epoch=n_train // batch_size)
    status = Progress(progress)
    start_time = time.perf_counter()
    describe = functools.partial(_status_line, history, optimizer, epochs)  # (epoch, iteration) -> text
    _record_evaluation(history, network, evaluation_sets)
    status.update(lambda: describe(0, 0), force=True)
    for epoch in range(1, epochs + 1):
        if schedule is not None and schedule_per == "epoch":
            optimizer.lr = float(schedule(epoch - 1))
        order = rng.permutation(n_train)
        for i in range(history.iterations_per_epoch):
            if schedule is not None and schedule_per == "iteration":
                optimizer.lr = float(schedule(len(history.train_loss)))  # the global iteration index
            batch = order[i * batch_size:(i + 1) * batch_size]
            if not _train_step(network, optimizer, x_train[batch], t_train[batch], history, divergence_factor):
                break
            status.update(lambda: describe(epoch, i + 1))
        if history.diverged:
            break
        _record_evaluation(history, network, evaluation_sets)
        status.update(lambda: describe(epoch, history.iterations_per_epoch), force=True)
        if callback is not None and callback(epoch, history):
            history.stopped_early = True
            break
    history.seconds = time.perf_counter() - start_time
    status.update(lambda: describe(history.epochs_completed, history.iterations_per_epoch if history.train_loss else 0),
                  force=True)
    status.close()
    return history


def _check_arguments(data, epochs, batch_size, schedule, schedule_per) -> None:
    (x_train, t_train), (x_test, t_test) = data
    if len(t_train) != len(x_train) or len(x_test) != len(t_test):
        raise ValueError(f"train: data and labels differ in length: x_train {len(x_train)}, "
                         f"t_train {len(t_train)}, x_test {len(x_test)}, t_test {len(t_test)}")
    if len(x_train) == 0:
        raise ValueError("train: empty training set")
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"train: epochs must be a non-negative integer, got {epochs!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"train: batch_size must be a positive integer, got {batch_size!r}")
    if schedule_per not in ("epoch", "iteration"):
        raise ValueError(f"train: schedule_per must be 'epoch' or 'iteration', got {schedule_per!r}")
    if schedule is not None and not callable(schedule):
        raise ValueError(f"train: schedule must be callable step -> lr, got {type(schedule).__name__}")


def _train_step(network, optimizer, x, t, history: History, divergence_factor: float | None) -> bool:
    """One iteration: the gradient on the batch, its loss and lr recorded, then the update.

    Returns False, with nothing applied and ``history.diverged`` set, when the loss or a gradient is
    not finite or the loss exceeds ``divergence_factor`` times the first iteration's loss (the
    log-sum-exp loss of a blown-up network stays finite, e.g. 1e50, rather than turning into NaN).
    """
    grads = network.gradient(x, t)
    loss = getattr(network, "last_loss", None)
    if loss is None:
        loss = network.loss(x, t, train_flg=True)
    loss = float(loss)
    history.train_loss.append(loss)
    history.lr.append(float(optimizer.lr))
    loss_limit = math.inf if divergence_factor is None else divergence_factor * abs(history.train_loss[0])
    if math.isfinite(loss) and loss <= loss_limit and _update(optimizer, network.params, grads):
        return True
    history.diverged = True
    history.diverged_at = len(history.train_loss) - 1
    return False


def _record_evaluation(history: History, network, evaluation_sets) -> None:
    """Loss and accuracy in evaluation mode on the (subsets of the) training and test sets."""
    (x_train, t_train), (x_test, t_test) = evaluation_sets
    train_loss, train_acc = _evaluate(network, x_train, t_train)
    test_loss, test_acc = _evaluate(network, x_test, t_test)
    history.train_eval_loss.append(float(train_loss))
    history.train_acc.append(float(train_acc))
    history.test_loss.append(float(test_loss))
    history.test_acc.append(float(test_acc))


def _status_line(history: History, optimizer, epochs: int, epoch: int, iteration: int) -> str:
    parts = [f"epoch {epoch}/{epochs}", f"iter {iteration}/{history.iterations_per_epoch}"]
    if history.train_loss:
        parts.append(f"loss {history.train_loss[-1]:.4f}")
    parts.append(f"train acc {history.train_acc[-1]:.3f}")
    parts.append(f"test acc {history.test_acc[-1]:.3f}")
    parts.append(f"lr {optimizer.lr:.3g}")
    if history.diverged:
        parts.append("DIVERGED")
    return " · ".join(parts)


def _update(optimizer, params, grads) -> bool:
    """Apply the update; False (nothing applied) when a gradient is not finite."""
    try:
        optimizer.update(params, grads)
    except ValueError:
        if all(np.all(np.isfinite(g)) for g in grads.values()):
            raise
        return False
    return True


def _subset(x, t, size, rng):
    if size is None or size >= len(x):
        return x, t
    if size < 1:
        raise ValueError(f"train: eval_size must be positive or None, got {size}")
    index = np.sort(rng.choice(len(x), size=size, replace=False))
    return x[index], t[index]
