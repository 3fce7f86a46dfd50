"""The review flags: every kind of suspicious code is named, honest answers are not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from course_tools.coursework import find_chapters, review

ROOT = Path(__file__).resolve().parents[3]
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "coursework"


def _answers() -> list[tuple[str, str]]:
    """Every code answer of the course's own solutions (and of the test fixture)."""
    chapters = {**find_chapters(FIXTURE_DIR), **find_chapters(ROOT / "book")}
    found = []
    for chapter, path in sorted(chapters.items()):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell["cell_type"] == "code" and meta.get("solution"):
                found.append((f"{chapter}/{meta['grade_id']}", "".join(cell["source"])))
    return found


ANSWERS = _answers()


def test_the_course_has_answers_to_check() -> None:
    assert len(ANSWERS) >= 10


@pytest.mark.parametrize(("label", "source"), ANSWERS, ids=[label for label, _ in ANSWERS])
def test_no_solution_of_the_course_is_flagged(label: str, source: str) -> None:
    assert review([(label, source)]) == []


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ('get_ipython().input_transformers_cleanup.append(lambda l: ["pass\\n"])',
         "touches the kernel's machinery (get_ipython, input_transformers_cleanup)"),
        ("ip.events.register('pre_run_cell', f)",
         "touches the kernel's machinery (events.register)"),
        ("shell.ast_transformers.append(t)", "touches the kernel's machinery (ast_transformers)"),
        ("import sys\nsys.modules['torch'] = fake", "touches the kernel's machinery (sys.modules)"),
        ("import builtins\nbuiltins.AssertionError = Exception",
         "touches the kernel's machinery (builtins)"),
        ("__builtins__['len'] = lambda x: 3", "touches the kernel's machinery (__builtins__)"),
        ("exec(code)", "runs code built from text (exec()"),
        ("nb = open('../../source/attention/attention_exercises.ipynb').read()",
         "reads or lists files"),
        ("import os\nfor d, _, f in os.walk('/'):\n    pass", "reads or lists files"),
        ("from pathlib import Path\nPath.home()", "reads or lists files"),
        ("import sqlite3\nsqlite3.connect(db)", "opens a database (sqlite3)"),
        ("import os\nos._exit(1)", "ends or signals processes (os._exit, os.kill, signal) "
         "(os._exit)"),
        ("import signal\nsignal.alarm(1)", "ends or signals processes"),
        ("import ctypes\nctypes.string_at(0)", "calls C code directly (ctypes) (ctypes)"),
        ("!cat /etc/passwd", "ends or signals processes"),
    ],
)  # fmt: skip
def test_each_kind_of_suspicious_code_is_named(source: str, why: str) -> None:
    flags = review([("answer cell 'x'", source)])
    assert any(flag.startswith("answer cell 'x' ") and why in flag for flag in flags), flags


@pytest.mark.parametrize(
    "source",
    [
        "model.eval()\nscores = torch.compile(f)",  # methods that share a name
        "# exec, open(), os._exit and signal are only mentioned in this comment\nx = 1",
        "signal_to_noise = 3.0\nopened = True",
    ],
)
def test_lookalikes_are_not_flagged(source: str) -> None:
    assert review([("cell 1", source)]) == []
