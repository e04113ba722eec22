"""The exercise-master format: what a cell's ``course`` metadata means, the marked regions, and
validation with messages that say which cell is wrong and how to fix it.

A master ``solutions/NN_topic.ipynb`` holds, per graded exercise,

- one **solution cell**: ``metadata["course"] = {"role": "solution", "exercise": id}``, with the
  answer between lines ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
- one or more **check cells**: ``metadata["course"] = {"role": "check", "exercise": id,
  "points": N, "locked": true}``, optionally with lines between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS`` that only the master (and the grader) ever sees.

Markers must stand alone on their line. A line that looks like a marker but is not one exactly
(``## BEGIN SOLUTION``, ``### begin solution``) is an error, never silently kept: it would leak an
answer or a hidden test into the student notebook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
_MARKER_LOOKALIKE = re.compile(r"(BEGIN|END)\s+(SOLUTION|HIDDEN\s+TESTS?)", re.IGNORECASE)
EXERCISE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
ROLES = ("solution", "check")


class MasterFormatError(ValueError):
    """A master notebook breaks the format; the message lists every problem found."""


def course_metadata(cell) -> dict:
    """The cell's ``course`` metadata, or ``{}`` for an ordinary cell."""
    meta = cell.get("metadata", {}).get("course")
    return meta if isinstance(meta, dict) else {}


def role_of(cell) -> str | None:
    return course_metadata(cell).get("role")


def exercise_of(cell) -> str | None:
    return course_metadata(cell).get("exercise")


def _marker(line: str) -> str | None:
    stripped = line.strip()
    return stripped if stripped in MARKERS else None


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def stub_line(exercise: str) -> str:
    return f'raise NotImplementedError("{exercise}: replace this line with your solution")'


def _regions(source: str, begin: str, end: str) -> tuple[list[tuple[int, int]], list[str]]:
    """Line spans ``(begin_index, end_index)`` of the ``begin``/``end`` regions, and problems."""
    spans, problems, start = [], [], None
    lines = source.split("\n")
    for number, line in enumerate(lines):
        marker = _marker(line)
        if marker == begin:
            if start is not None:
                problems.append(f"line {number + 1}: `{begin}` inside an open region (regions do not nest)")
            start = number
        elif marker == end:
            if start is None:
                problems.append(f"line {number + 1}: `{end}` without a `{begin}` before it")
            else:
                spans.append((start, number))
                start = None
    if start is not None:
        problems.append(f"line {start + 1}: `{begin}` is never closed by `{end}`")
    return spans, problems


def replace_solutions(source: str, exercise: str) -> str:
    """Each solution region (markers included) becomes one ``raise NotImplementedError`` line at
    the indentation of its ``### BEGIN SOLUTION`` line."""
    spans, problems = _regions(source, BEGIN_SOLUTION, END_SOLUTION)
    if problems:
        raise MasterFormatError("; ".join(problems))
    lines = source.split("\n")
    for begin, end in reversed(spans):
        lines[begin : end + 1] = [_indent(lines[begin]) + stub_line(exercise)]
    return "\n".join(lines)


def remove_hidden(source: str) -> str:
    """Drop every hidden-test region, markers included, and trailing blank lines left behind."""
    spans, problems = _regions(source, BEGIN_HIDDEN, END_HIDDEN)
    if problems:
        raise MasterFormatError("; ".join(problems))
    lines = source.split("\n")
    for begin, end in reversed(spans):
        del lines[begin : end + 1]
    return "\n".join(lines).rstrip()


def student_source(cell) -> str:
    """What the student notebook shows for this master cell."""
    role = role_of(cell)
    if role == "solution":
        return replace_solutions(cell.source, exercise_of(cell))
    if role == "check":
        return remove_hidden(cell.source)
    return cell.source


@dataclass(frozen=True)
class CheckCell:
    exercise: str
    points: float
    index: int          # position among the master's cells
    cell_id: str | None
    source: str         # the master's full source, hidden tests included
    metric: str | None = None   # the name of what this check records for the leaderboard, if anything

    @property
    def visible_source(self) -> str:
        return remove_hidden(self.source)


@dataclass
class Exercise:
    id: str
    solution_index: int
    checks: list[CheckCell] = field(default_factory=list)

    @property
    def points(self) -> float:
        return sum(check.points for check in self.checks)

    @property
    def metric(self) -> str | None:
        """The leaderboard column this exercise's checks record (e.g. ``"held-out accuracy"``), if any."""
        return next((check.metric for check in self.checks if check.metric), None)


@dataclass
class Master:
    name: str           # file stem, e.g. "01_optimizers"
    path: Path
    notebook: nbformat.NotebookNode
    exercises: list[Exercise]

    @property
    def exercise_ids(self) -> list[str]:
        return [exercise.id for exercise in self.exercises]

    def exercise(self, exercise_id: str) -> Exercise | None:
        return next((e for e in self.exercises if e.id == exercise_id), None)

    @property
    def points(self) -> float:
        return sum(exercise.points for exercise in self.exercises)


def _is_points(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _cell_problems(index: int, cell) -> list[str]:
    """Everything wrong with one cell, each message prefixed with the cell's position."""
    where = f"cell {index}"
    problems: list[str] = []
    meta = course_metadata(cell)
    source = cell.get("source", "")
    lookalikes = [(n + 1, line.strip()) for n, line in enumerate(source.split("\n"))
                  if _MARKER_LOOKALIKE.search(line) and _marker(line) is None]
    for number, line in lookalikes:
        problems.append(f"{where} line {number}: `{line}` looks like a marker but is not one exactly "
                        f"(markers are `{BEGIN_SOLUTION}`, `{END_SOLUTION}`, `{BEGIN_HIDDEN}`, `{END_HIDDEN}`, "
                        f"alone on their line)")
    has_solution_marker = any(_marker(line) in (BEGIN_SOLUTION, END_SOLUTION) for line in source.split("\n"))
    has_hidden_marker = any(_marker(line) in (BEGIN_HIDDEN, END_HIDDEN) for line in source.split("\n"))
    raw_meta = cell.get("metadata", {}).get("course")
    if raw_meta is not None and not isinstance(raw_meta, dict):
        return problems + [f"{where}: metadata 'course' must be a dict, got {type(raw_meta).__name__}"]
    if not meta:
        if has_solution_marker:
            problems.append(f"{where}: has solution markers but no metadata "
                            f"{{'course': {{'role': 'solution', 'exercise': ...}}}} — its answer would leak")
        if has_hidden_marker:
            problems.append(f"{where}: has hidden-test markers but is not a check cell — the hidden tests would leak")
        return problems

    role, exercise = meta.get("role"), meta.get("exercise")
    if role not in ROLES:
        problems.append(f"{where}: course role must be 'solution' or 'check', got {role!r}")
        return problems
    if not isinstance(exercise, str) or not EXERCISE_ID.match(exercise):
        problems.append(f"{where}: {role} cell needs an exercise id like 'opt-sgd' "
                        f"(lower case, digits, '-' or '_'), got {exercise!r}")
    if cell.cell_type != "code":
        problems.append(f"{where}: a {role} cell must be a code cell, not {cell.cell_type}")
        return problems
    if role == "solution":
        spans, region_problems = _regions(source, BEGIN_SOLUTION, END_SOLUTION)
        problems += [f"{where} {p}" for p in region_problems]
        if not spans and not region_problems:
            problems.append(f"{where}: solution cell has no `{BEGIN_SOLUTION}` … `{END_SOLUTION}` region")
        lines = source.split("\n")
        for begin, end in spans:
            indent = len(_indent(lines[begin]))
            for number in range(begin + 1, end):
                line = lines[number]
                if line.strip() and len(_indent(line)) < indent:
                    problems.append(f"{where} line {number + 1}: less indented than its `{BEGIN_SOLUTION}` line, "
                                    f"so the stub replacing the region would not be valid Python")
        if has_hidden_marker:
            problems.append(f"{where}: hidden tests belong in check cells, not in a solution cell")
    else:
        if not _is_points(meta.get("points")):
            problems.append(f"{where}: check cell for {exercise!r} needs positive 'points', got {meta.get('points')!r}")
        if meta.get("locked") is not True:
            problems.append(f"{where}: check cell for {exercise!r} must be 'locked': true")
        if "metric" in meta and (not isinstance(meta["metric"], str) or not meta["metric"].strip()):
            problems.append(f"{where}: a check cell's 'metric' names its leaderboard column (text), got {meta['metric']!r}")
        if has_solution_marker:
            problems.append(f"{where}: solution markers belong in the solution cell, not in a check cell")
        _, region_problems = _regions(source, BEGIN_HIDDEN, END_HIDDEN)
        problems += [f"{where} {p}" for p in region_problems]
        if not region_problems and not remove_hidden(source).strip():
            problems.append(f"{where}: check cell for {exercise!r} has no visible line, so students cannot "
                            f"check themselves; keep at least the call to the check visible")
    return problems


def parse_master(notebook: nbformat.NotebookNode, path: Path) -> Master:
    """Validate a master and describe its exercises in notebook order.

    Raises :class:`MasterFormatError` listing every problem (not just the first)."""
    problems: list[str] = []
    exercises: dict[str, Exercise] = {}
    orphan_checks: list[tuple[int, str]] = []
    for index, cell in enumerate(notebook.cells):
        cell_problems = _cell_problems(index, cell)
        problems += cell_problems
        if cell_problems:
            continue
        meta = course_metadata(cell)
        if not meta:
            continue
        exercise = meta["exercise"]
        if meta["role"] == "solution":
            if exercise in exercises:
                problems.append(f"cell {index}: exercise {exercise!r} already has a solution cell "
                                f"(cell {exercises[exercise].solution_index}); exercise ids must be unique")
            else:
                exercises[exercise] = Exercise(exercise, index)
        elif exercise not in exercises:
            orphan_checks.append((index, exercise))
        else:
            exercises[exercise].checks.append(
                CheckCell(exercise, meta["points"], index, cell.get("id"), cell.source, meta.get("metric")))
    for index, exercise in orphan_checks:
        problems.append(f"cell {index}: check cell for {exercise!r} has no solution cell before it")
    for exercise in exercises.values():
        if not exercise.checks:
            problems.append(f"cell {exercise.solution_index}: exercise {exercise.id!r} has no check cell, "
                            f"so it could never be graded")
    if problems:
        raise MasterFormatError(f"{path}:\n  " + "\n  ".join(problems))
    return Master(path.stem, path, notebook, list(exercises.values()))


def read_master(path: Path) -> Master:
    return parse_master(nbformat.read(path, as_version=4), Path(path))


def read_masters(directory: Path) -> list[Master]:
    """Every master in ``directory``, sorted by file name; exercise ids must be unique across them
    (the grade sheet has one column per exercise)."""
    masters, problems = [], []
    for path in sorted(Path(directory).glob("*.ipynb")):
        try:
            masters.append(read_master(path))
        except MasterFormatError as error:
            problems.append(str(error))
    seen: dict[str, str] = {}
    for master in masters:
        for exercise in master.exercise_ids:
            if exercise in seen:
                problems.append(f"{master.path}: exercise id {exercise!r} is also used in {seen[exercise]}")
            seen.setdefault(exercise, str(master.path))
    if problems:
        raise MasterFormatError("\n".join(problems))
    return masters
