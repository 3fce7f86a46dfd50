"""Read the students' folders and prepare each submission for grading.

:func:`prepare` does what nbgrader's ``autograde`` does before it runs a notebook, but in
the grading process, so that the sandboxed run needs no gradebook: every read-only cell and
every test cell is taken from the instructor's source (hidden tests included), cells a
student deleted are put back, cells a student added or renamed are kept as plain code, and
every output is cleared.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..notebooks.cells import EXERCISES_SUFFIX, Cell, nbgrader_cells, nbgrader_metadata, text

__all__ = ["STUDENT_ID", "Prepared", "prepare", "read_submission", "scan_student"]

#: A student id: a letter or digit of any alphabet first, then letters, digits, ``_.@-``.
STUDENT_ID = re.compile(r"[^\W_][\w.@-]*")
STUDENT_ID_RULE = (
    "expected letters (of any alphabet), digits, '.', '_', '-' or '@', starting with a "
    "letter or digit"
)


def scan_student(
    folder: Path, available: dict[str, Path], submitted: dict[tuple[str, str], Path]
) -> list[tuple[str, str]]:
    """Record the student's exercises notebooks in ``submitted``; ``(chapter, problem)``
    for everything else in the folder (``chapter`` is "" where none applies)."""
    student, problems = folder.name, []
    expected = f"<chapter>{EXERCISES_SUFFIX} with <chapter> one of {', '.join(sorted(available))}"
    if not STUDENT_ID.fullmatch(student):
        return [("", f"folder name '{student}' cannot be a student id (not graded): "
                     + STUDENT_ID_RULE)]  # fmt: skip
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        chapter = (
            entry.name[: -len(EXERCISES_SUFFIX)] if entry.name.endswith(EXERCISES_SUFFIX) else ""
        )
        if entry.is_file() and chapter in available:
            submitted[student, chapter] = entry
        elif chapter:
            problems.append(
                (chapter, f"unknown chapter '{chapter}' in {entry.name}: expected {expected}")
            )
        else:
            kind = "folder" if entry.is_dir() else "file"
            problems.append(
                ("", f"unexpected {kind} '{entry.name}' (not graded): expected {expected}")
            )
    return problems


def read_submission(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The submitted notebook as JSON, or ``None`` and why it is not a notebook."""
    import nbformat

    try:
        raw = path.read_bytes()
    except OSError as error:
        return None, f"cannot read {path.name}: {error.strerror}"
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, f"{path.name} is not a notebook: not UTF-8 text (a binary file?)"
    if not content.lstrip().startswith("{"):
        return None, f"{path.name} is not a notebook: its text is not JSON ({content[:30]!r}...)"
    try:
        notebook = json.loads(content)
    except json.JSONDecodeError as error:
        return (
            None,
            f"{path.name} is corrupt JSON ({error.msg} at line {error.lineno}), not a notebook",
        )
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return None, f"{path.name} is JSON but not a notebook: expected an object with 'cells'"
    try:
        with warnings.catch_warnings():  # e.g. cells without ids: old but valid notebooks
            warnings.simplefilter("ignore")
            nbformat.validate(nbformat.reads(content, as_version=4))
    except Exception as error:  # nbformat raises several types for invalid notebooks
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None, f"{path.name} is not a valid Jupyter notebook: {first}"
    return notebook, ""


@dataclass
class Prepared:
    """A submission ready to run, and what was repaired on the way.

    ``notes`` maps an exercise heading ("" for none) to messages; ``renamed`` maps the
    grade_id of a test cell whose id the student changed to the new id (0 points);
    ``student_code`` lists ``(label, source)`` of the cells the student wrote.
    """

    notebook: dict[str, Any]
    notes: dict[str, list[str]] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    student_code: list[tuple[str, str]] = field(default_factory=list)

    def note(self, exercise: str, message: str) -> None:
        self.notes.setdefault(exercise, []).append(message)


def _fresh(cell_type: str, source: str, nbgrader: dict[str, Any] | None) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": cell_type, "source": source, "metadata": {}}
    if nbgrader is not None:
        cell["metadata"]["nbgrader"] = copy.deepcopy(nbgrader)
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def _restored(cell: Cell, source: dict[str, str]) -> dict[str, Any]:
    """The released cell as graded: read-only and test cells with the source's text."""
    body = cell.source if cell.solution else source.get(cell.grade_id, cell.source)
    return _fresh(cell.cell_type, body, cell.metadata)


def prepare(
    submitted: dict[str, Any], released: dict[str, Any], source: dict[str, Any]
) -> Prepared:
    """The notebook to execute for ``submitted`` (see the module docstring)."""
    released_cells = nbgrader_cells(released)
    by_id = {cell.grade_id: cell for cell in released_cells}
    originals = {cell.grade_id: cell.source for cell in nbgrader_cells(source)}
    out: list[dict[str, Any]] = []
    placed: dict[str, dict[str, Any]] = {}
    unknown_tests: list[str] = []
    result = Prepared({})
    for number, cell in enumerate(submitted.get("cells", []), start=1):
        cell_type = str(cell.get("cell_type", "code"))
        body = text(cell.get("source", ""))
        meta = nbgrader_metadata(cell)
        grade_id = str(meta.get("grade_id", ""))
        known = by_id.get(grade_id)
        if known is None or grade_id in placed:
            if grade_id and known is None and meta.get("grade") and cell_type == "code":
                unknown_tests.append(grade_id)
            if known is not None and known.locked:
                result.note(known.exercise, f"read-only cell '{grade_id}' appears twice "
                                            "(the copy was not run)")  # fmt: skip
                continue
            if cell_type in ("code", "markdown", "raw"):
                out.append(_fresh(cell_type, body, None))
                if cell_type == "code":
                    result.student_code.append((f"cell {number}", body))
            continue
        if cell_type != known.cell_type:
            result.note(known.exercise, f"cell '{grade_id}' was changed from "
                                        f"{known.cell_type} to {cell_type}")  # fmt: skip
        if known.solution:
            new = _fresh(known.cell_type, body, known.metadata)
            if known.cell_type == "code":
                result.student_code.append((f"answer cell '{grade_id}'", body))
        else:
            new = _restored(known, originals)
            if body not in (known.source, originals.get(grade_id)) and cell_type == known.cell_type:
                result.note(known.exercise, f"read-only cell '{grade_id}' was edited "
                                            "(graded with the original)")  # fmt: skip
        placed[grade_id] = new
        out.append(new)

    last = -1  # where the previous released cell stands in ``out``
    for cell in released_cells:
        if cell.grade_id in placed:
            last = next(i for i, c in enumerate(out) if c is placed[cell.grade_id])
            continue
        if cell.is_test and unknown_tests:
            result.renamed[cell.grade_id] = unknown_tests.pop(0)
            result.note(cell.exercise, f"test cell '{cell.grade_id}' is missing: its grade_id "
                        f"was changed to '{result.renamed[cell.grade_id]}' (0 points)")  # fmt: skip
            continue
        if cell.is_test:
            note = f"test cell '{cell.grade_id}' was deleted (put back and graded)"
        elif cell.solution:
            note = f"answer cell '{cell.grade_id}' was deleted (put back as released)"
        else:
            note = f"read-only cell '{cell.grade_id}' was deleted (put back)"
        result.note(cell.exercise, note)
        new = _restored(cell, originals)
        placed[cell.grade_id] = new
        last += 1
        out.insert(last, new)

    for index, cell in enumerate(out):
        cell["id"] = f"cell-{index}"
    result.notebook = {
        "cells": out,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return result
