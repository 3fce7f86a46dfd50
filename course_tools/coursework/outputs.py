"""Every file a grading run writes or reads back, in one place.

- ``grades.csv``: one row per student and graded cell (:func:`write_grades_csv`, read back
  for a regrade by :func:`read_grades_csv`);
- the summary, ``grades-by-student.csv``: one row per student, one column per chapter and a
  ``total`` (:func:`write_summary_csv`);
- the feedback pages, ``DIR/<student>/<chapter>_feedback.html`` (:func:`write_pages`; the
  page itself is rendered by :mod:`.feedback`);
- the executed notebooks, ``WORKDIR/graded/<student>/<chapter>_exercises.ipynb``
  (:func:`write_graded_notebook`; ``grade --workdir`` keeps them);
- Gradescope's ``DIR/<student>/results.json`` (:func:`write_gradescope`; the document is
  built by :mod:`.gradescope`).

:func:`write` writes all of a run's :class:`.results.Results`. The partial results of a
shard are :meth:`.results.Results.save_partial`'s.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import astuple
from pathlib import Path
from typing import Any

from ..notebooks.cells import EXERCISES_SUFFIX
from .errors import CourseworkError
from .gradescope import gradescope_results
from .records import CSV_FIELDS, GradeRow, Key
from .results import Results

__all__ = [
    "read_grades_csv",
    "write",
    "write_graded_notebook",
    "write_grades_csv",
    "write_gradescope",
    "write_pages",
    "write_summary_csv",
]


def _format(value: Any) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def write_grades_csv(rows: Sequence[GradeRow], path: str | Path) -> Path:
    """Write ``rows`` as CSV (header :data:`CSV_FIELDS`; an unknown score is an empty field)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        writer.writerows([_format(value) for value in astuple(row)] for row in rows)
    return path


def _number(value: str) -> float | None:
    return None if value == "" else float(value)


def read_grades_csv(path: str | Path) -> list[GradeRow]:
    """The rows of a ``grades.csv`` this tool wrote (to update it with a regrade).

    Raises:
        CourseworkError: not such a CSV file (another header, a short row, a status or a
            score that is not one).
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            table = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CourseworkError(f"cannot read the grades '{path}' to update: {error}") from error
    if not table or tuple(table[0]) != CSV_FIELDS:
        raise CourseworkError(
            f"'{path}' is not a grades CSV of this tool: expected the header {','.join(CSV_FIELDS)}"
        )
    rows = []
    for number, values in enumerate(table[1:], start=2):
        if len(values) != len(CSV_FIELDS):
            raise CourseworkError(
                f"'{path}' line {number} has {len(values)} fields: expected {len(CSV_FIELDS)}"
            )
        student, chapter, exercise, grade_id, kind, score, max_score, *rest = values
        try:
            rows.append(
                GradeRow(student, chapter, exercise, grade_id, kind, _number(score),
                         _number(max_score), *rest)
            )  # fmt: skip
        except ValueError as error:
            raise CourseworkError(f"'{path}' line {number}: {error}") from error
    return rows


def write_summary_csv(rows: Sequence[GradeRow], path: str | Path) -> Path:
    """One row per student, one column per chapter (points scored so far) and ``total``.

    Written answers not yet graded by hand count 0 here; the header row is
    ``student, <chapter>..., total``, the layout a spreadsheet or an LMS import takes.
    """
    chapters = sorted({r.chapter for r in rows if r.chapter and r.grade_id})
    students = sorted({r.student for r in rows if r.chapter in chapters and r.grade_id})
    points = {(s, c): 0.0 for s in students for c in chapters}
    for row in rows:
        if row.grade_id and row.chapter in chapters and row.score is not None:
            points[row.student, row.chapter] += row.score
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *chapters, "total"])
        for student in students:
            scores = [points[student, c] for c in chapters]
            writer.writerow([student, *map(_format, scores), _format(sum(scores))])
    return path


def write_pages(
    pages: dict[Key, str], folder: str | Path, students: Sequence[str] = ()
) -> list[Path]:
    """Write each (student, chapter) page as ``folder/<student>/<chapter>_feedback.html``,
    after removing the old pages of ``students`` (those the run covers: a regrade replaces
    their pages and touches nobody else's)."""
    folder = Path(folder)
    for student in students:
        for old in sorted((folder / student).glob("*_feedback.html")):
            old.unlink()
    written = []
    for (student, chapter), page in sorted(pages.items()):
        path = folder / student / f"{chapter}_feedback.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
        written.append(path)
    return written


def write_graded_notebook(notebook: dict[str, Any], folder: str | Path, key: Key) -> Path:
    """Write an executed notebook as ``folder/<student>/<chapter>_exercises.ipynb`` (for the
    instructor only: its hidden tests are in it)."""
    student, chapter = key
    path = Path(folder) / student / f"{chapter}{EXERCISES_SUFFIX}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def write_gradescope(
    results: Results, folder: str | Path, hidden_visibility: str = "after_published"
) -> list[Path]:
    """Write ``folder/<student>/results.json`` for every student the results cover."""
    written = []
    students = sorted(
        {row.student for row in results.rows if row.kind == "code"} & set(results.students)
    )
    for student in students:
        document = gradescope_results(student, results, hidden_visibility)
        path = Path(folder) / student / "results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    return written


def write(
    results: Results,
    out: str | Path,
    summary: str | Path | None = None,
    feedback_dir: str | Path | None = None,
    gradescope_dir: str | Path | None = None,
    gradescope_hidden: str = "after_published",
) -> tuple[Path, Path]:
    """Write ``grades.csv`` (``out``), the per-student summary (default
    ``<out>-by-student.csv``), and if asked the feedback pages and Gradescope files of
    every student these results cover (their old pages removed first)."""
    out = Path(out)
    summary = Path(summary) if summary else out.with_name(f"{out.stem}-by-student.csv")
    write_grades_csv(results.rows, out)
    write_summary_csv(results.rows, summary)
    if feedback_dir is not None:
        write_pages(results.pages, feedback_dir, results.students)
    if gradescope_dir is not None:
        write_gradescope(results, gradescope_dir, gradescope_hidden)
    return out, summary
