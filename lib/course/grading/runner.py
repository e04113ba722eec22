"""Run code cells one by one in a Jupyter kernel and say, for each, what really happened.

Why nbclient and not nbval: the grader needs the execute *reply's* status ('ok' or 'error', with
the exception's name and message), not the text on the output channel. nbval decides from the
output channel only, so a student cell that replaces IPython's ``showtraceback`` hides every later
failure; the reply status cannot be silenced that way. nbclient also gives per-cell control: a
timeout raises ``CellTimeoutError`` for that cell, a dead kernel raises ``DeadKernelError`` within
about a second (its liveness poll), and we decide what to run next.

Recovery. After a timeout the kernel is interrupted; if it answers a probe within a few seconds its
state is kept. If it does not (the loop swallows ``KeyboardInterrupt``, or it is stuck in C code),
or if the kernel died (``os._exit``, the out-of-memory killer), a fresh kernel is started and every
cell that already ran is replayed in order, skipping the cells that killed or hung a kernel. So the
other exercises are graded on the same state a student would have after re-running the notebook
without the broken cell. Replays are bounded by ``max_restarts``; cells after that are reported as
not run.

Memory. A setup cell (run first, and again after each restart) caps the kernel's address space
(``RLIMIT_AS``), so a memory blow-up is a ``MemoryError`` in the student's cell rather than a
machine-wide out-of-memory event.

This is not a sandbox: student code runs with the grader's permissions. Grade on a machine or
account where that is acceptable.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from dataclasses import dataclass
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

    def run(self, source: str, timeout: float) -> CellRun:
        """Run ``source``. After ``status == "died"``, or a ``"timeout"`` that left ``alive`` False,
        the kernel must be restarted before the next run."""
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
            return CellRun("ok", stderr=stderr, seconds=seconds)
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


def run_cells(sources: list[str], cwd: Path, *, timeout: float = 60, max_restarts: int = 3,
              memory_limit_gb: float | None = DEFAULT_MEMORY_LIMIT_GB) -> list[CellRun]:
    """Run ``sources`` in order in one kernel (restarted and replayed when needed, see the module
    docstring); one :class:`CellRun` per source."""
    setup = _memory_limit_source(memory_limit_gb)
    results: list[CellRun] = []
    survived: list[str] = [setup] if setup else []   # what a restarted kernel must replay
    restarts = 0
    kernel = Kernel(cwd)
    kernel.start()
    try:
        if setup:
            kernel.run(setup, timeout)
        for source in sources:
            if restarts > max_restarts:
                results.append(CellRun("not run", evalue=f"the kernel had to be restarted {max_restarts} times; "
                                                         f"the remaining cells were not run"))
                continue
            result = kernel.run(source, timeout)
            results.append(result)
            broken = result.status == "died" or (result.status == "timeout" and not kernel.alive)
            if not broken:
                survived.append(source)
                continue
            while broken and restarts <= max_restarts:
                restarts += 1
                kernel.restart()
                kernel.alive = True
                broken = False
                for replayed in list(survived):
                    again = kernel.run(replayed, timeout)
                    if again.status == "died" or (again.status == "timeout" and not kernel.alive):
                        survived.remove(replayed)   # flaky killer: drop it and start over
                        broken = True
                        break
    finally:
        kernel.stop()
    return results


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CELL_PATH = re.compile(r"/[^\s'\"]*ipykernel_\d+/\d+\.py")


def sanitize(text: str, workdir: Path | None = None) -> str:
    """Drop colour codes and per-run paths so messages are identical on every run."""
    text = _CELL_PATH.sub("<cell>", _ANSI.sub("", text))
    if workdir is not None:
        text = text.replace(str(workdir), ".")
    return text
