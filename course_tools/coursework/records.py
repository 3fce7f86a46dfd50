"""The records a grading run passes around: a row of grades, its status, a chapter.

A :class:`GradeRow` is one line of ``grades.csv`` (:data:`CSV_FIELDS` in column order); its
``status`` is a :class:`Status`. A :class:`ChapterInfo` is what the outputs need to know of
a graded chapter. These are data only: :mod:`.scoring` makes rows, :mod:`.outputs` writes
and reads them, :mod:`.results` keeps them together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

__all__ = [
    "ANSWER_TIMED_OUT",
    "CSV_FIELDS",
    "ChapterInfo",
    "GradeRow",
    "Key",
    "Status",
    "row_order",
]

#: A (student, chapter) pair.
Key = tuple[str, str]


class Status(str, Enum):
    """The outcome of a graded cell, as the ``status`` column writes it."""

    PASSED = "passed"
    PARTIAL = "partial"
    FAILED = "failed"
    #: a test that scored after an answer of its exercise was interrupted at its time-out
    ANSWER_TIMED_OUT = "answer timed out"
    NEEDS_MANUAL_GRADING = "needs manual grading"
    NO_ANSWER = "no answer"
    MISSING = "missing"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


#: The status of a test that scored after an answer of its exercise timed out.
ANSWER_TIMED_OUT = Status.ANSWER_TIMED_OUT


@dataclass(frozen=True)
class GradeRow:
    """One CSV row: a student's result on one graded cell of one chapter.

    ``kind`` is ``"code"`` (an autograded test cell) or ``"written"`` (a markdown answer
    graded by hand); ``score`` is ``None`` (an empty CSV field) where no score is known
    yet. ``status`` is a :class:`Status` (a string of one is made one): ``passed``,
    ``partial``, ``failed``, ``answer timed out`` (code: scored, but an answer before it was
    interrupted at its time-out), ``no answer``, ``needs manual grading`` (written),
    ``missing`` (no notebook submitted: 0 points) or ``error`` (the submission could not be
    graded; ``message`` says why). ``review`` names what in the student's code deserves a
    look (see :mod:`.flags`), "" if nothing.

    Raises:
        ValueError: a status that is not one of :class:`Status`.
    """

    student: str
    chapter: str
    exercise: str
    grade_id: str
    kind: str
    score: float | None
    max_score: float | None
    status: Status
    message: str
    review: str = ""

    def __post_init__(self) -> None:
        try:
            status = Status(self.status)
        except ValueError:
            choices = ", ".join(repr(s.value) for s in Status)
            raise ValueError(f"status must be one of {choices}, got {self.status!r}") from None
        object.__setattr__(self, "status", status)


#: The CSV header, in column order.
CSV_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(GradeRow))


@dataclass(frozen=True)
class ChapterInfo:
    """What the outputs need to know of a chapter: its graded cells in order, which of
    them hold hidden tests, and the hidden lines (cut from what students see)."""

    cells: tuple[str, ...]
    hidden_tests: tuple[str, ...]
    hidden_lines: tuple[str, ...]


def row_order(chapters: Mapping[str, ChapterInfo]) -> Callable[[GradeRow], Any]:
    """The sort key of rows: student, then chapter ("" first), then the cells' order."""
    order = {(c, g): i for c, info in chapters.items() for i, g in enumerate(info.cells)}
    return lambda r: (r.student, r.chapter != "", r.chapter, order.get((r.chapter, r.grade_id), -1))
