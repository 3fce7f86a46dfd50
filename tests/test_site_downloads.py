"""Student copies on the website: every exercises page links to one, and nothing secret
can be downloaded from the site.

The site is the session's one build (``built_site``, shared with ``test_site.py``, execution
off); the build itself runs the course's release step (``book/_ext/course_exercises.py``).
Also here: every cell of every exercises notebook is tracked (locked) by nbgrader, and the
script that locks them (``tools/lock_exercise_cells.py``) is idempotent.
"""

from __future__ import annotations

import html.parser
import json
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin, urlparse

import nbformat
import pytest
from course_exercises import DOWNLOADS, download_cell, transform_notebook
from lock_exercise_cells import lock, unlocked
from site_build import Site

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = sorted(ROOT.glob("book/**/*_exercises.ipynb"))
SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
#: What the theme ships (code, styles, fonts, images), not files of the course.
ASSETS = {".html", ".js", ".css", ".map", ".png", ".svg", ".gif", ".jpg", ".ico", ".woff",
          ".woff2", ".ttf", ".eot", ".otf", ".inv", ".pickle", ".doctree"}  # fmt: skip


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _split_lines(path: Path) -> tuple[set[str], set[str]]:
    """``(public, secret)`` lines of an exercises notebook: secret are the code solutions,
    written answers and hidden tests, which only the instructor may see."""
    public, secret = set(), set()
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        lines = _source(cell).splitlines()
        markers = SOLUTION if meta.get("solution") else HIDDEN if meta.get("grade") else None
        if meta.get("solution") and not any(line.strip() == SOLUTION[0] for line in lines):
            secret.update(line.strip() for line in lines)  # a written answer: all of it
            continue
        inside = False
        for line in lines:
            if markers and line.strip() == markers[0]:
                inside = True
            elif markers and line.strip() == markers[1]:
                inside = False
            else:
                (secret if inside else public).add(line.strip())
    return public, secret


def _secret_lines(paths: list[Path]) -> set[str]:
    """Secret lines of the notebooks ``paths`` that tell something. A secret line that also
    stands (maybe inside a longer line) in the public part of any of them tells nothing,
    since every student copy is on the site; neither does a short one."""
    split = [_split_lines(path) for path in paths]
    public = set().union(*(p for p, _ in split))
    secret = set().union(*(s for _, s in split))
    return {
        line for line in secret if len(line) >= 8 and not any(line in other for other in public)
    }


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.downloads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and "download" in found and found.get("href"):
            self.downloads.append(str(found["href"]))


@pytest.fixture(scope="module")
def site(built_site: Site) -> Path:
    """The session's build (``tests/conftest.py``), which must have succeeded."""
    assert built_site.returncode == 0, built_site.log[-3000:]
    return built_site.html


pytestmark = pytest.mark.slow


@pytest.mark.parametrize("notebook", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_exercises_page_links_to_its_student_copy(notebook: Path, site: Path) -> None:
    page = site / notebook.relative_to(ROOT).with_suffix(".html")
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    assert len(parser.downloads) == 1, parser.downloads
    target = Path(urlparse(urljoin(page.as_uri(), parser.downloads[0])).path)
    assert target == site / DOWNLOADS / notebook.name
    student = nbformat.read(target, as_version=4)
    nbformat.validate(student)
    stubs = [c for c in student.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert stubs
    assert all(
        "raise NotImplementedError()" in c.source or c.source == "YOUR ANSWER HERE" for c in stubs
    )


def test_no_downloadable_file_holds_a_solution_or_hidden_test(site: Path) -> None:
    secrets = _secret_lines(EXERCISES)
    assert len(secrets) > 50
    files = [p for p in site.rglob("*") if p.is_file() and p.suffix not in ASSETS]
    assert {p.name for p in (site / DOWNLOADS).iterdir()} == {p.name for p in EXERCISES}
    assert set(site.glob(f"{DOWNLOADS}/*")) <= set(files)
    for path in files:
        content = path.read_text(encoding="utf-8", errors="replace")
        assert "BEGIN SOLUTION" not in content, path
        assert "BEGIN HIDDEN TESTS" not in content, path
        leaked = sorted(line for line in secrets if line in content)
        assert not leaked, f"{path.relative_to(site)}: {leaked[:5]}"


def test_download_link_sits_under_the_title() -> None:
    notebook = {"cells": [{"cell_type": "markdown", "id": "t", "metadata": {},
                           "source": "# Exercises"}], "metadata": {}}  # fmt: skip
    cells = json.loads(transform_notebook(json.dumps(notebook), "book/part/x_exercises"))["cells"]
    assert cells[1] == download_cell("book/part/x_exercises")
    assert 'href="../../_downloads/student/x_exercises.ipynb"' in cells[1]["source"]
    plain = json.loads(transform_notebook(json.dumps(notebook), "book/part/chapter"))["cells"]
    assert len(plain) == 1


# --- every cell locked ------------------------------------------------------------------


@pytest.mark.parametrize("notebook", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_every_cell_of_every_exercises_notebook_is_tracked_by_nbgrader(notebook: Path) -> None:
    cells = nbformat.read(notebook, as_version=4).cells
    missing = [i + 1 for i in unlocked(nbformat.from_dict({"cells": cells}))]
    assert not missing, (
        f"cells {missing} have no nbgrader metadata: run tools/lock_exercise_cells.py"
    )


def test_lock_script_is_idempotent_and_gives_unique_ids(tmp_path: Path) -> None:
    source = ROOT / "tests" / "fixtures" / "coursework" / "toy_exercises.ipynb"
    path = tmp_path / source.name
    shutil.copyfile(source, path)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell("A prompt.", id="prompt-1"))
    notebook.cells.insert(2, nbformat.v4.new_markdown_cell("Another.", id="prompt-1x"))
    nbformat.write(notebook, path)
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "lock_exercise_cells.py"),
                           str(path)], capture_output=True, text=True, check=True)  # fmt: skip
    assert "3 cell(s) locked" in done.stdout  # the title and the two prompts
    locked = nbformat.read(path, as_version=4)
    assert not unlocked(locked)
    ids = [c.metadata.nbgrader["grade_id"] for c in locked.cells]
    assert len(ids) == len(set(ids))
    meta = locked.cells[1].metadata.nbgrader
    assert meta == {"grade": False, "grade_id": "locked_prompt-1", "locked": True,
                    "schema_version": 3, "solution": False, "task": False}  # fmt: skip
    before = path.read_bytes()
    assert lock(locked) == 0
    subprocess.run([sys.executable, str(ROOT / "tools" / "lock_exercise_cells.py"), str(path)],
                   capture_output=True, check=True)  # fmt: skip
    assert path.read_bytes() == before
