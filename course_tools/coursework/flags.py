"""Flag student code that may cheat, for the instructor to review (the ``review`` column).

Student code runs in the same Python process as the test cells, so nothing inside the
kernel can be made airtight: an answer can rewrite the cells that follow it, replace
``assert``, or patch the functions the tests call. The sandbox keeps the rest of the
machine out of reach; what can still happen inside the kernel is flagged here, by reading
the code the student wrote (answer cells and added cells, never the restored test cells).

A flag is a reason to read the answer, not a verdict: none of the course's own solutions
raises one (a test checks that), and honest answers should not need any of these.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable

__all__ = ["RULES", "review"]

#: ``(why, pattern)``: a match in a student's code (comments removed) raises the flag.
RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (why, re.compile(pattern, re.MULTILINE))
    for why, pattern in (
        ("touches the kernel's machinery",
         r"\b(input_transformers\w*|ast_transformers|events\s*\.\s*register|get_ipython"
         r"|sys\s*\.\s*modules|__builtins__|builtins|sys\s*\.\s*(settrace|setprofile|"
         r"addaudithook|meta_path|path_hooks|excepthook|displayhook)|__import__)\b"),
        ("runs code built from text",
         r"(?<![\w.])(exec|eval|compile)\s*\("),
        ("reads or lists files",
         r"(?<![\w.])open\s*\(|\b(io|os)\s*\.\s*open\b|\bos\s*\.\s*(walk|scandir|listdir|chdir"
         r"|getcwd|fwalk)\b|\bglob\b|\bpathlib\b|(?<![\w.])Path\s*\(|\bexpanduser\b|\bshutil\b"
         r"|\.(read_text|read_bytes|write_text|write_bytes|rglob|iterdir)\s*\("
         r"|[\"'](/|~|\.\./)|^\s*%(load|run|cd|sx|system|%writefile|%bash|%sh)\b"),
        ("opens a database",
         r"\b(sqlite3|sqlalchemy|dbm|shelve|gradebook)\b|\.db\b"),
        ("ends or signals processes (os._exit, os.kill, signal)",
         r"\bos\s*\.\s*(_exit|kill|killpg|abort|fork|system|exec\w*|spawn\w*|popen)\b"
         r"|(?<![\w.])_exit\s*\(|\bsubprocess\b|\bmultiprocessing\b|^\s*!"
         r"|(?<![\w.])signal\s*\.|\b(import|from)\s+signal\b"),
        ("calls C code directly (ctypes)",
         r"\b(ctypes|cffi)\b"),
    )
)  # fmt: skip


def _code_only(source: str) -> str:
    """``source`` without its comments (strings kept: a path is a string)."""
    kept = [list(line) for line in source.splitlines(keepends=True)]
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                (row, col), (_, end) = token.start, token.end
                kept[row - 1][col:end] = [" "] * (end - col)
        return "".join("".join(line) for line in kept)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return re.sub(r"#[^\n]*", "", source)  # not Python (magics): a rough cut


def review(cells: Iterable[tuple[str, str]]) -> list[str]:
    """The review flags for the student's code cells ``(label, source)``, one per finding,
    e.g. ``"answer cell 'ex2_mean' touches the kernel's machinery (input_transformers)"``."""
    flags: list[str] = []
    for label, source in cells:
        code = _code_only(source)
        for why, pattern in RULES:
            found = sorted({m.group(0).strip() for m in pattern.finditer(code)})
            if found:
                shown = ", ".join(f[:40] for f in found[:3])
                flags.append(f"{label} {why} ({shown})")
    return flags
