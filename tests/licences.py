"""What the licence tests share: the footer's licence line, and the bundled third-party folders.

``tests/test_licences.py`` checks the sources; ``tests/test_site.py`` checks that every built
page shows the same line.
"""

from __future__ import annotations

import html.parser
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: Copied into the site as they are (``html_extra_path``): third-party, one folder each.
EXTRA = ROOT / "book" / "_extra"
#: Third-party files the tests use, with their licence note beside them.
THIRD_PARTY_FIXTURES = (ROOT / "tests" / "fixtures" / "cff",)
#: What a licence file beside a bundled copy may be called.
LICENCE_NAMES = ("LICENSE*", "LICENCE*", "COPYING*")


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible_text(markup: str) -> str:
    """The text a reader sees in ``markup``, tags dropped and runs of whitespace made one space."""
    parser = _Text()
    parser.feed(markup)
    return re.sub(r"\s+", " ", "".join(parser.parts)).strip()


def footer_markup(config: Path = ROOT / "_config.yml") -> str:
    """The raw HTML of ``html.extra_footer`` in the book's configuration ('' when absent)."""
    html = yaml.safe_load(config.read_text()).get("html") or {}
    return str(html.get("extra_footer") or "")


def footer_text(config: Path = ROOT / "_config.yml") -> str:
    """The licence line as a reader sees it at the bottom of every page."""
    return visible_text(footer_markup(config))


def bundled_folders() -> list[Path]:
    """Every bundled third-party folder: each folder of ``book/_extra``, and the fixtures'."""
    return sorted(p for p in EXTRA.iterdir() if p.is_dir()) + list(THIRD_PARTY_FIXTURES)


def licence_files(folder: Path) -> list[Path]:
    """The non-empty licence files that stand directly in ``folder``."""
    found = {p for name in LICENCE_NAMES for p in folder.glob(name)}
    return sorted(p for p in found if p.is_file() and p.read_text(errors="replace").strip())
