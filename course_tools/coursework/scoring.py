"""Score an executed submission: one :class:`GradeRow` per graded cell.

The rules (the instructors' page states them):

- a test cell earns its points when it runs without an error; what it writes to stderr
  (warnings) costs nothing and is recorded in the message;
- a cell that used more than its CPU time (or waited past its wall-clock backstop) fails
  with "timed out after N s of CPU time" ("... of waiting (wall clock)");
- when the kernel dies, the cells that ran before keep their scores, and the cells after
  score 0 with a message that names the crash and the cell;
- an answer cell (or a cell the student added) that ran past its time and was interrupted
  is told on the rows of its exercise's tests that ran after it: a test that failed says so
  in its message, one that scored keeps its score with the status ``answer timed out``;
  the submission is flagged for review;
- a test cell whose ``grade_id`` was changed counts as missing: 0 points;
- written answers are left for a human (``needs manual grading``), or score 0 if unchanged.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from typing import Any

from ..notebooks.cells import (
    EXERCISES_SUFFIX,
    Cell,
    first_error,
    nbgrader_cells,
    nbgrader_metadata,
    shorten,
    text,
)
from .protocol import CRASH, DEADLINE, RunResult
from .submissions import Prepared

__all__ = [
    "ANSWER_TIMED_OUT",
    "CSV_FIELDS",
    "GradeRow",
    "error_rows",
    "first_error",
    "missing_message",
    "score_rows",
]

#: The status of a test that scored after an answer of its exercise timed out.
ANSWER_TIMED_OUT = "answer timed out"


@dataclass(frozen=True)
class GradeRow:
    """One CSV row: a student's result on one graded cell of one chapter.

    ``kind`` is ``"code"`` (an autograded test cell) or ``"written"`` (a markdown answer
    graded by hand); ``score`` is ``None`` (an empty CSV field) where no score is known
    yet. ``status`` is one of ``passed``, ``partial``, ``failed``, ``answer timed out``
    (code: scored, but an answer before it was interrupted at its time-out), ``no answer``,
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


def _warnings(cell: dict[str, Any]) -> str:
    parts = [
        text(o.get("text", "")) for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    ]  # fmt: skip
    return shorten("".join(parts)) if parts else ""


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


def _exercise(executed: list[dict[str, Any]], index: int) -> str:
    """The exercise heading above cell ``index`` ("" if none)."""
    exercise = ""
    for cell in nbgrader_cells({"cells": executed[: index + 1]}):
        exercise = cell.exercise
    return exercise


def _name(executed: list[dict[str, Any]], index: int) -> str:
    """``cell '<grade_id>'``, or ``cell <number>`` for a cell without one."""
    grade_id = nbgrader_metadata(executed[index]).get("grade_id")
    return f"cell '{grade_id}'" if grade_id else f"cell {index + 1}"


def _label(executed: list[dict[str, Any]], index: int) -> str:
    """How a message names cell ``index``: its grade_id, or its number, and its exercise."""
    exercise = _exercise(executed, index)
    name = _name(executed, index)
    return f"{name} ({exercise})" if exercise else name


def _timeouts(executed: list[dict[str, Any]], result: RunResult) -> list[tuple[int, str, str]]:
    """``(index, exercise, what)`` for each interrupted cell that is not a test cell, e.g.
    ``(5, "Exercise 2", "answer cell 'ex2_mean' timed out after 15 s of CPU time")``;
    ``exercise`` is
    "" for one that concerns every test after it (a set-up cell, a cell above the first
    exercise)."""
    found = []
    for timed in result.timed_out:
        index = timed.cell
        if not 0 <= index < len(executed):
            continue
        meta = nbgrader_metadata(executed[index])
        if meta.get("grade") and not meta.get("solution"):
            continue  # a test cell: its own row says it timed out
        name = _name(executed, index)
        kind = "answer cell" if meta.get("solution") else "read-only cell" if meta else "cell"
        what = f"{kind} {name.removeprefix('cell ')} {timed.words}"
        exercise = "" if kind == "read-only cell" else _exercise(executed, index)
        found.append((index, exercise, what))
    return found


def score_rows(
    student: str,
    chapter: str,
    released: list[Cell],
    prepared: Prepared,
    result: RunResult,
    review: str,
    memory_mb: int,
) -> list[GradeRow]:
    """One row per graded cell of ``released`` for an executed submission.

    ``result`` is the sandboxed run (its notebook must be there); ``review`` the flags of
    the student's code, to which an interrupted answer adds its own.
    """
    assert result.notebook is not None
    cells = result.notebook["cells"]
    stopped, cut = result.stopped, result.cut
    timeouts = _timeouts(cells, result)
    interrupted = [f"{what} (interrupted)" for _, _, what in timeouts]
    review = "; ".join(filter(None, [review, *interrupted]))
    where = {nbgrader_metadata(c).get("grade_id"): i for i, c in enumerate(cells)}
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
        if not nbgrader_metadata(cells[index]).get("grade"):
            prepared.note(exercise, note)
    stop_at = stopped.cell if stopped else len(cells)
    reason = stopped.reason if stopped else None
    if reason == CRASH:
        why = f"the kernel died in {_label(cells, stop_at)} (os._exit, a crash or the memory limit)"
    elif stopped:
        why = f"{stopped.message} (at {_label(cells, stop_at)})"
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
        elif index > stop_at or (index == stop_at and reason == DEADLINE):
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
            before = [w for i, e, w in timeouts if i < index and e in ("", cell.exercise)]
            if before and status != "failed":
                status = ANSWER_TIMED_OUT
                told = f"{before[0]} and was interrupted: this test ran after it (score kept)"
                message = "; ".join(filter(None, [told, message]))
            elif before and cell.exercise not in answer_error:
                message = "; ".join(filter(None, [f"{before[0]} and was interrupted", message]))
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
