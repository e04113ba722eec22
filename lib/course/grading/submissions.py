"""Finding and reading submitted notebooks without trusting them.

Only regular files are read, opened without following links (``O_NOFOLLOW``) and without blocking
(``O_NONBLOCK``: a FIFO named like a notebook must not hang the grader); a folder, a link (broken or
not), a FIFO or a device named ``*.ipynb`` is reported, not followed. The JSON is validated by hand,
down to the types of the ``course`` metadata, so a malformed file is one student's 0 with the reason,
never an exception that stops the class.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import nbformat

from lib.course.grading.notebook_format import ROLES

MAX_BYTES = 50 * 2**20
NOTEBOOK_SUFFIX = ".ipynb"


@dataclass
class Submitted:
    """One file named like a notebook: its notebook, or why it cannot be graded."""

    path: Path                 # as found
    shown: str                 # its path relative to the student's folder, for feedback
    notebook: nbformat.NotebookNode | None
    problem: str | None = None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_bytes(path: Path) -> tuple[bytes | None, str | None]:
    """The file's bytes, or why it was not read."""
    try:
        info = os.lstat(path)
    except OSError as error:
        return None, f"could not be read ({error.strerror})"
    if stat.S_ISLNK(info.st_mode):
        target_exists = os.path.exists(path)
        return None, ("is a symbolic link" + ("" if target_exists else " whose target does not exist")
                      + "; links are not followed, submit the notebook itself")
    if not stat.S_ISREG(info.st_mode):
        return None, f"is {_kind(info.st_mode)}, not a notebook file"
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return None, "is a symbolic link; links are not followed, submit the notebook itself"
        return None, f"could not be read ({error.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):       # replaced between lstat and open
            return None, f"is {_kind(info.st_mode)}, not a notebook file"
        if info.st_size > MAX_BYTES:
            return None, f"is {info.st_size // 2**20} MB; a notebook over {MAX_BYTES // 2**20} MB is not graded"
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_BYTES:
                return None, f"is over {MAX_BYTES // 2**20} MB; it is not graded"
            chunks.append(chunk)
        return b"".join(chunks), None
    except OSError as error:
        return None, f"could not be read ({error.strerror})"
    finally:
        os.close(fd)


def _source(value, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    raise ValueError(f"{where}: 'source' must be text, got {type(value).__name__}")


def parse_notebook(data: bytes) -> nbformat.NotebookNode:
    """A version-4 notebook from ``data``, with every field the grader reads type-checked.

    Raises ``ValueError`` with a message that names the cell and the field."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"it is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"it is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise ValueError("it is JSON but not a notebook (no list of 'cells')")
    if raw.get("nbformat") != 4:
        raise ValueError(f"it is not a version-4 notebook (nbformat {raw.get('nbformat')!r})")
    metadata = raw.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError(f"its metadata must be a dict, got {type(metadata).__name__}")
    course = metadata.get("course", {})
    if not isinstance(course, dict) or not isinstance(course.get("master", ""), str):
        raise ValueError("its 'course' metadata is malformed (expected {'master': <name>})")
    cells = []
    for position, cell in enumerate(raw["cells"], start=1):
        where = f"cell {position}"
        if not isinstance(cell, dict):
            raise ValueError(f"{where} is not a dict")
        kind = cell.get("cell_type")
        if kind not in ("code", "markdown", "raw"):
            raise ValueError(f"{where}: unknown cell_type {kind!r}")
        cell_meta = cell.get("metadata", {})
        if not isinstance(cell_meta, dict):
            raise ValueError(f"{where}: metadata must be a dict, got {type(cell_meta).__name__}")
        meta = cell_meta.get("course")
        if meta is not None:
            if not isinstance(meta, dict):
                raise ValueError(f"{where}: metadata 'course' must be a dict, got {type(meta).__name__}")
            if "role" in meta and meta["role"] not in ROLES:
                raise ValueError(f"{where}: metadata course.role must be 'solution' or 'check', got {meta['role']!r}")
            if "exercise" in meta and not isinstance(meta["exercise"], str):
                raise ValueError(f"{where}: metadata course.exercise must be text, got {type(meta['exercise']).__name__}")
            if "points" in meta and (isinstance(meta["points"], bool) or not isinstance(meta["points"], (int, float))):
                raise ValueError(f"{where}: metadata course.points must be a number, got {type(meta['points']).__name__}")
        cell_id = cell.get("id")
        node = {"cell_type": kind, "source": _source(cell.get("source", ""), where),
                "metadata": {"course": dict(meta)} if isinstance(meta, dict) else {}}
        if isinstance(cell_id, str):
            node["id"] = cell_id
        if kind == "code":
            node.update(outputs=[], execution_count=None)
        cells.append(node)
    return nbformat.from_dict({"nbformat": 4, "nbformat_minor": 5, "cells": cells,
                               "metadata": {"course": dict(course)}})


def read_submission(path: Path, shown: str) -> Submitted:
    data, problem = read_bytes(path)
    if problem is not None:
        return Submitted(path, shown, None, problem)
    try:
        return Submitted(path, shown, parse_notebook(data))
    except ValueError as error:
        return Submitted(path, shown, None, f"could not be read as a notebook: {error}")
    except RecursionError:
        return Submitted(path, shown, None, "could not be read as a notebook: it is nested too deeply")


def printable(name: str) -> str:
    """A file name as text that can be written anywhere: bytes that are not UTF-8 become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _named_like_notebook(name: str) -> bool:
    return name.endswith(NOTEBOOK_SUFFIX) and not name.startswith(".")


def _walk(folder: Path) -> list[tuple[Path, str]]:
    """Every entry named ``*.ipynb`` under ``folder`` (links not followed, hidden folders skipped)."""
    found = []
    for current, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted([*dirnames, *filenames]):
            if _named_like_notebook(name):
                path = Path(current) / name
                found.append((path, printable(str(path.relative_to(folder)))))
    return found


@dataclass
class Student:
    name: str
    entries: list[tuple[Path, str]]
    notes: list[str]


def find_students(directory: Path) -> list[Student]:
    """One :class:`Student` per folder (any depth inside it) or per top-level ``NAME.ipynb``,
    sorted by name. Nothing is opened here."""
    students: dict[str, Student] = {}
    with os.scandir(directory) as entries:
        listing = sorted(entries, key=lambda e: e.name)
    for entry in listing:
        if entry.name.startswith("."):
            continue
        name = printable(entry.name)
        if entry.is_dir(follow_symlinks=False):
            student = students.setdefault(name, Student(name, [], []))
            student.entries += _walk(Path(entry.path))
        elif _named_like_notebook(entry.name):
            name = name[: -len(NOTEBOOK_SUFFIX)]
            student = students.setdefault(name, Student(name, [], []))
            student.entries.append((Path(entry.path), printable(entry.name)))
        elif entry.is_symlink():
            student = students.setdefault(name, Student(name, [], []))
            student.notes.append("The submission folder is a symbolic link; it was not followed.")
    return [students[name] for name in sorted(students)]
