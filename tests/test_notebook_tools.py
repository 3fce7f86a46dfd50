"""course_tools.notebooks: the one home of the course's notebook knowledge."""

from __future__ import annotations

from pathlib import Path

from course_tools.notebooks import cells, kernels

ROOT = Path(__file__).resolve().parents[1]


def test_the_marker_regex_finds_and_cuts_the_hidden_tests() -> None:
    source = "assert f(1) == 2\n  ### BEGIN HIDDEN TESTS\nassert f(3) == 6\n### END HIDDEN TESTS\n"
    assert cells.HIDDEN_TESTS.search(source)
    out = cells.strip_hidden_tests(source)
    assert out == "assert f(1) == 2\n" + cells.HIDDEN_NOTE + "\n"
    assert cells.strip_hidden_tests(source, note=None) == "assert f(1) == 2\n"
    assert cells.hidden_lines({"cells": [{"source": source}]}) == {"assert f(3) == 6"}


def test_metadata_and_first_error() -> None:
    cell = {"metadata": {"nbgrader": {"grade_id": "a", "grade": True, "points": 2}}}
    assert cells.nbgrader_metadata(cell)["grade_id"] == "a"
    assert cells.nbgrader_metadata({"metadata": {}}) == {}
    (found,) = cells.nbgrader_cells({"cells": [{"cell_type": "code", "source": "", **cell}]})
    assert found.is_test
    assert found.points == 2.0
    failed = {"outputs": [{"output_type": "error", "ename": "AssertionError", "evalue": "x\ny"}]}
    assert cells.first_error(failed) == "AssertionError: x"
    assert cells.first_error({"outputs": []}) == ""


def test_a_level_sets_both_kernel_variables() -> None:
    env = kernels.level_env("avx2", {"ATEN_CPU_CAPABILITY": "avx512", "HOME": "/h"})
    assert env == {"HOME": "/h", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert kernels.level_env(None, {"ONEDNN_MAX_CPU_ISA": "SSE41"}) == {}
    for level in ("default", "avx2"):
        assert set(kernels.LEVELS[level]) == set(kernels.KERNEL_VARIABLES)


def test_no_sys_path_insert_in_the_entry_points() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("tools", "benchmarks", "book/_ext", "course_tools")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "sys.path" in line
    ]
    assert not found, f"import course_tools instead of editing sys.path: {found}"
