"""The student-notebook generator: regions, indentation, hidden tests, validation, sync check,
determinism."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from lib.course.grading import generate
from lib.course.grading.notebook_format import (MasterFormatError, parse_master, read_masters, remove_hidden,
                                         replace_solutions, stub_line)


def solution(source, exercise="ex-a"):
    cell = new_code_cell(source)
    cell.metadata["course"] = {"role": "solution", "exercise": exercise}
    return cell


def check(source, exercise="ex-a", points=1, locked=True):
    cell = new_code_cell(source)
    cell.metadata["course"] = {"role": "check", "exercise": exercise, "points": points, "locked": locked}
    return cell


def master(*cells, name="10_demo"):
    return parse_master(new_notebook(cells=list(cells)), Path(f"{name}.ipynb"))


METHOD = """class SGD:
    def update(self, params, grads):
        for key in params:
            ### BEGIN SOLUTION
            params[key] -= self.lr * grads[key]
            ### END SOLUTION
        return None"""


def test_solution_region_becomes_stub_at_its_indentation():
    stubbed = replace_solutions(METHOD, "opt-sgd")
    assert "params[key] -=" not in stubbed and "SOLUTION" not in stubbed
    assert f"            {stub_line('opt-sgd')}" in stubbed.split("\n")
    assert stubbed.split("\n")[-1] == "        return None"       # code after the region is kept
    ast.parse(stubbed)                                              # still valid Python


def test_several_regions_and_top_level_region():
    source = "### BEGIN SOLUTION\nalpha = 0.1\n### END SOLUTION\ndef f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
    stubbed = replace_solutions(source, "ex-b")
    assert stubbed.split("\n") == [stub_line("ex-b"), "def f():", "    " + stub_line("ex-b")]


def test_stub_names_the_exercise():
    with pytest.raises(NotImplementedError, match="ex-c"):
        exec(replace_solutions("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "ex-c"), {})


def test_hidden_tests_removed_visible_lines_kept():
    source = "check(a)\n### BEGIN HIDDEN TESTS\ncheck(secret)\n### END HIDDEN TESTS\npassed()"
    assert remove_hidden(source) == "check(a)\npassed()"


def test_student_notebook_clears_outputs_and_keeps_course_metadata():
    sol = solution(METHOD, "opt-sgd")
    sol.outputs = [nbformat.v4.new_output("stream", name="stdout", text="leak\n")]
    sol.execution_count = 3
    sol.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00"}
    chk = check("checks.check_sgd(SGD)\n### BEGIN HIDDEN TESTS\nchecks.secret(SGD)\n### END HIDDEN TESTS", "opt-sgd", 2)
    student = generate.student_notebook(master(new_markdown_cell("# Demo"), sol, chk))
    sol_out, chk_out = student.cells[1], student.cells[2]
    assert sol_out.outputs == [] and sol_out.execution_count is None and "execution" not in sol_out.metadata
    assert sol_out.metadata["course"] == {"role": "solution", "exercise": "opt-sgd"}
    assert chk_out.source == "checks.check_sgd(SGD)" and "secret" not in nbformat.writes(student)
    assert chk_out.metadata["course"]["points"] == 2
    assert chk_out.metadata["editable"] is False and chk_out.metadata["deletable"] is False
    assert student.metadata["course"] == {"master": "10_demo"}


def test_the_master_object_is_not_modified():
    m = master(solution(METHOD, "opt-sgd"), check("c()", "opt-sgd"))
    before = nbformat.writes(m.notebook)
    generate.student_notebook(m)
    assert nbformat.writes(m.notebook) == before


@pytest.mark.parametrize("cells, message", [
    ([check("c()")], "no solution cell before it"),
    ([solution("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")], "has no check cell"),
    ([solution("x = 1"), check("c()")], "has no `### BEGIN SOLUTION`"),
    ([solution("### BEGIN SOLUTION\nx = 1"), check("c()")], "never closed"),
    ([solution("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"), check("c()", points=0)], "positive 'points'"),
    ([solution("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"), check("c()", points=True)], "positive 'points'"),
    ([solution("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"), check("c()", locked=False)], "'locked': true"),
    ([solution("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "Bad Id"), check("c()", "Bad Id")], "exercise id"),
    ([solution("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"), solution("### BEGIN SOLUTION\ny = 1\n### END SOLUTION"),
      check("c()")], "already has a solution cell"),
    ([solution("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
      check("### BEGIN HIDDEN TESTS\nc()\n### END HIDDEN TESTS")], "no visible line"),
    ([new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")], "would leak"),
    ([new_code_cell("### BEGIN HIDDEN TESTS\nc()\n### END HIDDEN TESTS")], "would leak"),
    ([solution("## BEGIN SOLUTION\nx = 1\n### END SOLUTION"), check("c()")], "looks like a marker"),
    ([solution("def f():\n    ### BEGIN SOLUTION\n  x = 1\n    ### END SOLUTION"), check("c()")], "less indented"),
])
def test_invalid_masters_are_rejected_with_the_reason(cells, message):
    with pytest.raises(MasterFormatError, match=message.replace("(", r"\(").replace("?", r"\?")):
        master(*cells)


def test_every_problem_is_listed_with_its_cell():
    with pytest.raises(MasterFormatError) as error:
        master(check("c()", "ex-x"), solution("x = 1", "ex-y"), check("c()", "ex-y", points=-1))
    text = str(error.value)
    assert "cell 0" in text and "cell 1" in text and "cell 2" in text


def write_master(directory: Path, name: str, exercise: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.ipynb"
    nbformat.write(new_notebook(cells=[
        new_code_cell("import math"),
        solution(f"def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", exercise),
        check("assert f() == 1", exercise, 2)]), path)
    return path


def test_ids_must_be_unique_across_masters(tmp_path):
    write_master(tmp_path, "01_a", "ex-same")
    write_master(tmp_path, "02_b", "ex-same")
    with pytest.raises(MasterFormatError, match="also used in"):
        read_masters(tmp_path)


def test_generate_is_deterministic_and_check_detects_drift(tmp_path, capsys):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    master_path = write_master(solutions, "01_a", "ex-a")
    args = ["--solutions", str(solutions), "--exercises", str(exercises)]
    assert generate.main(args) == 0
    first = (exercises / "01_a.ipynb").read_bytes()
    assert generate.main(args) == 0                       # nothing to rewrite
    assert (exercises / "01_a.ipynb").read_bytes() == first
    assert generate.main(args + ["--check"]) == 0

    # Re-executing a master (outputs, counts, timings) does not put exercises/ out of sync.
    nb = nbformat.read(master_path, as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x\n")]
    nb.cells[0].execution_count = 1
    nb.cells[0].metadata["execution"] = {"shell.execute_reply": "2026-11-23T12:00:00Z"}
    nbformat.write(nb, master_path)
    assert generate.main(args + ["--check"]) == 0

    # Editing the master does.
    nb.cells[2].source = "assert f() == 1\nassert f() != 2"
    nbformat.write(nb, master_path)
    capsys.readouterr()
    assert generate.main(args + ["--check"]) == 1
    assert "01_a.ipynb: differs" in capsys.readouterr().err

    assert generate.main(args) == 0
    assert generate.main(args + ["--check"]) == 0

    # A student notebook without a master, and a missing one, are both reported.
    (exercises / "99_orphan.ipynb").write_bytes(first)
    (exercises / "01_a.ipynb").unlink()
    assert generate.main(args + ["--check"]) == 1
    err = capsys.readouterr().err
    assert "99_orphan.ipynb: has no master" in err and "01_a.ipynb: missing" in err


def test_invalid_master_exits_2_with_message(tmp_path, capsys):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    nbformat.write(new_notebook(cells=[check("c()", "ex-z")]), solutions / "01_bad.ipynb")
    assert generate.main(["--solutions", str(solutions), "--exercises", str(tmp_path / "ex")]) == 2
    assert "no solution cell before it" in capsys.readouterr().err


def test_the_student_release_has_no_masters_and_fresh_exercises(tmp_path):
    from lib.course import ROOT
    from lib.course.release import ReleaseError, build

    if not list((ROOT / "solutions").glob("*.ipynb")):
        pytest.skip("no exercise master in solutions/ yet")
    files = {str(p) for p in build(tmp_path / "release")}
    assert not any(f.startswith(("solutions/", "tests/", ".git")) for f in files)
    assert {"README.md", "pyproject.toml", "requirements.txt", "lib/checks/core.py",
            "lib/course/grading/pytest_plugin.py"} <= files
    masters = read_masters(ROOT / "solutions")
    for master in masters:
        text = (tmp_path / "release" / "exercises" / f"{master.name}.ipynb").read_text(encoding="utf-8")
        assert text == generate.render(master)
    with pytest.raises(ReleaseError, match="not empty"):
        build(tmp_path / "release")


def test_the_release_refuses_to_leak_a_master(tmp_path):
    from lib.course.release import leaks

    demo = master(solution("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"), check("f()"))
    (tmp_path / "exercises").mkdir()
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "notes.py").write_text("x = 1\n### BEGIN HIDDEN TESTS\n", encoding="utf-8")
    (tmp_path / "exercises" / "10_demo.ipynb").write_text(nbformat.writes(demo.notebook), encoding="utf-8")
    problems = leaks(tmp_path, [])
    assert any("lib/notes.py contains a `### BEGIN HIDDEN TESTS` line" in p for p in problems)
    assert any("exercises/10_demo.ipynb contains a `### BEGIN SOLUTION` line" in p for p in problems)
