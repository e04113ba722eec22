"""Run code cells one by one in a Jupyter kernel and say, for each, what really happened.

Why nbclient and not nbval: the grader needs the execute *reply's* status ('ok' or 'error', with
the exception's name and message), not the text on the output channel. nbval decides from the
output channel only, so a student cell that replaces IPython's ``showtraceback`` hides every later
failure; the reply status cannot be silenced that way. nbclient also gives per-cell control: a
timeout raises ``CellTimeoutError`` for that cell, a dead kernel raises ``DeadKernelError`` within
about a second (its liveness poll), and we decide what to run next.

Recovery. After a timeout the kernel is interrupted; if it answers a probe within a few seconds its
state is kept. If it does not (the loop swallows ``KeyboardInterrupt``, or it is stuck in C code),
or if the kernel died (the out-of-memory killer, native code), the cell to blame is set aside and the
whole list runs again from the start in a fresh kernel without it (see :func:`run_plan`), so the
other cells are judged on the state a student would have after re-running the notebook without the
broken cell — the same state on every run. ``exit``, ``quit`` and ``os._exit`` raise ``SystemExit``
in the cell (or thread) that calls them instead of stopping the kernel some time later.

Memory. A setup cell (run first in every kernel) caps the kernel's address space (``RLIMIT_AS``), so
a memory blow-up is a ``MemoryError`` in the student's cell rather than a machine-wide out-of-memory
event.

This module is not a sandbox by itself: the grader runs it inside one
(:mod:`lib.course.grading.sandbox`, :mod:`lib.course.grading.worker`).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_core.utils import ensure_event_loop, run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from lib.course.notebooks import kernel_environment

PROBE_TIMEOUT = 5
DEFAULT_MEMORY_LIMIT_GB = 4.0


@dataclass
class CellRun:
    """What happened when one cell ran."""

    status: str            # "ok", "error", "timeout", "died" or "not run"
    ename: str = ""
    evalue: str = ""
    stderr: str = ""
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)   # what a check recorded for the instructor (see after_check)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _cancel_stale_tasks() -> None:
    """nbclient leaves a timed-out cell's output reader running; it would swallow the next cells'
    messages (their outputs, and the idle status each one then waits 4 s for)."""
    loop = ensure_event_loop()
    stale = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in stale:
        task.cancel()
    if stale:
        loop.run_until_complete(asyncio.gather(*stale, return_exceptions=True))


def _memory_limit_source(gigabytes: float | None) -> str:
    if not gigabytes:
        return ""
    limit = int(gigabytes * 2**30)
    return ("import resource as _resource\n"
            f"_resource.setrlimit(_resource.RLIMIT_AS, ({limit}, {limit}))\n"
            "del _resource")


class Kernel:
    """One python3 kernel (this interpreter's environment) running in ``cwd``."""

    def __init__(self, cwd: Path, *, startup_timeout: int = 60):
        self.cwd = Path(cwd)
        self.startup_timeout = startup_timeout
        self.client: NotebookClient | None = None
        self._reply: dict | None = None
        self.alive = True   # False after a timeout the interrupt could not end

    def start(self) -> None:
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell()])  # slot for the running cell
        self.client = NotebookClient(
            notebook, kernel_name="python3", allow_errors=True, interrupt_on_timeout=False,
            record_timing=False, shutdown_kernel="immediate", startup_timeout=self.startup_timeout,
            resources={"metadata": {"path": str(self.cwd)}}, on_cell_executed=self._remember_reply)
        self.client.km = self.client.create_kernel_manager()
        env = kernel_environment()
        env["PYTHONHASHSEED"] = "0"
        env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        # The kernel's own log (transport warnings, crash notes) is not the student's output.
        self.client.start_new_kernel(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client.start_new_kernel_client()

    def stop(self) -> None:
        _cancel_stale_tasks()
        if self.client is not None and self.client.km is not None:
            try:
                self.client._cleanup_kernel()
            except Exception:  # a kernel that is already gone cannot be stopped twice; nothing to do
                pass
        self.client = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def _remember_reply(self, cell=None, cell_index=None, execute_reply=None) -> None:
        self._reply = execute_reply

    def run(self, source: str, timeout: float, *, keep_stdout: bool = False) -> CellRun:
        """Run ``source``. After ``status == "died"``, or a ``"timeout"`` that left ``alive`` False,
        the kernel must be restarted before the next run. ``keep_stdout`` returns the printed text as
        ``evalue`` of an ``ok`` run (for the grader's own cells; a student's output is never read)."""
        assert self.client is not None
        cell = nbformat.v4.new_code_cell(source)
        self.client.timeout = max(1, int(round(timeout)))
        self._reply = None
        start = time.perf_counter()
        try:
            self.client.execute_cell(cell, 0, store_history=False)
        except DeadKernelError:
            return CellRun("died", seconds=time.perf_counter() - start)
        except CellTimeoutError:
            self._recover_from_timeout()
            return CellRun("timeout", seconds=time.perf_counter() - start)
        seconds = time.perf_counter() - start
        stderr = "".join(o.get("text", "") for o in cell.outputs
                         if o.get("output_type") == "stream" and o.get("name") == "stderr")
        content = (self._reply or {}).get("content", {"status": "ok"})
        if content.get("status") == "ok":
            printed = "".join(o.get("text", "") for o in cell.outputs
                              if o.get("output_type") == "stream" and o.get("name") == "stdout") if keep_stdout else ""
            return CellRun("ok", evalue=printed, stderr=stderr, seconds=seconds)
        return CellRun("error", ename=str(content.get("ename", "Error")),
                       evalue=str(content.get("evalue", "")), stderr=stderr, seconds=seconds)

    def _recover_from_timeout(self) -> None:
        """Interrupt the kernel and check that it answers; otherwise mark it dead."""
        self.alive = False
        _cancel_stale_tasks()
        try:
            run_sync(self.client.km.interrupt_kernel)()
            probe = nbformat.v4.new_code_cell("pass")
            self.client.timeout = PROBE_TIMEOUT
            self._reply = None
            self.client.execute_cell(probe, 0, store_history=False)
            self.alive = True
        except (CellTimeoutError, DeadKernelError, RuntimeError):
            self.alive = False


# Run first in every kernel (and again after a restart): the memory cap, and `exit`, `quit` and
# `os._exit` turned into exceptions, so a stray exit fails the cell that calls it, at once, on every
# run (ipykernel would otherwise stop the kernel some time later, while another cell runs).
_EXIT_GUARD = """\
def _course_no_exit(*args, **kwargs):
    raise SystemExit("exit(), quit() and os._exit() are switched off while grading")
import os as _course_os, builtins as _course_builtins
_course_os._exit = _course_no_exit
_course_builtins.exit = _course_builtins.quit = _course_no_exit
get_ipython().user_ns["exit"] = get_ipython().user_ns["quit"] = _course_no_exit
del _course_os, _course_builtins"""

# Around each solution cell: which threads it left running. A thread that outlives its cell can kill
# the kernel later, while some other cell runs; the death is then put down to the solution cell.
_THREADS_BEFORE = ("import threading as _course_threading\n"
                   "_course_threads = {id(t) for t in _course_threading.enumerate()}")
_THREADS_AFTER = ("_course_left = sorted(t.name for t in _course_threading.enumerate()\n"
                  "                      if id(t) not in _course_threads and t.is_alive())\n"
                  "del _course_threads, _course_threading\n"
                  "if _course_left:\n"
                  "    raise RuntimeError(f'left {len(_course_left)} thread(s) running')")

LEFT_THREADS = "This cell left a background thread running, and the kernel died after the cell had finished."


@dataclass
class PlannedRun:
    """A cell to run: its source and its kind (``"solution"`` cells are watched for left-over
    threads; ``"check"`` cells are preceded by ``before_check``, if given)."""

    source: str
    kind: str = "ordinary"
    metric: bool = False   # a check whose recorded metrics the grader reads (``after_check``) right after it


def run_cells(sources: list[str], cwd: Path, *, timeout: float = 60, max_restarts: int = 3,
              memory_limit_gb: float | None = DEFAULT_MEMORY_LIMIT_GB) -> list[CellRun]:
    """Run ``sources`` in order in one kernel; one :class:`CellRun` per source (see :func:`run_plan`)."""
    return run_plan([PlannedRun(s) for s in sources], cwd, timeout=timeout, max_restarts=max_restarts,
                    memory_limit_gb=memory_limit_gb)


def run_plan(cells: list[PlannedRun], cwd: Path, *, timeout: float = 60, budget: float | None = None,
             max_restarts: int = 3, memory_limit_gb: float | None = DEFAULT_MEMORY_LIMIT_GB,
             prepare: str | None = None, before_check: str | None = None,
             after_check: str | None = None) -> list[CellRun]:
    """Run ``cells`` in order in one kernel; one :class:`CellRun` per cell.

    When a cell kills the kernel (or hangs it beyond an interrupt), that cell is set aside — or the
    solution cell before it that left a thread running, which is where a delayed death comes from —
    and the whole list is run again from the start in a fresh kernel without it. So the results are
    those of the notebook without the broken cell, whichever later cell the death happened to hit:
    the same on every run. ``budget`` bounds the seconds for the whole list (restarts included);
    cells past it are reported as not run. ``prepare`` runs in every kernel right after the set-up,
    before any cell. ``after_check`` runs right after each ``metric`` check cell; it prints the
    metrics that check recorded as one JSON object, which becomes that check's ``metrics``."""
    setup = "\n".join(part for part in (_memory_limit_source(memory_limit_gb), _EXIT_GUARD, prepare) if part)
    start = time.perf_counter()
    set_aside: dict[int, CellRun] = {}
    for _ in range(max_restarts + 1):
        results, broken = _attempt(cells, cwd, setup, set_aside, timeout, budget, start, before_check, after_check)
        if broken is None:
            return results
        index, run = broken
        set_aside[index] = run
    note = f"the kernel had to be restarted {max_restarts} times; the remaining cells were not run"
    return [set_aside.get(i, CellRun("not run", evalue=note)) for i in range(len(cells))]


def _attempt(cells, cwd, setup, set_aside, timeout, budget, start, before_check, after_check=None):
    """One pass over ``cells`` in a fresh kernel: ``(results, None)`` when it got to the end, else
    ``(partial results, (index, run))`` naming the cell to set aside before the next pass."""
    results: list[CellRun] = []
    left_threads: list[int] = []
    kernel = Kernel(cwd)
    kernel.start()
    try:
        prepared = kernel.run(setup, timeout)
        if not prepared.ok:
            raise RuntimeError(f"the kernel could not be prepared: {prepared.status} {prepared.ename}: {prepared.evalue}")
        for index, cell in enumerate(cells):
            if index in set_aside:
                results.append(set_aside[index])
                continue
            if budget is not None and time.perf_counter() - start > budget:
                results.append(CellRun("not run", evalue=f"the notebook's time budget of {budget:g} s was used up"))
                continue
            if cell.kind == "check" and before_check:
                guard = kernel.run(before_check, timeout)
                if _broken(guard, kernel):
                    return results, _blame(index, guard, left_threads)
                if not guard.ok:
                    results.append(CellRun("error", ename="CheckerError",
                                           evalue=f"the checks could not be restored: {guard.ename}: {guard.evalue}"))
                    continue
            if cell.kind == "solution":
                kernel.run(_THREADS_BEFORE, timeout)
            run = kernel.run(cell.source, timeout)
            if _broken(run, kernel):
                return results, _blame(index, run, left_threads)
            if cell.kind == "solution":
                probe = kernel.run(_THREADS_AFTER, timeout)
                if _broken(probe, kernel):   # it died after the cell had finished: a thread did it
                    return results, (index, CellRun("died", evalue=LEFT_THREADS))
                if probe.status == "error":
                    left_threads.append(index)
            if cell.kind == "check" and cell.metric and after_check:
                report = kernel.run(after_check, timeout, keep_stdout=True)
                if _broken(report, kernel):
                    return results, _blame(index, report, left_threads)
                run.metrics = _metrics_from(report)
            results.append(run)
    finally:
        kernel.stop()
    return results, None


def _metrics_from(report: CellRun) -> dict:
    """The JSON object ``after_check`` printed (its last line); empty when it printed none."""
    if not report.ok:
        return {}
    lines = report.evalue.strip().splitlines()
    try:
        metrics = json.loads(lines[-1]) if lines else {}
    except ValueError:
        return {}
    return {str(k): float(v) for k, v in metrics.items() if isinstance(v, (int, float))} if isinstance(metrics, dict) else {}


def _broken(run: CellRun, kernel: "Kernel") -> bool:
    return run.status == "died" or (run.status == "timeout" and not kernel.alive)


def _blame(index: int, run: CellRun, left_threads: list[int]) -> tuple[int, CellRun]:
    """The cell a kernel death or hang is put down to: a death after a solution cell that left a
    thread running is that cell's; anything else is the running cell's."""
    if run.status == "died" and left_threads:
        return left_threads[-1], CellRun("died", evalue=LEFT_THREADS)
    return index, run


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CELL_PATH = re.compile(r"/[^\s'\"]*ipykernel_\d+/\d+\.py")


def sanitize(text: str, workdir: Path | None = None) -> str:
    """Drop colour codes and per-run paths so messages are identical on every run."""
    text = _CELL_PATH.sub("<cell>", _ANSI.sub("", text))
    if workdir is not None:
        text = text.replace(str(workdir), ".")
    return text
