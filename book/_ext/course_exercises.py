"""Sphinx extension: show nbgrader exercises notebooks the way a reader needs them.

The exercises notebooks are the instructor's source (solutions and hidden tests inside, in
nbgrader's cell format). On the website:

- a code solution cell gets the ``hide-input`` tag: its code sits behind a toggle, collapsed
  on load, and nbgrader's ``### BEGIN/END SOLUTION`` markers are dropped;
- a written (markdown) solution is wrapped in a collapsed "Solution" dropdown;
- the hidden tests of an autograded cell (between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS``) are left out of the page.

It rewrites the notebook JSON on Sphinx's ``source-read`` event, before MyST-NB parses it;
the files on disk are untouched.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sphinx.application import Sphinx

SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
HIDDEN_TESTS = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.MULTILINE | re.DOTALL
)
HIDDEN_NOTE = "# (hidden tests run when the exercise is graded)\n"


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def transform_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """Return the cell as the website shows it (see the module docstring)."""
    meta = cell.get("metadata", {}).get("nbgrader")
    if not meta:
        return cell
    source = _source(cell)
    if cell.get("cell_type") == "code" and meta.get("solution"):
        cell["source"] = SOLUTION_MARKER.sub("", source)
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "hide-input" not in tags:
            tags.append("hide-input")
    elif cell.get("cell_type") == "code" and meta.get("grade"):
        cell["source"] = HIDDEN_TESTS.sub(HIDDEN_NOTE, source)
    elif cell.get("cell_type") == "markdown" and meta.get("solution"):
        fence = ":" * max(
            3, max((len(m) for m in re.findall(r"^:{3,}", source, re.M)), default=0) + 1
        )
        cell["source"] = f"{fence}{{admonition}} Solution\n:class: dropdown\n\n{source}\n{fence}\n"
    return cell


def transform_notebook(text: str) -> str:
    """Apply :func:`transform_cell` to every cell of a notebook given as JSON text."""
    notebook = json.loads(text)
    notebook["cells"] = [transform_cell(cell) for cell in notebook.get("cells", [])]
    return json.dumps(notebook)


def _on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    if str(app.env.doc2path(docname)).endswith(".ipynb") and '"nbgrader"' in source[0]:
        source[0] = transform_notebook(source[0])


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("source-read", _on_source_read)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
