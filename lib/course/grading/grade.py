"""The instructor's grader: a folder of submitted exercise notebooks in, a grade sheet and one
feedback file per student out.

    python -m lib.course.grading.grade SUBMISSIONS_DIR --masters solutions --out grading-output \\
        [--timeout 60] [--jobs N] [--memory-limit 4]

Layout: ``SUBMISSIONS_DIR/<student>/…/NN_topic.ipynb`` (one folder per student, any depth; folders
whose name starts with ``.`` such as ``.ipynb_checkpoints`` are ignored), or single notebooks
``SUBMISSIONS_DIR/<student>.ipynb``. A notebook is matched to its master by file name, else by the
``course.master`` notebook metadata the generator writes, else by the exercise ids its cells carry.

Writes ``OUT/grades.csv`` (one row per student sorted by name, one column per exercise in master
order, then ``total``) and ``OUT/feedback/<student>.md``. Both are byte-identical on every rerun:
no timestamps, no temporary paths, a fixed order whatever ``--jobs`` is.

Per submission, on a copy in a temporary folder (the submitted file is only read):

1. every check cell comes from the master, matched by exercise id (and cell id when several
   checks share an exercise): edited ones are restored, deleted ones re-inserted after that
   exercise's last cell in master order, hidden tests added back; points come from the master only;
2. the cells run in order in one kernel (see :mod:`lib.course.grading.runner`): a check passes only if
   the kernel's execute reply says ``ok`` — output text is never consulted, so silencing
   tracebacks cannot turn a failure into a pass, and a warning on stderr is just a warning;
3. a timeout, a dead kernel, an exception, a NaN or a wrong shape scores that exercise 0 with the
   check's message as the reason, and grading goes on with the other exercises and students.

Why nbclient rather than nbval: see :mod:`lib.course.grading.runner` (reply status, per-cell timeout,
immediate dead-kernel detection, restart and replay under our control).
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import nbformat

from lib.course.grading.notebook_format import CheckCell, Master, course_metadata, read_masters
from lib.course.grading.runner import DEFAULT_MEMORY_LIMIT_GB, CellRun, run_cells, sanitize

from lib.course import ROOT
REASON_LINES = 6
REASON_CHARS = 700


@dataclass
class PlannedCell:
    source: str
    kind: str                    # "ordinary", "solution" or "check"
    label: str                   # where it came from, for feedback
    exercise: str | None = None
    check: CheckCell | None = None


@dataclass
class ExerciseResult:
    id: str
    score: float
    points: float
    reason: str = ""


@dataclass
class NotebookGrade:
    master: str
    submitted: str | None        # the submitted file's name; None if not submitted
    exercises: list[ExerciseResult]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class StudentGrade:
    student: str
    notebooks: list[NotebookGrade]
    notes: list[str] = field(default_factory=list)

    def scores(self) -> dict[str, float]:
        return {e.id: e.score for nb in self.notebooks for e in nb.exercises}

    @property
    def total(self) -> float:
        return sum(self.scores().values())

    @property
    def points(self) -> float:
        return sum(e.points for nb in self.notebooks for e in nb.exercises)


def format_points(value: float) -> str:
    return f"{round(value, 3):g}"


# --- putting the master's checks back --------------------------------------------------------

def assemble(submission: nbformat.NotebookNode, master: Master) -> tuple[list[PlannedCell], list[str]]:
    """The code cells to run: the student's cells in their order, with every check cell taken
    from the master (hidden tests included) and deleted checks re-inserted."""
    notes: list[str] = []
    unmatched = {e.id: list(e.checks) for e in master.exercises}
    planned: list[PlannedCell] = []
    for position, cell in enumerate(submission.cells, start=1):
        if cell.cell_type != "code":
            continue
        label = f"cell {position}"
        meta = course_metadata(cell)
        role, exercise = meta.get("role"), meta.get("exercise")
        if role == "check" and unmatched.get(exercise):
            candidates = unmatched[exercise]
            check = next((c for c in candidates if c.cell_id and c.cell_id == cell.get("id")), candidates[0])
            candidates.remove(check)
            if cell.source.strip() != check.visible_source.strip():
                notes.append(f"The check cell of `{exercise}` ({label}) had been edited; the original was used.")
            if "points" in meta and meta["points"] != check.points:
                notes.append(f"Points written into the metadata of `{exercise}`'s check ({meta['points']!r}) "
                             f"were ignored; the exercise sheet gives {format_points(check.points)}.")
            planned.append(PlannedCell(check.source, "check", label, exercise, check))
        elif role == "solution" and master.exercise(exercise) is not None:
            planned.append(PlannedCell(cell.source, "solution", label, exercise))
        else:
            planned.append(PlannedCell(cell.source, "ordinary", label))

    # Re-insert deleted checks after the exercise's last cell (its solution or an earlier check),
    # else after the previous exercise's last cell, else at the end.
    previous_anchor: int | None = None
    for exercise in master.exercises:
        for check in exercise.checks:
            if check not in unmatched[exercise.id]:
                continue
            own = [i for i, p in enumerate(planned) if p.exercise == exercise.id
                   and (p.kind == "solution" or (p.check is not None and p.check.index < check.index))]
            anchor = own[-1] if own else previous_anchor
            insert_at = len(planned) if anchor is None else anchor + 1
            planned.insert(insert_at, PlannedCell(check.source, "check", "re-inserted check", exercise.id, check))
            notes.append(f"A check cell of `{exercise.id}` was missing; it was put back.")
        own = [i for i, p in enumerate(planned) if p.exercise == exercise.id]
        if own:
            previous_anchor = own[-1]
    return planned, notes


# --- running and scoring ---------------------------------------------------------------------

def _first_lines(text: str) -> str:
    lines = text.strip().split("\n")
    shown = "\n".join(lines[:REASON_LINES])
    if len(shown) > REASON_CHARS:
        shown = shown[:REASON_CHARS].rstrip() + " …"
    elif len(lines) > REASON_LINES:
        shown += "\n…"
    return shown


def describe(run: CellRun, timeout: float, workdir: Path) -> str:
    """Why a cell did not pass, in a form that is the same on every run."""
    if run.status == "timeout":
        return f"Timed out after {timeout:g} s (an endless loop, or far too slow)."
    if run.status == "died":
        return ("The kernel died while running this cell (the process exited — e.g. os._exit or "
                "sys.exit from native code — or ran out of memory).")
    if run.status == "not run":
        return f"Not run: {run.evalue}."
    if run.ename in ("ExerciseFailure", "AssertionError") and run.evalue:
        return _first_lines(sanitize(run.evalue, workdir))
    return _first_lines(sanitize(f"{run.ename}: {run.evalue}" if run.evalue else run.ename, workdir))


def grade_notebook(path: Path, master: Master, *, timeout: float = 60,
                   memory_limit_gb: float | None = DEFAULT_MEMORY_LIMIT_GB) -> NotebookGrade:
    """Grade one submitted notebook against ``master``; ``path`` itself is only copied."""
    start = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="grade-"))
    try:
        copy = workdir / path.name
        shutil.copyfile(path, copy)
        try:
            submission = nbformat.read(copy, as_version=4)
        except Exception as error:  # a broken file is that student's 0, not the end of grading
            reason = f"The notebook could not be read: {type(error).__name__}: {_first_lines(str(error))}"
            return NotebookGrade(master.name, path.name,
                                 [ExerciseResult(e.id, 0, e.points, reason) for e in master.exercises])
        planned, notes = assemble(submission, master)
        try:
            runs = run_cells([p.source for p in planned], workdir, timeout=timeout, memory_limit_gb=memory_limit_gb)
        except Exception as error:  # e.g. no kernel could start: this notebook's 0, the others still graded
            reason = f"Grading failed: {type(error).__name__}: {_first_lines(sanitize(str(error), workdir))}"
            return NotebookGrade(master.name, path.name,
                                 [ExerciseResult(e.id, 0, e.points, reason) for e in master.exercises], notes)
        results, run_notes = score(master, planned, runs, timeout, workdir)
        return NotebookGrade(master.name, None, results, notes + run_notes, time.perf_counter() - start)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def score(master: Master, planned: list[PlannedCell], runs: list[CellRun], timeout: float,
          workdir: Path) -> tuple[list[ExerciseResult], list[str]]:
    earned = {e.id: 0.0 for e in master.exercises}
    reasons: dict[str, str] = {}
    notes: list[str] = []
    for cell, run in zip(planned, runs):
        if cell.kind == "check":
            if run.ok:
                earned[cell.exercise] += cell.check.points
                if run.stderr.strip():
                    warning = _first_lines(sanitize(run.stderr, workdir)).split("\n")[0]
                    notes.append(f"`{cell.exercise}` passed with a warning: {warning}")
            else:
                reasons.setdefault(cell.exercise, describe(run, timeout, workdir))
            continue
        if run.ok:
            continue
        where = (f"The solution cell of `{cell.exercise}` ({cell.label})" if cell.kind == "solution"
                 else cell.label.capitalize())
        if run.status == "error" and cell.kind == "solution" and run.ename == "NotImplementedError":
            continue   # an exercise not attempted yet: its check says so
        if run.status == "error":
            message = sanitize(f"{run.ename}: {run.evalue}" if run.evalue else run.ename, workdir)
            notes.append(f"{where} raised {message.strip().splitlines()[0]}")
            continue
        what = describe(run, timeout, workdir)
        if cell.kind == "solution":
            reasons[cell.exercise] = f"Your solution cell ({cell.label}): {what}"
        if run.status == "died":
            what += " It was skipped and the cells before it were run again in a fresh kernel."
        notes.append(f"{where}: {what}")
    results = []
    for exercise in master.exercises:
        score_ = earned[exercise.id]
        reason = "" if score_ == exercise.points else reasons.get(exercise.id, "")
        results.append(ExerciseResult(exercise.id, score_, exercise.points, reason))
    return results, notes


# --- finding submissions ---------------------------------------------------------------------

def _visible(path: Path, base: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(base).parts)


def match_master(path: Path, masters: list[Master]) -> Master | None:
    by_name = {m.name: m for m in masters}
    if path.stem in by_name:
        return by_name[path.stem]
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception:
        return None
    declared = notebook.metadata.get("course", {}).get("master") if isinstance(
        notebook.metadata.get("course"), dict) else None
    if declared in by_name:
        return by_name[declared]
    ids = {course_metadata(c).get("exercise") for c in notebook.cells} - {None}
    overlaps = sorted(((len(ids & set(m.exercise_ids)), m.name) for m in masters), key=lambda x: (-x[0], x[1]))
    return by_name[overlaps[0][1]] if overlaps and overlaps[0][0] else None


def find_submissions(directory: Path) -> dict[str, list[Path]]:
    """Student name → their notebooks (sorted)."""
    students: dict[str, list[Path]] = {}
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            students[entry.name] = sorted(p for p in entry.rglob("*.ipynb") if _visible(p, entry))
        elif entry.suffix == ".ipynb":
            students.setdefault(entry.stem, []).append(entry)
    return students


def grade_student(student: str, paths: list[Path], masters: list[Master], *, timeout: float = 60,
                  memory_limit_gb: float | None = DEFAULT_MEMORY_LIMIT_GB) -> StudentGrade:
    notes: list[str] = []
    chosen: dict[str, Path] = {}
    for path in sorted(paths, key=lambda p: (len(p.parts), str(p))):
        master = match_master(path, masters)
        if master is None:
            notes.append(f"`{path.name}` matches no exercise notebook and was not graded.")
        elif master.name in chosen:
            notes.append(f"`{path.name}` was not graded: `{chosen[master.name].name}` was already "
                         f"graded for {master.name}.")
        else:
            chosen[master.name] = path
    notebooks = []
    for master in masters:
        if master.name not in chosen:
            notebooks.append(NotebookGrade(master.name, None, [
                ExerciseResult(e.id, 0, e.points, "Not submitted.") for e in master.exercises]))
            continue
        grade = grade_notebook(chosen[master.name], master, timeout=timeout, memory_limit_gb=memory_limit_gb)
        grade.submitted = chosen[master.name].name
        notebooks.append(grade)
    return StudentGrade(student, notebooks, notes)


# --- writing results -------------------------------------------------------------------------

def grade_sheet(grades: list[StudentGrade], masters: list[Master]) -> str:
    ids = [e for m in masters for e in m.exercise_ids]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *ids, "total"])
    for grade in sorted(grades, key=lambda g: g.student):
        scores = grade.scores()
        writer.writerow([grade.student, *(format_points(scores[i]) for i in ids), format_points(grade.total)])
    return buffer.getvalue()


def feedback(grade: StudentGrade) -> str:
    lines = [f"# Feedback for {grade.student}", "",
             f"**Total: {format_points(grade.total)} / {format_points(grade.points)} points**", ""]
    for note in grade.notes:
        lines.append(f"- {note}")
    if grade.notes:
        lines.append("")
    for notebook in grade.notebooks:
        earned = sum(e.score for e in notebook.exercises)
        possible = sum(e.points for e in notebook.exercises)
        submitted = f"submitted as `{notebook.submitted}`" if notebook.submitted else "not submitted"
        lines += [f"## {notebook.master} — {format_points(earned)} / {format_points(possible)} ({submitted})", "",
                  "| exercise | points | result |", "| --- | --- | --- |"]
        for e in notebook.exercises:
            result = "passed" if e.score == e.points else ("partly passed" if e.score else "failed")
            lines.append(f"| `{e.id}` | {format_points(e.score)} / {format_points(e.points)} | {result} |")
        lines.append("")
        failed = [e for e in notebook.exercises if e.reason and notebook.submitted]
        if failed:
            lines += ["### What went wrong", ""]
            for e in failed:
                lines += [f"**`{e.id}`**", "", "```text", e.reason, "```", ""]
        if notebook.notes:
            lines += ["### Notes", ""] + [f"- {note}" for note in notebook.notes] + [""]
    return "\n".join(lines).rstrip() + "\n"


def safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"


def _grade_one(args) -> StudentGrade:
    student, paths, masters, timeout, memory = args
    return grade_student(student, paths, masters, timeout=timeout, memory_limit_gb=memory)


def grade_folder(submissions: Path, masters_dir: Path, out: Path, *, timeout: float = 60, jobs: int = 1,
                 memory_limit_gb: float | None = DEFAULT_MEMORY_LIMIT_GB, log=None) -> list[StudentGrade]:
    """Grade every student in ``submissions``; write ``out/grades.csv`` and ``out/feedback/*.md``."""
    masters = read_masters(masters_dir)
    if not masters:
        raise SystemExit(f"No master notebooks in {masters_dir}.")
    students = find_submissions(submissions)
    tasks = [(name, paths, masters, timeout, memory_limit_gb) for name, paths in students.items()]
    grades: list[StudentGrade] = []
    if jobs > 1 and len(tasks) > 1:
        # Processes, not threads: each grading drives its own kernel and event loop.
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            for grade in pool.map(_grade_one, tasks):
                grades.append(grade)
                if log:
                    log(grade)
    else:
        for task in tasks:
            grades.append(_grade_one(task))
            if log:
                log(grades[-1])
    out.mkdir(parents=True, exist_ok=True)
    (out / "grades.csv").write_text(grade_sheet(grades, masters), encoding="utf-8")
    feedback_dir = out / "feedback"
    feedback_dir.mkdir(exist_ok=True)
    for grade in grades:
        (feedback_dir / f"{safe_filename(grade.student)}.md").write_text(feedback(grade), encoding="utf-8")
    return grades


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.course.grading.grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, help="folder of submissions (one sub-folder per student)")
    parser.add_argument("--masters", type=Path, default=ROOT / "solutions", help="master notebooks (default: solutions/)")
    parser.add_argument("--out", type=Path, default=Path("grading-output"), help="output folder (default: grading-output)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per cell (default 60)")
    parser.add_argument("--jobs", type=int, default=1, help="students graded in parallel (default 1)")
    parser.add_argument("--memory-limit", type=float, default=DEFAULT_MEMORY_LIMIT_GB,
                        help=f"GB of address space per kernel, 0 for none (default {DEFAULT_MEMORY_LIMIT_GB:g})")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")

    def log(grade: StudentGrade) -> None:
        seconds = sum(nb.seconds for nb in grade.notebooks)
        print(f"{grade.student:<24} {format_points(grade.total):>6} / {format_points(grade.points):<6} "
              f"({seconds:.1f} s)", file=sys.stderr)

    start = time.perf_counter()
    grades = grade_folder(args.submissions, args.masters, args.out, timeout=args.timeout, jobs=args.jobs,
                          memory_limit_gb=args.memory_limit or None, log=log)
    print(f"Graded {len(grades)} students in {time.perf_counter() - start:.1f} s: "
          f"{args.out / 'grades.csv'}, {args.out / 'feedback'}/", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
