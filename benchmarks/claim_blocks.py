"""How often each claim test of a chapter fails on a block of ten seeds nobody tuned on.

    OPENBLAS_NUM_THREADS=1 python benchmarks/claim_blocks.py 6 --pool 500000-500299

A claim asserted over ten seeds is a statistic of ten draws: a bound set close to the true rate fails on
some blocks of ten however correct the claim is. Sweeping ``CLAIM_SEEDS`` block by block measures that,
but each block retrains everything. This script trains once, over a pool of seeds, and then runs every
claim test of the chapter on ``--blocks`` random blocks of ten seeds drawn from the pool, by slicing the
pool's results. It prints each test's failure rate and the lines that failed; a bound should fail on at
most about one block in a thousand.

Slicing follows the experiments' convention: a per-seed array has the seeds on its first axis (or on its
second, when the first is not the seed count), a per-seed tuple or list has one entry per seed, and
dataclasses, named tuples and dicts are sliced field by field. Anything else is passed whole: a field kept
for the first seed only, or a statistic pooled over all seeds (chapter 2's variance recursion), is then
the pool's, not the block's. ``--check`` compares one block sliced from the pool with the same block
computed afresh and lists the fields that differ, so such fields show up. Pick a pool size that no
experiment uses as a dimension (the default, 300, is none). Tests that take a seed parameter, or pytest's
``request``, are listed as not measured: sweep them with ``CLAIM_SEEDS`` instead.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import importlib
import inspect
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from lib.chapters import parse_seeds  # noqa: E402

BLOCK = 10


def sliced(value, rows: list[int], n: int):
    """``value`` restricted to the seeds at positions ``rows`` of a pool of ``n`` seeds."""
    if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == n:
        return value[rows]
    if isinstance(value, np.ndarray) and value.ndim >= 2 and value.shape[1] == n:
        return value[:, rows]
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(sliced(item, rows, n) for item in value))
    if isinstance(value, (tuple, list)) and len(value) == n:
        return type(value)(value[i] for i in rows)
    if isinstance(value, (tuple, list)):
        return type(value)(sliced(item, rows, n) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{field.name: sliced(getattr(value, field.name), rows, n)
                                             for field in dataclasses.fields(value) if field.init})
    if isinstance(value, dict):
        return {key: sliced(item, rows, n) for key, item in value.items()}
    return value


def differences(a, b, path: str = "") -> list[str]:
    """The fields where two results differ beyond rounding (timings aside)."""
    if path.endswith(".seconds"):
        return []
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        same = a.shape == b.shape and (a.dtype == object or np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))
        return [] if same else [path]
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return [d for field in dataclasses.fields(a) for d in differences(getattr(a, field.name),
                                                                           getattr(b, field.name), f"{path}.{field.name}")]
    if isinstance(a, dict):
        return [d for key in a for d in differences(a[key], b.get(key), f"{path}[{key!r}]")]
    if isinstance(a, (tuple, list)):
        if len(a) != len(b):
            return [path]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    if isinstance(a, float):
        return [] if np.isclose(a, b, rtol=1e-9, equal_nan=True) else [path]
    if isinstance(a, (int, str, bool, type(None))):
        return [] if a == b else [path]
    if type(a).__module__.startswith("lib.") and hasattr(a, "__dict__"):
        return [d for key, item in vars(a).items() for d in differences(item, getattr(b, key, None), f"{path}.{key}")]
    return []


class Chapter:
    """A chapter's claim-test module, run on any seeds by setting its ``CLAIM_SEEDS`` (and ``N``)."""

    def __init__(self, number: int, pool: tuple[int, ...]):
        self.module = importlib.import_module(f"test_claims_ch{number:02d}")
        self.pool = pool
        self.fixtures = {name: value for name, value in vars(self.module).items()
                         if type(value).__name__ == "FixtureFunctionDefinition"}
        self.experiments = self.module.experiments
        self.pooled_calls: dict = {}
        self._route_seeded_calls_through_the_pool()

    def use_seeds(self, seeds) -> None:
        self.module.CLAIM_SEEDS = tuple(seeds)
        if hasattr(self.module, "N"):
            self.module.N = len(seeds)

    def fixture_values(self, seeds) -> dict:
        """Every fixture of the module, computed over ``seeds`` (``seeds`` itself under that name)."""
        self.use_seeds(seeds)
        values = {"seeds": tuple(seeds)}

        def resolve(name):
            if name not in values:
                function = self.fixtures[name]._get_wrapped_function()
                values[name] = function(*(resolve(p) for p in inspect.signature(function).parameters))
            return values[name]

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in self.fixtures:
                resolve(name)
        return values

    def _route_seeded_calls_through_the_pool(self) -> None:
        """Tests that call a study function with the claim seeds get the pool's result, sliced: each study
        runs once per argument set, over the pool."""
        for name, function in list(vars(self.experiments).items()):
            if (inspect.isfunction(function) and function.__module__ == self.experiments.__name__
                    and "seeds" in inspect.signature(function).parameters):
                setattr(self.experiments, name, self._through_pool(function))

    def _through_pool(self, function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def call(*args, **kwargs):
            arguments = signature.bind(*args, **kwargs)
            seeds = tuple(arguments.arguments.get("seeds", ()))
            if not seeds or len(seeds) == len(self.pool) or not set(seeds) <= set(self.pool):
                return function(*args, **kwargs)
            key = (function.__name__, repr(sorted((k, repr(v)) for k, v in arguments.arguments.items() if k != "seeds")))
            if key not in self.pooled_calls:
                arguments.arguments["seeds"] = self.pool
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self.pooled_calls[key] = function(*arguments.args, **arguments.kwargs)
            return sliced(self.pooled_calls[key], [self.pool.index(s) for s in seeds], len(self.pool))

        return call

    def tests(self):
        for name, test in vars(self.module).items():
            if name.startswith("test_") and inspect.isfunction(test):
                yield name, test, list(inspect.signature(test).parameters)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapter", type=int)
    parser.add_argument("--pool", default="500000-500299", help="seeds to train once and draw blocks from")
    parser.add_argument("--blocks", type=int, default=1000, help="random blocks of ten seeds to test")
    parser.add_argument("--check", action="store_true", help="compare a sliced block with one computed afresh")
    options = parser.parse_args(argv)
    pool = parse_seeds(options.pool)
    if len(pool) < 3 * BLOCK:
        parser.error(f"the pool needs at least {3 * BLOCK} seeds, got {len(pool)}")

    chapter = Chapter(options.chapter, pool)
    full = chapter.fixture_values(pool)
    if options.check:
        rows = list(range(3, 3 + BLOCK))  # not the pool's first seed, which some studies treat apart
        fresh = chapter.fixture_values([pool[i] for i in rows])
        for name in full:
            found = differences(fresh[name], sliced(full[name], rows, len(pool)), name)
            print(f"check {name}: " + ("the same" if not found else f"differs at {', '.join(found[:4])}"))

    rng = np.random.default_rng([options.chapter, len(pool), pool[0]])
    blocks = [sorted(rng.choice(len(pool), BLOCK, replace=False).tolist()) for _ in range(options.blocks)]
    print(f"chapter {options.chapter}: {options.blocks} blocks of {BLOCK} seeds drawn from {len(pool)} "
          f"({pool[0]} … {pool[-1]})\n")
    print(f"{'failed':>8}  test (failing lines: blocks)")
    for name, test, parameters in chapter.tests():
        if any(p not in full for p in parameters):
            print(f"{'—':>8}  {name} (not measured here: sweep CLAIM_SEEDS)")
            continue
        if not parameters and not {"CLAIM_SEEDS", "N"} & set(test.__code__.co_names):
            print(f"{'—':>8}  {name} (does not depend on the claim seeds)")
            continue
        failures, lines = 0, collections.Counter()
        for rows in blocks:
            chapter.use_seeds([pool[i] for i in rows])
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    test(**{p: sliced(full[p], rows, len(pool)) for p in parameters})
            except AssertionError:
                failures += 1
                frames = [f for f in traceback.extract_tb(sys.exc_info()[2]) if "test_claims" in f.filename]
                lines[frames[-1].lineno] += 1
        where = ", ".join(f"{line}: {count}" for line, count in sorted(lines.items()))
        print(f"{failures / len(blocks):8.1%}  {name}" + (f" ({where})" if where else ""))


if __name__ == "__main__":
    main()
