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
  channel (nbval alone would pass it after ``InteractiveShell.showtraceback`` is replaced);
- before every check cell, the shell is put back as it was before the first cell (input and AST
  transformers, ``run_cell`` and friends) and the check modules are rebuilt from the files in
  ``lib/checks`` and bound again to the names the notebook imports them as (``checks`` …), so a
  no-op ``checks`` object or functions patched onto the check module do not pass a check; after it,
  a token the check cell sets proves that the whole cell ran.

This resists the simple cheats, not a determined one: the student's own kernel runs on the student's
own machine. It is a convenience for students; grades come from the instructor's grader
(:mod:`lib.course.grading.grade`), which runs only the master's cells in a sandbox.
"""

from __future__ import annotations

import secrets

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


# Run (through user_expressions, which no input or AST transformer sees) before the first cell of a
# notebook: remember the shell as it is; before each check cell: put it back.
_SHELL_NAMES = ("run_cell", "run_cell_async", "run_ast_nodes", "run_code", "transform_cell",
                "showtraceback", "showsyntaxerror", "should_run_async")
_RESET_SHELL = f"""
import sys as _course_sys
_course_shell = get_ipython()
_course_saved = _course_sys.modules.get("_course_shell_snapshot")
if _course_saved is None:
    import types as _course_types
    _course_saved = _course_types.ModuleType("_course_shell_snapshot")
    _course_saved.methods = {{name: getattr(type(_course_shell), name) for name in {_SHELL_NAMES!r}
                             if hasattr(type(_course_shell), name)}}
    _course_saved.lists = {{name: list(getattr(_course_shell, name)) for name in
                           ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")}}
    _course_sys.modules["_course_shell_snapshot"] = _course_saved
else:
    for _course_name, _course_method in _course_saved.methods.items():
        setattr(type(_course_shell), _course_name, _course_method)
        _course_shell.__dict__.pop(_course_name, None)
    for _course_name, _course_list in _course_saved.lists.items():
        getattr(_course_shell, _course_name)[:] = _course_list
del _course_sys, _course_shell, _course_saved
"""
_TOKEN_NAME = "__course_check_token__"
UNRESPONSIVE = ("the kernel no longer answers: something in the notebook changed how cells run (a patched "
                "shell). The grader does not run it.")


def _evaluate(kernel, expression: str, timeout: float) -> dict:
    """Evaluate ``expression`` in the kernel as a user expression (no transformer sees it). Returns
    ``{}`` when the kernel does not answer in time (its shell was patched)."""
    from queue import Empty

    msg_id = kernel.kc.execute("", silent=True, store_history=False, allow_stdin=False,
                               user_expressions={"value": expression})
    try:
        while True:
            message = kernel.get_message(stream="shell", timeout=timeout)
            if message.get("parent_header", {}).get("msg_id") == msg_id:
                return message["content"].get("user_expressions", {}).get("value", {"status": "error"})
    except Empty:
        return {}


def _restoration(notebook_file) -> tuple[str | None, str | None]:
    """The source that rebuilds the check modules from ``lib/checks`` and rebinds the names the
    notebook's ordinary cells import them as (``checks`` for chapter NN's module by default)."""
    from lib.course.grading.grade import check_bindings, check_module_sources, check_restoration

    sources = check_module_sources()
    bindings = check_bindings(notebook_file.nb.cells)
    default = f"lib.checks.ch{notebook_file.path.stem}"
    if default in sources and "checks" not in {name for name, _, _ in bindings}:
        bindings.append(("checks", default, None))
    return check_restoration(bindings, sources)


def _guard_checks(item, first: bool, restoration: tuple[str | None, str | None]) -> None:
    """Before the notebook's first cell, remember the shell; before a check cell, restore it and the
    checks; after the check cell, make sure the whole cell ran."""
    original = item.runtest
    is_check = course_metadata(item.cell).get("role") == "check"
    token = secrets.token_hex(8)
    if is_check:
        item.cell.source = f"{item.cell.source.rstrip()}\n{_TOKEN_NAME} = {token!r}"

    def runtest():
        kernel = getattr(item.parent, "kernel", None)
        if kernel is None or not (first or is_check):
            return original()
        from nbval.plugin import NbCellError
        timeout = min(30.0, float(item.config.option.nbval_cell_timeout or 30))
        if getattr(item.parent, "_course_unresponsive", False):
            raise NbCellError(item.cell_num, UNRESPONSIVE, item.cell.source)
        prepare, restore = restoration
        setup = _RESET_SHELL + "\n" + (prepare or "") if first else ""
        if is_check:
            setup += _RESET_SHELL + "\n" + (restore or "")
        result = _evaluate(kernel, f"exec({setup!r}, globals())", timeout)
        if not result:
            item.parent._course_unresponsive = True
            raise NbCellError(item.cell_num, UNRESPONSIVE, item.cell.source)
        if is_check and result.get("status") != "ok":
            raise NbCellError(item.cell_num, f"the checks could not be restored before this cell: "
                              f"{result.get('ename')}: {result.get('evalue')}", item.cell.source)
        original()
        if is_check:
            ran = _evaluate(kernel, f"globals().get({_TOKEN_NAME!r})", timeout).get("data", {}).get("text/plain")
            if ran != repr(token):
                raise NbCellError(item.cell_num, "the check cell did not run to its end: something in the "
                                  "notebook changes how cells run (an input transformer, a patched shell). "
                                  "The grader does not run it.", item.cell.source)

    item.runtest = runtest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items) -> None:
    state = config.stash[_STATE_KEY]["exercises"]
    seen: dict[str, int] = {}
    restores: dict[int, tuple] = {}
    for item in items:
        if not _is_nbval_cell(item):
            continue
        _watch_reply_status(item)
        first = id(item.parent) not in restores
        if first:
            restores[id(item.parent)] = _restoration(item.parent)
        _guard_checks(item, first, restores[id(item.parent)])
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
    elif not report.passed:   # skipped or xfail (nbval gives up on the cells after a timeout)
        entry["failures"].append("not run: an earlier cell timed out or the kernel stopped")


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
