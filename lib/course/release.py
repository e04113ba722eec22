"""The student release: what an instructor hands out for graded homework.

    python -m lib.course.release --out DIR

Writes into ``DIR`` (which must not exist yet, or be empty):

- ``exercises/`` — generated afresh from the masters (so a stale ``exercises/`` cannot leak anything);
- ``notebooks/`` — the chapters, as committed (executed);
- ``lib/`` — the reference code, the checks and the tooling (the students' ``pytest`` plugin);
- ``README.md``, ``LICENSE``, ``requirements.txt``, ``requirements-browser.txt``, ``pyproject.toml``.

Never: ``solutions/`` (the masters: answers and hidden tests), ``tests/``, ``CLAIMS.md``,
``benchmarks/``, version control, virtual environments, caches. The release is then checked: no
master, no solution or hidden-test marker in any file, every exercise notebook without outputs. The
grader keeps running from the instructor's full repository.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from lib.course import ROOT
from lib.course.grading.generate import render
from lib.course.grading.notebook_format import BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION, read_masters

TOP_LEVEL_FILES = ("README.md", "LICENSE", "requirements.txt", "requirements-browser.txt", "pyproject.toml")
COPIED_FOLDERS = ("lib", "notebooks")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info", ".*")


class ReleaseError(RuntimeError):
    """The release would leak something, or could not be built."""


def build(out: Path, root: Path = ROOT) -> list[Path]:
    """Write the release into ``out``; return the files written (relative to ``out``)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ReleaseError(f"{out} is not empty; choose a new folder")
    if out.resolve() == root.resolve() or root.resolve() in out.resolve().parents:
        raise ReleaseError(f"{out} is inside the repository; write the release somewhere else")
    masters = read_masters(root / "solutions")
    out.mkdir(parents=True, exist_ok=True)
    for name in TOP_LEVEL_FILES:
        if (root / name).is_file():
            shutil.copyfile(root / name, out / name)
    for folder in COPIED_FOLDERS:
        shutil.copytree(root / folder, out / folder, ignore=IGNORED)
    (out / "exercises").mkdir()
    for master in masters:
        (out / "exercises" / f"{master.name}.ipynb").write_text(render(master), encoding="utf-8")
    problems = leaks(out, masters)
    if problems:
        shutil.rmtree(out)
        raise ReleaseError("the release would leak:\n  " + "\n  ".join(problems))
    return sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())


def leaks(out: Path, masters) -> list[str]:
    """What in ``out`` should not be handed to students."""
    problems = []
    if (out / "solutions").exists():
        problems.append("solutions/ is present")
    master_texts = {master.path.read_bytes() for master in masters}
    markers = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if data in master_texts:
            problems.append(f"{path.relative_to(out)} is a copy of a master")
        text = data.decode("utf-8", errors="ignore")
        if path.suffix == ".ipynb":
            try:
                text = "\n".join("".join(c.get("source", "")) for c in json.loads(text).get("cells", []))
            except (ValueError, AttributeError):
                problems.append(f"{path.relative_to(out)} is not a readable notebook")
        lines = {line.strip() for line in text.splitlines()}
        for marker in markers:
            if marker in lines:
                problems.append(f"{path.relative_to(out)} contains a `{marker}` line")
    for path in sorted((out / "exercises").glob("*.ipynb")):
        if '"output_type"' in path.read_text(encoding="utf-8"):
            problems.append(f"{path.relative_to(out)} has outputs")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.course.release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="a new folder for the student release")
    args = parser.parse_args(argv)
    try:
        files = build(args.out)
    except ReleaseError as error:
        print(f"No release: {error}", file=sys.stderr)
        return 1
    print(f"Wrote the student release ({len(files)} files) to {args.out}: exercises/, notebooks/, lib/ and "
          f"the set-up files; no solutions/, no hidden tests.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
