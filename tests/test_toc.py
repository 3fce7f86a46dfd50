"""_toc.yml and book/ agree: every page is listed once, every entry exists, and each
chapter's exercises are nested under it (a section of the chapter, never a chapter)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGE_SUFFIXES = (".ipynb", ".md")
NOT_PAGES = {"_ext", "_extra"}


def _toc() -> dict:
    return yaml.safe_load((ROOT / "_toc.yml").read_text())


def _entries(toc: dict) -> list[str]:
    """Every file of the table of contents, chapters and their sections, in reading order."""
    files = [toc["root"]]
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            files.append(chapter["file"])
            files += [section["file"] for section in chapter.get("sections", [])]
    return files


def _resolve(entry: str) -> list[Path]:
    return [p for s in PAGE_SUFFIXES if (p := ROOT / f"{entry}{s}").exists()]


def _pages() -> set[str]:
    return {
        p.relative_to(ROOT).with_suffix("").as_posix()
        for p in (ROOT / "book").rglob("*")
        if p.suffix in PAGE_SUFFIXES
        and ".ipynb_checkpoints" not in p.parts
        and not NOT_PAGES & set(p.parts)
    }


def test_the_four_parts_then_the_api_reference() -> None:
    captions = [part["caption"] for part in _toc()["parts"]]
    assert captions == [
        "Introduction",
        "Foundations",
        "Attention and Transformers",
        "Representation learning",
        "API reference",
    ]


def test_the_api_reference_documents_every_module() -> None:
    """Each module of companion has an ``automodule`` entry in the API pages."""
    import companion

    package = Path(companion.__file__).parent
    modules = {
        "companion." + ".".join(p.relative_to(package).with_suffix("").parts)
        for p in package.rglob("*.py")
        if not p.stem.startswith("_")
    }
    documented = set()
    for page in (ROOT / "book" / "api").glob("*.md"):
        documented |= set(re.findall(r"^\.\. automodule:: (\S+)$", page.read_text(), re.M))
    assert documented == modules


def test_every_entry_exists_exactly_once() -> None:
    entries = _entries(_toc())
    assert len(entries) == len(set(entries)), "an entry is listed twice"
    missing = [e for e in entries if len(_resolve(e)) != 1]
    assert not missing, f"toc entries with no (or two) files: {missing}"


def test_every_page_is_in_the_toc() -> None:
    unlisted = sorted(_pages() - set(_entries(_toc())))
    assert not unlisted, f"pages missing from _toc.yml: {unlisted}"


def test_each_chapter_has_its_exercises_nested_under_it() -> None:
    """A chapter notebook's only section is its exercises; exercises are never a chapter."""
    chapters = 0
    for part in _toc()["parts"]:
        for chapter in part["chapters"]:
            entry = chapter["file"]
            sections = [section["file"] for section in chapter.get("sections", [])]
            assert not entry.endswith("_exercises"), f"{entry} is a chapter of its own"
            if (ROOT / f"{entry}.ipynb").exists():
                chapters += 1
                assert sections == [f"{entry}_exercises"], (
                    f"{entry} must have {entry}_exercises (only) nested under it in _toc.yml"
                )
            else:
                assert not sections, f"{entry} is no chapter notebook but has sections"
    assert chapters == len(list(ROOT.glob("book/**/*_exercises.ipynb")))
