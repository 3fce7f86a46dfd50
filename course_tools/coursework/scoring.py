"""Score an executed submission: one :class:`.records.GradeRow` per graded cell.

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

This module computes the per-notebook context once (:func:`run_context`) and applies the
rules of :mod:`.rules` to each graded cell (:func:`score_rows`); it never changes its
inputs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..notebooks.cells import (
    EXERCISES_SUFFIX,
    Cell,
    exercise_at_each,
    first_error,
    nbgrader_metadata,
)
from .protocol import CRASH, RunResult
from .records import GradeRow, Status
from .rules import At, Run, outcome
from .submissions import Prepared

__all__ = [
    "error_rows",
    "missing_message",
    "run_context",
    "score_rows",
]


def error_rows(
    student: str, chapter: str, cells: list[Cell], status: str, message: str, review: str = ""
) -> list[GradeRow]:
    """The same outcome for every graded cell: ``missing`` (0 points) or ``error``."""
    score = 0.0 if status == Status.MISSING else None
    return [
        GradeRow(student, chapter, c.exercise, c.grade_id, c.kind, score, c.points, status,
                 message, review)
        for c in cells if c.graded
    ]  # fmt: skip


def missing_message(chapter: str) -> str:
    """The message of the rows of a chapter a student did not hand in."""
    return f"no {chapter}{EXERCISES_SUFFIX} in the student's folder"


# --- the context, computed once per notebook ------------------------------------------------


def _timeouts(
    cells: list[dict[str, Any]], exercises: list[str], result: RunResult
) -> tuple[tuple[int, str, str], ...]:
    """``(index, exercise, what)`` for each interrupted cell that is not a test cell, e.g.
    ``(5, "Exercise 2", "answer cell 'ex2_mean' timed out after 15 s of CPU time")``;
    ``exercise`` is "" for one that concerns every test after it (a set-up cell, a cell
    above the first exercise)."""
    found = []
    for timed in result.timed_out:
        index = timed.cell
        if not 0 <= index < len(cells):
            continue
        meta = nbgrader_metadata(cells[index])
        if meta.get("grade") and not meta.get("solution"):
            continue  # a test cell: its own row says it timed out
        grade_id = meta.get("grade_id")
        name = f"'{grade_id}'" if grade_id else f"{index + 1}"
        kind = "answer cell" if meta.get("solution") else "read-only cell" if meta else "cell"
        exercise = "" if kind == "read-only cell" else exercises[index]
        found.append((index, exercise, f"{kind} {name} {timed.words}"))
    return tuple(found)


def run_context(released: list[Cell], prepared: Prepared, result: RunResult, memory_mb: int) -> Run:
    """The :class:`Run` of an executed submission (``result.notebook`` must be there)."""
    if result.notebook is None:
        raise ValueError(f"result must hold an executed notebook, got none ({result.failure})")
    cells = result.notebook["cells"]
    exercises = exercise_at_each(cells)
    where = {nbgrader_metadata(c).get("grade_id"): i for i, c in enumerate(cells)}
    answer_errors = {}
    for cell in released:
        index = where.get(cell.grade_id)
        if cell.solution and cell.cell_type == "code" and index is not None:
            error = first_error(cells[index])
            if error:
                answer_errors[cell.exercise] = f"answer cell '{cell.grade_id}' raised {error}"
    notes = {exercise: list(values) for exercise, values in prepared.notes.items()}
    run = Run(cells, where, exercises, len(cells), None, "", answer_errors,
              _timeouts(cells, exercises, result), tuple(result.cut), {}, frozenset(),
              memory_mb)  # fmt: skip
    for index in run.cut:
        if not nbgrader_metadata(cells[index]).get("grade"):
            cut_note = f"the output of {run.name(index)} was cut (too long)"
            notes.setdefault(exercises[index], []).append(cut_note)
    stopped = result.stopped
    why = ""
    if stopped and stopped.reason == CRASH:
        place = run.label(stopped.cell)
        why = f"the kernel died in {place} (os._exit, a crash or the memory limit)"
    elif stopped:
        why = f"{stopped.message} (at {run.label(stopped.cell)})"
    return replace(
        run,
        stop_at=stopped.cell if stopped else len(cells),
        reason=stopped.reason if stopped else None,
        why=why,
        notes={exercise: tuple(values) for exercise, values in notes.items()},
        renamed=frozenset(prepared.renamed),
    )


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
    the student's code, to which an interrupted answer adds its own. ``prepared`` is read,
    never changed.

    Raises:
        ValueError: a result without an executed notebook.
    """
    run = run_context(released, prepared, result, memory_mb)
    interrupted = [f"{what} (interrupted)" for _, _, what in run.timeouts]
    review = "; ".join(filter(None, [review, *interrupted]))
    rows = []
    for cell in (c for c in released if c.graded):
        found = outcome(At(cell, run.where.get(cell.grade_id), run))
        rows.append(
            GradeRow(student, chapter, cell.exercise, cell.grade_id, cell.kind, found.score,
                     cell.points, found.status, found.message, review)
        )  # fmt: skip
    return rows
