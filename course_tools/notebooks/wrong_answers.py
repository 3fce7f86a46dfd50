"""Plausible wrong answers to the exercises, kept beside each exercises notebook.

``book/<part>/<chapter>_exercises.wrong.py`` lists, for the notebook next to it, answers a
learner could plausibly write (a forgotten ``√d_k``, a transposed matrix, a mean instead of
a sum...). Each block starts with a header line and runs to the next one::

    # %% ex2-gram-schmidt: forgets to normalise the columns
    def gram_schmidt(V):
        return V


    # %% ex2-gram-schmidt [visible]: the forbidden torch.linalg.qr
    def gram_schmidt(V):
        return torch.linalg.qr(V)[0]

``ex2-gram-schmidt`` is the ``grade_id`` of the answer cell the block replaces; the text
after the colon says what is wrong. ``[visible]`` marks a wrong answer that the visible
asserts alone must reject (so that a student who trusts them is not misled). Everything
before the first header (a docstring, comments) is ignored.

``tests/test_wrong_answers.py`` grades each wrong answer with the course's grader and
expects less than full points on its exercise's test cell. This module reads the files and
builds the submissions; it runs nothing.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cells import EXERCISES_SUFFIX, nbgrader_cells, nbgrader_metadata, strip_hidden_tests, text

__all__ = [
    "VISIBLE",
    "WRONG_SUFFIX",
    "WrongAnswer",
    "answer_targets",
    "parse_wrong_answers",
    "problems",
    "read_wrong_answers",
    "visible_only",
    "with_answer",
    "wrong_answers_path",
]

#: The file of wrong answers beside ``<chapter>_exercises.ipynb``.
WRONG_SUFFIX = "_exercises.wrong.py"
#: The header's mark of a wrong answer that the visible asserts alone must reject.
VISIBLE = "[visible]"

_HEADER = re.compile(r"^# %%(?P<rest>.*)$")
_FIELDS = re.compile(
    r"^ (?P<grade_id>[A-Za-z0-9_.-]+)(?P<visible> \[visible\])?: (?P<reason>\S.*)$"
)
_HEADER_FORMAT = "'# %% <grade_id>: <what is wrong>' or '# %% <grade_id> [visible]: <...>'"


@dataclass(frozen=True)
class WrongAnswer:
    """One wrong answer: the answer cell it replaces (``grade_id``), why it is wrong
    (``reason``), its code, whether the visible asserts alone must reject it, and the
    line of its header in its file (for messages)."""

    grade_id: str
    reason: str
    source: str
    visible: bool
    line: int


def wrong_answers_path(notebook: str | Path) -> Path:
    """``<chapter>_exercises.wrong.py`` beside ``<chapter>_exercises.ipynb``."""
    notebook = Path(notebook)
    if not notebook.name.endswith(EXERCISES_SUFFIX):
        raise ValueError(f"notebook must be a *{EXERCISES_SUFFIX} file, got '{notebook.name}'")
    return notebook.with_name(notebook.name[: -len(EXERCISES_SUFFIX)] + WRONG_SUFFIX)


def parse_wrong_answers(source: str, where: str = "<wrong answers>") -> list[WrongAnswer]:
    """The wrong answers in the text of a ``.wrong.py`` file, in order.

    Raises:
        ValueError: a header line that is not in the format, a block without code or
            whose code is not valid Python, or no block at all (``where`` names the file).
    """
    blocks: list[tuple[int, re.Match[str], list[str]]] = []
    for number, line in enumerate(source.splitlines(), start=1):
        header = _HEADER.match(line)
        if header is None:
            if blocks:
                blocks[-1][2].append(line)
            continue
        fields = _FIELDS.match(header.group("rest"))
        if fields is None:
            raise ValueError(
                f"{where}:{number}: a block header must be {_HEADER_FORMAT}, got {line!r}"
            )
        blocks.append((number, fields, []))
    if not blocks:
        raise ValueError(f"{where}: expected at least one block ({_HEADER_FORMAT}), got none")
    answers = []
    for number, fields, lines in blocks:
        code = "\n".join(lines).strip("\n")
        if not _code(code):
            raise ValueError(f"{where}:{number}: expected the wrong answer's code, got none")
        try:
            compile(code, f"{where}:{number}", "exec")
        except SyntaxError as err:
            raise ValueError(
                f"{where}:{number}: expected valid Python, got a SyntaxError ({err.msg}, "
                f"line {err.lineno} of the block)"
            ) from None
        answers.append(
            WrongAnswer(
                grade_id=fields.group("grade_id"),
                reason=fields.group("reason").strip(),
                source=code + "\n",
                visible=fields.group("visible") is not None,
                line=number,
            )
        )
    return answers


def read_wrong_answers(path: str | Path) -> list[WrongAnswer]:
    """:func:`parse_wrong_answers` of the file ``path``."""
    path = Path(path)
    return parse_wrong_answers(path.read_text(encoding="utf-8"), str(path))


def answer_targets(notebook: dict[str, Any]) -> dict[str, str]:
    """``{answer grade_id: test grade_id}``: each code answer cell that an autograded test
    cell of the same exercise follows (before the next answer cell), and that test cell."""
    targets, pending = {}, None
    for cell in nbgrader_cells(notebook):
        if cell.solution and cell.cell_type == "code":
            pending = cell
        elif cell.is_test and pending is not None:
            if pending.exercise == cell.exercise:
                targets[pending.grade_id] = cell.grade_id
            pending = None
    return targets


def _code(source: str) -> str:
    """A cell's code with blank lines, comments and nbgrader's markers left out."""
    lines = (line.strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("#"))


def problems(notebook: dict[str, Any], answers: list[WrongAnswer], where: str) -> list[str]:
    """What is out of date in ``answers`` for ``notebook``: a grade_id that is not an
    autograded answer cell any more, an autograded answer with no wrong answer, a "wrong"
    answer that is the solution itself. Empty when all is well."""
    targets = answer_targets(notebook)
    solutions = {
        str(nbgrader_metadata(c)["grade_id"]): text(c.get("source", ""))
        for c in notebook.get("cells", [])
        if nbgrader_metadata(c).get("grade_id")
    }
    found = []
    for answer in answers:
        if answer.grade_id not in targets:
            found.append(
                f"{where}:{answer.line}: '{answer.grade_id}' is not an autograded answer cell "
                f"of the notebook: expected one of {sorted(targets)}"
            )
        elif _code(answer.source) == _code(solutions[answer.grade_id]):
            found.append(f"{where}:{answer.line}: '{answer.grade_id}' is the solution itself")
    for grade_id in sorted(set(targets) - {a.grade_id for a in answers}):
        found.append(f"{where}: no wrong answer for the autograded answer cell '{grade_id}'")
    return found


def with_answer(notebook: dict[str, Any], grade_id: str, source: str) -> dict[str, Any]:
    """A copy of ``notebook`` whose answer cell ``grade_id`` holds ``source``."""
    changed = copy.deepcopy(notebook)
    for cell in changed.get("cells", []):
        meta = nbgrader_metadata(cell)
        if meta.get("grade_id") == grade_id and meta.get("solution"):
            cell["source"] = source
            return changed
    raise ValueError(f"grade_id must name an answer cell of the notebook, got '{grade_id}'")


def visible_only(notebook: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``notebook`` whose test cells keep only their visible asserts."""
    changed = copy.deepcopy(notebook)
    for cell in changed.get("cells", []):
        meta = nbgrader_metadata(cell)
        if meta.get("grade") and not meta.get("solution") and cell.get("cell_type") == "code":
            cell["source"] = strip_hidden_tests(text(cell.get("source", "")), None)
    return changed
