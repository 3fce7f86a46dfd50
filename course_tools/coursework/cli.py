"""The command line: ``python -m course_tools.coursework release|grade|merge ...``.

Installed with the course (``pip install -e .[instructor]``) it is also the
``course-coursework`` command. Run it from the course's folder, or point ``--book`` at the
folder holding the chapters' ``<chapter>_exercises.ipynb``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .errors import CourseworkError, ReleaseError
from .gradescope import HIDDEN_VISIBILITIES
from .grading import DEFAULT_JOBS, grade_results
from .limits import Limits
from .outputs import read_grades_csv, write
from .records import Status
from .release import release
from .results import Results, Shard, merge
from .sandbox import SANDBOX_MODES

__all__ = ["ProgressBar", "main"]

log = logging.getLogger("course_tools.coursework")


def _outputs(parser: argparse.ArgumentParser) -> None:
    """The options of what grade and merge write (beside --out)."""
    parser.add_argument("--summary", type=Path, default=None,
                        help="CSV with one row per student and one column per chapter "
                        "(default: <out>-by-student.csv)")  # fmt: skip
    parser.add_argument("--feedback", type=Path, default=None, metavar="DIR",
                        help="write DIR/<student>/<chapter>_feedback.html")  # fmt: skip
    parser.add_argument("--gradescope", type=Path, default=None, metavar="DIR",
                        help="write DIR/<student>/results.json, Gradescope's autograder "
                        "results")  # fmt: skip
    parser.add_argument("--gradescope-hidden", choices=HIDDEN_VISIBILITIES,
                        default="after_published", help="Gradescope visibility of the tests "
                        "that hold hidden asserts (default after_published)")  # fmt: skip


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
                     "student and graded cell); with --shard, a folder for the partial "
                     "results")  # fmt: skip
    _outputs(gra)
    gra.add_argument("--timeout", type=int, default=Limits.timeout,
                     help=f"seconds of CPU time per cell (default {Limits.timeout})")  # fmt: skip
    gra.add_argument("--notebook-timeout", type=int, default=Limits.notebook_timeout,
                     help="seconds of CPU time per notebook "
                          f"(default {Limits.notebook_timeout})")  # fmt: skip
    gra.add_argument("--memory", type=int, default=Limits.memory_mb, metavar="MB",
                     help=f"memory per sandboxed process, MiB (default {Limits.memory_mb}); "
                     "--jobs sandboxes at once may use --jobs times as much")  # fmt: skip
    gra.add_argument("--sandbox", choices=SANDBOX_MODES, default="auto",
                     help="auto: bubblewrap if usable, else a loud warning (default); "
                     "bwrap: required; none: no isolation")  # fmt: skip
    gra.add_argument(
        "--jobs", type=int, default=DEFAULT_JOBS,
        help=f"sandboxes at once (default {DEFAULT_JOBS}: the CPU cores this process may use)",
    )  # fmt: skip
    gra.add_argument(
        "--shard", default=None, metavar="K/N",
        help="grade shard K of N (0 <= K < N) of the (student, chapter) pairs and write "
        "OUT/shard-K-of-N.json, for merge",
    )  # fmt: skip
    gra.add_argument(
        "--student", action="append", default=None, metavar="ID",
        help="grade only this student (repeatable) and update their rows in --out, "
        "leaving the other rows as they are",
    )  # fmt: skip

    mer = commands.add_parser(
        "merge", help="join the partial results of grade --shard K/N into one run's outputs"
    )
    mer.add_argument("partials", nargs="+", type=Path, metavar="PARTIAL",
                     help="a shard-K-of-N.json file, or a folder of them")  # fmt: skip
    mer.add_argument("--out", type=Path, required=True, help="CSV file to write")
    _outputs(mer)
    return parser


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressBar:
    """A progress bar on a terminal: ``progress(done, total)``; silent if not a terminal."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream, self.width = stream, width
        self.start = time.monotonic()
        self.shown = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int) -> None:
        if not self.shown or total <= 0:
            return
        elapsed = time.monotonic() - self.start
        filled = self.width * done // total
        left = f", ~{_clock(elapsed / done * (total - done))} left" if done else ""
        self.stream.write(
            f"\rgrading [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} "
            f"notebooks, {_clock(elapsed)}{left} "
        )
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def _check_csv_out(out: Path) -> None:
    if out.is_dir():
        raise CourseworkError(f"--out '{out}' is a folder: expected a CSV file path")


def _write(results: Results, args: argparse.Namespace, what: str) -> None:
    out, summary = write(
        results, args.out, args.summary, args.feedback, args.gradescope, args.gradescope_hidden
    )
    rows = results.rows
    students = len({row.student for row in rows})
    problems = sum(row.status == Status.ERROR for row in rows)
    flagged = len({(row.student, row.chapter) for row in rows if row.review})
    sys.stdout.write(
        f"{what} {students} students: {len(rows)} rows, {problems} with status 'error', "
        f"{flagged} submissions flagged for review -> {out}, {summary}\n"
    )


def _grade(args: argparse.Namespace) -> None:
    limits = Limits(timeout=args.timeout, notebook_timeout=args.notebook_timeout,
                    memory_mb=args.memory)  # fmt: skip
    if args.shard is not None:
        args.shard = Shard.parse(args.shard)
        for option in ("summary", "feedback", "gradescope"):
            if getattr(args, option) is not None:
                raise CourseworkError(
                    f"--{option} is written by merge: with --shard, grade writes only the "
                    "partial results (OUT/shard-K-of-N.json)"
                )
        if args.out.exists() and not args.out.is_dir():
            raise CourseworkError(
                f"--out '{args.out}' is a file: with --shard, expected a folder for "
                "shard-K-of-N.json"
            )
    else:
        _check_csv_out(args.out)
    existing = None
    if args.student and args.out.is_file():
        existing = read_grades_csv(args.out)
    pages = args.feedback is not None or args.shard is not None
    results = grade_results(
        args.submissions, book_dir=args.book, workdir=args.workdir, limits=limits,
        jobs=args.jobs, sandbox=args.sandbox, students=args.student, shard=args.shard,
        pages=pages, progress=ProgressBar(sys.stderr), verbose=args.verbose,
    )  # fmt: skip
    if args.shard is not None:
        path = results.save_partial(args.out / args.shard.filename, args.shard)
        sys.stdout.write(
            f"graded shard {args.shard}: {len(results.pairs)} notebooks, "
            f"{len(results.rows)} rows -> {path}\n"
        )
        return
    if existing is not None:
        results = results.replacing(existing)
        _write(results, args, f"regraded {len(args.student)} of")
        return
    _write(results, args, "graded")


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
        if args.command == "merge":
            _check_csv_out(args.out)
            _write(merge(args.partials), args, "merged")
            return 0
        _grade(args)
        return 0
    except CourseworkError as error:
        parser.error(str(error))  # exits with status 2
    except ReleaseError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    finally:
        log.removeHandler(handler)
    return 2  # unreachable: parser.error exits
