"""The command line: ``python -m course_tools.coursework release|grade ...``.

Installed with the course (``pip install -e .[instructor]``) it is also the
``course-coursework`` command. Run it from the course's folder, or point ``--book`` at the
folder holding the chapters' ``<chapter>_exercises.ipynb``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import CourseworkError, ReleaseError
from .feedback import write_grades_csv, write_summary_csv
from .grading import DEFAULT_JOBS, grade
from .release import release
from .sandbox import SANDBOX_MODES

__all__ = ["main"]

log = logging.getLogger("course_tools.coursework")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_tools.coursework",
        description="Release the course's exercises to students and grade submissions, "
        "each in a sandbox (offline: no Jupyter server, no browser).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--book", type=Path, default=None,
        help="folder searched for <chapter>_exercises.ipynb (default: book/ in the current "
        "folder or the course folder above it)",
    )  # fmt: skip
    common.add_argument(
        "--workdir", type=Path, default=None,
        help="working folder, kept afterwards (default: a temporary one)",
    )  # fmt: skip
    common.add_argument("-v", "--verbose", action="store_true", help="show nbgrader's log")

    rel = commands.add_parser(
        "release", parents=[common], help="write the student copies of chapters' exercises"
    )
    rel.add_argument(
        "chapters", nargs="*", metavar="CHAPTER",
        help="chapter name (attention) or path of an exercises notebook; none: every chapter",
    )  # fmt: skip
    rel.add_argument("--out", type=Path, required=True, help="folder for the student notebooks")

    gra = commands.add_parser(
        "grade", parents=[common], help="grade SUBMISSIONS_DIR/<student_id>/*.ipynb"
    )
    gra.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR")
    gra.add_argument("--out", type=Path, required=True, help="CSV file to write (one row per "
                     "student and graded cell)")  # fmt: skip
    gra.add_argument("--summary", type=Path, default=None, help="CSV with one row per student "
                     "and one column per chapter (default: <out>-by-student.csv)")  # fmt: skip
    gra.add_argument("--feedback", type=Path, default=None, metavar="DIR",
                     help="write DIR/<student>/<chapter>_feedback.html")  # fmt: skip
    gra.add_argument("--timeout", type=int, default=60, help="seconds per cell (default 60)")
    gra.add_argument("--notebook-timeout", type=int, default=300,
                     help="seconds per notebook (default 300)")  # fmt: skip
    gra.add_argument("--memory", type=int, default=2048, metavar="MB",
                     help="memory per sandboxed process, MiB (default 2048)")  # fmt: skip
    gra.add_argument("--sandbox", choices=SANDBOX_MODES, default="auto",
                     help="auto: bubblewrap if usable, else a loud warning (default); "
                     "bwrap: required; none: no isolation")  # fmt: skip
    gra.add_argument(
        "--jobs", type=int, default=DEFAULT_JOBS,
        help=f"notebooks graded at once (default {DEFAULT_JOBS}, from the CPU count)",
    )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 for usage errors)."""
    parser = _parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        if args.command == "release":
            paths = release(
                args.chapters, args.out, book_dir=args.book, workdir=args.workdir,
                verbose=args.verbose,
            )  # fmt: skip
            sys.stdout.write("".join(f"released {path}\n" for path in paths))
            return 0
        if args.out.is_dir():
            raise CourseworkError(f"--out '{args.out}' is a folder: expected a CSV file path")
        rows = grade(
            args.submissions, book_dir=args.book, workdir=args.workdir, timeout=args.timeout,
            notebook_timeout=args.notebook_timeout, memory_mb=args.memory, jobs=args.jobs,
            sandbox=args.sandbox, feedback_dir=args.feedback, verbose=args.verbose,
        )  # fmt: skip
        write_grades_csv(rows, args.out)
        summary = args.summary or args.out.with_name(f"{args.out.stem}-by-student.csv")
        write_summary_csv(rows, summary)
        students = len({row.student for row in rows})
        problems = sum(row.status == "error" for row in rows)
        flagged = len({(row.student, row.chapter) for row in rows if row.review})
        sys.stdout.write(
            f"graded {students} students: {len(rows)} rows, {problems} with status 'error', "
            f"{flagged} submissions flagged for review -> {args.out}, {summary}\n"
        )
        return 0
    except CourseworkError as error:
        parser.error(str(error))  # exits with status 2
    except ReleaseError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    finally:
        log.removeHandler(handler)
    return 2  # unreachable: parser.error exits
