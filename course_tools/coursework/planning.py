"""The first two steps of grading a class: what there is to grade, and what this run grades.

1. :func:`collect` reads the students' folders: who handed in which chapter, and what in a
   folder is not a submission;
2. :func:`make_plan` releases each chapter with nbgrader to learn its cells, reads and
   checks each submission, restores the instructor's test cells (:func:`.submissions.prepare`)
   and flags suspicious code (:mod:`.flags`); it picks the (student, chapter) pairs this
   run grades (every pair, the students asked for, or one shard of them:
   :func:`.results.select_pairs`).

Nothing here runs student code: :mod:`.grading` runs and scores the :class:`Plan`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, astuple, dataclass
from pathlib import Path
from typing import Any

from ..notebooks.cells import (
    EXERCISES_SUFFIX,
    HIDDEN_BEGIN,
    Cell,
    hidden_lines,
    nbgrader_cells,
    text,
)
from .chapters import default_book, find_chapters
from .errors import CourseworkError
from .flags import review
from .limits import Limits
from .records import ChapterInfo, GradeRow, Key, Status
from .results import Shard, select_pairs
from .scoring import error_rows, missing_message
from .submissions import STUDENT_ID, Prepared, prepare, read_submission, scan_student

__all__ = ["Collected", "Plan", "Task", "collect", "make_plan"]

log = logging.getLogger("course_tools.coursework")


# --- 1. collect ---------------------------------------------------------------------------


@dataclass
class Collected:
    """The students' folders as found: ``submitted`` maps (student, chapter) to the notebook;
    ``problems`` are the rows of what is not a submission (a stray file, a bad folder name);
    ``chapters`` every chapter somebody handed in, sorted."""

    submissions_dir: Path
    book: Path
    available: dict[str, Path]
    folders: list[str]
    submitted: dict[Key, Path]
    problems: list[GradeRow]
    chapters: list[str]

    @property
    def students(self) -> list[str]:
        """The folders whose name is a student id, sorted."""
        return [name for name in self.folders if STUDENT_ID.fullmatch(name)]


def collect(submissions_dir: str | Path, book_dir: str | Path | None = None) -> Collected:
    """Read ``submissions_dir`` (one sub-folder per student) and the book's chapters.

    Raises:
        CourseworkError: a missing folder, no student folder, or no chapter in the book.
    """
    submissions_dir = Path(submissions_dir)
    if not submissions_dir.is_dir():
        raise CourseworkError(
            f"submissions folder '{submissions_dir}' does not exist: expected a folder with "
            f"one sub-folder per student, holding <chapter>{EXERCISES_SUFFIX}"
        )
    folders = sorted(
        p for p in submissions_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if not folders:
        raise CourseworkError(
            f"no student folders in '{submissions_dir}': expected "
            f"{submissions_dir}/<student_id>/<chapter>{EXERCISES_SUFFIX}"
        )
    book = Path(book_dir) if book_dir is not None else default_book()
    available = find_chapters(book)
    if not available:
        raise CourseworkError(
            f"no exercises notebooks (*{EXERCISES_SUFFIX}) found under '{book}': "
            "expected the source notebooks of the chapters to grade (see --book)"
        )
    problems: list[GradeRow] = []
    submitted: dict[Key, Path] = {}
    for folder in folders:
        for chapter, problem in scan_student(folder, available, submitted):
            problems.append(
                GradeRow(folder.name, chapter, "", "", "", None, None, Status.ERROR, problem)
            )
    chapters = sorted({chapter for _, chapter in submitted})
    return Collected(submissions_dir, book, available, [f.name for f in folders], submitted,
                     problems, chapters)  # fmt: skip


# --- 2. plan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One notebook to run: the prepared submission and its review flags."""

    prepared: Prepared
    flags: str


@dataclass
class Plan:
    """What this run grades.

    ``pairs``: the (student, chapter) pairs it owns, sorted; ``tasks``: those with a
    notebook to run; ``fixed``: rows known without running anything (a missing or
    unreadable notebook, what is not a submission); ``students``: whom the results cover;
    ``fingerprint``: a digest of the whole class (every submission, the chapters' sources,
    the limits, the sandbox), the same for every shard of one class.
    """

    chapters: dict[str, ChapterInfo]
    cells: dict[str, list[Cell]]
    hidden: dict[str, set[str]]
    pairs: list[Key]
    tasks: dict[Key, Task]
    fixed: list[GradeRow]
    students: tuple[str, ...]
    fingerprint: str


def _fingerprint(collected: Collected, limits: Limits, isolated: bool) -> str:
    digest = hashlib.sha256()
    document = {
        "submitted": sorted(
            [s, c, hashlib.sha256(p.read_bytes()).hexdigest()]
            for (s, c), p in collected.submitted.items()
        ),
        "students": collected.folders,
        "problems": [list(astuple(row)) for row in collected.problems],
        "sources": {
            c: hashlib.sha256(collected.available[c].read_bytes()).hexdigest()
            for c in collected.chapters
        },
        "limits": asdict(limits),
        "isolated": isolated,
    }
    digest.update(json.dumps(document, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def _chapter_info(cells: list[Cell], source: dict[str, Any]) -> ChapterInfo:
    hidden_tests = [
        c.grade_id for c in nbgrader_cells(source) if c.is_test and HIDDEN_BEGIN in text(c.source)
    ]
    return ChapterInfo(
        cells=tuple(c.grade_id for c in cells if c.graded),
        hidden_tests=tuple(hidden_tests),
        hidden_lines=tuple(sorted(hidden_lines(source))),
    )


def make_plan(
    collected: Collected,
    release_dir: Path,
    *,
    limits: Limits,
    isolated: bool,
    students: Sequence[str] | None = None,
    shard: Shard | None = None,
) -> Plan:
    """Prepare every submission this run grades (see the module docstring).

    ``release_dir`` holds nbgrader's student copies (``<chapter>/<chapter>_exercises.ipynb``).
    The pairs are those :func:`.results.select_pairs` picks (a shard gets a share of every
    chapter), and the rows of what is not a submission go to shard 0.
    """
    released, sources, cells = {}, {}, {}
    for chapter in collected.chapters:
        name = f"{chapter}{EXERCISES_SUFFIX}"
        released[chapter] = json.loads((release_dir / chapter / name).read_text("utf-8"))
        sources[chapter] = json.loads(collected.available[chapter].read_text("utf-8"))
        cells[chapter] = nbgrader_cells(released[chapter])
    every_pair = [(s, c) for s in collected.students for c in collected.chapters]
    pairs = select_pairs(every_pair, students, shard)
    wanted = set(students) if students is not None else None
    fixed = [
        row for row in collected.problems
        if (wanted is None or row.student in wanted) and (shard is None or shard.index == 0)
    ]  # fmt: skip
    for row in fixed:
        log.warning("%s/: %s", row.student, row.message)

    tasks: dict[Key, Task] = {}
    for student, chapter in pairs:
        path = collected.submitted.get((student, chapter))
        if path is None:
            fixed += error_rows(student, chapter, cells[chapter], Status.MISSING,
                                missing_message(chapter))  # fmt: skip
            continue
        notebook, problem = read_submission(path)
        if notebook is None:
            log.warning("%s/%s: %s", student, path.name, problem)
            fixed += error_rows(student, chapter, cells[chapter], Status.ERROR, problem)
            continue
        prepared = prepare(notebook, released[chapter], sources[chapter])
        for values in prepared.notes.values():
            for note in values:
                log.warning("%s/%s: %s", student, path.name, note)
        flags = review(prepared.student_code)
        for flag in flags:
            log.warning("%s/%s: review: %s", student, path.name, flag)
        tasks[student, chapter] = Task(prepared, "; ".join(flags))
    covered = tuple(sorted(wanted)) if wanted is not None else tuple(collected.folders)
    return Plan(
        chapters={c: _chapter_info(cells[c], sources[c]) for c in collected.chapters},
        cells=cells,
        hidden={c: hidden_lines(sources[c]) for c in collected.chapters},
        pairs=pairs,
        tasks=tasks,
        fixed=fixed,
        students=covered,
        fingerprint=_fingerprint(collected, limits, isolated),
    )
