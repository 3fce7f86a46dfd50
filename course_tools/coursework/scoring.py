"""Score an executed submission: one :class:`GradeRow` per graded cell.

The rules (the instructors' page states them):

- a test cell earns its points when it runs without an error; what it writes to stderr
  (warnings) costs nothing and is recorded in the message;
- a cell that ran longer than its time fails with "timed out after N s";
- when the kernel dies, the cells that ran before keep their scores, and the cells after
  score 0 with a message that names the crash and the cell;
- a test cell whose ``grade_id`` was changed counts as missing: 0 points;
- written answers are left for a human (``needs manual grading``), or score 0 if unchanged.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from typing import Any

from .chapters import EXERCISES_SUFFIX, Cell, nbgrader_cells, text
from .submissions import Prepared

__all__ = ["CSV_FIELDS", "GradeRow", "error_rows", "first_error", "score_rows"]


@dataclass(frozen=True)
class GradeRow:
    """One CSV row: a student's result on one graded cell of one chapter.

    ``kind`` is ``"code"`` (an autograded test cell) or ``"written"`` (a markdown answer
    graded by hand); ``score`` is ``None`` (an empty CSV field) where no score is known
    yet. ``status`` is one of ``passed``, ``partial``, ``failed`` (code), ``no answer``,
    ``needs manual grading`` (written), ``missing`` (no notebook submitted: 0 points) or
    ``error`` (the submission could not be graded; ``message`` says why). ``review`` names
    what in the student's code deserves a look (see :mod:`.flags`), "" if nothing.
    """

    student: str
    chapter: str
    exercise: str
    grade_id: str
    kind: str
    score: float | None
    max_score: float | None
    status: str
    message: str
    review: str = ""


#: The CSV header, in column order.
CSV_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(GradeRow))
_MAX_MESSAGE = 300


def _short(value: str, limit: int = 200) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 3] + "..."


def first_error(cell: dict[str, Any]) -> str:
    """The first error of an executed cell, as ``Name: first line`` ("" if none)."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            value = str(output.get("evalue", "")).strip().splitlines()
            name = str(output.get("ename", "Error"))
            return f"{name}: {_short(value[0])}" if value else name
    return ""


def _warnings(cell: dict[str, Any]) -> str:
    parts = [
        text(o.get("text", "")) for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    ]  # fmt: skip
    return _short("".join(parts)) if parts else ""


def _grade(cell: dict[str, Any]) -> tuple[float | None, float]:
    """nbgrader's own scoring of an executed cell, with stderr outputs left out."""
    import nbformat
    from nbgrader.utils import determine_grade

    graded = copy.deepcopy(cell)
    graded["outputs"] = [
        o for o in graded.get("outputs", [])
        if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
    ] if graded.get("cell_type") == "code" else []  # fmt: skip
    if graded.get("cell_type") != "code":
        graded.pop("outputs", None)
    score, max_score = determine_grade(nbformat.from_dict(graded))
    return (None if score is None else float(score)), float(max_score)


def error_rows(
    student: str, chapter: str, cells: list[Cell], status: str, message: str, review: str = ""
) -> list[GradeRow]:
    """The same outcome for every graded cell: ``missing`` (0 points) or ``error``."""
    score = 0.0 if status == "missing" else None
    return [
        GradeRow(student, chapter, c.exercise, c.grade_id, c.kind, score, c.points, status,
                 message, review)
        for c in cells if c.graded
    ]  # fmt: skip


def _label(executed: list[dict[str, Any]], index: int) -> str:
    """How a message names cell ``index``: its grade_id, or its number, and its exercise."""
    grade_id = executed[index].get("metadata", {}).get("nbgrader", {}).get("grade_id")
    exercise = ""
    for cell in nbgrader_cells({"cells": executed[: index + 1]}):
        exercise = cell.exercise
    name = f"cell '{grade_id}'" if grade_id else f"cell {index + 1}"
    return f"{name} ({exercise})" if exercise else name


def score_rows(
    student: str,
    chapter: str,
    released: list[Cell],
    prepared: Prepared,
    executed: dict[str, Any],
    stopped: dict[str, Any] | None,
    cut: tuple[int, ...],
    review: str,
    memory_mb: int,
) -> list[GradeRow]:
    """One row per graded cell of ``released`` for an executed submission."""
    cells = executed["cells"]
    where = {
        c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(cells)
    }
    answer_error: dict[str, str] = {}
    for cell in released:
        index = where.get(cell.grade_id)
        if cell.solution and cell.cell_type == "code" and index is not None:
            error = first_error(cells[index])
            if error:
                answer_error[cell.exercise] = f"answer cell '{cell.grade_id}' raised {error}"
    for index in cut:
        label = _label(cells, index)
        exercise = label.rsplit(" (", 1)[1][:-1] if label.endswith(")") else ""
        note = f"the output of {label.split(' (')[0]} was cut (too long)"
        if not cells[index].get("metadata", {}).get("nbgrader", {}).get("grade"):
            prepared.note(exercise, note)
    stop_at = stopped.get("cell", len(cells)) if stopped else len(cells)
    reason = stopped.get("reason") if stopped else None
    if reason == "crash":
        why = f"the kernel died in {_label(cells, stop_at)} (os._exit, a crash or the memory limit)"
    elif stopped:
        why = f"{stopped.get('message', 'stopped')} (at {_label(cells, stop_at)})"
    else:
        why = ""
    rows = []
    for cell in (c for c in released if c.graded):
        index = where.get(cell.grade_id)
        notes = prepared.notes.get(cell.exercise, []) + (
            prepared.notes.get("", []) if cell.exercise else []
        )
        if cell.grade_id in prepared.renamed or index is None:
            score, status, message = 0.0, "failed", ""
        elif cell.cell_type != "code":
            score, _ = _grade(cells[index])
            status = "needs manual grading" if score is None else "no answer"
            message = (
                "written answer: grade it by hand"
                if score is None
                else "the answer cell was left as released"
            )
        elif index > stop_at or (index == stop_at and reason == "deadline"):
            score, status, message = 0.0, "failed", f"not run: {why}"
        elif index == stop_at:  # the kernel died or stopped answering in this cell
            score, status, message = 0.0, "failed", why
        else:
            score, _ = _grade(cells[index])
            score = 0.0 if score is None else score
            status = "passed" if score >= cell.points else "partial" if score > 0 else "failed"
            message = first_error(cells[index]) if status != "passed" else ""
            if message.startswith("MemoryError"):
                message += f" (the memory limit is {memory_mb} MB)"
            if status != "passed" and cell.exercise in answer_error:
                message = f"{answer_error[cell.exercise]}; {message}"
            warned = _warnings(cells[index])
            if warned:
                message = "; ".join(filter(None, [message, f"warnings on stderr (not "
                                                  f"counted): {warned}"]))  # fmt: skip
            if index in cut:
                message = "; ".join(filter(None, [message, "output cut (too long)"]))
        message = "; ".join(filter(None, [message, *notes]))
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        rows.append(
            GradeRow(student, chapter, cell.exercise, cell.grade_id, cell.kind, score,
                     cell.points, status, message, review)
        )  # fmt: skip
    return rows


def missing_message(chapter: str) -> str:
    return f"no {chapter}{EXERCISES_SUFFIX} in the student's folder"
