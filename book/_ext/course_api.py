"""Let autodoc document this checkout's ``companion``: the API pages in ``book/api/`` are
generated from the package's docstrings, so the package must be importable from the
repository root whatever the current folder or the installed copy."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def setup(app: object) -> dict[str, object]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
