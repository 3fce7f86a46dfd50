"""Assign and grade the course's exercises with nbgrader, each submission in a sandbox.

Every chapter's exercises notebook (``book/<part>/<chapter>_exercises.ipynb``) is the
instructor's source, in nbgrader's cell format (see CONTRIBUTING.md). Two commands turn it
into coursework, offline, with no Jupyter server::

    python -m course_tools.coursework release [CHAPTER ...] --out DIR
    python -m course_tools.coursework grade SUBMISSIONS_DIR --out grades.csv --feedback DIR

The modules, one job each: :mod:`.chapters` (find the book and its exercises),
:mod:`.release` (nbgrader's student copies), :mod:`.submissions` (read and restore a
submission), :mod:`.sandbox` and :mod:`.runner` (run it isolated, with limits),
:mod:`.scoring` (the rules), :mod:`.flags` (what to review), :mod:`.feedback` (CSV files
and HTML feedback), :mod:`.grading` (all of it for a class) and :mod:`.cli`.
"""

from __future__ import annotations

from .chapters import EXERCISES_SUFFIX, default_book, find_chapters
from .errors import CourseworkError, ReleaseError
from .feedback import write_feedback, write_grades_csv, write_summary_csv
from .flags import review
from .grading import DEFAULT_JOBS, grade
from .limits import Limits
from .release import release
from .sandbox import Sandbox, find_bwrap, isolation_warning
from .scoring import CSV_FIELDS, GradeRow

__all__ = [
    "CSV_FIELDS",
    "DEFAULT_JOBS",
    "EXERCISES_SUFFIX",
    "CourseworkError",
    "GradeRow",
    "Limits",
    "ReleaseError",
    "Sandbox",
    "default_book",
    "find_bwrap",
    "find_chapters",
    "grade",
    "isolation_warning",
    "release",
    "review",
    "write_feedback",
    "write_grades_csv",
    "write_summary_csv",
]
