"""course_tools.coursework.scoring: the per-run context that the rules read."""

from __future__ import annotations

import pytest

from course_tools.coursework.protocol import RunResult
from course_tools.coursework.scoring import run_context
from course_tools.coursework.submissions import Prepared


def test_the_context_needs_an_executed_notebook() -> None:
    with pytest.raises(ValueError, match="result must hold an executed notebook, got none"):
        run_context([], Prepared({}), RunResult(None, "no reply"), 512)
