"""The instructor's grader and the students' pytest plugin, on the fixture masters of
tests/fixtures/grading/make_fixtures.py and one submission per way of cheating or going wrong."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from lib.course import ROOT
from lib.course.grading import sandbox
from lib.course.grading.grade import (Plan, PlannedCell, escape_markdown, feedback_filename, grade_folder, plan,
                                      check_restoration, run_plan_isolated, score, Settings)
from lib.course.grading.notebook_format import parse_master, read_master
from lib.course.grading.policy import CHECKER, REFERENCE, master_context, rules_table, screen
from lib.course.grading.runner import CellRun

HERE = Path(__file__).resolve().parent
TIMEOUT = 4      # seconds per cell: the endless loop costs this much, every honest cell needs far less
SANDBOXED = sandbox.unavailable_reason() is None
needs_sandbox = pytest.mark.skipif(not SANDBOXED, reason=f"no sandbox here: {sandbox.unavailable_reason()}")


def _load_fixtures():
    spec = importlib.util.spec_from_file_location("make_fixtures", HERE / "fixtures" / "grading" / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fixtures = _load_fixtures()


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every fixture submission graded once, two students at a time (sandboxed where bubblewrap works)."""
    root = tmp_path_factory.mktemp("grading")
    solutions, submissions = fixtures.write_all(root)
    careless = fixtures.write_careless(submissions)
    (submissions / "unreadable").mkdir()
    (submissions / "unreadable" / "90_fixture.ipynb").write_text("{ not a notebook", encoding="utf-8")
    (submissions / "empty").mkdir()
    before = digest(submissions)
    start = time.perf_counter()
    grades = grade_folder(submissions, solutions, root / "out", timeout=TIMEOUT, jobs=2, sandboxed=SANDBOXED)
    rows = list(csv.DictReader((root / "out" / "grades.csv").open(encoding="utf-8")))
    return {"root": root, "before": before, "grades": {g.student: g for g in grades}, "careless": careless,
            "rows": {row["student"]: row for row in rows}, "out": root / "out",
            "seconds": time.perf_counter() - start}


def feedback(graded, student: str) -> str:
    return (graded["out"] / "feedback" / feedback_filename(student)).read_text(encoding="utf-8")


@pytest.mark.parametrize("student", sorted(fixtures.EXPECTED))
def test_scores(graded, student):
    expected = fixtures.EXPECTED[student]
    row = graded["rows"][student]
    assert {e: float(row[e]) for e in expected} == expected
    assert float(row["total"]) == sum(expected.values())


def test_careless_files_score_zero_with_the_reason_and_never_stop_the_class(graded):
    for student, expected in graded["careless"].items():
        row = graded["rows"][student]
        assert {e: float(row[e]) for e in expected} == expected, student
        assert float(row["total"]) == sum(expected.values()), student


@pytest.mark.parametrize("student, expected", [
    ("folder_named_like_notebook", "`90_fixture.ipynb` is a folder, not a notebook file."),
    ("broken_symlink", "`90_fixture.ipynb` is a symbolic link whose target does not exist; links are not followed"),
    ("symlinked", "`90_fixture.ipynb` is a symbolic link; links are not followed"),
    ("fifo", "`90_fixture.ipynb` is a FIFO (named pipe), not a notebook file."),
    ("list_metadata", "cell 3: metadata course.exercise must be text, got list"),
    ("not_a_notebook", "it is JSON but not a notebook (no list of 'cells')"),
    ("unreadable", "could not be read as a notebook: it is not valid JSON (line 1, column 3"),
    ("stale_copy", "`90_fixture-Copy1.ipynb` was not graded: `90_fixture.ipynb` was graded for `90_fixture`."),
    ("wrong_chapter", "`90_fixture.ipynb` is named like `90_fixture` but holds the exercises of `91_other`; "
                      "it was graded as `91_other`."),
    ("linked_student", "The submission folder is a symbolic link; it was not followed."),
    ("check_above", "The check cell of `fx-add` (cell 3) was above its solution cell (cell 4); "
                    "the grader ran the solution first."),
])
def test_careless_cases_are_explained(graded, student, expected):
    assert expected in feedback(graded, student)


def test_unreadable_or_missing_notebooks_score_zero_with_the_reason(graded):
    for student in ("unreadable", "empty"):
        assert graded["rows"][student]["total"] == "0"
    assert "(not submitted)" in feedback(graded, "empty")


def test_sheet_layout(graded):
    students = [*fixtures.EXPECTED, *graded["careless"], "unreadable", "empty"]
    assert len(graded["rows"]) == len(students)
    header = (graded["out"] / "grades.csv").read_text(encoding="utf-8").split("\n")[0]
    assert header == "student,fx-add,fx-scale,fx-mean,ot-double,total"
    assert list(graded["rows"]) == sorted(students)


def test_feedback_files_are_one_per_student_and_escape_student_text(graded):
    files = sorted(p.name for p in (graded["out"] / "feedback").iterdir())
    assert len(files) == len(graded["rows"])
    assert feedback_filename("ann_lee") == "ann_lee.md" and feedback_filename("ann lee") != "ann_lee.md"
    assert "Total: 8 / 9" in feedback(graded, "ann lee") and "Total: 0 / 9" in feedback(graded, "ann_lee")
    evil = feedback(graded, "*evil* <b>`name`")
    assert evil.startswith("# Feedback for \\*evil\\* &lt;b&gt;\\`name\\`\n")


def test_submissions_are_never_modified(graded):
    assert digest(graded["root"] / "submissions") == graded["before"]


@pytest.mark.parametrize("student, expected", [
    ("partly", "expected dtype float32, got float64"),
    ("partly", "[fx-mean] column_mean(x) is not implemented yet"),
    ("partly", "`fx-add` passed with a warning: `<cell>:4: FutureWarning: add() will be renamed`"),
    ("tampered", "had been edited; the original was used"),
    ("tampered", "[fx-add] add(2, 3): got -1, which is too small."),
    ("tampered", "(100) were ignored; the exercise sheet gives 2"),
    ("deleted", "A check cell of `fx-add` was missing; it was put back."),
    ("deleted", "A check cell of `fx-scale` was missing; it was put back."),
    ("silenced", "[fx-add] add(2, 3): got -1, which is too small."),
    ("silenced", "are not run by the grader"),
    ("loop_memory", f"Timed out after {TIMEOUT} s"),
    ("loop_memory", "[fx-mean] column_mean(x) raised MemoryError: Unable to allocate 6.00 GiB"),
    ("exit", f"[fx-add] Your solution {CHECKER} (line 3: uses `exit`)"),
    ("exit", f"[fx-scale] Your solution {CHECKER} (line 1: imports `os`)"),
    ("exit", "(cell 3) are not run by the grader"),
    ("nan_shape", "contains NaN or inf"),
    ("nan_shape", "expected shape (2, 3), got (3, 2)"),
    ("tricks", "[fx-add] add(2, 3) is not implemented yet"),
    ("tricks", "(cells 3, 4, 5, 6) are not run by the grader"),
    ("screened", f"[fx-add] Your solution {CHECKER} (line 1: imports `sys`)"),
    ("screened", f"[fx-mean] Your solution {CHECKER} (line 1: uses `core`, which the check cells use)"),
])
def test_feedback_gives_the_reason(graded, student, expected):
    assert expected in feedback(graded, student)


def test_hidden_tests_are_run(graded):
    # The fixture's hidden check calls add(-1.5, 4); the tampered student's visible check was a no-op.
    grade = graded["grades"]["correct"]
    assert grade.total == 8
    assert "got -1, which is too small" in feedback(graded, "tampered")


def test_correct_feedback_is_clean(graded):
    text = feedback(graded, "correct")
    assert "**Total: 8 / 9 points**" in text and "What went wrong" not in text and "Notes" not in text


def test_rerun_gives_identical_files(graded, tmp_path):
    """A second run (serial this time) writes the same bytes for the same students, including the
    one whose cells call exit() and os._exit."""
    students = ["exit", "partly"]
    solutions, submissions = fixtures.write_all(tmp_path, students)
    grade_folder(submissions, solutions, tmp_path / "again", timeout=TIMEOUT, jobs=1, sandboxed=SANDBOXED)
    full = (graded["out"] / "grades.csv").read_text(encoding="utf-8").split("\n")
    again = (tmp_path / "again" / "grades.csv").read_text(encoding="utf-8").split("\n")
    assert again[0] == full[0]
    assert again[1:3] == [line for line in full if line.split(",")[0] in students]
    for student in students:
        assert (tmp_path / "again" / "feedback" / f"{student}.md").read_text() == feedback(graded, student)


# --- the plan: what runs, without a kernel ------------------------------------------------------

@pytest.fixture()
def master():
    return parse_master(fixtures.build_master(), Path("90_fixture.ipynb"))


def planned_checks(result: Plan):
    return [(p.exercise, p.check.cell_id) for p in result.cells if p.kind == "check"]


def test_the_plan_is_the_masters_cells_with_the_students_solutions(master):
    submission = fixtures._answered(fixtures.CORRECT)
    result = plan(submission, master, master_context(master))
    assert result.notes == [] and result.rejected == {}
    master_code = [c for c in master.notebook.cells if c.cell_type == "code"]
    assert len(result.cells) == len(master_code)
    assert [p.source for p in result.cells if p.kind == "solution"] == list(fixtures.CORRECT.values())
    add_check = next(p for p in result.cells if p.kind == "check" and p.exercise == "fx-add")
    assert "add(-1.5, 4)" in add_check.source          # hidden tests included


@pytest.mark.parametrize("trick", sorted(fixtures.EXTRA_CELL_TRICKS))
def test_cells_of_the_students_own_never_run(master, trick):
    submission = fixtures._answered({})
    fixtures._insert_after_setup(submission, fixtures.EXTRA_CELL_TRICKS[trick])
    result = plan(submission, master, master_context(master))
    assert all(fixtures.EXTRA_CELL_TRICKS[trick] not in p.source for p in result.cells)
    assert any("are not run by the grader" in note for note in result.notes)


def test_edited_deleted_and_stripped_checks_come_from_the_master(master):
    submission = fixtures.student_copy()
    for cell in submission.cells:
        if cell.metadata.get("course", {}).get("role") == "check":
            cell.metadata["course"].update(points=50, locked=False)
    submission.cells = [c for c in submission.cells if c.get("id") != "mean-check"]
    stripped = next(c for c in submission.cells if c.get("id") == "add-check")
    del stripped.metadata["course"]
    stripped.source = "pass"
    result = plan(submission, master, master_context(master))
    assert planned_checks(result) == [("fx-add", "add-check"), ("fx-scale", "scale-check-values"),
                                      ("fx-scale", "scale-check-dtype"), ("fx-mean", "mean-check")]
    assert sum(p.check.points for p in result.cells if p.kind == "check") == master.points == 8
    assert all("pass" != p.source for p in result.cells)
    assert sum("was missing" in n for n in result.notes) == 2
    assert sum("were ignored" in n for n in result.notes) == 2


@pytest.mark.parametrize("trick", sorted(fixtures.SOLUTION_TRICKS))
def test_solution_tricks_are_screened_out_with_their_reason(master, trick):
    submission = fixtures._answered({**fixtures.CORRECT, "fx-add": fixtures.SOLUTION_TRICKS[trick]})
    if trick == "no-op onto the check module":
        submission = fixtures._answered({**fixtures.CORRECT, "fx-mean": fixtures.SOLUTION_TRICKS[trick]})
    result = plan(submission, master, master_context(master))
    (exercise, reason), = result.rejected.items()
    assert CHECKER in reason and reason.startswith(f"[{exercise}] ")
    # The rejected source never runs: the master's stub stands in for it.
    solution = next(p for p in result.cells if p.kind == "solution" and p.exercise == exercise)
    assert solution.source.strip().startswith("def ") and "NotImplementedError" in solution.source
    runs = [CellRun("ok") for _ in result.cells]
    results, _ = score(master, result, runs, TIMEOUT, None)
    assert {r.id: r.score for r in results}[exercise] == 0


CHAPTER_1 = ROOT / "solutions" / "01_optimizers.ipynb"


@pytest.mark.skipif(not CHAPTER_1.exists(), reason="no chapter-1 master")
@pytest.mark.parametrize("source, rule", [
    ("from lib.optimizers import Adam", REFERENCE),
    ("import lib.optimizers\nclass Adam(lib.optimizers.Adam):\n    pass", REFERENCE),
    ("from lib import optimizers\nclass Adam(optimizers.Adam):\n    pass", REFERENCE),
    ("import lib.optimizers as o\ndef Adam(*args, **kwargs):\n    return o.Adam(*args, **kwargs)", REFERENCE),
    ("from lib.chapters.ch01_optimizers import experiments\nAdam = experiments.Adam", REFERENCE),
    ("from lib.checks.ch01_optimizers import check_adam", CHECKER),
    ("import sys\nsys.modules['lib.checks.ch01_optimizers'].check_adam = print", CHECKER),
    ("checks.check_adam = lambda cls: None", CHECKER),
    ("get_ipython().run_cell_async = None", CHECKER),
])
def test_the_reference_implementation_and_the_checker_are_off_limits_in_chapter_1(source, rule):
    context = master_context(read_master(CHAPTER_1))
    findings = screen(source, "opt-adam", context)
    assert findings and findings[0].reason == rule, findings


@pytest.mark.parametrize("path", sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_master_solution_passes_the_screen(path):
    master = read_master(path)
    context = master_context(master)
    for cell in master.notebook.cells:
        if cell.metadata.get("course", {}).get("role") == "solution":
            assert screen(cell.source, cell.metadata["course"]["exercise"], context) == []


def test_the_chapters_own_code_is_off_limits_even_when_the_master_imports_it():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from lib.chapters.ch02_initialization import experiments\nimport numpy as np")])
    solution = nbformat.v4.new_code_cell("def he(shape):\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    solution.metadata["course"] = {"role": "solution", "exercise": "x-he"}
    check = nbformat.v4.new_code_cell("he((2, 2))")
    check.metadata["course"] = {"role": "check", "exercise": "x-he", "points": 1, "locked": True}
    notebook.cells += [solution, check]
    context = master_context(parse_master(notebook, Path("10_demo.ipynb")))
    findings = screen("def he(shape):\n    return experiments.he_std(shape)", "x-he", context)
    assert [f.reason for f in findings] == [REFERENCE]
    assert screen("def he(shape):\n    return np.sqrt(2 / shape[0])", "x-he", context) == []


def test_the_policy_is_a_table_with_one_reason_per_rule():
    table = rules_table()
    assert table.count("\n") >= 7 and REFERENCE in table and CHECKER in table


def test_markdown_escaping():
    assert escape_markdown("a*b_c <x>\nd") == "a\\*b\\_c &lt;x&gt; d"


# --- the sandbox ---------------------------------------------------------------------------

@needs_sandbox
def test_the_sandbox_stops_writes_reads_network_and_leftover_processes(tmp_path):
    """Cells run by the worker itself (no screen), inside the sandbox: each attempt fails."""
    hidden_folder = tmp_path / "other-submissions"
    hidden_folder.mkdir()
    (hidden_folder / "bob.ipynb").write_text("{}", encoding="utf-8")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    token = f"course-sandbox-test-{os.getpid()}"
    attempts = [
        f"open({str(ROOT / 'lib' / 'checks' / 'core.py')!r}, 'a').write('# changed')",
        f"open({str(ROOT / 'solutions' / '01_optimizers.ipynb')!r}).read()",
        f"import os\nassert os.listdir({str(ROOT / 'solutions')!r}) == [], 'solutions/ is visible'\n"
        f"open({str(hidden_folder / 'bob.ipynb')!r}, 'w')",
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)",
        f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', {token!r}], "
        f"start_new_session=True)",
    ]
    cells = [PlannedCell(source, "ordinary", f"cell {n}") for n, source in enumerate(attempts)]
    settings = Settings(timeout=20, sandboxed=True, hidden=(hidden_folder,))
    runs, _ = run_plan_isolated(cells, (None, None), settings)
    listener.close()
    assert [run.status for run in runs] == ["error", "error", "error", "error", "ok"], runs
    assert "Read-only file system" in runs[0].evalue
    assert "No such file or directory" in runs[1].evalue
    assert "No such file or directory" in runs[2].evalue or "Read-only" in runs[2].evalue
    assert runs[3].ename in ("ConnectionRefusedError", "OSError", "TimeoutError")
    assert (hidden_folder / "bob.ipynb").read_text(encoding="utf-8") == "{}"
    time.sleep(0.5)
    survivors = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, token)]
    assert survivors == []


def _cmdline_has(proc: Path, token: str) -> bool:
    try:
        return token in (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def test_the_check_modules_are_rebuilt_before_every_check():
    restoration = check_restoration([("core", "lib.checks.core", None)],
                                   {"lib.checks": "", "lib.checks.core": "def passed(e):\n    return 'pristine'\n"})
    cells = [PlannedCell("from lib.checks import core\ncore.passed = lambda e: 'fake'", "ordinary", "cell 1"),
             PlannedCell("assert core.passed('x') == 'pristine'", "check", "cell 2"),
             PlannedCell("import lib.checks.core\nassert lib.checks.core.passed('x') == 'pristine'", "ordinary", "cell 3")]
    runs, _ = run_plan_isolated(cells, restoration, Settings(timeout=20, sandboxed=SANDBOXED))
    assert [r.status for r in runs] == ["ok", "ok", "ok"], runs


def test_without_bubblewrap_the_grader_refuses_unless_told(monkeypatch, tmp_path, capsys):
    from lib.course.grading import grade
    monkeypatch.setattr(sandbox, "unavailable_reason", lambda: "`bwrap` is not installed")
    (tmp_path / "subs").mkdir()
    assert grade.main([str(tmp_path / "subs"), "--out", str(tmp_path / "out")]) == 2
    assert "Cannot grade in a sandbox: `bwrap` is not installed" in capsys.readouterr().err


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


def test_a_delayed_kernel_death_is_put_down_to_the_cell_that_caused_it(tmp_path):
    from lib.course.grading.runner import LEFT_THREADS, PlannedRun, run_plan
    cells = [PlannedRun("x = 1"),
             PlannedRun("import threading, os, signal\n"
                        "threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGKILL)).start()", "solution"),
             PlannedRun("import time\ntime.sleep(1)\nx += 1"),
             PlannedRun("assert x == 2")]
    runs = run_plan(cells, tmp_path, timeout=10)
    assert [run.status for run in runs] == ["ok", "died", "ok", "ok"]
    assert runs[1].evalue == LEFT_THREADS


def test_exit_and_os_exit_raise_in_the_cell_that_calls_them(tmp_path):
    from lib.course.grading.runner import run_cells
    runs = run_cells(["exit()", "import os\nos._exit(1)", "quit()", "import threading, os\n"
                      "threading.Timer(0.1, os._exit, (1,)).start()", "import time\ntime.sleep(0.5)"], tmp_path, timeout=10)
    assert [(run.status, run.ename) for run in runs] == [("error", "SystemExit")] * 3 + [("ok", "")] * 2


def test_student_pytest_resists_the_simple_tricks(tmp_path):
    """One notebook per trick, in one pytest run. (A patched run_cell leaves a kernel that answers
    nothing: every later cell fails, slowly; the grader never runs such a cell.)"""
    tricks = sorted(set(fixtures.EXTRA_CELL_TRICKS) - {"patched run_cell"})
    names = []
    for number, trick in enumerate(tricks):
        notebook = fixtures._answered({})
        fixtures._insert_after_setup(notebook, fixtures.EXTRA_CELL_TRICKS[trick])
        names.append(f"trick{number}.ipynb")
        nbformat.write(notebook, tmp_path / names[-1])
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "lib.course.grading.pytest_plugin", "-p", "no:cacheprovider",
         "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={TIMEOUT * 5}", *names],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    out = result.stdout
    assert "0 / 24 points from the visible checks" in out, out[-3000:]
    for name in names:
        assert f"{name}\n  FAILED  fx-add" in out, out[-3000:]


@pytest.mark.skipif(not CHAPTER_1.exists(), reason="no chapter-1 master")
def test_chapter_1_solutions_that_use_the_reference_score_zero_and_the_rest_is_graded(tmp_path):
    """The master's own answers, except two solution cells that take the course's implementation."""
    from lib.course.grading.generate import student_notebook
    from lib.course.grading.grade import grade_submitted
    from lib.course.grading.submissions import read_submission

    master = read_master(CHAPTER_1)
    answers = {c.metadata["course"]["exercise"]: c.source for c in master.notebook.cells
               if c.metadata.get("course", {}).get("role") == "solution"}
    taken = {"opt-adam": "from lib.optimizers import Adam",
             "opt-sgd": "import lib.optimizers\n\nclass SGD(lib.optimizers.SGD):\n    pass"}
    notebook = student_notebook(master)
    for cell in notebook.cells:
        exercise = cell.metadata.get("course", {}).get("exercise")
        if cell.metadata.get("course", {}).get("role") == "solution":
            cell.source = taken.get(exercise, answers[exercise])
    nbformat.write(notebook, tmp_path / "01_optimizers.ipynb")
    grade = grade_submitted(read_submission(tmp_path / "01_optimizers.ipynb", "01_optimizers.ipynb"), master,
                            Settings(timeout=60, sandboxed=SANDBOXED, hidden=(tmp_path,)))
    scores = {e.id: (e.score, e.points, e.reason) for e in grade.exercises}
    for exercise in taken:
        score_, _, reason = scores.pop(exercise)
        assert score_ == 0 and REFERENCE in reason, reason
    assert all(score_ == points for score_, points, _ in scores.values()), scores


def test_a_notebook_time_budget_bounds_all_cells_together(tmp_path):
    from lib.course.grading.runner import PlannedRun, run_plan
    runs = run_plan([PlannedRun("import time\ntime.sleep(3)"), PlannedRun("x = 1")], tmp_path, timeout=10, budget=2.5)
    assert runs[1].status == "not run"      # (the first cell too, if the kernel took that long to start)
    assert runs[1].evalue == "the notebook's time budget of 2.5 s was used up"


def _metric_master() -> nbformat.NotebookNode:
    """One exercise whose check records what the student's function returns as a leaderboard metric."""
    cells = [nbformat.v4.new_code_cell("from lib.checks import core"),
             nbformat.v4.new_code_cell("def guess():\n    ### BEGIN SOLUTION\n    return 0.75\n    ### END SOLUTION"),
             nbformat.v4.new_code_cell('value = core.call_student("fx-guess", "guess()", guess)\n'
                                       'core.report_metric("fx-guess", value)\n'
                                       'assert value > 0.5, "[fx-guess] too low"\n'
                                       'core.passed("fx-guess")')]
    cells[1].metadata["course"] = {"role": "solution", "exercise": "fx-guess"}
    cells[2].metadata["course"] = {"role": "check", "exercise": "fx-guess", "points": 1, "locked": True,
                                   "metric": "guess"}
    for index, cell in enumerate(cells):
        cell.id = f"metric-{index}"
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def test_a_check_s_metric_becomes_a_leaderboard_column_that_student_output_cannot_forge(tmp_path):
    solutions, submissions = tmp_path / "solutions", tmp_path / "submissions"
    solutions.mkdir()
    nbformat.write(_metric_master(), solutions / "92_metric.ipynb")
    answers = {
        "honest": "def guess():\n    return 0.625",
        "low": "def guess():\n    return 0.25",
        # prints what the grader's own report looks like, in the solution cell and inside the check
        "forger": 'print(\'{"fx-guess": 1.0}\')\ndef guess():\n    print(\'{"fx-guess": 1.0}\')\n    return 0.5625',
    }
    for student, source in answers.items():
        notebook = _metric_master()
        notebook.cells[1].source = source
        (submissions / student).mkdir(parents=True)
        nbformat.write(notebook, submissions / student / "92_metric.ipynb")
    (submissions / "absent").mkdir()
    grade_folder(submissions, solutions, tmp_path / "out", timeout=TIMEOUT, jobs=2, sandboxed=SANDBOXED)
    sheet = (tmp_path / "out" / "grades.csv").read_text(encoding="utf-8").split("\n")
    assert sheet[0] == "student,fx-guess,total,fx-guess guess"
    assert sheet[1:-1] == ["absent,0,0,", "forger,1,1,0.5625", "honest,1,1,0.6250", "low,0,0,0.2500"]
    assert "0.25" not in (tmp_path / "out" / "feedback" / feedback_filename("low")).read_text(encoding="utf-8")
