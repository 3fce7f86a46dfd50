"""The course says under which terms it may be reused (issue 19).

The code is MIT (``LICENSE``), the content CC BY 4.0 (``LICENSE-CONTENT``); ``pyproject.toml``
states both as an SPDX expression; every page's footer says so; each bundled third-party
folder carries its own licence; ``CITATION.cff`` validates against the Citation File Format
1.2.0 schema (a copy in ``tests/fixtures/cff``, so the check runs offline); the credits page
exists and the introduction links to it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml
from licences import (
    EXTRA,
    ROOT,
    bundled_folders,
    footer_markup,
    footer_text,
    licence_files,
)

CFF_SCHEMA = ROOT / "tests" / "fixtures" / "cff" / "schema-1.2.0.json"
FOLDERS = bundled_folders()


def test_book_extra_holds_only_folders() -> None:
    """A loose file in ``book/_extra`` would have no licence beside it of its own."""
    loose = sorted(p.name for p in EXTRA.iterdir() if not p.is_dir())
    assert not loose, f"put each bundled copy in a folder with its licence: {loose}"
    assert (EXTRA / "mathjax") in FOLDERS


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.relative_to(ROOT).as_posix() for p in FOLDERS])
def test_every_bundled_folder_has_its_licence(folder: Path) -> None:
    assert licence_files(folder), (
        f"{folder.relative_to(ROOT)} has no licence file (LICENSE*, LICENCE*, COPYING*) "
        "beside the bundled copy"
    )


def test_a_folder_without_a_licence_is_caught(tmp_path: Path) -> None:
    bundle = tmp_path / "somelib"
    bundle.mkdir()
    (bundle / "somelib.js").write_text("// code\n")
    assert licence_files(bundle) == []
    (bundle / "LICENSE").write_text("")
    assert licence_files(bundle) == [], "an empty licence file is no licence"
    (bundle / "COPYING.txt").write_text("MIT License\n")
    assert licence_files(bundle) == [bundle / "COPYING.txt"]


def test_mathjax_ships_the_apache_licence_and_names_its_version() -> None:
    mathjax = EXTRA / "mathjax"
    licence = (mathjax / "LICENSE").read_text()
    assert "Apache License" in licence
    assert "Version 2.0, January 2004" in licence
    assert 'VERSION="3.2.2"' in (mathjax / "tex-chtml-full.js").read_text()
    credits = (ROOT / "book" / "intro" / "credits.md").read_text()
    assert "[MathJax](https://github.com/mathjax/MathJax) 3.2.2" in credits
    assert "Apache-2.0" in credits


def test_the_code_is_mit_and_the_content_cc_by() -> None:
    code = (ROOT / "LICENSE").read_text()
    assert code.startswith("MIT License")
    assert "Permission is hereby granted, free of charge" in code
    content = (ROOT / "LICENSE-CONTENT").read_text()
    assert "Creative Commons Attribution 4.0 International Public License" in content
    assert "https://creativecommons.org/licenses/by/4.0/" in content
    # the full legal code, not a summary: its eight sections
    for section in range(1, 9):
        assert f"Section {section} -- " in content


def _pyproject(key: str) -> str:
    """The value of a top-level ``key = ...`` line of pyproject.toml (tomllib needs 3.11)."""
    found = re.findall(rf"^{re.escape(key)} = (.+)$", (ROOT / "pyproject.toml").read_text(), re.M)
    assert len(found) == 1, f"pyproject.toml: expected one {key!r} line, found {found}"
    return found[0]


def test_pyproject_states_both_licences_as_spdx() -> None:
    assert _pyproject("license") == '"MIT AND CC-BY-4.0"'
    assert _pyproject("license-files") == '["LICENSE", "LICENSE-CONTENT"]'
    # setuptools reads PEP 639's SPDX string from version 77 on
    assert _pyproject("requires") == '["setuptools>=77"]'


def test_every_page_footer_states_the_licences() -> None:
    markup = footer_markup()
    text = footer_text()
    assert "Code: MIT licence." in text
    assert "Text, figures and notebooks' prose: CC BY 4.0." in text
    assert "https://creativecommons.org/licenses/by/4.0/" in markup
    assert "Credits and licences" in text


def test_the_footer_check_sees_a_missing_line(tmp_path: Path) -> None:
    config = tmp_path / "_config.yml"
    config.write_text("title: x\nhtml:\n  home_page_in_navbar: true\n")
    assert footer_text(config) == ""
    config.write_text("title: x\nhtml:\n  extra_footer: '<p>Code: <b>MIT</b> licence.</p>'\n")
    assert footer_text(config) == "Code: MIT licence."


def _cff_errors(path: Path) -> list[str]:
    schema = json.loads(CFF_SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    # CFF is YAML 1.2: PyYAML (YAML 1.1) would turn an unquoted date into a date, but the
    # schema wants every date as a quoted string, as the CFF guide writes them.
    data = yaml.safe_load(path.read_text())
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(data)
    ]


def test_citation_cff_validates() -> None:
    errors = _cff_errors(ROOT / "CITATION.cff")
    assert not errors, "CITATION.cff does not validate:\n" + "\n".join(errors)
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert _pyproject("version") == f'"{cff["version"]}"'
    assert cff["title"] == yaml.safe_load((ROOT / "_config.yml").read_text())["title"]


def test_an_invalid_citation_cff_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "CITATION.cff"
    shutil.copy(ROOT / "CITATION.cff", bad)
    text = bad.read_text().replace("cff-version: 1.2.0", "cff-version: 9.9.9")
    bad.write_text(text.replace("license: MIT", "license: Not-A-Licence"))
    errors = _cff_errors(bad)
    assert any(e.startswith("cff-version") for e in errors)
    assert any(e.startswith("license") for e in errors)


def test_the_credits_page_is_in_the_introduction_and_linked() -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    intro = next(part for part in toc["parts"] if part["caption"] == "Introduction")
    assert {"file": "book/intro/credits"} in intro["chapters"]
    assert "(credits.md)" in (ROOT / "book" / "intro" / "index.md").read_text()
    credits = (ROOT / "book" / "intro" / "credits.md").read_text()
    for needed in ("alpaydin1998", "xiao2017", "MathJax", "CC BY 4.0", "BSD-3-Clause"):
        assert needed in credits


def test_readme_has_licence_and_citation_sections() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "\n## Licence\n" in readme
    assert "\n## How to cite\n" in readme
    assert "CITATION.cff" in readme
    assert "book/intro/credits.md" in readme
