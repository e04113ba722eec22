"""The instructor's grader: a folder of submitted exercise notebooks in, a grade sheet and one
feedback file per student out.

    python -m lib.course.grading.grade SUBMISSIONS_DIR --masters solutions --out grading-output \\
        [--timeout 60] [--notebook-budget 900] [--jobs N] [--memory-limit 4] [--no-sandbox]

Layout: ``SUBMISSIONS_DIR/<student>/…/NN_topic.ipynb`` (one folder per student, any depth; folders
whose name starts with ``.`` such as ``.ipynb_checkpoints`` are ignored), or single notebooks
``SUBMISSIONS_DIR/<student>.ipynb``. A notebook is matched to its master by the exercise ids its
cells carry, else by the ``course.master`` metadata the generator writes, else by its file name.

Writes ``OUT/grades.csv`` (one row per student sorted by name, one column per exercise in master
order, then ``total``) and ``OUT/feedback/<student>.md``. Both are byte-identical on every rerun.

How a notebook is graded, so that nothing a student's notebook does can change its grade:

1. It is read as data only: regular files, no links, validated metadata
   (:mod:`lib.course.grading.submissions`). A file that cannot be graded is that notebook's 0 with
   the reason; the other notebooks and students are graded.
2. The grader runs the **master's** cells — ordinary cells, check cells with their hidden tests —
   with the student's solution-cell sources (matched by exercise id) put in place of the master's
   answers. Cells the student added or edited, and edited checks, never run; points come from the
   master. Each solution source is first screened (:mod:`lib.course.grading.policy`): one that uses
   the course's reference implementation or touches the checker scores 0 for that exercise.
3. Before every check cell, the check modules are rebuilt from their pristine sources (read by the
   grader before any student code ran) and the names the check cells use (``checks``, ``core`` …)
   are bound to them again, so a solution cannot stand in for the checker.
4. The kernel runs in a fresh process per notebook, inside bubblewrap (:mod:`lib.course.grading.sandbox`):
   read-only repository, no masters, no other submissions, no output folder, no network, its own PID
   namespace. A check passes only if the kernel's execute reply says ``ok``.
5. A timeout, a dead kernel, an exception, a NaN or a wrong shape scores that exercise 0 with the
   check's message as the reason; a time budget bounds each notebook.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import nbformat

from lib.course import ROOT
from lib.course.grading import sandbox
from lib.course.grading.notebook_format import CheckCell, Master, course_metadata, read_masters, role_of, student_source
from lib.course.grading.policy import MasterContext, imports_of, master_context, screen
from lib.course.grading.runner import DEFAULT_MEMORY_LIMIT_GB, CellRun, sanitize
from lib.course.grading.submissions import Submitted, find_students, read_submission
from lib.course.grading.worker import RESULT_MARKER
from lib.course.notebooks import kernel_environment

REASON_LINES = 6
REASON_CHARS = 700
DEFAULT_NOTEBOOK_BUDGET = 900.0
CHECKS_DIR = ROOT / "lib" / "checks"


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
    metric: float | None = None   # what its checks recorded for the leaderboard (never shown to the student)


@dataclass
class NotebookGrade:
    master: str
    submitted: str | None        # the submitted file's path in the student's folder; None if not submitted
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

    def metrics(self) -> dict[str, float]:
        return {e.id: e.metric for nb in self.notebooks for e in nb.exercises if e.metric is not None}

    @property
    def total(self) -> float:
        return sum(self.scores().values())

    @property
    def points(self) -> float:
        return sum(e.points for nb in self.notebooks for e in nb.exercises)


@dataclass(frozen=True)
class Settings:
    timeout: float = 60
    memory_limit_gb: float | None = DEFAULT_MEMORY_LIMIT_GB
    notebook_budget: float = DEFAULT_NOTEBOOK_BUDGET
    sandboxed: bool = True
    hidden: tuple[Path, ...] = ()    # folders the sandbox hides besides solutions/ and .git


def format_points(value: float) -> str:
    return f"{round(value, 3):g}"


def code(text: str) -> str:
    """``text`` as a Markdown code span, whatever backticks it holds."""
    text = " ".join(str(text).split("\n"))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def escape_markdown(text: str) -> str:
    """Student-chosen text (a name) as plain Markdown text: no markup, no HTML, one line."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~])", r"\\\1", text)


def _fenced(text: str) -> list[str]:
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return [f"{fence}text", text, fence]


# --- the checks, restored before every check cell ------------------------------------------------

def check_module_sources() -> dict[str, str]:
    """Every module of lib/checks, read once, before any student code has run."""
    sources = {"lib.checks": (CHECKS_DIR / "__init__.py").read_text(encoding="utf-8")}
    for path in sorted(CHECKS_DIR.glob("*.py")):
        if path.name != "__init__.py":
            sources[f"lib.checks.{path.stem}"] = path.read_text(encoding="utf-8")
    return sources


def _check_bindings(master: Master) -> list[tuple[str, str, str | None]]:
    """``(name, module, attribute or None)`` for each name the master's ordinary cells bind to the
    checks, e.g. ``("checks", "lib.checks.ch01_optimizers", None)``."""
    return check_bindings(master.notebook.cells)


def check_bindings(cells) -> list[tuple[str, str, str | None]]:
    """The names the ordinary code cells among ``cells`` bind to the checks (see :func:`_check_bindings`)."""
    bindings = []
    for cell in cells:
        if cell.cell_type != "code" or role_of(cell) is not None:
            continue
        for name, module, obj in imports_of(cell.source):
            if module == "lib" and obj == "checks":
                bindings.append((name, "lib.checks", None))
            elif module == "lib.checks" and obj is not None:
                bindings.append((name, f"lib.checks.{obj}", None))
            elif module.startswith("lib.checks.") and obj is not None:
                bindings.append((name, module, obj))
            elif module.startswith("lib.checks") and obj is None and name != "lib":
                bindings.append((name, module, None))
    return bindings


def check_restoration(bindings, sources: dict[str, str]) -> tuple[str | None, str | None]:
    """Two cells: ``prepare`` compiles the check modules from ``sources`` once per kernel, before any
    student code runs; ``before_check`` rebuilds them from those code objects into fresh module
    objects, registers them, and binds the master's names to them again. Nothing they use can have
    been replaced by a solution cell that passed the screen (they import ``sys`` and ``types``
    themselves; the code objects sit in a module only ``sys.modules`` reaches)."""
    if not bindings:
        return None, None
    needed = {module for _, module, _ in bindings} | {"lib.checks", "lib.checks.core"}
    pending = list(needed)
    while pending:   # check modules that import other check modules
        for _, module, obj in imports_of(sources.get(pending.pop(), "")):
            for candidate in (module, f"{module}.{obj}"):
                if candidate in sources and candidate not in needed:
                    needed.add(candidate)
                    pending.append(candidate)
    order = ["lib.checks", "lib.checks.core"] + sorted(needed - {"lib.checks", "lib.checks.core"})
    # Each module keeps its file's path, so inspect can show a check's source (a chapter may show it).
    modules = [(name, str(ROOT / (name.replace(".", "/") + ("/__init__.py" if name == "lib.checks" else ".py"))),
                sources[name]) for name in order if name in sources]
    prepare = (
        "def _course_compile_checks(modules):\n"
        "    import sys, types\n"
        "    holder = types.ModuleType('_course_pristine_checks')\n"
        "    holder.code = [(name, compile(source, path, 'exec')) for name, path, source in modules]\n"
        "    sys.modules['_course_pristine_checks'] = holder\n"
        f"_course_compile_checks({modules!r})\n"
        "del _course_compile_checks"
    )
    before_check = (
        "def _course_restore_checks(bindings):\n"
        "    import sys, types\n"
        "    for name, code in sys.modules['_course_pristine_checks'].code:\n"
        "        module = types.ModuleType(name)\n"
        "        module.__package__ = 'lib.checks'\n"
        "        module.__file__ = code.co_filename\n"
        "        if name == 'lib.checks':\n"
        f"            module.__path__ = [{str(CHECKS_DIR)!r}]\n"
        "        sys.modules[name] = module\n"
        "        parent, _, child = name.rpartition('.')\n"
        "        setattr(sys.modules[parent], child, module)\n"
        "        exec(code, module.__dict__)\n"
        "    for name, module, attribute in bindings:\n"
        "        value = sys.modules[module]\n"
        "        globals()[name] = value if attribute is None else getattr(value, attribute)\n"
        f"_course_restore_checks({list(bindings)!r})\n"
        "del _course_restore_checks"
    )
    return prepare, before_check


# Run by the grader right after a check cell that records a metric (a capstone's held-out accuracy): prints
# what the check, restored pristine just before, recorded in ``lib.checks.core.METRICS``.
AFTER_METRIC_CHECK = (
    "def _course_report_metrics():\n"
    "    import json, sys\n"
    "    core = sys.modules.get('lib.checks.core')\n"
    "    print(json.dumps(dict(core.METRICS) if core is not None else {}))\n"
    "_course_report_metrics()\n"
    "del _course_report_metrics"
)


# --- the plan: the master's cells, the student's solutions ----------------------------------

@dataclass
class Plan:
    cells: list[PlannedCell]
    notes: list[str]
    rejected: dict[str, str]     # exercise → why its solution was not run


def plan(submission: nbformat.NotebookNode, master: Master, context: MasterContext) -> Plan:
    """What runs for this submission: the master's code cells in order, each solution cell replaced
    by the student's (if it passes the screen), every check cell the master's own."""
    notes: list[str] = []
    solutions: dict[str, list[int]] = {}
    checks: dict[str, list[int]] = {}
    for position, cell in enumerate(submission.cells, start=1):
        meta = course_metadata(cell)
        if cell.cell_type == "code" and meta.get("role") == "solution" and master.exercise(meta.get("exercise")):
            solutions.setdefault(meta["exercise"], []).append(position)
        elif cell.cell_type == "code" and meta.get("role") == "check" and master.exercise(meta.get("exercise")):
            checks.setdefault(meta["exercise"], []).append(position)

    ordinary_sources = {student_source(c).strip() for c in master.notebook.cells
                        if c.cell_type == "code" and role_of(c) is None}
    unmatched = [position for position, cell in enumerate(submission.cells, start=1)
                 if cell.cell_type == "code" and not course_metadata(cell).get("role")
                 and cell.source.strip() and cell.source.strip() not in ordinary_sources]
    if unmatched:
        where = ", ".join(str(p) for p in unmatched)
        notes.append(f"Code cells you added or changed outside the solution cells (cell{'s' if len(unmatched) > 1 else ''} "
                     f"{where}) are not run by the grader: it runs the exercise notebook's own cells with your "
                     f"solution cells put in. Everything a solution needs belongs in its solution cell.")

    cells: list[PlannedCell] = []
    rejected: dict[str, str] = {}
    for index, cell in enumerate(master.notebook.cells):
        if cell.cell_type != "code":
            continue
        label = f"cell {index + 1}"
        role, exercise = role_of(cell), course_metadata(cell).get("exercise")
        if role is None:
            cells.append(PlannedCell(cell.source, "ordinary", label))
        elif role == "check":
            check = next(c for c in master.exercise(exercise).checks if c.index == index)
            cells.append(PlannedCell(check.source, "check", label, exercise, check))
        else:
            positions = solutions.get(exercise, [])
            if not positions:
                notes.append(f"No solution cell of {code(exercise)} was found (was it deleted, or its metadata "
                             f"removed?); the exercise ran unanswered.")
                cells.append(PlannedCell(student_source(cell), "solution", label, exercise))
                continue
            if len(positions) > 1:
                notes.append(f"{code(exercise)} has {len(positions)} solution cells (cells "
                             f"{', '.join(map(str, positions))}); the first, cell {positions[0]}, was graded.")
            source = submission.cells[positions[0] - 1].source
            findings = screen(source, exercise, context)
            if findings:
                rejected[exercise] = findings[0].describe(exercise)
                source = student_source(cell)
            cells.append(PlannedCell(source, "solution", f"cell {positions[0]}", exercise))
            above = [p for p in checks.get(exercise, []) if p < positions[0]]
            if above:
                notes.append(f"The check cell of {code(exercise)} (cell {above[0]}) was above its solution cell "
                             f"(cell {positions[0]}); the grader ran the solution first.")

    # Checks: edited, missing, or with points written into their metadata.
    for exercise in master.exercises:
        found = [submission.cells[p - 1] for p in checks.get(exercise.id, [])]
        master_ids = {check.cell_id for check in exercise.checks} - {None}
        by_id = {c.get("id"): c for c in found if c.get("id") in master_ids}
        others = [c for c in found if c.get("id") not in master_ids]
        for check in exercise.checks:
            cell = by_id.get(check.cell_id) or (others.pop(0) if others and not by_id else None)
            if cell is None:
                notes.append(f"A check cell of {code(exercise.id)} was missing; it was put back.")
                continue
            if cell.source.strip() != check.visible_source.strip():
                notes.append(f"The check cell of {code(exercise.id)} had been edited; the original was used.")
            points = course_metadata(cell).get("points")
            if points is not None and points != check.points:
                notes.append(f"Points written into the metadata of {code(exercise.id)}'s check ({points!r}) "
                             f"were ignored; the exercise sheet gives {format_points(check.points)}.")
    return Plan(cells, notes, rejected)


# --- running -------------------------------------------------------------------------------

class GradingError(RuntimeError):
    """The worker could not grade the notebook (no kernel, killed by the notebook's time limit …)."""


def run_plan_isolated(cells: list[PlannedCell], restoration: tuple[str | None, str | None],
                      settings: Settings) -> tuple[list[CellRun], str]:
    """Run ``cells`` in a worker process (inside the sandbox when ``settings.sandboxed``); return the
    runs and the kernel's working folder (for making messages path-free)."""
    request = json.dumps({"cells": [{"source": c.source, "kind": c.kind, "metric": bool(c.check and c.check.metric)}
                                    for c in cells],
                          "timeout": settings.timeout, "budget": settings.notebook_budget,
                          "memory_limit_gb": settings.memory_limit_gb, "prepare": restoration[0],
                          "before_check": restoration[1], "after_check": AFTER_METRIC_CHECK})
    argv = [sys.executable, "-m", "lib.course.grading.worker"]
    limit = settings.notebook_budget + 4 * settings.timeout + 60   # the budget is enforced inside; this is the backstop
    with tempfile.TemporaryDirectory(prefix="grade-") as scratch:
        if settings.sandboxed:
            command, cwd, env, workdir = sandbox.command(argv, hidden=list(settings.hidden)), None, None, sandbox.WORKDIR
        else:
            env = kernel_environment()
            env["PYTHONHASHSEED"] = "0"
            command, cwd, workdir = argv, scratch, scratch
        try:
            done = subprocess.run(command, input=request, capture_output=True, text=True, cwd=cwd, env=env,
                                  timeout=limit)
        except subprocess.TimeoutExpired:
            raise GradingError(f"grading this notebook took longer than {limit:g} s and was stopped") from None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            runs = [CellRun(**run) for run in json.loads(line[len(RESULT_MARKER):])["runs"]]
            if len(runs) == len(cells):
                return runs, workdir
    last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
    raise GradingError(f"the grading worker failed (exit code {done.returncode}): {last}")


# --- running and scoring ---------------------------------------------------------------------

def _first_lines(text: str) -> str:
    lines = text.strip().split("\n")
    shown = "\n".join(lines[:REASON_LINES])
    if len(shown) > REASON_CHARS:
        shown = shown[:REASON_CHARS].rstrip() + " …"
    elif len(lines) > REASON_LINES:
        shown += "\n…"
    return shown


def describe(run: CellRun, timeout: float, workdir) -> str:
    """Why a cell did not pass, in a form that is the same on every run."""
    if run.status == "timeout":
        return f"Timed out after {timeout:g} s (an endless loop, or far too slow)."
    if run.status == "died":
        return run.evalue or ("The kernel died while running this cell (the process was killed or "
                              "ran out of memory).")
    if run.status == "not run":
        return f"Not run: {run.evalue}."
    if run.ename in ("ExerciseFailure", "AssertionError") and run.evalue:
        return _first_lines(sanitize(run.evalue, workdir))
    return _first_lines(sanitize(f"{run.ename}: {run.evalue}" if run.evalue else run.ename, workdir))


def _all_zero(master: Master, reason: str) -> list[ExerciseResult]:
    return [ExerciseResult(e.id, 0, e.points, reason) for e in master.exercises]


def grade_submitted(submitted: Submitted, master: Master, settings: Settings,
                    restoration: tuple[str | None, str | None] | None = None) -> NotebookGrade:
    """Grade one read submission against ``master``."""
    start = time.perf_counter()
    if submitted.notebook is None:
        return NotebookGrade(master.name, submitted.shown,
                             _all_zero(master, f"`{submitted.shown}` {submitted.problem}."))
    planned = plan(submitted.notebook, master, master_context(master))
    if restoration is None:
        restoration = check_restoration(_check_bindings(master), check_module_sources())
    try:
        runs, workdir = run_plan_isolated(planned.cells, restoration, settings)
    except (GradingError, OSError) as error:
        return NotebookGrade(master.name, submitted.shown, _all_zero(master, f"Grading failed: {error}."),
                             planned.notes)
    results, run_notes = score(master, planned, runs, settings.timeout, workdir)
    return NotebookGrade(master.name, submitted.shown, results, planned.notes + run_notes,
                         time.perf_counter() - start)


def grade_notebook(path: Path, master: Master, *, timeout: float = 60,
                   memory_limit_gb: float | None = DEFAULT_MEMORY_LIMIT_GB, sandboxed: bool | None = None,
                   notebook_budget: float = DEFAULT_NOTEBOOK_BUDGET) -> NotebookGrade:
    """Grade one notebook file against ``master`` (sandboxed when bubblewrap works here, unless
    ``sandboxed`` says otherwise); ``path`` itself is only read."""
    if sandboxed is None:
        sandboxed = sandbox.unavailable_reason() is None
    settings = Settings(timeout, memory_limit_gb, notebook_budget, sandboxed, (Path(path).resolve().parent,))
    return grade_submitted(read_submission(Path(path), Path(path).name), master, settings)


def score(master: Master, planned: Plan, runs: list[CellRun], timeout: float,
          workdir) -> tuple[list[ExerciseResult], list[str]]:
    earned = {e.id: 0.0 for e in master.exercises}
    measured: dict[str, float] = {}
    reasons: dict[str, str] = {}
    notes: list[str] = []
    for cell, run in zip(planned.cells, runs):
        if cell.kind == "check":
            if cell.exercise in run.metrics:
                measured[cell.exercise] = run.metrics[cell.exercise]
            if run.ok:
                earned[cell.exercise] += cell.check.points
                if run.stderr.strip():
                    warning = _first_lines(sanitize(run.stderr, workdir)).split("\n")[0]
                    notes.append(f"{code(cell.exercise)} passed with a warning: {code(warning)}")
            else:
                reasons.setdefault(cell.exercise, describe(run, timeout, workdir))
            continue
        if run.ok or cell.exercise in planned.rejected:
            continue
        where = (f"The solution cell of {code(cell.exercise)} ({cell.label})" if cell.kind == "solution"
                 else f"Cell {cell.label.split()[-1]} of the exercise notebook")
        if run.status == "error" and cell.kind == "solution" and run.ename == "NotImplementedError":
            continue   # an exercise not attempted yet: its check says so
        if run.status == "error":
            message = sanitize(f"{run.ename}: {run.evalue}" if run.evalue else run.ename, workdir)
            notes.append(f"{where} raised {code(message.strip().splitlines()[0] if message.strip() else run.ename)}")
            continue
        what = describe(run, timeout, workdir)
        if cell.kind == "solution":
            reasons[cell.exercise] = f"Your solution cell ({cell.label}): {what}"
        if run.status == "died":
            what += " It was set aside and the notebook was run again without it in a fresh kernel."
        notes.append(f"{where}: {what}")
    results = []
    for exercise in master.exercises:
        if exercise.id in planned.rejected:
            results.append(ExerciseResult(exercise.id, 0, exercise.points, planned.rejected[exercise.id]))
            continue
        score_ = earned[exercise.id]
        reason = "" if score_ == exercise.points else reasons.get(exercise.id, "")
        results.append(ExerciseResult(exercise.id, score_, exercise.points, reason, measured.get(exercise.id)))
    return results, notes


# --- matching submissions to masters -------------------------------------------------------

def master_by_name(stem: str, masters: list[Master]) -> Master | None:
    """The master whose name the file name starts with (``01_optimizers-Copy1`` → ``01_optimizers``)."""
    named = [m for m in masters if stem == m.name or (stem.startswith(m.name) and not stem[len(m.name)].isalnum())]
    return max(named, key=lambda m: len(m.name), default=None)


def master_by_content(notebook: nbformat.NotebookNode, masters: list[Master]) -> Master | None:
    ids = {course_metadata(c).get("exercise") for c in notebook.cells} - {None}
    overlaps = sorted(((len(ids & set(m.exercise_ids)), m.name) for m in masters), key=lambda x: (-x[0], x[1]))
    if overlaps and overlaps[0][0]:
        return next(m for m in masters if m.name == overlaps[0][1])
    declared = notebook.metadata.get("course", {}).get("master")
    return next((m for m in masters if m.name == declared), None)


def choose(student_entries: list[Submitted], masters: list[Master]) -> tuple[dict[str, Submitted], list[str]]:
    """Which file is graded for which master, and notes on the others."""
    notes: list[str] = []
    candidates: dict[str, list[Submitted]] = {}
    for submitted in student_entries:
        stem = Path(submitted.shown).name[: -len(".ipynb")]
        by_name = master_by_name(stem, masters)
        by_content = master_by_content(submitted.notebook, masters) if submitted.notebook is not None else None
        if by_content is not None and by_name is not None and by_content is not by_name:
            notes.append(f"{code(submitted.shown)} is named like {code(by_name.name)} but holds the exercises of "
                         f"{code(by_content.name)}; it was graded as {code(by_content.name)}.")
        elif by_content is None and by_name is not None and submitted.notebook is not None:
            notes.append(f"{code(submitted.shown)} holds none of {code(by_name.name)}'s exercise cells "
                         f"(their metadata is gone); it was graded as {code(by_name.name)} anyway.")
        master = by_content or by_name
        if master is None:
            problem = f" ({submitted.problem})" if submitted.problem else ""
            notes.append(f"{code(submitted.shown)} matches no exercise notebook and was not graded{problem}.")
            continue
        candidates.setdefault(master.name, []).append(submitted)
    chosen: dict[str, Submitted] = {}
    for name, found in candidates.items():
        found.sort(key=lambda s: (s.notebook is None, Path(s.shown).name != f"{name}.ipynb",
                                  len(Path(s.shown).parts), s.shown))
        chosen[name] = found[0]
        for other in found[1:]:
            why = f" (it {other.problem})" if other.problem else ""
            notes.append(f"{code(other.shown)} was not graded{why}: {code(found[0].shown)} was graded for "
                         f"{code(name)}.")
    return chosen, notes


def grade_student(student: str, entries: list[tuple[Path, str]], masters: list[Master], settings: Settings,
                  notes: list[str] | None = None, restorations: dict[str, tuple] | None = None) -> StudentGrade:
    submitted = [read_submission(path, shown) for path, shown in entries]
    chosen, choice_notes = choose(submitted, masters)
    notebooks = []
    for master in masters:
        if master.name not in chosen:
            notebooks.append(NotebookGrade(master.name, None, _all_zero(master, "Not submitted.")))
            continue
        restoration = (restorations or {}).get(master.name)
        notebooks.append(grade_submitted(chosen[master.name], master, settings, restoration))
    return StudentGrade(student, notebooks, list(notes or []) + choice_notes)


# --- writing results -------------------------------------------------------------------------

def grade_sheet(grades: list[StudentGrade], masters: list[Master]) -> str:
    ids = [e for m in masters for e in m.exercise_ids]
    # Leaderboard columns after the total: what an exercise's checks measured (a capstone's held-out
    # accuracy), blank when its checks recorded nothing (not submitted, no valid plan …).
    boards = [(e.id, e.metric) for m in masters for e in m.exercises if e.metric]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *ids, "total", *(f"{exercise} {metric}" for exercise, metric in boards)])
    for grade in sorted(grades, key=lambda g: g.student):
        scores = grade.scores()
        name = grade.student
        if name[:1] in ("=", "+", "-", "@"):
            name = "'" + name           # a spreadsheet would run it as a formula
        measured = grade.metrics()
        writer.writerow([name, *(format_points(scores[i]) for i in ids), format_points(grade.total),
                         *(f"{measured[e]:.4f}" if e in measured else "" for e, _ in boards)])
    return buffer.getvalue()


def feedback(grade: StudentGrade) -> str:
    lines = [f"# Feedback for {escape_markdown(grade.student)}", "",
             f"**Total: {format_points(grade.total)} / {format_points(grade.points)} points**", ""]
    for note in grade.notes:
        lines.append(f"- {note}")
    if grade.notes:
        lines.append("")
    for notebook in grade.notebooks:
        earned = sum(e.score for e in notebook.exercises)
        possible = sum(e.points for e in notebook.exercises)
        submitted = f"submitted as {code(notebook.submitted)}" if notebook.submitted else "not submitted"
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
                lines += [f"**`{e.id}`**", "", *_fenced(e.reason), ""]
        if notebook.notes:
            lines += ["### Notes", ""] + [f"- {note}" for note in notebook.notes] + [""]
    return "\n".join(lines).rstrip() + "\n"


def feedback_filename(student: str) -> str:
    """A file name per student, distinct for distinct names even on a case-insensitive disk:
    a name made only of lower-case letters, digits, ``.``, ``_`` and ``-`` is kept; any other
    name gets a short digest of the exact name after its readable part (``ann lee`` →
    ``ann_lee-3c5f0a1b.md``, while ``ann_lee`` stays ``ann_lee.md``)."""
    if re.fullmatch(r"[a-z0-9_-][a-z0-9._-]*", student) and not re.search(r"-[0-9a-f]{8}$", student):
        return f"{student}.md"
    readable = re.sub(r"[^a-z0-9._-]+", "_", student.lower()).strip("._") or "student"
    digest = hashlib.sha256(student.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{readable[:60]}-{digest}.md"


def _grade_one(args) -> StudentGrade:
    student, entries, masters, settings, notes, restorations = args
    return grade_student(student, entries, masters, settings, notes, restorations)


def grade_folder(submissions: Path, masters_dir: Path, out: Path, *, timeout: float = 60, jobs: int = 1,
                 memory_limit_gb: float | None = DEFAULT_MEMORY_LIMIT_GB, sandboxed: bool = True,
                 notebook_budget: float = DEFAULT_NOTEBOOK_BUDGET, log=None) -> list[StudentGrade]:
    """Grade every student in ``submissions``; write ``out/grades.csv`` and ``out/feedback/*.md``."""
    masters = read_masters(masters_dir)
    if not masters:
        raise SystemExit(f"No master notebooks in {masters_dir}.")
    if sandboxed and sandbox.unavailable_reason() is not None:
        raise SystemExit(f"Cannot sandbox: {sandbox.unavailable_reason()}.")
    out = Path(out)
    hidden = tuple(Path(p).resolve() for p in (masters_dir, submissions, out))
    settings = Settings(timeout, memory_limit_gb, notebook_budget, sandboxed, hidden)
    sources = check_module_sources()
    restorations = {m.name: check_restoration(_check_bindings(m), sources) for m in masters}
    tasks = [(s.name, s.entries, masters, settings, s.notes, restorations) for s in find_students(Path(submissions))]
    grades: list[StudentGrade] = []
    if jobs > 1 and len(tasks) > 1:
        # Processes, not threads: each grading drives its own worker and kernel.
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
        (feedback_dir / feedback_filename(grade.student)).write_text(feedback(grade), encoding="utf-8")
    return grades


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.course.grading.grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, help="folder of submissions (one sub-folder per student)")
    parser.add_argument("--masters", type=Path, default=ROOT / "solutions", help="master notebooks (default: solutions/)")
    parser.add_argument("--out", type=Path, default=Path("grading-output"), help="output folder (default: grading-output)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per cell (default 60)")
    parser.add_argument("--notebook-budget", type=float, default=DEFAULT_NOTEBOOK_BUDGET,
                        help=f"seconds per notebook, all cells together (default {DEFAULT_NOTEBOOK_BUDGET:g})")
    parser.add_argument("--jobs", type=int, default=1, help="students graded in parallel (default 1)")
    parser.add_argument("--memory-limit", type=float, default=DEFAULT_MEMORY_LIMIT_GB,
                        help=f"GB of address space per kernel, 0 for none (default {DEFAULT_MEMORY_LIMIT_GB:g})")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run student code without bubblewrap, with your permissions (only where bubblewrap "
                             "is unavailable, on a machine or account where that is acceptable)")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    reason = sandbox.unavailable_reason()
    if args.no_sandbox:
        print("NOT SANDBOXED: student code runs with your permissions (--no-sandbox).", file=sys.stderr)
    elif reason is not None:
        print(f"Cannot grade in a sandbox: {reason}.\nStudent code would run with your permissions. "
              f"Install bubblewrap, or rerun with --no-sandbox on a machine or account where that is "
              f"acceptable.", file=sys.stderr)
        return 2

    def log(grade: StudentGrade) -> None:
        seconds = sum(nb.seconds for nb in grade.notebooks)
        print(f"{grade.student:<24} {format_points(grade.total):>6} / {format_points(grade.points):<6} "
              f"({seconds:.1f} s)", file=sys.stderr)

    start = time.perf_counter()
    grades = grade_folder(args.submissions, args.masters, args.out, timeout=args.timeout, jobs=args.jobs,
                          memory_limit_gb=args.memory_limit or None, sandboxed=not args.no_sandbox,
                          notebook_budget=args.notebook_budget, log=log)
    print(f"Graded {len(grades)} students in {time.perf_counter() - start:.1f} s: "
          f"{args.out / 'grades.csv'}, {args.out / 'feedback'}/", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
