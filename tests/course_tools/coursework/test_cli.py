"""course_tools.coursework.cli: pieces of the command line that need no grading run."""

from __future__ import annotations

import io

from course_tools.coursework.cli import ProgressBar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only() -> None:
    screen = _Terminal()
    bar = ProgressBar(screen, width=10)
    for done in range(3):
        bar(done, 2)
    assert "\rgrading [..........] 0/2 notebooks" in screen.getvalue()
    assert "\rgrading [#####.....] 1/2 notebooks" in screen.getvalue()
    assert screen.getvalue().endswith("\n")
    quiet = io.StringIO()
    ProgressBar(quiet)(1, 2)
    assert quiet.getvalue() == ""
