"""Find the book and its chapters' exercises notebooks.

The cells' format (nbgrader's metadata and markers) is :mod:`course_tools.notebooks.cells`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..notebooks.cells import EXERCISES_SUFFIX
from .errors import CourseworkError

__all__ = ["default_book", "find_chapters", "resolve_chapters"]


def default_book(start: str | Path | None = None) -> Path:
    """The book folder: ``book/`` in the current folder or the nearest folder above it
    that has one next to a ``_toc.yml``; else the current folder itself.

    The tool works from a course checkout (or a copy of its ``book/``), never from the
    folder it is installed in.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "book").is_dir() and (folder / "_toc.yml").is_file():
            return folder / "book"
    return here / "book" if (here / "book").is_dir() else here


def find_chapters(book_dir: str | Path) -> dict[str, Path]:
    """Every ``<chapter>_exercises.ipynb`` under ``book_dir``, as ``{chapter: path}``.

    Hidden folders (``.ipynb_checkpoints``) and build output (``_build``) are skipped.

    Raises:
        CourseworkError: if ``book_dir`` is not a folder, or two notebooks share a chapter.
    """
    book_dir = Path(book_dir)
    if not book_dir.is_dir():
        raise CourseworkError(
            f"book folder '{book_dir}' does not exist: expected a folder holding "
            f"<chapter>{EXERCISES_SUFFIX} notebooks (see --book)"
        )
    found: dict[str, Path] = {}
    for path in sorted(book_dir.rglob(f"*{EXERCISES_SUFFIX}")):
        parts = path.relative_to(book_dir).parts
        if any(p.startswith(".") or p == "_build" for p in parts) or not path.is_file():
            continue
        chapter = path.name[: -len(EXERCISES_SUFFIX)]
        if chapter in found:
            raise CourseworkError(
                f"chapter '{chapter}' is defined twice: {found[chapter]} and {path}; "
                "expected one exercises notebook per chapter name"
            )
        found[chapter] = path
    return found


def resolve_chapters(chapters: Sequence[str | Path] | None, book_dir: Path) -> dict[str, Path]:
    """``{chapter: source path}`` for chapter names or exercises-notebook paths (None: all).

    Raises:
        CourseworkError: an unknown chapter, a path that is not an exercises notebook, or
            no chapter at all.
    """
    wanted = list(chapters or [])
    by_path = [c for c in wanted if str(c).endswith(".ipynb")]
    by_name = [str(c) for c in wanted if not str(c).endswith(".ipynb")]
    available = find_chapters(book_dir) if by_name or not wanted else {}
    if not wanted:
        if not available:
            raise CourseworkError(
                f"no exercises notebooks (*{EXERCISES_SUFFIX}) found under '{book_dir}': "
                "expected at least one chapter to release"
            )
        return available
    resolved: dict[str, Path] = {}
    for name in by_name:
        if name not in available:
            choices = ", ".join(sorted(available)) or "(none found)"
            raise CourseworkError(
                f"unknown chapter '{name}': expected one of {choices} "
                f"(the <chapter> of a <chapter>{EXERCISES_SUFFIX} under '{book_dir}')"
            )
        resolved[name] = available[name]
    for item in by_path:
        path = Path(item)
        if not path.name.endswith(EXERCISES_SUFFIX) or not path.is_file():
            raise CourseworkError(
                f"'{path}' is not an exercises notebook: expected an existing file "
                f"named <chapter>{EXERCISES_SUFFIX}"
            )
        resolved[path.name[: -len(EXERCISES_SUFFIX)]] = path
    return resolved
