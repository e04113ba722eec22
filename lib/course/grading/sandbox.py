"""Run a grading worker inside bubblewrap (Linux), or say plainly that it is not sandboxed.

Inside the sandbox (one per graded notebook):

- only the system folders, this interpreter, its environment and the repository are visible, all
  read-only; ``solutions/``, ``.git``, the submissions folder and the output folder are replaced by
  empty folders, so no master, no other submission and no grade sheet can be read or written;
- the home and working folders are fresh and writable (in memory), and vanish with the sandbox;
- ``--unshare-net``: only a loopback interface of its own, so nothing outside can be reached, not
  even a server listening on the grading machine's 127.0.0.1;
- ``--unshare-pid --die-with-parent``: the worker, its kernel and anything they start live in a PID
  namespace of their own and die with it, so no process outlives its grading;
- as root, every capability is dropped, so read-only really is read-only;
- the environment is cleared except for what the kernel needs.

The grader itself stays outside: it sends the plan on the worker's stdin and reads the results from
its stdout (:mod:`lib.course.grading.worker`). Memory and time limits are the runner's.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from lib.course import ROOT

SYSTEM_FOLDERS = ("/usr", "/etc", "/opt")
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
HOME = "/tmp/home"
WORKDIR = "/tmp/work"
KEPT_ENVIRONMENT = ("LANG", "LC_ALL", "TZ", "OPENBLAS_CORETYPE", "CLAIM_SEEDS")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create a sandbox on this machine."""


@functools.lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """None when bubblewrap works here, else why not (one line)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap exists only on Linux (this is {sys.platform})"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "`bwrap` is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    try:
        probe = subprocess.run([bwrap, *_namespaces(), "--ro-bind", "/", "/", "--proc", "/proc", "true"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`bwrap` could not run: {error}"
    if probe.returncode != 0:
        return f"`bwrap` cannot create a sandbox here: {probe.stderr.strip().splitlines()[-1:]}"
    return None


def _namespaces() -> list[str]:
    options = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent",
               "--new-session"]
    if os.geteuid() == 0:
        options += ["--cap-drop", "ALL"]
    return options


def _existing(paths) -> list[Path]:
    return [Path(p) for p in paths if Path(p).exists()]


def command(argv: list[str], *, hidden: list[Path] = (), environment: dict[str, str] | None = None) -> list[str]:
    """``argv`` wrapped in bubblewrap, with the folders in ``hidden`` (and the repository's
    ``solutions/`` and ``.git``) replaced by empty ones."""
    bwrap = shutil.which("bwrap")
    args = [bwrap, *_namespaces(), "--clearenv", "--tmpfs", "/tmp", "--dir", HOME, "--dir", WORKDIR,
            "--proc", "/proc", "--dev", "/dev"]
    for link in SYSTEM_LINKS:
        path = Path(link)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), link]
        elif path.is_dir():
            args += ["--ro-bind", link, link]
    visible = {Path(p).resolve() for p in SYSTEM_FOLDERS if Path(p).is_dir()}
    # This interpreter, wherever it lives (a venv's python is often a link into pyenv under /root).
    for path in (sys.prefix, sys.base_prefix, sys.exec_prefix, Path(sys.executable).resolve().parent.parent):
        visible.add(Path(path).resolve())
    visible.add(ROOT.resolve())
    for path in sorted(visible, key=lambda p: (len(p.parts), str(p))):
        if any(parent in visible for parent in path.parents):
            continue
        args += ["--ro-bind", str(path), str(path)]
    for path in sorted({*(_existing([ROOT / "solutions", ROOT / ".git"])), *(Path(p).resolve() for p in hidden)}):
        if path.is_dir() and any(path == v or v in path.parents for v in visible):
            args += ["--tmpfs", str(path)]
        elif path.exists() and any(v in path.parents for v in visible):
            args += ["--ro-bind", "/dev/null", str(path)]
    env = {"HOME": HOME, "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
           "JUPYTER_RUNTIME_DIR": f"{HOME}/.jupyter-runtime", "MPLCONFIGDIR": f"{HOME}/.matplotlib",
           "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1"), "PYTHONHASHSEED": "0",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    env.update({key: os.environ[key] for key in KEPT_ENVIRONMENT if key in os.environ})
    env.update(environment or {})
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    return [*args, "--chdir", WORKDIR, *argv]
