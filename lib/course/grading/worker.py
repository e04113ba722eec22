"""One submission's kernel run, as a process of its own: a plan in on stdin, the results out on stdout.

    python -m lib.course.grading.worker < plan.json > results.json

The grader starts this process once per graded notebook, inside the sandbox when there is one
(:mod:`lib.course.grading.sandbox`), and reads nothing back but the one JSON document this prints.
The plan holds everything the run needs (the cells' sources, the check-restoring code, the limits),
so the worker reads no file the student could have touched, and no master: inside the sandbox the
masters, the submissions and the output folder are not even visible.

The plan: ``{"cells": [{"source": str, "kind": str, "metric": bool}], "timeout": s, "budget": s or null,
"memory_limit_gb": GB or null, "prepare": str or null, "before_check": str or null, "after_check": str or
null}``. The result: ``{"runs": [CellRun as a
dict, one per cell]}``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

RESULT_MARKER = "COURSE-GRADING-RESULT "


def _not_dumpable() -> None:
    """Keep the kernel (a child of this process, same user) out of this process's /proc entries:
    its pipes, memory and environment."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):  # not Linux: nothing to close
        pass


def main() -> int:
    _not_dumpable()
    plan = json.loads(sys.stdin.read())
    from lib.course.grading.runner import PlannedRun, run_plan

    cells = [PlannedRun(cell["source"], cell["kind"], bool(cell.get("metric"))) for cell in plan["cells"]]
    runs = run_plan(cells, Path.cwd(), timeout=plan["timeout"], budget=plan.get("budget"),
                    memory_limit_gb=plan.get("memory_limit_gb"), prepare=plan.get("prepare"),
                    before_check=plan.get("before_check"), after_check=plan.get("after_check"))
    sys.stdout.write(RESULT_MARKER + json.dumps({"runs": [asdict(run) for run in runs]}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
