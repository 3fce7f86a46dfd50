"""``python -m course_tools.coursework``: see :mod:`course_tools.coursework.cli`."""

import sys

# As in the sandbox's runner (``runner._skip_slow_imports``): nbformat's import pulls in
# jsonschema, which imports ``rfc3987_syntax`` (if installed) for its "iri" format and
# builds a grammar on import, over 2 s of CPU time in every grading process (each shard is
# one), for a format no notebook schema uses. Without it, jsonschema skips that one check.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

from .cli import main  # noqa: E402

raise SystemExit(main())
