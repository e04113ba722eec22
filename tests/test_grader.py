"""The instructor's grader and the students' pytest plugin, on the fixture master of
tests/fixtures/grading/make_fixtures.py and one submission per way of going wrong."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lib.course.grading.grade import assemble, grade_folder
from lib.course.grading.notebook_format import parse_master

HERE = Path(__file__).resolve().parent
TIMEOUT = 4      # seconds per cell: the endless loop costs this much, every honest cell needs far less


def _load_fixtures():
    spec = importlib.util.spec_from_file_location("make_fixtures", HERE / "fixtures" / "grading" / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fixtures = _load_fixtures()


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every fixture submission graded once, two students at a time."""
    root = tmp_path_factory.mktemp("grading")
    solutions, submissions = fixtures.write_all(root)
    (submissions / "unreadable").mkdir()
    (submissions / "unreadable" / "90_fixture.ipynb").write_text("{ not a notebook", encoding="utf-8")
    (submissions / "empty").mkdir()
    before = digest(submissions)
    grades = grade_folder(submissions, solutions, root / "out", timeout=TIMEOUT, jobs=2)
    rows = list(csv.DictReader((root / "out" / "grades.csv").open(encoding="utf-8")))
    return {"root": root, "before": before, "grades": {g.student: g for g in grades},
            "rows": {row["student"]: row for row in rows}, "out": root / "out"}


def feedback(graded, student: str) -> str:
    return (graded["out"] / "feedback" / f"{student}.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("student", sorted(fixtures.EXPECTED))
def test_scores(graded, student):
    expected = fixtures.EXPECTED[student]
    row = graded["rows"][student]
    assert {e: float(row[e]) for e in expected} == expected
    assert float(row["total"]) == sum(expected.values())


def test_unreadable_or_missing_notebooks_score_zero_with_the_reason(graded):
    for student in ("unreadable", "empty"):
        assert graded["rows"][student]["total"] == "0"
    assert "The notebook could not be read" in feedback(graded, "unreadable")
    assert "(not submitted)" in feedback(graded, "empty")


def test_sheet_layout(graded):
    assert len(graded["rows"]) == len(fixtures.EXPECTED) + 2
    header = (graded["out"] / "grades.csv").read_text(encoding="utf-8").split("\n")[0]
    assert header == "student,fx-add,fx-scale,fx-mean,total"
    assert list(graded["rows"]) == sorted([*fixtures.EXPECTED, "unreadable", "empty"])


def test_submissions_are_never_modified(graded):
    assert digest(graded["root"] / "submissions") == graded["before"]


@pytest.mark.parametrize("student, expected", [
    ("partly", "expected dtype float32, got float64"),
    ("partly", "[fx-mean] column_mean(x) is not implemented yet"),
    ("partly", "`fx-add` passed with a warning: <cell>:4: FutureWarning: add() will be renamed"),
    ("tampered", "had been edited; the original was used"),
    ("tampered", "[fx-add] add(2, 3): expected 5, got -1."),
    ("tampered", "(100) were ignored; the exercise sheet gives 2"),
    ("deleted", "A check cell of `fx-add` was missing; it was put back."),
    ("deleted", "A check cell of `fx-scale` was missing; it was put back."),
    ("silenced", "[fx-add] add(2, 3): expected 5, got -1."),
    ("loop_memory", f"Timed out after {TIMEOUT} s"),
    ("loop_memory", "[fx-mean] column_mean(x) raised MemoryError: Unable to allocate 6.00 GiB"),
    ("exit", "The kernel died while running this cell"),
    ("exit", "| `fx-scale` | 2 / 3 | partly passed |"),
    ("nan_shape", "contains NaN or inf"),
    ("nan_shape", "expected shape (2, 3), got (3, 2)"),
])
def test_feedback_gives_the_reason(graded, student, expected):
    assert expected in feedback(graded, student)


def test_hidden_tests_are_run(graded):
    # The fixture's hidden check calls add(-1.5, 4); the tampered student's visible check was a no-op.
    grade = graded["grades"]["correct"]
    assert grade.total == grade.points == 8
    assert "expected 5, got -1" in feedback(graded, "tampered")


def test_correct_feedback_is_clean(graded):
    text = feedback(graded, "correct")
    assert "**Total: 8 / 8 points**" in text and "What went wrong" not in text and "Notes" not in text


def test_rerun_gives_identical_files(graded, tmp_path):
    """A second run (serial this time) writes the same bytes for the same students, including one
    whose kernel died and had to be replayed."""
    students = ["exit", "partly"]
    solutions, submissions = fixtures.write_all(tmp_path, students)
    grade_folder(submissions, solutions, tmp_path / "again", timeout=TIMEOUT, jobs=1)
    full = (graded["out"] / "grades.csv").read_text(encoding="utf-8").split("\n")
    again = (tmp_path / "again" / "grades.csv").read_text(encoding="utf-8").split("\n")
    assert again[0] == full[0]
    assert again[1:3] == [line for line in full if line.split(",")[0] in students]
    for student in students:
        assert (tmp_path / "again" / "feedback" / f"{student}.md").read_text() == feedback(graded, student)


# --- assembly, without a kernel ------------------------------------------------------------

@pytest.fixture()
def master():
    return parse_master(fixtures.build_master(), Path("90_fixture.ipynb"))


def checks_of(planned):
    return [(p.exercise, p.check.cell_id) for p in planned if p.kind == "check"]


def test_assembly_restores_hidden_tests(master):
    planned, notes = assemble(fixtures.student_copy(), master)
    assert notes == []
    add_check = next(p for p in planned if p.kind == "check" and p.exercise == "fx-add")
    assert "add(-1.5, 4)" in add_check.source


def test_deleted_checks_go_back_in_master_order(master):
    submission = fixtures.student_copy()
    submission.cells = [c for c in submission.cells if c.get("id") not in ("scale-check-values", "mean-check")]
    planned, notes = assemble(submission, master)
    assert checks_of(planned) == [("fx-add", "add-check"), ("fx-scale", "scale-check-values"),
                                  ("fx-scale", "scale-check-dtype"), ("fx-mean", "mean-check")]
    mean_solution = next(i for i, p in enumerate(planned) if p.kind == "solution" and p.exercise == "fx-mean")
    assert planned[mean_solution + 1].check.cell_id == "mean-check"
    assert len(notes) == 2


def test_a_check_stripped_of_its_metadata_runs_as_a_plain_cell_and_the_original_comes_back(master):
    submission = fixtures.student_copy()
    cell = next(c for c in submission.cells if c.get("id") == "add-check")
    del cell.metadata["course"]
    cell.source = "pass"
    planned, _ = assemble(submission, master)
    assert [p.source for p in planned].count("pass") == 1
    assert ("fx-add", "add-check") in checks_of(planned)


def test_points_and_locks_come_from_the_master(master):
    submission = fixtures.student_copy()
    for cell in submission.cells:
        if cell.metadata.get("course", {}).get("role") == "check":
            cell.metadata["course"].update(points=50, locked=False)
    planned, notes = assemble(submission, master)
    assert sum(p.check.points for p in planned if p.kind == "check") == master.points == 8
    assert len(notes) == 4


# --- the students' command -------------------------------------------------------------------

def test_student_pytest_lists_exercises_and_closes_the_traceback_hole(tmp_path):
    notebook = fixtures.build_submissions()["partly"]
    fixtures._insert_after_setup(notebook, fixtures.SILENCE)   # nbval alone would pass every later failure
    notebook.cells.append(nbformat.v4.new_code_cell("# NBVAL_RAISES_EXCEPTION\nraise ValueError('meant to')"))
    nbformat.write(notebook, tmp_path / "partly.ipynb")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "lib.course.grading.pytest_plugin", "-p", "no:cacheprovider",
         "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={TIMEOUT * 5}", "-v", "partly.ipynb"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    out = result.stdout
    assert result.returncode == 1, out
    assert "partly.ipynb::fx-add PASSED" in out and "partly.ipynb::fx-scale #2 FAILED" in out
    assert "partly.ipynb::fx-add (your solution) PASSED" in out
    assert "  passed  fx-add" in out
    assert "  FAILED  fx-scale: [fx-scale] scale(float32 x, 0.5): expected dtype float32, got float64" in out
    assert "  FAILED  fx-mean: [fx-mean] column_mean(x) is not implemented yet" in out
    assert "2 / 8 points from the visible checks" in out
    assert "partly.ipynb::Cell 9 PASSED" in out            # an error the notebook declares is not a failure


# --- the runner's hardest case ---------------------------------------------------------------

def test_a_loop_that_ignores_interrupts_gets_a_fresh_kernel_with_the_earlier_cells_replayed(tmp_path, monkeypatch):
    from lib.course.grading import runner
    monkeypatch.setattr(runner, "PROBE_TIMEOUT", 1)
    sources = ["x = 41",
               "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.01)",
               "x += 1\nassert x == 42, x",
               "import warnings\nwarnings.warn('only a warning')"]
    runs = runner.run_cells(sources, tmp_path, timeout=2)
    assert [run.status for run in runs] == ["ok", "timeout", "ok", "ok"]
    assert "only a warning" in runs[3].stderr        # outputs after a timeout still reach us
