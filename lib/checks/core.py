"""What every exercise check shares: a failure type, safe calls into student code, and
comparisons that name the likely bug.

A check never trusts the student's objects: it deep-copies inputs before handing them over,
checks dtype and shape before values, and compares with tolerances, never printed floats.
When the student's answer matches what a known mistake would produce, the message says so.
"""

from __future__ import annotations

import copy
import hashlib
import traceback

import numpy as np


class ExerciseFailure(AssertionError):
    """A check failed. The message names the exercise, what was expected, what came back,
    and the likely bug when the check can tell."""


def fail(exercise: str, message: str) -> None:
    raise ExerciseFailure(f"[{exercise}] {message}")


# Measured values a check records for the instructor (e.g. a capstone's held-out accuracy, for a
# leaderboard). Never shown to the student; the grader reads this dict right after the check cell ran.
METRICS: dict[str, float] = {}


def report_metric(exercise: str, value: float) -> None:
    METRICS[exercise] = float(value)


def passed(exercise: str, detail: str = "") -> None:
    print(f"✓ {exercise}: passed" + (f" — {detail}" if detail else ""))


def call_student(exercise: str, what: str, func, *args, **kwargs):
    """Call student code; turn a stub or a crash into a clear failure.

    ``what`` describes the call for the message, e.g. ``"SGD.update(params, grads)"``.
    Arguments are deep-copied so the student's code cannot alter the check's reference data.
    """
    args = copy.deepcopy(args)
    kwargs = copy.deepcopy(kwargs)
    try:
        return func(*args, **kwargs)
    except NotImplementedError as error:
        # A stub's message names its own exercise, which may be another one this call depends on.
        stub = f" ({error})" if str(error) and not str(error).startswith(f"{exercise}:") else ""
        fail(exercise, f"{what} is not implemented yet{stub}: replace the `raise NotImplementedError` line.")
    except ExerciseFailure:
        raise
    except Exception as error:  # student code may raise anything; report it, don't crash the check
        last = traceback.extract_tb(error.__traceback__)[-1]
        fail(exercise, f"{what} raised {type(error).__name__}: {error} (at line {last.lineno}: `{(last.line or '').strip()}`).")


# Exact types a check accepts as numbers: a subclass of float or ndarray could run code when compared,
# converted or printed (and read the checker's frames), so only these built-in types are trusted.
SCALAR_TYPES = (float, int, np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8,
                np.uint64, np.uint32, np.uint16, np.uint8)


def choice_letter(exercise: str, name: str, answer, letters) -> str:
    """The letter ``answer`` names (trimmed, lower case), or a failure that says what ``name`` must hold.
    Only an exact ``str`` is read, so no method of a student's object runs here."""
    options = ", ".join(f'"{letter}"' for letter in letters)
    if answer is None:
        fail(exercise, f"{name} is not defined yet: set {name} to one of the letters {options}.")
    if type(answer) is not str or answer.strip().lower() not in letters:
        shown = repr(answer[:20]) if type(answer) is str else type(answer).__name__
        fail(exercise, f"{name} must be one of the letters {options} (a string), got {shown}.")
    return answer.strip().lower()


def answer_digest(exercise: str, answer: str) -> str:
    """A salted digest of a short answer (a choice letter, a word), so answer keys are not plain text.

    Keys are stored as digests and compared as digests; the salt is the exercise id, so one digest
    cannot be looked up across exercises.
    """
    return hashlib.sha256(f"{exercise}:{answer.strip().lower()}".encode()).hexdigest()


def _describe(array: np.ndarray) -> str:
    flat = np.asarray(array).ravel()
    shown = np.array2string(flat[:6], precision=6, separator=", ")
    return shown[:-1] + ", …]" if flat.size > 6 else shown


def _trusted_array(exercise: str, what: str, got) -> np.ndarray:
    """``got`` as a plain ndarray, or a failure: only exact ndarrays and built-in numbers are read."""
    if got is None:
        fail(exercise, f"{what}: got None — did you forget to `return` the result?")
    if type(got) is np.ndarray:
        if got.dtype.kind not in "fiu":
            fail(exercise, f"{what}: expected an array of numbers, got dtype {got.dtype}.")
        return got
    if type(got) in SCALAR_TYPES:
        return np.asarray(got)
    fail(exercise, f"{what}: expected a numpy array, got {type(got).__name__}.")


def _where_wrong(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> str:
    wrong = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    count = int(wrong.sum())
    if got.ndim == 0:
        return "the value is wrong"
    first = tuple(int(i) for i in np.argwhere(wrong)[0])
    index = first[0] if len(first) == 1 else first
    return f"{count} of {got.size} entries are wrong, the first at index {index}"


def expect_array(exercise: str, what: str, got, expected, *, rtol: float = 1e-6, atol: float = 1e-9,
                 likely_bugs: dict[str, object] | None = None, check_dtype: bool = True) -> None:
    """Fail unless ``got`` matches ``expected`` in type, shape, dtype and value.

    ``likely_bugs`` maps a diagnosis (e.g. "did you skip bias correction?") to the value that
    mistake would produce; when ``got`` matches one of them, the message names that bug. A message
    shows what the student's code returned and where it is wrong, never the expected value.
    """
    expected = np.asarray(expected)
    got_array = _trusted_array(exercise, what, got)
    if got_array.shape != expected.shape:
        fail(exercise, f"{what}: expected shape {expected.shape}, got {got_array.shape}.")
    if check_dtype and got_array.dtype != expected.dtype:
        fail(exercise, f"{what}: expected dtype {expected.dtype}, got {got_array.dtype} "
                       f"(a float64 scalar such as np.sqrt(...) promotes float32 arrays; use math.sqrt).")
    if not np.all(np.isfinite(got_array)) and np.all(np.isfinite(expected)):
        fail(exercise, f"{what}: contains NaN or inf: {_describe(got_array)}.")
    if np.allclose(got_array, expected, rtol=rtol, atol=atol):
        return
    for diagnosis, wrong in (likely_bugs or {}).items():
        wrong = np.asarray(wrong)
        if wrong.shape == got_array.shape and np.allclose(got_array, wrong, rtol=rtol, atol=atol):
            fail(exercise, f"{what}: got {_describe(got_array)}, which is wrong. Likely bug: {diagnosis}")
    fail(exercise, f"{what}: got {_describe(got_array)}; "
                   f"{_where_wrong(got_array, expected, rtol, atol)}.")


def expect_scalar(exercise: str, what: str, got, expected: float, *, rtol: float = 1e-6, atol: float = 1e-9,
                  likely_bugs: dict[str, float] | None = None) -> None:
    """Like :func:`expect_array` for a single number of a built-in or numpy type (never a bool or a
    string, which ``float()`` would quietly accept). The message never shows the expected value."""
    if type(got) not in SCALAR_TYPES and not (type(got) is np.ndarray and got.shape == () and got.dtype.kind in "fiu"):
        fail(exercise, f"{what}: expected a number, got {type(got).__name__}.")
    value = float(np.asarray(got))
    if not np.isfinite(value):
        fail(exercise, f"{what}: got {value}, which is not a finite number.")
    if np.isclose(value, expected, rtol=rtol, atol=atol):
        return
    for diagnosis, wrong in (likely_bugs or {}).items():
        if np.isclose(value, wrong, rtol=rtol, atol=atol):
            fail(exercise, f"{what}: got {value:.6g}, which is wrong. Likely bug: {diagnosis}")
    direction = "too large" if value > expected else "too small"
    fail(exercise, f"{what}: got {value:.6g}, which is {direction}.")
