"""Time the coursework commands: release every chapter, then grade a class.

    python benchmarks/bench_coursework.py [--students 30] [--chapters all] [--old CHECKOUT]

Releases every chapter's exercises, then grades ``--students`` students who each hand in
every chapter (or the chapters named): a third submit the solved source notebook, a third
the untouched student copy, a third the student copy with its first code exercise
answered. Every notebook runs in its own sandbox (bubblewrap where installed).

``--old CHECKOUT`` also grades the same submissions, in the same run, with the coursework
tool of another checkout of the course (its ``companion.coursework``, the tool before it
moved to ``course_tools``). The two are then interleaved chapter by chapter, in the order
old-new, new-old, old-new, ... so that a change in the machine's load during the run
weighs on both alike; each grading call grades the class on one chapter. The machine's
load average is printed along: on a shared machine the wall-clock times are inflated.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_tools.coursework import (  # noqa: E402
    EXERCISES_SUFFIX,
    find_bwrap,
    find_chapters,
    grade,
    release,
)

OLD_GRADE = """
import sys, time
from companion.coursework import grade
start = time.perf_counter()
rows = grade(sys.argv[1], book_dir=sys.argv[2], workdir=sys.argv[3])
print(time.perf_counter() - start, sum(r.status == "error" for r in rows), len(rows))
"""


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


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--chapters", nargs="*", default=None, help="default: every chapter")
    parser.add_argument(
        "--old",
        type=Path,
        default=None,
        metavar="CHECKOUT",
        help="also time the old tool of this checkout (companion.coursework)",
    )
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()

    book = ROOT / "book"
    available = find_chapters(book)
    chapters = args.chapters or sorted(available)
    sandbox = "bubblewrap" if find_bwrap() else "NO SANDBOX"
    print(f"{os.cpu_count()} CPUs, {load()} (before); grading with {sandbox}")

    with tempfile.TemporaryDirectory(prefix="bench-coursework-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        release(chapters, root / "released", book_dir=book)
        release_s = time.perf_counter() - start
        print(f"release  {len(chapters)} chapters: {release_s:6.1f} s")

        folders = {}
        for chapter in chapters:
            source_text = available[chapter].read_text(encoding="utf-8")
            student_text = (root / "released" / f"{chapter}{EXERCISES_SUFFIX}").read_text("utf-8")
            variants = [
                source_text,
                student_text,
                first_answered(json.loads(source_text), json.loads(student_text)),
            ]
            for i in range(args.students):
                folder = root / "submissions" / chapter / f"student{i:02d}"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{chapter}{EXERCISES_SUFFIX}").write_text(variants[i % 3], "utf-8")
            folders[chapter] = root / "submissions" / chapter

        def new(chapter: str) -> tuple[float, int]:
            start = time.perf_counter()
            rows = grade(folders[chapter], book_dir=book, jobs=args.jobs,
                         feedback_dir=root / "feedback" / chapter)  # fmt: skip
            return time.perf_counter() - start, sum(row.status == "error" for row in rows)

        def old(chapter: str) -> tuple[float, int]:
            env = {**os.environ, "PYTHONPATH": str(args.old.resolve())}
            done = subprocess.run(
                [sys.executable, "-c", OLD_GRADE, str(folders[chapter]), str(book),
                 str(root / "old-work" / chapter)],
                capture_output=True, text=True, env=env, cwd=args.old, check=True,
            )  # fmt: skip
            seconds, errors, _ = done.stdout.split()[-3:]
            return float(seconds), int(errors)

        totals = {"old": 0.0, "new": 0.0}
        errors = 0
        for k, chapter in enumerate(chapters):
            order = [("new", new)] if args.old is None else [("old", old), ("new", new)]
            for name, run in order if k % 2 == 0 else order[::-1]:
                seconds, failed = run(chapter)
                totals[name] += seconds
                errors += failed if name == "new" else 0
                print(f"{name} grade {args.students} x {chapter}: {seconds:6.1f} s "
                      f"({failed} errors; {load()})")  # fmt: skip
        count = args.students * len(chapters)
        print(f"new total {count} notebooks: {totals['new']:6.1f} s "
              f"({totals['new'] / count:.2f} s each, feedback written)")  # fmt: skip
        if args.old is not None:
            print(f"old total {count} notebooks: {totals['old']:6.1f} s")
            print(f"new / old: {totals['new'] / totals['old']:.2f} (target <= 1.5)")
    print(f"{load()} (after)")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
