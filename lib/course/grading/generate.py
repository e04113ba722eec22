"""Generate the student notebooks ``exercises/`` from the masters ``solutions/``.

    python -m lib.course.grading.generate            # rewrite exercises/ from solutions/
    python -m lib.course.grading.generate --check    # exit 1, listing the files, if exercises/ is out of sync

Per master: each solution region becomes ``raise NotImplementedError("<id>: …")`` at the region's
indentation, hidden-test regions disappear, outputs and execution counts are cleared, run-time
metadata (timings, scroll state, widget state) is dropped, and the ``course`` metadata stays so the
grader can match cells by exercise id. Locked check cells are also marked read-only and undeletable
for JupyterLab. The output depends only on the master's sources and metadata, so rerunning gives
byte-identical files and re-executing a master never makes ``--check`` fail.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

from lib.course.grading.notebook_format import Master, MasterFormatError, read_masters, role_of, student_source

from lib.course import ROOT
KEPT_CELL_METADATA = ("course", "tags", "editable", "deletable", "jupyter", "slideshow")


def student_notebook(master: Master) -> nbformat.NotebookNode:
    """The student's version of ``master`` (a new notebook; the master is not modified)."""
    notebook = copy.deepcopy(master.notebook)
    for cell in notebook.cells:
        cell.metadata = nbformat.from_dict({key: cell.metadata[key] for key in KEPT_CELL_METADATA
                                            if key in cell.metadata})
        if cell.cell_type != "code":
            continue
        cell.source = student_source(cell)
        cell.outputs = []
        cell.execution_count = None
        if role_of(cell) == "check":
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
    metadata = {"course": {"master": master.name}}
    if "kernelspec" in master.notebook.metadata:
        metadata["kernelspec"] = master.notebook.metadata["kernelspec"]
    # language_info.version changes with the interpreter that last executed the master: not kept.
    metadata["language_info"] = {"name": "python"}
    notebook.metadata = nbformat.from_dict(metadata)
    return notebook


def render(master: Master) -> str:
    text = nbformat.writes(student_notebook(master))
    return text if text.endswith("\n") else text + "\n"


def out_of_sync(masters: list[Master], exercises_dir: Path) -> list[str]:
    """Problems with ``exercises_dir``: stale or missing generated files, and notebooks without a master."""
    problems = []
    expected = {f"{master.name}.ipynb": render(master) for master in masters}
    for name, text in expected.items():
        path = exercises_dir / name
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs from what solutions/{name} generates")
    for path in sorted(exercises_dir.glob("*.ipynb")):
        if path.name not in expected:
            problems.append(f"{path}: has no master in solutions/ (delete it, or add its master)")
    return problems


def generate(solutions_dir: Path, exercises_dir: Path) -> list[Path]:
    """Write every student notebook whose content changed; return the paths written."""
    masters = read_masters(solutions_dir)
    exercises_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for master in masters:
        path = exercises_dir / f"{master.name}.ipynb"
        text = render(master)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.course.grading.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report whether exercises/ is in sync")
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions", help="masters (default: solutions/)")
    parser.add_argument("--exercises", type=Path, default=ROOT / "exercises", help="output (default: exercises/)")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = out_of_sync(read_masters(args.solutions), args.exercises)
            for problem in problems:
                print(problem, file=sys.stderr)
            if problems:
                print("Run `python -m lib.course.grading.generate` to regenerate exercises/.", file=sys.stderr)
                return 1
            print(f"{args.exercises} is in sync with {args.solutions}.")
            return 0
        written = generate(args.solutions, args.exercises)
    except MasterFormatError as error:
        print(f"Invalid master notebook:\n{error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"{args.exercises} was already up to date.")
    extra = [p for p in out_of_sync(read_masters(args.solutions), args.exercises) if "has no master" in p]
    for problem in extra:
        print(problem, file=sys.stderr)
    return 1 if extra else 0


if __name__ == "__main__":
    sys.exit(main())
