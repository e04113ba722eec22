"""The helpers every exercise check uses: safe calls into student code and diagnosing comparisons."""

import numpy as np
import pytest

from lib.checks.core import ExerciseFailure, call_student, expect_array, expect_scalar, passed


def test_a_stub_is_reported_with_the_exercise_its_message_names():
    def uses_an_unfinished_helper(x):
        raise NotImplementedError("init-fans: replace this line with your solution")

    with pytest.raises(ExerciseFailure, match=r"\[init-he\] he_normal\(shape\) is not implemented yet "
                                              r"\(init-fans: replace this line"):
        call_student("init-he", "he_normal(shape)", uses_an_unfinished_helper, 1)


def test_a_stub_of_the_same_exercise_is_not_named_twice():
    def stub(x):
        raise NotImplementedError("init-he: replace this line with your solution")

    with pytest.raises(ExerciseFailure) as failure:
        call_student("init-he", "he_normal(shape)", stub, 1)
    assert str(failure.value) == ("[init-he] he_normal(shape) is not implemented yet: "
                                  "replace the `raise NotImplementedError` line.")


def test_a_crash_names_the_exception_and_the_line():
    def crashes(x):
        return x["missing"]

    with pytest.raises(ExerciseFailure, match=r"raised KeyError: 'missing' \(at line \d+: `return x\[\"missing\"\]`\)"):
        call_student("ex", "f(x)", crashes, {})


def test_student_code_gets_copies_and_cannot_alter_the_reference():
    reference = np.zeros(3)
    call_student("ex", "f(x)", lambda x: x.fill(7.0), reference)
    assert np.all(reference == 0)


@pytest.mark.parametrize("got, message", [
    (None, "got None — did you forget to `return`"),
    ([1.0, 2.0], "expected a numpy array, got list"),
    (np.zeros(2), r"expected shape \(3,\), got \(2,\)"),
    (np.zeros(3, dtype=np.float32), "expected dtype float64, got float32"),
    (np.array([0.0, np.nan, 0.0]), "contains NaN or inf"),
    (np.array([1.0, 2.0, 4.0]), r"1 of 3 entries are wrong, the first at index 2"),
])
def test_expect_array_checks_type_shape_dtype_finiteness_then_value(got, message):
    with pytest.raises(ExerciseFailure, match=message):
        expect_array("ex", "result", got, np.array([1.0, 2.0, 3.0]))


def test_expect_array_names_the_bug_whose_answer_matches():
    expected = np.array([1.0, 2.0])
    bugs = {"did you flip the sign?": -expected, "did you skip bias correction?": 0.1 * expected}
    with pytest.raises(ExerciseFailure, match="Likely bug: did you skip bias correction"):
        expect_array("opt-adam", "W after step 1", 0.1 * expected, expected, likely_bugs=bugs)
    expect_array("opt-adam", "W after step 1", expected.copy(), expected, likely_bugs=bugs)


def test_expect_scalar_accepts_numpy_scalars_and_names_known_mistakes():
    expect_scalar("ex", "alpha", np.float32(0.5), 0.5)
    with pytest.raises(ExerciseFailure, match="Likely bug: used the largest eigenvalue only"):
        expect_scalar("ex", "alpha", 2.0, 0.5, likely_bugs={"used the largest eigenvalue only": 2.0})
    with pytest.raises(ExerciseFailure, match="expected a number, got str"):
        expect_scalar("ex", "alpha", "0.5", 0.5)
    with pytest.raises(ExerciseFailure, match="expected a number, got bool"):
        expect_scalar("ex", "flag", True, 1.0)


def test_passed_prints_one_line(capsys):
    passed("opt-sgd", "3 steps")
    assert capsys.readouterr().out == "✓ opt-sgd: passed — 3 steps\n"


class _Spy(float):
    """A float that records every comparison, as a student object reading the checker's values would."""
    seen: list = []

    def __eq__(self, other):
        _Spy.seen.append(other)
        return True

    __hash__ = float.__hash__


def test_messages_never_show_the_expected_value_and_subclasses_are_refused():
    expected = np.array([0.125, 0.25, 0.375])
    with pytest.raises(ExerciseFailure) as failure:
        expect_array("ex", "result", expected + 0.5, expected)
    assert "0.125" not in str(failure.value) and "0.375" not in str(failure.value)
    with pytest.raises(ExerciseFailure) as failure:
        expect_scalar("ex", "x", 0.9, 0.825645)
    assert "0.8256" not in str(failure.value) and "too large" in str(failure.value)
    with pytest.raises(ExerciseFailure, match="expected a number, got _Spy"):
        expect_scalar("ex", "x", _Spy(0.5), 0.5)
    with pytest.raises(ExerciseFailure, match="expected a numpy array, got _Spy"):
        expect_array("ex", "x", _Spy(0.5), np.array(0.5))
    assert _Spy.seen == []


def test_answer_digest_is_salted_by_exercise():
    from lib.checks.core import answer_digest
    assert answer_digest("ex-a", " B ") == answer_digest("ex-a", "b")
    assert answer_digest("ex-a", "b") != answer_digest("ex-b", "b")
    assert "b" not in answer_digest("ex-a", "b")[:0]  # a hex digest, not the answer
