"""What a grading run produces, kept together: rows, feedback pages, run times; and which
(student, chapter) pairs a run (a shard, a regrade) owns (:func:`select_pairs`).

:class:`Results` is what :func:`.grading.grade_results` returns and what every output is
written from (:func:`.outputs.write`). A run on a shard (``grade --shard K/N``) saves its
results as a partial-results file (:meth:`Results.save_partial`); :func:`merge` joins the
N of them into the results one run would have given, and refuses missing, duplicated or
mismatched shards. A regrade (``grade --student ID``) replaces those students' rows in an
existing ``grades.csv`` (:func:`.outputs.read_grades_csv`, :meth:`Results.replacing`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

from .errors import CourseworkError
from .records import ChapterInfo, GradeRow, Key, row_order

__all__ = ["PARTIAL_FORMAT", "Results", "Shard", "merge", "select_pairs"]

#: The ``format`` field of a partial-results file, and its version.
PARTIAL_FORMAT, PARTIAL_VERSION = "course_tools.coursework partial results", 1


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (``0 <= index < count``): it grades the (student,
    chapter) pairs at positions ``index, index + count, ...`` of the sorted pairs."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"K/N"`` -> Shard(K, N).

        Raises:
            CourseworkError: not two whole numbers with ``0 <= K < N``.
        """
        parts = str(text).split("/")
        try:
            index, count = (int(p) for p in parts) if len(parts) == 2 else (None, None)
        except ValueError:
            index = count = None
        if index is None or count is None or count <= 0 or not 0 <= index < count:
            raise CourseworkError(
                f"--shard must be K/N with 0 <= K < N (e.g. 0/4 ... 3/4), got {text!r}"
            )
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def filename(self) -> str:
        return f"shard-{self.index}-of-{self.count}.json"


def select_pairs(
    pairs: Sequence[Key], students: Sequence[str] | None = None, shard: Shard | None = None
) -> list[Key]:
    """The (student, chapter) pairs one run grades, sorted: every pair of ``pairs``, those of
    ``students``, or those of ``shard``.

    For a shard the pairs are sorted by chapter, then student, and shard K of N takes those
    at positions K, K + N, K + 2N, ...: each shard gets a share of every chapter.
    """
    by_chapter = sorted((chapter, student) for student, chapter in pairs)
    if shard is not None:
        owned = [p for i, p in enumerate(by_chapter) if i % shard.count == shard.index]
    else:
        wanted = set(students) if students is not None else None
        owned = [p for p in by_chapter if wanted is None or p[1] in wanted]
    return sorted((student, chapter) for chapter, student in owned)


@dataclass
class Results:
    """The rows of a grading run and what goes with them.

    ``pages`` maps (student, chapter) to its feedback page (HTML); ``timing`` maps each
    sandboxed run to ``(wall-clock seconds, seconds in its cells)``; ``chapters`` describes
    every graded chapter; ``students`` are the students these results cover (every row's
    student is one of them); ``fingerprint`` identifies the class graded (submissions,
    sources, limits: see :func:`.grading.plan`); ``pairs`` the (student, chapter) pairs
    graded.
    """

    rows: list[GradeRow]
    chapters: dict[str, ChapterInfo]
    pages: dict[Key, str] = field(default_factory=dict)
    timing: dict[Key, tuple[float, float]] = field(default_factory=dict)
    students: tuple[str, ...] = ()
    fingerprint: str = ""
    pairs: tuple[Key, ...] = ()

    def sort(self) -> None:
        self.rows.sort(key=row_order(self.chapters))

    # --- regrading -------------------------------------------------------------------------

    def replacing(self, existing: Sequence[GradeRow]) -> Results:
        """``existing`` rows with those of :attr:`students` replaced by these results' rows.

        Every other row is kept as it was, in its place: rows are grouped by student, and
        a regraded student's rows take the place their old ones had (or their sorted
        place, for a new student)."""
        mine = set(self.students)
        kept = [row for row in existing if row.student not in mine]
        # A stable sort on the student alone keeps every other row's order as it was.
        rows = sorted([*kept, *self.rows], key=lambda r: r.student)
        return Results(rows, self.chapters, self.pages, self.timing, self.students,
                       self.fingerprint, self.pairs)  # fmt: skip

    # --- shards ----------------------------------------------------------------------------

    def save_partial(self, path: str | Path, shard: Shard) -> Path:
        """Write these results as shard ``shard``'s partial results (JSON) to ``path``."""
        document = {
            "format": PARTIAL_FORMAT,
            "version": PARTIAL_VERSION,
            "shard": [shard.index, shard.count],
            "fingerprint": self.fingerprint,
            "pairs": [list(key) for key in self.pairs],
            "students": list(self.students),
            "chapters": {c: _info_json(i) for c, i in sorted(self.chapters.items())},
            "rows": [list(astuple(row)) for row in self.rows],
            "pages": [[s, c, page] for (s, c), page in sorted(self.pages.items())],
            "timing": [[s, c, *t] for (s, c), t in sorted(self.timing.items())],
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document), encoding="utf-8")
        return path


def _info_json(info: ChapterInfo) -> dict[str, list[str]]:
    return {
        "cells": list(info.cells),
        "hidden_tests": list(info.hidden_tests),
        "hidden_lines": list(info.hidden_lines),
    }


def _load_partial(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CourseworkError(
            f"'{path}' is not a partial-results file ({error}): expected the JSON that "
            "grade --shard K/N writes"
        ) from error
    if not isinstance(document, dict) or document.get("format") != PARTIAL_FORMAT:
        raise CourseworkError(
            f"'{path}' is not a partial-results file: expected the JSON that "
            "grade --shard K/N writes"
        )
    if document.get("version") != PARTIAL_VERSION:
        raise CourseworkError(
            f"'{path}' is partial results of version {document.get('version')!r}: expected "
            f"version {PARTIAL_VERSION} (grade and merge with the same course_tools)"
        )
    return document


def _partial_files(paths: Sequence[str | Path]) -> list[Path]:
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found = sorted(path.glob("shard-*-of-*.json"))
            if not found:
                raise CourseworkError(
                    f"no partial results (shard-K-of-N.json) in '{path}': expected the "
                    "files that grade --shard K/N --out DIR writes"
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise CourseworkError(
                f"partial results '{path}' do not exist: expected a shard-K-of-N.json file "
                "or a folder of them"
            )
    if not files:
        raise CourseworkError("no partial results given: expected the shards' files to merge")
    return files


def merge(paths: Sequence[str | Path]) -> Results:
    """Join the partial results of shards 0 ... N-1 into the results of one run.

    ``paths`` are partial-results files or folders holding them (``shard-K-of-N.json``).

    Raises:
        CourseworkError: a file that is not partial results, shards of different runs
            (another class, other sources or limits, another N), a shard given twice, or a
            shard missing.
    """
    files = _partial_files(paths)
    documents = [(path, _load_partial(path)) for path in files]
    first_path, first = documents[0]
    count = int(first["shard"][1])
    seen: dict[int, Path] = {}
    for path, document in documents:
        index, total = (int(v) for v in document["shard"])
        if total != count:
            raise CourseworkError(
                f"mismatched shards: '{path}' is shard {index}/{total} but '{first_path}' is "
                f"one of {count}: expected every shard of one grade --shard K/{count} run"
            )
        if document["fingerprint"] != first["fingerprint"]:
            raise CourseworkError(
                f"mismatched shards: '{path}' (shard {index}/{total}) graded other "
                f"submissions, sources or limits than '{first_path}': expected every shard "
                "to grade the same folder with the same options"
            )
        if index in seen:
            raise CourseworkError(
                f"duplicated shard {index}/{count}: both '{seen[index]}' and '{path}'; "
                "expected each shard once"
            )
        seen[index] = path
    missing = [f"{k}/{count}" for k in range(count) if k not in seen]
    if missing:
        raise CourseworkError(
            f"missing shards {', '.join(missing)}: expected all {count} partial results "
            f"(shard-0-of-{count}.json ... shard-{count - 1}-of-{count}.json)"
        )
    chapters = {
        c: ChapterInfo(tuple(i["cells"]), tuple(i["hidden_tests"]), tuple(i["hidden_lines"]))
        for c, i in first["chapters"].items()
    }
    rows: list[GradeRow] = []
    pages: dict[Key, str] = {}
    timing: dict[Key, tuple[float, float]] = {}
    pairs: set[tuple[str, str]] = set()
    for path, document in documents:
        for pair in document["pairs"]:
            key = (str(pair[0]), str(pair[1]))
            if key in pairs:
                raise CourseworkError(
                    f"duplicated work: {key[0]}/{key[1]} is graded in '{path}' and in "
                    "another shard; expected each (student, chapter) in one shard"
                )
            pairs.add(key)
        try:
            rows.extend(GradeRow(*values) for values in document["rows"])
        except (TypeError, ValueError) as error:
            raise CourseworkError(
                f"'{path}' holds a row that is not one ({error}): expected the rows that "
                "grade --shard K/N writes"
            ) from error
        pages.update({(s, c): page for s, c, page in document["pages"]})
        timing.update({(s, c): (float(w), float(x)) for s, c, w, x in document["timing"]})
    results = Results(rows, chapters, pages, timing, tuple(first["students"]),
                      first["fingerprint"], tuple(sorted(pairs)))  # fmt: skip
    results.sort()
    return results
