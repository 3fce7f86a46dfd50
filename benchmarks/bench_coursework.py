"""Time the coursework commands: release every chapter, then grade a class of 30.

    python benchmarks/bench_coursework.py [--chapter CHAPTER] [--students 30]

Releases every chapter's exercises (nbgrader ``GenerateAssignment``), then grades
``--students`` submissions of one chapter's exercises (nbgrader ``Autograde``, each
notebook in a fresh kernel, one batch): a third submit the solved source notebook, a
third the untouched student copy, a third the student copy with its first code exercise
answered. Target (issue 7): both together under 5 minutes on a 2-core machine. Prints the
machine's load average too: on a shared machine the wall-clock times are inflated.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from companion.coursework import DEFAULT_BOOK_DIR, EXERCISES_SUFFIX, find_chapters, grade, release

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "coursework"


def first_answered(source: dict, student: dict) -> str:
    """The student copy with the source's first code answer cell pasted in."""
    answers = {
        c["metadata"]["nbgrader"]["grade_id"]: c["source"]
        for c in source["cells"]
        if c["cell_type"] == "code" and c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    first = next(iter(answers))
    for cell in student["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == first:
            cell["source"] = answers[first]
    return json.dumps(student)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", help="chapter to grade (default: the first one)")
    parser.add_argument("--students", type=int, default=30)
    args = parser.parse_args()

    book = DEFAULT_BOOK_DIR
    chapters = find_chapters(book)
    if not chapters:
        print("no book/**/*_exercises.ipynb yet: benchmarking the test fixture instead")
        book, chapters = FIXTURE_DIR, find_chapters(FIXTURE_DIR)
    chapter = args.chapter or sorted(chapters)[0]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (before)")

    with tempfile.TemporaryDirectory(prefix="bench-coursework-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        paths = release(None, root / "released", book_dir=book)
        release_s = time.perf_counter() - start
        print(f"release  {len(paths)} chapters: {release_s:6.1f} s")

        source_text = chapters[chapter].read_text(encoding="utf-8")
        student_text = (root / "released" / f"{chapter}{EXERCISES_SUFFIX}").read_text("utf-8")
        variants = [
            source_text,
            student_text,
            first_answered(json.loads(source_text), json.loads(student_text)),
        ]
        for i in range(args.students):
            folder = root / "submissions" / f"student{i:02d}"
            folder.mkdir(parents=True)
            (folder / f"{chapter}{EXERCISES_SUFFIX}").write_text(variants[i % 3], "utf-8")

        start = time.perf_counter()
        rows = grade(root / "submissions", book_dir=book, workdir=root / "work")
        grade_s = time.perf_counter() - start
        errors = sum(row.status == "error" for row in rows)
        print(
            f"grade    {args.students} submissions of '{chapter}': {grade_s:6.1f} s "
            f"({grade_s / args.students:.1f} s each; {len(rows)} rows, {errors} errors)"
        )
    total = release_s + grade_s
    print(f"total    {total:6.1f} s (target < 300 s)")
    print(f"load average {os.getloadavg()[0]:.1f} (after)")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
