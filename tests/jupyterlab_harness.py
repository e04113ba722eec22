"""A JupyterLab server on loopback and a headless Chromium page driving it, for tests/test_browser.py.

The server runs from a temporary root folder with its own settings, workspaces and runtime folders, so
nothing from the machine's Jupyter set-up leaks in, and it is told not to fetch news or check for
updates (the test must not reach outside hosts). :meth:`LabServer.stop` shuts it down through its REST
API, then terminates its process group and any kernel it started — also when a test failed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from lib.course.notebooks import kernel_environment

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

# User settings written before the server starts: no news toast, no update check (both would fetch from
# the network). The notebook keeps JupyterLab's default windowing ("contentVisibility": every cell stays
# in the DOM, off-screen ones are not painted), as a reader has it.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}

TRACEBACK_PATTERNS = ("Traceback (most recent call last)", "Failed to load model", "Error displaying widget",
                      "Model not found")


def find_chromium() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Every live process whose ancestry leads to ``pid`` (read from /proc; Linux)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # the command name may contain spaces and parentheses: the fields after its last ')' are fixed
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent:
                found.append(child)
                frontier.append(child)
    return found


class LabServer:
    """``jupyter lab`` on 127.0.0.1 with a random token, serving ``root``."""

    def __init__(self, root: Path, state_dir: Path, startup_timeout: float = 90.0):
        self.root = Path(root)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(state_dir) / "jupyterlab.log"
        settings_dir = Path(state_dir) / "settings"
        for name, values in LAB_SETTINGS.items():
            path = settings_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = kernel_environment()
        env.update(JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
                   JUPYTERLAB_WORKSPACES_DIR=str(Path(state_dir) / "workspaces"),
                   JUPYTER_RUNTIME_DIR=str(Path(state_dir) / "runtime"),
                   JUPYTER_CONFIG_DIR=str(Path(state_dir) / "config"))
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={self.port}",
                   "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                   "--allow-root", f"--ServerApp.root_dir={self.root}", "--LabApp.news_url=None",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        try:
            self._wait_until_up(startup_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with status {self.process.returncode}; log:\n{self.log()}")
            try:
                self.api("GET", "/api/status")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.25)
        raise TimeoutError(f"JupyterLab did not answer within {timeout:.0f} s; log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def api(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(self.base_url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def url(self, notebook: str) -> str:
        """The notebook alone in a fresh workspace (``reset``: no tabs restored from an earlier page)."""
        return f"{self.base_url}/lab/tree/{notebook}?reset&token={self.token}"

    def kernel_state(self, notebook: str) -> str | None:
        """``idle``/``busy``/``starting`` for the kernel of ``notebook``'s session, None without a session."""
        for session in self.api("GET", "/api/sessions"):
            if session.get("path") == notebook and session.get("kernel"):
                return session["kernel"].get("execution_state")
        return None

    def shutdown_kernels(self) -> None:
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")

    def stop(self) -> None:
        """Stop the server and every process it started, whatever state the test left them in."""
        if self.process.poll() is None:
            spawned = _children(self.process.pid)  # kernels run in their own sessions: remember them now
            try:
                self.api("POST", "/api/shutdown")
                self.process.wait(timeout=15)
            except Exception:
                pass
            for signal_number, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                if self.process.poll() is not None:
                    break
                try:
                    os.killpg(self.process.pid, signal_number)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    pass
            for pid in spawned:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._log.close()


def wait_for(condition, timeout: float, interval: float = 0.25, message: str = "condition"):
    """Poll ``condition()`` until it returns something truthy; return it, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {message}")
        time.sleep(interval)


NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in the active tab
PROMPT = re.compile(r"\[(\d+|\*| )\]")


def prompts(page) -> list[str]:
    """The execution prompt of every code cell: a number once run, ``*`` while queued or running."""
    texts = page.eval_on_selector_all(f"{NOTEBOOK} .jp-CodeCell .jp-InputPrompt",
                                      "nodes => nodes.map(n => n.textContent)")
    return [match.group(1) if (match := PROMPT.search(text)) else "" for text in texts]


def page_errors(page) -> list[str]:
    """Tracebacks and widget errors shown anywhere on the page."""
    text = page.inner_text("body")
    return [pattern for pattern in TRACEBACK_PATTERNS if pattern in text]
