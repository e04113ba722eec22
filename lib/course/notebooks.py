"""Execute notebooks in a fresh kernel of this interpreter and save them with their outputs.

    python -m lib.course.notebooks execute                 # every chapter notebook and every solution
    python -m lib.course.notebooks execute notebooks/01_optimizers.ipynb

Chapter notebooks (and solution masters) are committed executed so their figures show wherever the
repository is browsed; this is the one command that refreshes them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from lib.course import ROOT
DEFAULT_TARGETS = ("notebooks", "solutions")


def kernel_environment() -> dict[str, str]:
    """The environment for a kernel: this interpreter first on PATH (so the ``python3`` kernel is this
    venv's), one BLAS thread (stable timings on a shared 2-core machine)."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def run_notebook(path: Path, timeout: int = 120):
    """Run ``path`` top to bottom in a fresh kernel of this interpreter (working directory: its folder)
    and return ``(executed notebook, seconds)``, kernel start and stop included. Nothing is written.
    Raises on the first failing cell."""
    notebook = nbformat.read(path, as_version=4)
    # No per-cell timestamps: re-executing an unchanged notebook should leave an unchanged file.
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", record_timing=False,
                            shutdown_kernel="immediate", resources={"metadata": {"path": str(path.parent)}})
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    saved_environ = dict(os.environ)
    os.environ.update(kernel_environment())
    start = time.perf_counter()
    try:
        client.execute(stderr=subprocess.DEVNULL)  # the kernel's own log, not the notebook's output
    finally:
        seconds = time.perf_counter() - start
        os.environ.clear()
        os.environ.update(saved_environ)
    return notebook, seconds


def execute_notebook(path: Path, timeout: int = 120) -> float:
    """Run ``path`` (see :func:`run_notebook`), write it back with its outputs, and return the seconds."""
    notebook, seconds = run_notebook(path, timeout)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
    nbformat.write(_renumber_widget_models(notebook), path)
    return seconds


def _renumber_widget_models(notebook):
    """Replace the random widget model ids (uuid4 per run) with ids numbered in creation order, which
    is the order of the saved widget state: re-executing then rewrites the same file."""
    state = notebook.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    model_ids = list(state.get("state", {}))
    if not model_ids:
        return notebook
    text = nbformat.writes(notebook)
    for number, model_id in enumerate(model_ids, start=1):
        text = text.replace(model_id, f"{number:032x}")
    return nbformat.reads(text, as_version=4)


def _coalesce_streams(outputs: list) -> list:
    """Merge consecutive stdout (or stderr) chunks: how the kernel happened to batch a cell's prints
    must not change the saved file."""
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
            previous["text"] += output["text"]
        else:
            merged.append(output)
    return merged


def find_notebooks(targets: list[str]) -> list[Path]:
    paths: list[Path] = []
    for target in targets or [str(ROOT / name) for name in DEFAULT_TARGETS]:
        target_path = Path(target)
        paths.extend(sorted(target_path.glob("*.ipynb")) if target_path.is_dir() else [target_path])
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.course.notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    execute = commands.add_parser("execute", help="re-execute notebooks and save their outputs")
    execute.add_argument("paths", nargs="*", help="notebooks or folders (default: notebooks/ and solutions/)")
    execute.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    args = parser.parse_args(argv)

    for path in find_notebooks(args.paths):
        seconds = execute_notebook(path, timeout=args.timeout)
        print(f"{seconds:6.1f} s  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
