"""course_tools.coursework.chapters: finding chapters and the book."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from course_tools.coursework import (
    EXERCISES_SUFFIX,
    CourseworkError,
    default_book,
    find_chapters,
)

ROOT = Path(__file__).resolve().parents[3]
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "coursework"
FIXTURE = FIXTURE_DIR / f"toy{EXERCISES_SUFFIX}"


def test_duplicate_chapter_is_an_error(tmp_path: Path) -> None:
    for part in ("a", "b"):
        (tmp_path / part).mkdir()
        shutil.copyfile(FIXTURE, tmp_path / part / FIXTURE.name)
    with pytest.raises(CourseworkError, match="chapter 'toy' is defined twice"):
        find_chapters(tmp_path)


def test_find_chapters_skips_checkpoints_and_build(tmp_path: Path) -> None:
    for folder in ("part", "part/.ipynb_checkpoints", "_build/jupyter_execute"):
        (tmp_path / folder).mkdir(parents=True)
        shutil.copyfile(FIXTURE, tmp_path / folder / FIXTURE.name)
    assert find_chapters(tmp_path) == {"toy": tmp_path / "part" / FIXTURE.name}


def test_default_book_is_found_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "book" / "part").mkdir(parents=True)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    monkeypatch.chdir(tmp_path / "book" / "part")
    assert default_book() == tmp_path / "book"
    monkeypatch.chdir(ROOT / "tests")
    assert default_book() == ROOT / "book"
