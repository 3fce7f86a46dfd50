"""Grade the plausible wrong answers kept beside the exercises notebooks.

    python tools/check_exercise_tests.py                      # every wrong answer, as CI
    python tools/check_exercise_tests.py attention calculus   # those of some chapters

A thin entry point for authors of exercises: the wrong answers are in
``book/<part>/<chapter>_exercises.wrong.py`` (format: :mod:`course_tools.notebooks.wrong_answers`)
and the check is ``tests/test_wrong_answers.py``, which grades each one with the course's
grader and expects less than full points on its exercise's test cell. This runs it with
``COURSE_WRONG_ANSWERS`` set, and exits with pytest's status.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapters to check (default: all)")
    args = parser.parse_args(argv)
    env = {**os.environ, "COURSE_WRONG_ANSWERS": ",".join(args.chapters) or "all"}
    command = [sys.executable, "-m", "pytest", "tests/test_wrong_answers.py", "-n", "0", "-q"]
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
