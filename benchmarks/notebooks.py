"""Time every chapter notebook and every solution notebook, each in a fresh kernel, and optionally the
whole test command, in one run.

    python benchmarks/notebooks.py                     # about 2 minutes
    python benchmarks/notebooks.py --with-test-suite   # plus the README's test command, timed in the same run
    python benchmarks/notebooks.py notebooks/01_optimizers.ipynb

Each notebook runs top to bottom with nbclient in a new kernel of this interpreter (one BLAS thread),
from its own folder, exactly as `python -m lib.course.notebooks execute` runs it, but nothing is written back.
A notebook's seconds include starting and stopping its kernel (about 1 s), which every reader and every
test run pays too. Targets (2 cores, one BLAS thread): chapter notebook ≤ 10 s, solution notebook ≤ 15 s,
the whole test command ≤ 240 s. The exit status is 1 if a notebook or the test command failed; being
over a target is reported, not failed (timings on a shared machine are too noisy to fail on).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the targets are for one BLAS thread

import argparse
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lib.course.notebooks import ROOT, kernel_environment, run_notebook

TARGET_SECONDS = {"notebooks": 10.0, "solutions": 15.0}
TEST_SUITE_TARGET_SECONDS = 240.0
TEST_COMMAND_ARGS = ("-n", "auto", "--dist", "loadfile")  # the README's test command
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Timing:
    name: str
    seconds: float
    target: float | None
    error: str = ""

    @property
    def verdict(self) -> str:
        if self.error:
            return "FAILED"
        if self.target is not None and self.seconds > self.target:
            return "over target"
        return "ok"


def target_for(path: Path) -> float | None:
    return TARGET_SECONDS.get(path.parent.name)


def time_notebook(path: Path, timeout: int = 120) -> Timing:
    """Execute ``path`` in a fresh kernel without saving it; wall seconds including kernel start/stop."""
    start = time.perf_counter()
    error = ""
    try:
        _, seconds = run_notebook(path, timeout)
    except Exception as exc:  # a failing cell is a result to report, not a reason to stop timing the others
        seconds = time.perf_counter() - start
        message = ANSI_ESCAPE.sub("", str(exc)).strip()
        error = f"{type(exc).__name__}: {message.splitlines()[-1] if message else ''}"
    return Timing(display_name(path), seconds, target_for(path), error)


def time_test_suite() -> tuple[Timing, str]:
    """Wall time of the README's test command, run from the repository root; returns pytest's summary."""
    env = kernel_environment()
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", *TEST_COMMAND_ARGS, "-q"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    seconds = time.perf_counter() - start
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else result.stderr.strip()[-200:]
    summary = re.sub(r"=+", "", summary).strip()
    error = "" if result.returncode == 0 else f"exit status {result.returncode}"
    return Timing("python -m pytest " + " ".join(TEST_COMMAND_ARGS), seconds, TEST_SUITE_TARGET_SECONDS, error), summary


def display_name(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def default_notebooks() -> list[Path]:
    return [path for folder in TARGET_SECONDS for path in sorted((ROOT / folder).glob("*.ipynb"))]


def print_table(rows: list[Timing]) -> None:
    width = max(len(row.name) for row in rows)
    print(f"{'notebook':<{width}}  {'seconds':>8}  {'target':>7}  verdict")
    for row in rows:
        target = f"{row.target:.0f}" if row.target is not None else "-"
        print(f"{row.name:<{width}}  {row.seconds:8.1f}  {target:>7}  {row.verdict}"
              + (f"  ({row.error})" if row.error else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path,
                        help="notebooks to time (default: every notebook in notebooks/ and solutions/)")
    parser.add_argument("--with-test-suite", action="store_true",
                        help="also time the whole test command (the README's) in this run")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    args = parser.parse_args(argv)

    paths = args.paths or default_notebooks()
    print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", file=sys.stderr)
    rows: list[Timing] = []
    for path in paths:
        rows.append(time_notebook(path, timeout=args.timeout))
        print(f"  {rows[-1].seconds:6.1f} s  {rows[-1].name}", file=sys.stderr, flush=True)
    total = Timing("total (notebooks)", sum(row.seconds for row in rows), None)
    table = rows + [total]
    summary = ""
    if args.with_test_suite:
        suite, summary = time_test_suite()
        table.append(suite)

    print()
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print_table(table)
    if summary:
        print(f"\npytest: {summary}")
    return 1 if any(row.error for row in table) else 0


if __name__ == "__main__":
    sys.exit(main())
