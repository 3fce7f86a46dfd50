"""The course's pytest plugin, loaded before any other (``-p fast_imports`` in
``pyproject.toml``'s ``addopts``), in the main process and in every xdist worker.

It does one thing, which only a plugin loaded that early can do: nbval, a plugin loaded
from its entry point, imports nbformat, which imports jsonschema, which imports
``rfc3987_syntax`` (if installed) for its "iri" string format; that module compiles a
grammar on import, about 2.8 s of CPU time in every pytest process, for a format no
notebook schema uses. Marked as absent, jsonschema leaves that one format unchecked. The
grader's processes do the same (``course_tools.coursework.__main__`` and the sandbox's
runner).
"""

from __future__ import annotations

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
