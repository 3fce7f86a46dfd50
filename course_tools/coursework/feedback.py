"""What grading writes: the grades CSV, the per-student totals CSV, and HTML feedback.

The feedback page of a student's chapter shows each exercise's score and message, then the
graded notebook (the student's answers, the test cells and their outputs), self-contained
and offline. Hidden tests are the instructor's: they are cut out of every test cell and
every line of output that quotes one (a failing hidden ``assert`` shows in its traceback)
is replaced, which nbgrader's own feedback does not do.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Sequence
from dataclasses import astuple
from pathlib import Path
from typing import Any

from ..notebooks.cells import HIDDEN_BEGIN, HIDDEN_END, HIDDEN_NOTE, strip_hidden_tests, text
from .scoring import CSV_FIELDS, GradeRow

__all__ = [
    "HIDDEN_NOTE",
    "feedback_page",
    "strip_hidden",
    "write_feedback",
    "write_grades_csv",
    "write_summary_csv",
]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .3rem .6rem; }
pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }
.out { background: #fff; border-left: 3px solid #ccc; } .err { border-left-color: #c33; }
.passed { color: #161; } .failed, .error { color: #a11; }
"""


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


def strip_hidden(source: str, hidden: set[str]) -> str:
    """``source`` without its hidden-test block, and without any line quoting a hidden test."""
    source = strip_hidden_tests(source)
    lines = source.splitlines(keepends=True)
    return "".join(
        "(a hidden test)\n"
        if HIDDEN_BEGIN in line
        or HIDDEN_END in line
        or any(h in line for h in hidden if len(h) >= 4)
        else line
        for line in lines
    )


def _outputs(cell: dict[str, Any], hidden: set[str]) -> list[str]:
    parts = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            body, css = text(output.get("text", "")), "out"
        elif kind == "error":
            trace = "\n".join(output.get("traceback", [])) or (
                f"{output.get('ename', '')}: {output.get('evalue', '')}"
            )
            body, css = _ANSI.sub("", trace), "out err"
        else:
            data = output.get("data", {})
            if "image/png" in data:
                png = text(data["image/png"]).replace("\n", "")
                parts.append(f'<img alt="figure" src="data:image/png;base64,{png}">')
                continue
            body, css = text(data.get("text/plain", "")), "out"
        parts.append(f'<pre class="{css}">{html.escape(strip_hidden(body, hidden))}</pre>')
    return parts


def feedback_page(notebook: dict[str, Any], rows: Sequence[GradeRow], hidden: set[str]) -> str:
    """The student's feedback page for one chapter, as HTML (see the module docstring)."""
    first = rows[0] if rows else None
    title = f"{first.chapter} — {first.student}" if first else "feedback"
    scored = sum(r.score or 0.0 for r in rows)
    possible = sum(r.max_score or 0.0 for r in rows)
    table = "".join(
        f"<tr><td>{html.escape(r.exercise)}</td><td>{html.escape(r.grade_id)}</td>"
        f"<td>{_format(r.score)} / {_format(r.max_score)}</td>"
        f'<td class="{html.escape(r.status)}">{html.escape(r.status)}</td>'
        f"<td>{html.escape(strip_hidden(r.message, hidden))}</td></tr>"
        for r in rows
    )
    body = []
    for cell in notebook.get("cells", []):
        source = strip_hidden(text(cell.get("source", "")), hidden)
        if cell.get("cell_type") == "code":
            body.append(f"<pre>{html.escape(source)}</pre>")
            body.extend(_outputs(cell, hidden))
        else:
            body.append(f"<div>{html.escape(source).replace(chr(10), '<br>')}</div>")
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>Score: {_format(scored)} / {_format(possible)}"
        " (written answers are graded by hand)</p>"
        "<table><tr><th>Exercise</th><th>Cell</th><th>Score</th><th>Status</th>"
        f"<th>Message</th></tr>{table}</table><h2>Your notebook, graded</h2>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    return page


def write_feedback(
    notebook: dict[str, Any], rows: Sequence[GradeRow], hidden: set[str], path: Path
) -> Path:
    """Write the student's feedback page for one chapter (:func:`feedback_page`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(feedback_page(notebook, rows, hidden), encoding="utf-8")
    return path
