"""The website, built once per session for every test that reads it.

``tests/test_site.py`` (the build's warnings, the pages in a browser),
``tests/test_site_layout.py`` (the pages' layout) and ``tests/test_site_downloads.py`` (the
student copies it offers) read the same build: one ``jupyter-book build`` (half a minute of
CPU) instead of one per file. The session-scoped fixture ``built_site``
(``tests/conftest.py``) builds it, and ``site_visits`` loads its pages in the browser
(``tests/site_browser.py``); the suite's scheduler (``conftest.py`` at the root) runs the
three files on one xdist worker, so that both are made once in a parallel run too.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Pages Sphinx writes that are templates, not pages a reader visits.
NOT_PAGES = ("_static", "_sources", "_images", "mathjax")


@dataclass
class Site:
    """One build of the site: its exit status, its output and its HTML folder."""

    returncode: int
    log: str
    html: Path

    def pages(self) -> list[Path]:
        return sorted(
            p
            for p in self.html.rglob("*.html")
            if not any(part in NOT_PAGES for part in p.relative_to(self.html).parts)
        )


def build_site(out: Path) -> Site:
    """Build the site under ``out`` with execution off (the site shows the stored outputs
    that strict nbval verifies in ``book/``), warnings turned into errors."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [
        str(jupyter_book if jupyter_book.exists() else "jupyter-book"),
        "build",
        str(ROOT),
        "-W",
        "-n",
        "--keep-going",
        "--path-output",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    return Site(done.returncode, done.stdout + done.stderr, out / "_build" / "html")
