"""What every exercise check shares: a failure type, safe calls into student code, and
comparisons that name the likely bug.

A check never trusts the student's objects: it deep-copies inputs before handing them over,
checks dtype and shape before values, and compares with tolerances, never printed floats.
When the student's answer matches what a known mistake would produce, the message says so.
"""

from __future__ import annotations

import copy
import traceback

import numpy as np


class ExerciseFailure(AssertionError):
    """A check failed. The message names the exercise, what was expected, what came back,
    and the likely bug when the check can tell."""


def fail(exercise: str, message: str) -> None:
    raise ExerciseFailure(f"[{exercise}] {message}")


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


def _describe(array: np.ndarray) -> str:
    flat = np.asarray(array).ravel()
    shown = np.array2string(flat[:6], precision=6, separator=", ")
    return shown[:-1] + ", …]" if flat.size > 6 else shown


def expect_array(exercise: str, what: str, got, expected, *, rtol: float = 1e-6, atol: float = 1e-9,
                 likely_bugs: dict[str, object] | None = None, check_dtype: bool = True) -> None:
    """Fail unless ``got`` matches ``expected`` in type, shape, dtype and value.

    ``likely_bugs`` maps a diagnosis (e.g. "did you skip bias correction?") to the value that
    mistake would produce; when ``got`` matches one of them, the message names that bug.
    """
    expected = np.asarray(expected)
    if got is None:
        fail(exercise, f"{what}: got None — did you forget to `return` the result?")
    if not isinstance(got, (np.ndarray, np.generic, float, int)):
        fail(exercise, f"{what}: expected a numpy array, got {type(got).__name__}.")
    got_array = np.asarray(got)
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
            fail(exercise, f"{what}: expected {_describe(expected)}, got {_describe(got_array)}. "
                           f"Likely bug: {diagnosis}")
    error = np.max(np.abs(got_array - expected))
    fail(exercise, f"{what}: expected {_describe(expected)}, got {_describe(got_array)} "
                   f"(largest difference {error:.3g}).")


def expect_scalar(exercise: str, what: str, got, expected: float, *, rtol: float = 1e-6, atol: float = 1e-9,
                  likely_bugs: dict[str, float] | None = None) -> None:
    """Like :func:`expect_array` for a single number (any real type, including numpy scalars)."""
    try:
        if isinstance(got, (str, bytes, bool)):  # float("0.5") and float(True) would pass silently
            raise TypeError
        value = float(got)
    except (TypeError, ValueError):
        fail(exercise, f"{what}: expected a number, got {type(got).__name__} ({got!r:.60}).")
    if not np.isfinite(value):
        fail(exercise, f"{what}: got {value}, expected {expected:.6g}.")
    if np.isclose(value, expected, rtol=rtol, atol=atol):
        return
    for diagnosis, wrong in (likely_bugs or {}).items():
        if np.isclose(value, wrong, rtol=rtol, atol=atol):
            fail(exercise, f"{what}: expected {expected:.6g}, got {value:.6g}. Likely bug: {diagnosis}")
    fail(exercise, f"{what}: expected {expected:.6g}, got {value:.6g}.")
