"""Exercises that grade themselves, and the instructor's grader.

- :mod:`lib.course.grading.notebook_format` — the master format (cell roles, regions) and its validation
- :mod:`lib.course.grading.generate`        — ``python -m lib.course.grading.generate [--check]``: solutions/ → exercises/
- :mod:`lib.course.grading.pytest_plugin`   — students' ``pytest`` runs of an exercise notebook report by exercise
- :mod:`lib.course.grading.runner`          — runs cells in a kernel, judging each by its execute reply
- :mod:`lib.course.grading.grade`           — ``python -m lib.course.grading.grade SUBMISSIONS``: grade sheet and feedback
- :mod:`lib.course.grading.submissions`     — finds and reads submitted notebooks as data (regular files only)
- :mod:`lib.course.grading.policy`          — the screen every solution source passes before it runs
- :mod:`lib.course.grading.worker`          — one notebook's kernel run, as a process (plan in, results out)
- :mod:`lib.course.grading.sandbox`         — that process inside bubblewrap

The student release for graded homework is :mod:`lib.course.release`.
"""

import sys

# nbformat validates with jsonschema, whose optional IRI format checker imports rfc3987_syntax, which
# compiles a grammar on import: 2.6 s of CPU (here) in every grading process, for a format no notebook
# uses. Declining that optional import keeps a grading worker's start under a second.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)
