"""Execute notebooks in place, so their stored outputs are what the code produces now.

    python tools/run_notebooks.py book/foundations/calculus.ipynb [more.ipynb ...]
    python tools/run_notebooks.py --all
    python tools/run_notebooks.py --tags-only --all     # only (re)tag figure cells

Runs each notebook top to bottom in a fresh kernel from its own folder, with the same
environment the test suite gives nbval (no progress bars, fixed hash seed), and writes
outputs and execution counts back into the file. A code cell whose only outputs are figures
gets the ``hide-input`` tag, so the site shows the figure with its code one click away.
Prints each notebook's run time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat

from course_tools.notebooks.execute import execute, tag_figure_cells

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every notebook under book/")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument(
        "--tags-only", action="store_true", help="only tag figure cells, execute nothing"
    )
    args = parser.parse_args()
    paths = sorted((ROOT / "book").rglob("*.ipynb")) if args.all else args.notebooks
    paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
    if not paths:
        parser.error("give notebooks or --all")
    if args.tags_only:
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            if tagged := tag_figure_cells(nb):
                nbformat.write(nb, path)
            print(f"{tagged:3d} figure cell(s) tagged  {path}")
        return 0
    for path in paths:
        print(f"{execute(path, args.timeout):6.1f} s  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
