"""Every notebook under book/ is executed by strict nbval and follows the course's rules.

nbval itself runs in this same pytest session (``--nbval`` in pyproject.toml, ``book`` in
``testpaths``); these tests make sure it cannot silently skip anything.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(p for p in BOOK.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
IDS = [p.relative_to(ROOT).as_posix() for p in NOTEBOOKS]
VOLATILE = {
    "a timing": re.compile(r"\b(Wall time|CPU times|\d+(\.\d+)? ?(ms|µs|us|ns) ±|it/s\b|s/it\b)"),
    "a memory address": re.compile(r"\bat 0x[0-9a-fA-F]{6,}"),
    "a progress bar": re.compile(r"\d+%\|[█▏▎▍▌▋▊▉ ]*\|"),
}
MAX_IMAGE_BYTES = 120_000


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_the_book_has_notebooks() -> None:
    assert NOTEBOOKS, "no notebook under book/"


def test_nbval_collects_every_notebook(request: pytest.FixtureRequest) -> None:
    """Every notebook under book/ is collected by nbval. A full run checks its own
    collection; a run of a subset asks pytest's collection of book/ as a reader would."""
    from conftest import COLLECTED_NOTEBOOKS

    collected = request.config.stash.get(COLLECTED_NOTEBOOKS, set())
    if not set(IDS) <= collected:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "book"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        collected = {line.split("::")[0] for line in done.stdout.splitlines() if "::" in line}
    missing = sorted(set(IDS) - collected)
    assert not missing, f"nbval does not collect {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_code_cell_has_a_stored_execution(path: Path) -> None:
    nb = _load(path)
    unrun = [
        i
        for i, c in enumerate(nb["cells"])
        if c in _code_cells(nb) and c["execution_count"] is None
    ]
    assert not unrun, f"cells {unrun} were never executed: nbval would skip them"
    counts = [c["execution_count"] for c in _code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"execution counts {counts}: execute the notebook top to bottom in a fresh kernel "
        "(python tools/run_notebooks.py)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_stored_error_or_volatile_output(path: Path) -> None:
    for index, cell in enumerate(_code_cells(_load(path))):
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"cell {index} stored an error"
            text = "".join(output.get("text", "")) + "".join(
                output.get("data", {}).get("text/plain", "")
            )
            for what, pattern in VOLATILE.items():
                assert not pattern.search(text), f"cell {index} stores {what}: {text[:200]!r}"
            assert output.get("name") != "stderr" or not text.strip(), (
                f"cell {index} stores stderr output: {text[:200]!r}"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_figures_are_small(path: Path) -> None:
    for index, cell in enumerate(_code_cells(_load(path))):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                size = len(base64.b64decode("".join(png)))
                assert size <= MAX_IMAGE_BYTES, f"cell {index}: a {size}-byte figure (dpi 80-100)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_imports_companion_and_stays_offline(path: Path) -> None:
    source = "\n".join("".join(c["source"]) for c in _code_cells(_load(path)))
    assert re.search(r"^\s*(import companion|from companion)", source, re.M), "no companion import"
    assert not re.search(r"^\s*[!%]\s*pip\b", source, re.M), "installs packages from a cell"
    assert not re.search(
        r"download\s*=\s*True|urlretrieve|requests\.get|urlopen|hf_hub_download", source
    ), "fetches from the network"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_one_title_and_no_skipped_heading_level(path: Path) -> None:
    levels = []
    for cell in _load(path)["cells"]:
        if cell["cell_type"] == "markdown":
            text = re.sub(r"```.*?```", "", "".join(cell["source"]), flags=re.S)
            levels += [len(m) for m in re.findall(r"^(#+) ", text, re.M)]
    assert levels[:1] == [1], "the notebook must start with one '# Title'"
    assert levels.count(1) == 1, "only one top-level '# ' heading per notebook"
    for before, after in itertools.pairwise(levels):
        assert after <= before + 1, f"heading level jumps from {before} to {after}"


def _draws_only_a_figure(cell: dict) -> bool:
    """A code cell whose only outputs are figures (no printed text, no value)."""
    outputs = cell.get("outputs", [])
    return bool(outputs) and all(
        o["output_type"] == "display_data" and "image/png" in o.get("data", {}) for o in outputs
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_figure_cells_hide_their_code_and_test_markers_are_tags(path: Path) -> None:
    """Readers come for the math and the figures: a cell that only draws a figure carries
    the ``hide-input`` tag (its code one click away). nbval's markers are cell tags, never
    comment lines a reader would see on the page."""
    for index, cell in enumerate(_code_cells(_load(path))):
        tags = cell.get("metadata", {}).get("tags", [])
        if _draws_only_a_figure(cell):
            assert "hide-input" in tags, f"code cell {index} only draws a figure: tag hide-input"
        source = "".join(cell["source"])
        assert not re.search(r"#\s*NBVAL_", source), (
            f"code cell {index} marks nbval with a comment; use the cell tag "
            "(nbval-ignore-output, nbval-skip, nbval-raises-exception)"
        )
