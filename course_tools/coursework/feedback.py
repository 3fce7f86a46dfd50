"""The HTML feedback page of a student's chapter (:mod:`.outputs` writes it to a file).

The feedback page of a student's chapter shows each exercise's score and message, then the
graded notebook (the student's answers, the test cells and their outputs), self-contained
and offline. Hidden tests are the instructor's: they are cut out of every test cell and
every line of output that quotes one (a failing hidden ``assert`` shows in its traceback)
is replaced, which nbgrader's own feedback does not do.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from ..notebooks.cells import HIDDEN_BEGIN, HIDDEN_END, HIDDEN_NOTE, strip_hidden_tests, text
from .records import GradeRow

__all__ = [
    "HIDDEN_NOTE",
    "feedback_page",
    "strip_hidden",
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
