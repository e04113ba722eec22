"""Every real exercise master is honest: it passes all its checks, exercises/ is generated from it,
and its freshly generated student notebook runs every ordinary cell while failing every check
(nbgrader's ``validate --invert``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.course.grading.generate import out_of_sync, student_notebook
from lib.course.grading.grade import grade_notebook
from lib.course.grading.notebook_format import read_masters, role_of
from lib.course.grading.runner import run_cells

from conftest import ROOT  # noqa: E402
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
CELL_TIMEOUT = 120
MASTER_PATHS = sorted(SOLUTIONS.glob("*.ipynb"))
no_masters = pytest.mark.skipif(not MASTER_PATHS, reason="no exercise master in solutions/ yet")


@pytest.fixture(scope="module")
def masters():
    return {master.name: master for master in read_masters(SOLUTIONS)}   # validates every master


@no_masters
def test_exercises_are_in_sync_with_solutions(masters):
    problems = out_of_sync(list(masters.values()), EXERCISES)
    assert not problems, "\n".join(problems) + "\nRun `python -m lib.course.grading.generate`."


@no_masters
@pytest.mark.parametrize("name", [p.stem for p in MASTER_PATHS] or ["none"])
def test_master_passes_all_its_checks(masters, name):
    master = masters[name]
    grade = grade_notebook(master.path, master, timeout=CELL_TIMEOUT)
    failed = {e.id: e.reason for e in grade.exercises if e.score != e.points}
    assert not failed, f"{name}: checks fail on the master's own answers: {failed}"


@no_masters
@pytest.mark.parametrize("name", [p.stem for p in MASTER_PATHS] or ["none"])
def test_student_notebook_fails_every_check_and_nothing_else(masters, name, tmp_path):
    cells = [c for c in student_notebook(masters[name]).cells if c.cell_type == "code"]
    runs = run_cells([c.source for c in cells], tmp_path, timeout=CELL_TIMEOUT)
    problems = []
    for number, (cell, run) in enumerate(zip(cells, runs), start=1):
        role = role_of(cell)
        exercise = cell.metadata.get("course", {}).get("exercise")
        if role is None and not run.ok:
            problems.append(f"code cell {number} (not an exercise) failed: {run.status} {run.ename}: {run.evalue}")
        elif role == "check" and run.ok:
            problems.append(f"check of {exercise!r} (code cell {number}) passes on the unsolved stub")
        elif role == "check" and exercise not in run.evalue:
            problems.append(f"check of {exercise!r} (code cell {number}) fails without naming the exercise: "
                            f"{run.status} {run.ename}: {run.evalue[:200]}")
    assert not problems, f"{name}:\n" + "\n".join(problems)
