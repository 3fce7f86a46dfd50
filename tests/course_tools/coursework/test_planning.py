"""course_tools.coursework.planning: the steps before any sandbox, each called alone.

:func:`collect` reads the students' folders; :func:`make_plan` with no chapter handed in
releases nothing (it needs no nbgrader) and keeps only the rows of what is not a
submission. The full plan, with nbgrader's release, runs end to end in
``tests/test_coursework.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from course_tools.coursework import EXERCISES_SUFFIX, CourseworkError, Limits, Shard
from course_tools.coursework.planning import collect, make_plan

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "coursework" / f"toy{EXERCISES_SUFFIX}"


def _book(tmp_path: Path) -> Path:
    book = tmp_path / "book" / "part"
    book.mkdir(parents=True)
    shutil.copyfile(FIXTURE, book / FIXTURE.name)
    return book.parent


def test_collect_refuses_a_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(CourseworkError, match="submissions folder '.*' does not exist"):
        collect(tmp_path / "nowhere", _book(tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CourseworkError, match="no student folders in"):
        collect(tmp_path / "empty", tmp_path / "book")


def test_collect_finds_submissions_and_what_is_not_one(tmp_path: Path) -> None:
    book = _book(tmp_path)
    submissions = tmp_path / "submissions"
    for student in ("ada", "bo", "Not A Student"):
        (submissions / student).mkdir(parents=True)
    shutil.copyfile(FIXTURE, submissions / "ada" / FIXTURE.name)
    (submissions / "bo" / "notes.txt").write_text("hello", encoding="utf-8")
    collected = collect(submissions, book)
    assert collected.students == ["ada", "bo"]
    assert collected.chapters == ["toy"]
    assert collected.submitted == {("ada", "toy"): submissions / "ada" / FIXTURE.name}
    assert sorted(row.student for row in collected.problems) == ["Not A Student", "bo"]
    assert {row.status for row in collected.problems} == {"error"}


def test_a_plan_with_no_chapter_keeps_the_problems_for_shard_0_only(tmp_path: Path) -> None:
    book = _book(tmp_path)
    submissions = tmp_path / "submissions"
    (submissions / "bo").mkdir(parents=True)
    (submissions / "bo" / "notes.txt").write_text("hello", encoding="utf-8")
    collected = collect(submissions, book)
    assert collected.chapters == []
    whole = make_plan(collected, Path(), limits=Limits(), isolated=False)
    assert (whole.pairs, whole.tasks, whole.students) == ([], {}, ("bo",))
    assert [row.student for row in whole.fixed] == ["bo"]
    first = make_plan(collected, Path(), limits=Limits(), isolated=False, shard=Shard(0, 2))
    other = make_plan(collected, Path(), limits=Limits(), isolated=False, shard=Shard(1, 2))
    assert ([row.student for row in first.fixed], other.fixed) == (["bo"], [])
    assert first.fingerprint == other.fingerprint == whole.fingerprint
