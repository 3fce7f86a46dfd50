"""Sphinx extension: show nbgrader exercises notebooks the way a reader needs them.

The exercises notebooks are the instructor's source (solutions and hidden tests inside, in
nbgrader's cell format). On the website:

- a code solution cell gets the ``hide-input`` tag: its code sits behind a toggle labelled
  "Show solution" (not MyST-NB's "Show code cell source", the label of plotting code),
  collapsed on load, and nbgrader's ``### BEGIN/END SOLUTION`` markers are dropped;
- a written (markdown) solution is wrapped in a collapsed "Solution" dropdown;
- both open when the page is printed (``book/_static/course.js`` and ``course.css``);
- the hidden tests of an autograded cell (between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS``) are left out of the page;
- the page gets a link to download the **student copy** of the notebook, which the
  course's own release step (``course_tools.coursework.release``, nbgrader's
  ``generate_assignment``: solutions replaced, hidden tests removed, cells locked) writes
  into the site at build time, as ``_downloads/student/<chapter>_exercises.ipynb``.

It rewrites the notebook JSON on Sphinx's ``source-read`` event, before MyST-NB parses it;
the files on disk are untouched. (The theme's own download button stays off: it would
offer the instructor's source, hidden tests included.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

from course_tools.notebooks.cells import (
    EXERCISES_SUFFIX,
    SOLUTION_MARKER,
    nbgrader_metadata,
    strip_hidden_tests,
    text,
)

#: Where the student copies go, relative to the site's root.
DOWNLOADS = "_downloads/student"
#: The labels of a code solution's toggle (MyST-NB's cell-level ``code_prompt_*``), and the
#: title of a written solution's dropdown.
SHOW_SOLUTION = "Show solution"
HIDE_SOLUTION = "Hide solution"
SOLUTION_TITLE = "Solution"


def transform_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """Return the cell as the website shows it (see the module docstring)."""
    meta = nbgrader_metadata(cell)
    if not meta:
        return cell
    source = text(cell.get("source", ""))
    if cell.get("cell_type") == "code" and meta.get("solution"):
        cell["source"] = SOLUTION_MARKER.sub("", source)
        metadata = cell.setdefault("metadata", {})
        tags = metadata.setdefault("tags", [])
        if "hide-input" not in tags:
            tags.append("hide-input")
        mystnb = metadata.setdefault("mystnb", {})
        mystnb["code_prompt_show"] = SHOW_SOLUTION
        mystnb["code_prompt_hide"] = HIDE_SOLUTION
    elif cell.get("cell_type") == "code" and meta.get("grade"):
        cell["source"] = strip_hidden_tests(source)
    elif cell.get("cell_type") == "markdown" and meta.get("solution"):
        fence = ":" * max(
            3, max((len(m) for m in re.findall(r"^:{3,}", source, re.M)), default=0) + 1
        )
        cell["source"] = (
            f"{fence}{{admonition}} {SOLUTION_TITLE}\n:class: dropdown\n\n{source}\n{fence}\n"
        )
    return cell


def download_cell(docname: str) -> dict[str, Any]:
    """The markdown cell that links the page ``docname`` to its student copy."""
    name = docname.rsplit("/", 1)[-1] + ".ipynb"
    href = "../" * docname.count("/") + f"{DOWNLOADS}/{name}"
    link = (
        f'<p class="student-copy"><a href="{href}" download="{name}">'
        f"Download the student copy of these exercises ({name})</a>: solutions replaced "
        "by stubs, hidden tests removed. Open it in Jupyter with the course's environment "
        "(see the README).</p>"
    )
    return {
        "cell_type": "markdown",
        "id": "student-copy-link",
        "metadata": {},
        "source": link,
    }


def transform_notebook(text: str, docname: str | None = None) -> str:
    """Apply :func:`transform_cell` to every cell of a notebook given as JSON text, and,
    for an exercises page ``docname``, put the download link under its title."""
    notebook = json.loads(text)
    cells = [transform_cell(cell) for cell in notebook.get("cells", [])]
    if docname is not None and docname.endswith(EXERCISES_SUFFIX[: -len(".ipynb")]):
        cells.insert(1 if cells else 0, download_cell(docname))
    notebook["cells"] = cells
    return json.dumps(notebook)


def _on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    if str(app.env.doc2path(docname)).endswith(".ipynb") and '"nbgrader"' in source[0]:
        source[0] = transform_notebook(source[0], docname)


def release_student_copies(srcdir: Path, outdir: Path) -> list[Path]:
    """Write the student copy of every exercises notebook under ``srcdir/book`` to
    ``outdir/_downloads/student`` with the course's release step."""
    from course_tools.coursework import release

    return release(None, outdir / DOWNLOADS, book_dir=srcdir / "book")


def _on_builder_inited(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    try:
        release_student_copies(Path(app.srcdir), Path(app.outdir))
    except Exception as error:  # nbgrader missing or a source it rejects: say so, stop
        raise ExtensionError(
            f"could not release the student copies: {error}"
        ) from error


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", _on_builder_inited)
    app.connect("source-read", _on_source_read)
    return {"version": "1.1", "parallel_read_safe": True, "parallel_write_safe": True}
