"""The scoring rules, each a small function over a per-cell context.

As nbgrader's autograder is a list of small preprocessors, a graded cell's row is decided
by rules: :class:`Run` is what they need of one executed notebook (computed once by
:func:`.scoring.run_context`), :class:`At` one graded cell in it. The first rule of
:data:`DECIDE` that answers gives the cell's :class:`Outcome` (score, status, message); each
rule of :data:`AMEND` then adds to it, in order. A rule reads its context and returns a new
outcome: nothing here runs a kernel or changes its inputs, so each rule is tested alone
with hand-made cells (``tests/course_tools/coursework/test_rules.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..notebooks.cells import Cell, first_error, nbgrader_metadata, shorten, text
from .protocol import DEADLINE
from .records import ANSWER_TIMED_OUT, Status

__all__ = [
    "AMEND",
    "DECIDE",
    "MAX_MESSAGE",
    "At",
    "Outcome",
    "Run",
    "answer_raised",
    "answer_timed_out",
    "memory_limit",
    "not_found",
    "not_run",
    "notes",
    "outcome",
    "output_cut",
    "ran",
    "shortened",
    "stderr_warnings",
    "stopped_here",
    "written",
]

#: The longest message a row keeps (longer ones end with "...").
MAX_MESSAGE = 300


def _join(*parts: str) -> str:
    return "; ".join(filter(None, parts))


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


@dataclass(frozen=True)
class Run:
    """What the rules need of one executed submission, computed once.

    ``cells``: the executed cells; ``where``: grade_id -> index; ``exercises``: each cell's
    exercise heading; ``stop_at``/``reason``/``why``: where the run stopped (``len(cells)``,
    None, "" if it did not) and the words for it; ``answer_errors``: exercise -> "answer
    cell '...' raised ..."; ``timeouts``: ``(index, exercise, what)`` of each interrupted
    cell that is not a test; ``cut``: cells whose output was cut; ``notes``: exercise ->
    what was repaired or cut; ``renamed``: test cells whose grade_id the student changed.
    """

    cells: list[dict[str, Any]]
    where: dict[str, int]
    exercises: list[str]
    stop_at: int
    reason: str | None
    why: str
    answer_errors: dict[str, str]
    timeouts: tuple[tuple[int, str, str], ...]
    cut: tuple[int, ...]
    notes: dict[str, tuple[str, ...]]
    renamed: frozenset[str]
    memory_mb: int

    def name(self, index: int) -> str:
        """``cell '<grade_id>'``, or ``cell <number>`` for a cell without one."""
        grade_id = nbgrader_metadata(self.cells[index]).get("grade_id")
        return f"cell '{grade_id}'" if grade_id else f"cell {index + 1}"

    def label(self, index: int) -> str:
        """How a message names cell ``index``: its name, and its exercise if any."""
        exercise = self.exercises[index]
        return f"{self.name(index)} ({exercise})" if exercise else self.name(index)


@dataclass(frozen=True)
class At:
    """The per-cell context: a graded cell of the released notebook, its index among the
    executed cells (None if it is not there), and the :class:`Run`."""

    cell: Cell
    index: int | None
    run: Run

    @property
    def executed(self) -> dict[str, Any]:
        assert self.index is not None
        return self.run.cells[self.index]


@dataclass(frozen=True)
class Outcome:
    """A cell's score, status and message; ``ran``: a test cell that ran to its end (the
    rules about its outputs and what ran before it apply)."""

    score: float | None
    status: Status
    message: str
    ran: bool = False


# --- the rules that decide a cell's outcome: the first that answers wins --------------------


def not_found(at: At) -> Outcome | None:
    """A test cell whose grade_id the student changed, or that is not in the notebook."""
    if at.cell.grade_id in at.run.renamed or at.index is None:
        return Outcome(0.0, Status.FAILED, "")
    return None


def written(at: At) -> Outcome | None:
    """A written answer: left for a human, or 0 points if left as released."""
    if at.cell.cell_type == "code":
        return None
    score, _ = _grade(at.executed)
    if score is None:
        return Outcome(None, Status.NEEDS_MANUAL_GRADING, "written answer: grade it by hand")
    return Outcome(score, Status.NO_ANSWER, "the answer cell was left as released")


def not_run(at: At) -> Outcome | None:
    """A test after the cell where the run stopped (or at it, when the notebook's time ran
    out before it): 0 points, and why."""
    assert at.index is not None
    run = at.run
    if at.index > run.stop_at or (at.index == run.stop_at and run.reason == DEADLINE):
        return Outcome(0.0, Status.FAILED, f"not run: {run.why}")
    return None


def stopped_here(at: At) -> Outcome | None:
    """The test in which the kernel died or stopped answering: 0 points, and why."""
    if at.index == at.run.stop_at:
        return Outcome(0.0, Status.FAILED, at.run.why)
    return None


def ran(at: At) -> Outcome:
    """A test that ran: nbgrader's score of it (stderr left out), and its first error."""
    score, _ = _grade(at.executed)
    score = 0.0 if score is None else score
    if score >= at.cell.points:
        return Outcome(score, Status.PASSED, "", ran=True)
    status = Status.PARTIAL if score > 0 else Status.FAILED
    return Outcome(score, status, first_error(at.executed), ran=True)


#: Tried in order; the first that returns an outcome gives the cell's.
DECIDE: tuple[Callable[[At], Outcome | None], ...] = (not_found, written, not_run, stopped_here,
                                                      ran)  # fmt: skip


# --- the rules that add to an outcome, in order -----------------------------------------------


def memory_limit(at: At, out: Outcome) -> Outcome:
    """A MemoryError names the limit."""
    if out.ran and out.message.startswith("MemoryError"):
        return replace(out, message=f"{out.message} (the memory limit is {at.run.memory_mb} MB)")
    return out


def answer_raised(at: At, out: Outcome) -> Outcome:
    """A test that did not pass after its exercise's answer cell raised says so first."""
    error = at.run.answer_errors.get(at.cell.exercise)
    if out.ran and out.status != Status.PASSED and error is not None:
        return replace(out, message=f"{error}; {out.message}")
    return out


def stderr_warnings(at: At, out: Outcome) -> Outcome:
    """What the test wrote to stderr costs nothing and is told."""
    warned = _warnings(at.executed) if out.ran else ""
    if warned:
        return replace(out, message=_join(out.message, f"warnings on stderr (not counted): "
                                                       f"{warned}"))  # fmt: skip
    return out


def output_cut(at: At, out: Outcome) -> Outcome:
    """A test whose output was cut says so."""
    if out.ran and at.index in at.run.cut:
        return replace(out, message=_join(out.message, "output cut (too long)"))
    return out


def answer_timed_out(at: At, out: Outcome) -> Outcome:
    """A test after an interrupted answer of its exercise (or an interrupted cell of no
    exercise): its score stands with the status ``answer timed out``, or its failure
    names the interruption (unless its answer raised, which is told already)."""
    if not out.ran or at.index is None:
        return out
    before = [w for i, e, w in at.run.timeouts
              if i < at.index and e in ("", at.cell.exercise)]  # fmt: skip
    if not before:
        return out
    if out.status != Status.FAILED:
        told = f"{before[0]} and was interrupted: this test ran after it (score kept)"
        return replace(out, status=ANSWER_TIMED_OUT, message=_join(told, out.message))
    if at.cell.exercise not in at.run.answer_errors:
        return replace(out, message=_join(f"{before[0]} and was interrupted", out.message))
    return out


def notes(at: At, out: Outcome) -> Outcome:
    """What was repaired or cut in the cell's exercise (and, for a cell of an exercise,
    above every exercise) ends the message."""
    found = at.run.notes.get(at.cell.exercise, ())
    if at.cell.exercise:
        found += at.run.notes.get("", ())
    return replace(out, message=_join(out.message, *found))


def shortened(at: At, out: Outcome) -> Outcome:
    """A message longer than :data:`MAX_MESSAGE` is cut, ending with "..."."""
    if len(out.message) > MAX_MESSAGE:
        return replace(out, message=out.message[: MAX_MESSAGE - 3] + "...")
    return out


#: Applied in order to every cell's outcome.
AMEND: tuple[Callable[[At, Outcome], Outcome], ...] = (
    memory_limit,
    answer_raised,
    stderr_warnings,
    output_cut,
    answer_timed_out,
    notes,
    shortened,
)


def outcome(at: At) -> Outcome:
    """The outcome of one graded cell: the first :data:`DECIDE` rule's, then :data:`AMEND`."""
    found = next(o for rule in DECIDE if (o := rule(at)) is not None)
    for rule in AMEND:
        found = rule(at, found)
    return found
