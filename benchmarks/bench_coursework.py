"""Time the coursework grader on a class: serial, ``--jobs 2``, and as shards merged.

    python benchmarks/bench_coursework.py [--students 30] [--chapters all] [--jobs 2]
        [--shards 2] [--out benchmarks/results/coursework_cpu.json]

Releases every chapter's exercises, then makes a class of ``--students`` students who
each hand in every chapter (or the chapters named): a third the solved source notebook, a
third the untouched student copy, a third the student copy with its first code exercise
answered. The class is graded three ways, each writing grades.csv, the per-student CSV
and the feedback pages:

- ``serial``: ``grade --jobs 1``, one sandbox at a time;
- ``jobs``: ``grade --jobs N`` (``--jobs``, default 2), N sandboxes at once;
- ``shards``: ``--shards`` separate ``grade --shard K/S --jobs 1`` processes, run side by
  side by GNU parallel (``parallel``), then ``merge``.

It checks that the three give byte-identical CSV files and feedback, and splits each
notebook's wall-clock time in the serial run into the time in its cells (set-up, answers
and tests, as the runner measures it inside the sandbox) and the overhead around them
(bubblewrap, the runner's and the kernel's start-up, shutting down, the transfer). The
machine's load averages are recorded before and after each way: on a shared machine the
wall-clock times are inflated.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from course_tools.coursework import (
    EXERCISES_SUFFIX,
    find_bwrap,
    find_chapters,
    grade_results,
    release,
)
from course_tools.machine import describe as machine

ROOT = Path(__file__).resolve().parents[1]


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


def uptime() -> str:
    """``uptime``'s line (load averages over 1, 5 and 15 minutes)."""
    done = subprocess.run(["uptime"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def loads() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def outputs(folder: Path) -> dict[str, bytes]:
    """The CSV files and feedback pages a way wrote, by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


def save(record: dict, path: Path | None) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--chapters", nargs="*", default=None, help="default: every chapter")
    parser.add_argument("--jobs", type=int, default=2, help="sandboxes at once (way 'jobs')")
    parser.add_argument("--shards", type=int, default=2, help="shards (way 'shards')")
    parser.add_argument("--ways", nargs="*", default=["serial", "jobs", "shards"])
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()

    book = ROOT / "book"
    available = find_chapters(book)
    chapters = args.chapters or sorted(available)
    sandbox = "bubblewrap" if find_bwrap() else "NO SANDBOX"
    described = machine()
    print(f"{described['logical_cpus']} CPUs ({described['cpu']}), load {loads()} (before); "
          f"grading with {sandbox}")  # fmt: skip
    record: dict = {
        "benchmark": "bench_coursework.py",
        "machine": described,
        "sandbox": sandbox,
        "students": args.students,
        "chapters": chapters,
        "notebooks": args.students * len(chapters),
        "uptime_before": uptime(),
        "ways": {},
    }

    with tempfile.TemporaryDirectory(prefix="bench-coursework-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        release(chapters, root / "released", book_dir=book)
        record["release_s"] = round(time.perf_counter() - start, 1)
        print(f"release {len(chapters)} chapters: {record['release_s']} s")
        submissions = root / "submissions"
        for chapter in chapters:
            source_text = available[chapter].read_text(encoding="utf-8")
            student_text = (root / "released" / f"{chapter}{EXERCISES_SUFFIX}").read_text("utf-8")
            variants = [
                source_text,
                student_text,
                first_answered(json.loads(source_text), json.loads(student_text)),
            ]
            for i in range(args.students):
                folder = submissions / f"student{i:02d}"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{chapter}{EXERCISES_SUFFIX}").write_text(variants[i % 3], "utf-8")
        count = args.students * len(chapters)

        def in_process(jobs: int, folder: Path) -> dict:
            results = grade_results(submissions, book_dir=book, jobs=jobs, pages=True)
            results.write(folder / "grades.csv", feedback_dir=folder / "feedback")
            walls = [w for w, _ in results.timing.values()]
            cells = [c for _, c in results.timing.values()]
            overhead = [w - c for w, c in results.timing.values()]
            return {
                "errors": sum(r.status == "error" for r in results.rows),
                "per_notebook_wall_s_mean": round(statistics.mean(walls), 2),
                "per_notebook_cells_s_mean": round(statistics.mean(cells), 2),
                "per_notebook_overhead_s_mean": round(statistics.mean(overhead), 2),
                "per_notebook_overhead_s_median": round(statistics.median(overhead), 2),
                "per_notebook_overhead_s_max": round(max(overhead), 2),
            }

        def sharded(folder: Path) -> dict:
            parallel = shutil.which("parallel")
            if parallel is None:
                raise SystemExit("the 'shards' way needs GNU parallel: apt-get install parallel")
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            command = [parallel, "--halt", "now,fail=1", "--jobs", str(args.shards),
                       sys.executable, "-m", "course_tools.coursework", "grade",
                       str(submissions), "--book", str(book), "--jobs", "1",
                       "--shard", "{}/" + str(args.shards), "--out", str(root / "parts"),
                       ":::", *map(str, range(args.shards))]  # fmt: skip
            subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT)
            subprocess.run(
                [sys.executable, "-m", "course_tools.coursework", "merge", str(root / "parts"),
                 "--out", str(folder / "grades.csv"), "--feedback", str(folder / "feedback")],
                env=env, check=True, capture_output=True, cwd=ROOT,
            )  # fmt: skip
            return {"processes": args.shards, "jobs_per_process": 1}

        ways = {
            "serial": lambda folder: in_process(1, folder),
            "jobs": lambda folder: in_process(args.jobs, folder),
            "shards": sharded,
        }
        files = {}
        for way in args.ways:
            before = loads()
            start = time.perf_counter()
            detail = ways[way](root / way)
            seconds = time.perf_counter() - start
            files[way] = outputs(root / way)
            record["ways"][way] = {
                "seconds": round(seconds, 1),
                "per_notebook_s": round(seconds / count, 2),
                "load_before": before,
                "load_after": loads(),
                **({"jobs": args.jobs} if way == "jobs" else {}),
                **detail,
            }
            print(f"{way:7s} {count} notebooks: {seconds:7.1f} s ({seconds / count:.2f} s "
                  f"each; load {before} -> {loads()}) {detail}", flush=True)  # fmt: skip
            save(record, args.out)  # after each way: a long run that is cut keeps its numbers
        first = args.ways[0]
        identical = {way: files[way] == files[first] for way in args.ways[1:]}
        record["identical_outputs"] = {**identical, "compared_with": first,
                                       "files": len(files[first])}  # fmt: skip
        if "serial" in record["ways"]:
            serial = record["ways"]["serial"]["seconds"]
            for way in ("jobs", "shards"):
                if way in record["ways"]:
                    ratio = record["ways"][way]["seconds"] / serial
                    record["ways"][way]["ratio_to_serial"] = round(ratio, 3)
                    print(f"{way} / serial: {ratio:.2f} (aim <= 0.6 on 2 cores)")
    record["machine"]["load_average_at_end"] = list(os.getloadavg())
    record["uptime_after"] = uptime()
    print(f"identical outputs: {record['identical_outputs']}; load {loads()} (after)")
    save(record, args.out)
    if args.out is not None:
        print(f"wrote {args.out}")
    identical = all(v for k, v in record["identical_outputs"].items() if k in args.ways)
    errors = sum(w.get("errors", 0) for w in record["ways"].values())
    return 0 if identical and errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
