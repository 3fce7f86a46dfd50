"""The reproducibility page (book/intro/reproducibility.md) states the stored runs as they are
stored: its table of the ViT chapter's runs is the file's, row for row, and so is the machine."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "intro" / "reproducibility.md"
VIT_RUNS = ROOT / "benchmarks" / "results" / "kernels_vit_fashion_cpu.json"


def _section(text: str, heading: str) -> str:
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def _table_rows(section: str) -> list[list[str]]:
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("|")
    ]
    return rows[2:]  # past the header and its rule


def test_the_vit_table_is_the_stored_runs() -> None:
    stored = json.loads(VIT_RUNS.read_text())
    runs = sorted(
        (r for r in stored["runs"] if r["chapter"] == "fashion"),
        key=lambda r: (r["kernels"], r["seed"]),
    )
    expected = [
        [
            r["kernels"],
            str(r["seed"]),
            f"{r['vit_val']:.3f}",
            f"{r['vit_test']:.3f}",
            f"{r['cnn_test']:.3f}",
            f"{100 * (r['cnn_test'] - r['vit_test']):+.1f}",
            f"{r['vit_seconds_cpu']:.0f}",
            f"{r['cnn_seconds_cpu']:.0f}",
        ]
        for r in runs
    ]
    shown = _table_rows(_section(PAGE.read_text(), "The Vision Transformer chapter"))
    assert len(expected) >= 2, f"{VIT_RUNS} holds no runs of the chapter"
    assert shown == expected


def test_the_vit_section_names_the_machine_of_the_stored_runs() -> None:
    machine = json.loads(VIT_RUNS.read_text())["machine"]
    text = re.sub(r"\s+", " ", _section(PAGE.read_text(), "The Vision Transformer chapter"))
    levels = ", ".join(machine["capabilities"][:-1]) + " and " + machine["capabilities"][-1]
    for fact in (
        machine["cpu"],
        f"{machine['logical_cpus']} logical CPUs",
        f"kernel levels {levels}",
        f"torch {machine['torch']}",
        f"Python {machine['python']}",
    ):
        assert fact in text, f"the page does not say {fact!r}"
    assert machine["threads_per_run"] == 1
    assert "one thread per run" in text
