"""Course tooling, apart from what students read: the notebook executor (``lib.course.notebooks``), the
static HTML edition (``lib.course.edition``) and the exercise pipeline (``lib.course.grading``)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root: ``notebooks/``, ``solutions/``, ``exercises/`` sit here."""
