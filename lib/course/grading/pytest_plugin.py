"""pytest plugin: nbval runs of exercise notebooks report by exercise.

Loaded with ``-p lib.course.grading.pytest_plugin`` (the project's pytest options do this), it changes
how nbval's cell items are named and reported, nothing else about how they run:

- a check cell's test is named after its exercise (``exercises/01_optimizers.ipynb::opt-sgd``),
  a solution cell's ``…::opt-sgd (your solution)``, other cells keep nbval's ``Cell N``;
- a failing check shows the check's message (what was expected, what came back, the likely
  bug), not nbval's dump of the cell and its traceback;
- the run ends with one line per exercise: passed or failed, with the first line of the message,
  and the points the visible checks are worth (hidden checks are graded later);
- a cell whose execute reply says 'error' fails even if its traceback never reached the output
  channel (nbval alone would pass it after ``InteractiveShell.showtraceback`` is replaced).
"""

from __future__ import annotations

import pytest

from lib.course.grading.notebook_format import course_metadata

_STATE_KEY = pytest.StashKey[dict]()    # on the config: what the summary needs
_REPLY_KEY = pytest.StashKey[dict]()    # on a cell item: the content of its execute reply
_ITEM_KEY = pytest.StashKey[tuple]()    # on a check item: (notebook node id, exercise id)


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell")


def pytest_configure(config) -> None:
    config.stash[_STATE_KEY] = {"exercises": {}}   # (file, exercise) → {"points", "failures"}


def _watch_reply_status(item) -> None:
    """Wrap ``item.runtest`` so the kernel's execute reply decides failure too."""
    original = item.runtest

    def runtest():
        kernel = getattr(item.parent, "kernel", None)
        if kernel is None:
            return original()
        replies: list[dict] = []
        get_message, execute = kernel.get_message, kernel.execute_cell_input
        sent: list[str] = []

        def recording_execute(*args, **kwargs):
            sent.append(execute(*args, **kwargs))
            return sent[-1]

        def recording_get_message(*args, **kwargs):
            message = get_message(*args, **kwargs)
            if (message.get("msg_type") == "execute_reply" and sent
                    and message.get("parent_header", {}).get("msg_id") == sent[-1]):
                replies.append(message)
            return message

        kernel.execute_cell_input, kernel.get_message = recording_execute, recording_get_message
        try:
            original()
        finally:
            del kernel.execute_cell_input, kernel.get_message   # back to the class's methods
            item.stash[_REPLY_KEY] = replies[-1]["content"] if replies else {}
        content = item.stash[_REPLY_KEY]
        expects_error = item.options.get("check_exception")   # NBVAL_RAISES_EXCEPTION / raises-exception
        if content.get("status") == "error" and not expects_error:
            from nbval.plugin import NbCellError
            raise NbCellError(item.cell_num, f"{content.get('ename')}: {content.get('evalue')} "
                              f"(its traceback was hidden from the output)", item.cell.source)

    item.runtest = runtest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items) -> None:
    state = config.stash[_STATE_KEY]["exercises"]
    seen: dict[str, int] = {}
    for item in items:
        if not _is_nbval_cell(item):
            continue
        _watch_reply_status(item)
        # What pytest prints for the item; nbval's default (the whole id) comes out as "name::ipynb::Cell 3".
        item.reportinfo = (lambda item=item: (item.path, 0, item.name))
        meta = course_metadata(item.cell)
        role, exercise = meta.get("role"), meta.get("exercise")
        if role not in ("check", "solution") or not exercise:
            continue
        base = exercise if role == "check" else f"{exercise} (your solution)"
        file_id = item.nodeid.split("::")[0]
        count = seen.get(f"{file_id}::{base}", 0) + 1
        seen[f"{file_id}::{base}"] = count
        name = base if count == 1 else f"{base} #{count}"
        item.name = name
        if hasattr(item, "_id"):        # pytest >= 9 keeps a structured node id
            item._id = item.parent.id.child(name)
        else:
            item._nodeid = f"{file_id}::{name}"
        if role == "check":
            entry = state.setdefault((file_id, exercise), {"points": 0.0, "failures": [], "ran": 0})
            points = meta.get("points")
            entry["points"] += points if isinstance(points, (int, float)) else 0
            item.stash[_ITEM_KEY] = (file_id, exercise)


def _message_of(item, call) -> str:
    content = item.stash.get(_REPLY_KEY, {})
    if content.get("status") == "error":
        ename, evalue = content.get("ename", ""), content.get("evalue", "")
        return evalue if ename in ("ExerciseFailure", "AssertionError") and evalue else f"{ename}: {evalue}"
    return str(call.excinfo.value) if call.excinfo else "failed"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not _is_nbval_cell(item):
        return
    if report.failed and item.stash.get(_REPLY_KEY, {}).get("ename") == "NotImplementedError":
        # An exercise not started yet: one line, not nbval's dump of the cell and its traceback.
        report.longrepr = f"not done yet: {item.stash[_REPLY_KEY].get('evalue', '')}"
    key = item.stash.get(_ITEM_KEY, None)
    if key is None:
        return
    entry = item.config.stash[_STATE_KEY]["exercises"][key]
    entry["ran"] += 1
    if report.failed:
        message = _message_of(item, call)
        entry["failures"].append(message)
        report.longrepr = message


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    exercises = config.stash[_STATE_KEY]["exercises"]
    ran = {key: entry for key, entry in exercises.items() if entry["ran"]}
    if not ran:
        return
    terminalreporter.section("exercises")
    earned = possible = 0.0
    current_file = None
    for (file_id, exercise), entry in ran.items():
        if file_id != current_file:
            terminalreporter.write_line(file_id)
            current_file = file_id
        possible += entry["points"]
        if entry["failures"]:
            first = entry["failures"][0].strip().splitlines()[0] if entry["failures"][0].strip() else "failed"
            terminalreporter.write_line(f"  FAILED  {exercise}: {first}", red=True)
        else:
            earned += entry["points"]
            terminalreporter.write_line(f"  passed  {exercise}", green=True)
    terminalreporter.write_line(f"{earned:g} / {possible:g} points from the visible checks "
                                f"(the grader also runs hidden checks).")
