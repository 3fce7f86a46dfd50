"""Lock every cell of the exercises notebooks that nbgrader does not track yet.

    python tools/lock_exercise_cells.py            # every book/**/*_exercises.ipynb
    python tools/lock_exercise_cells.py PATH ...   # these notebooks
    python tools/lock_exercise_cells.py --check    # list unlocked cells, exit 1 if any

A cell without ``metadata.nbgrader`` (a title, a prompt, an explanation) can be edited by
students, and its text is then not restored when their notebook is graded. This script
gives each such cell nbgrader's read-only settings::

    {
        "grade": false,
        "grade_id": "<unique>",
        "locked": true,
        "schema_version": 3,
        "solution": false,
        "task": false,
    }

The ``grade_id`` is ``locked_<cell id>`` (``locked_<n>`` for a cell without an id), made
unique within the notebook. Cells that already carry nbgrader metadata are left alone, so
running the script again changes nothing. The notebook is written back in Jupyter's own
format (nbformat), outputs untouched.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from course_tools.notebooks.cells import EXERCISES_SUFFIX, nbgrader_metadata

ROOT = Path(__file__).resolve().parents[1]


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def unlocked(notebook: nbformat.NotebookNode) -> list[int]:
    """Indices of the cells without nbgrader metadata."""
    return [i for i, c in enumerate(notebook.cells) if not nbgrader_metadata(c)]


def lock(notebook: nbformat.NotebookNode) -> int:
    """Give every untracked cell nbgrader's read-only metadata; returns how many."""
    taken = {nbgrader_metadata(c).get("grade_id") for c in notebook.cells} - {None}
    indices = unlocked(notebook)
    for index in indices:
        cell = notebook.cells[index]
        suffix = re.sub(r"[^A-Za-z0-9_-]", "_", str(cell.get("id") or index))
        cell.metadata["nbgrader"] = {
            "grade": False,
            "grade_id": _unique(f"locked_{suffix}", taken),
            "locked": True,
            "schema_version": 3,
            "solution": False,
            "task": False,
        }
    return len(indices)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="default: every exercises notebook")
    parser.add_argument("--check", action="store_true", help="only list unlocked cells")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(
        p
        for p in (ROOT / "book").rglob(f"*{EXERCISES_SUFFIX}")
        if ".ipynb_checkpoints" not in p.parts
    )
    missing = 0
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        if args.check:
            for index in unlocked(notebook):
                print(f"{path}: cell {index + 1} has no nbgrader metadata")
                missing += 1
            continue
        count = lock(notebook)
        if count:
            nbformat.write(notebook, path)
        print(f"{path}: {count} cell(s) locked")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
