"""Each chapter's experiments, figures and interactive figure, in a package named like its notebook.

``notebooks/NN_topic.ipynb`` ↔ ``lib/chapters/chNN_topic/`` (``experiments.py``: numpy only, results as
dataclasses; ``figures.py``: matplotlib, widgets and ``interactive_figure``) ↔ ``lib/checks/chNN_topic.py``
↔ ``tests/test_claims_chNN.py``.

Claims about stochastic experiments are measured over :func:`claim_seeds` — the one place the seeds are
set. The environment variable ``CLAIM_SEEDS`` overrides them, e.g. ``CLAIM_SEEDS=20-39`` or
``CLAIM_SEEDS=3,5,8-12``, so anyone can re-run every claim on seeds nobody tuned on.
"""

from __future__ import annotations

import inspect
import os
import textwrap

DEFAULT_CLAIM_SEEDS = tuple(range(10))
MIN_CLAIM_SEEDS = 10


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"20-39"`` → 20 … 39; ``"3,5,8-12"`` → 3, 5, 8 … 12 (order kept, duplicates dropped)."""
    seeds: list[int] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        low, dash, high = part.partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise ValueError(f"CLAIM_SEEDS: {part!r} is not a seed or a range like 20-39") from None
        if first < 0 or last < first:
            raise ValueError(f"CLAIM_SEEDS: {part!r} must be a non-negative seed or an increasing range")
        seeds.extend(seed for seed in range(first, last + 1) if seed not in seeds)
    if not seeds:
        raise ValueError(f"CLAIM_SEEDS: {text!r} names no seed")
    return tuple(seeds)


def claim_seeds() -> tuple[int, ...]:
    """The seeds every claim is measured over: ``CLAIM_SEEDS`` if set, else 0 … 9."""
    text = os.environ.get("CLAIM_SEEDS", "").strip()
    return parse_seeds(text) if text else DEFAULT_CLAIM_SEEDS


def rate(flags) -> str:
    """``"9 of 10 seeds"``: how many of the seeds a claim's condition held in, as the notebooks print it."""
    import numpy as np

    flags = np.asarray(flags, dtype=bool)
    return f"{int(flags.sum())} of {flags.size} seeds"


def show_source(obj, *, skip_docstring: bool = True):
    """The source of a ``lib`` function, class or method, highlighted, for a notebook cell to show.

    What the notebook shows is the code that runs, read from the module, so the two cannot drift.
    The docstring is left out by default: the notebook's text around the code does its job.
    """
    from IPython.display import Code

    source = textwrap.dedent(inspect.getsource(obj))
    if skip_docstring:
        source = _without_docstrings(source)
    return Code(source.rstrip() + "\n", language="python")


def _without_docstrings(source: str) -> str:
    import ast

    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                spans.append((first.lineno - 1, first.end_lineno))
    for start, end in sorted(spans, reverse=True):
        del lines[start:end]
    return "".join(lines)
