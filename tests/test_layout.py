"""The tests mirror the packages (CONTRIBUTING.md, "Tests"): the unit tests of
``companion/<group>/<module>.py`` are in ``tests/companion/<group>/test_<module>.py``, those of
``course_tools/...`` in ``tests/course_tools/.../test_<module>.py``. The suites that cut across
modules (the notebooks, the site, the grader end to end, ...) stay at the top of ``tests/``.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("companion", "course_tools")

#: Modules without a mirrored test file, each with where it is tested instead (or that it is
#: not). Shrink this list; do not grow it without a reason.
ONLY_IN_CROSS_CUTTING_SUITES: dict[str, str] = {
    "companion/train/vit_runs.py": "registered runs: each runs on a tiny budget, and its images "
    "are checked, in tests/test_run_data.py",
    "course_tools/coursework/errors.py": "the exception classes only; the coursework tests match "
    "their messages",
    "course_tools/coursework/feedback.py": "feedback pages, read back from a real grading run in "
    "tests/test_coursework.py",
    "course_tools/coursework/gradescope.py": "Gradescope's results.json, from a real grading run "
    "in tests/test_coursework_parallel.py",
    "course_tools/coursework/grading.py": "grade(), end to end in tests/test_coursework.py, "
    "tests/test_coursework_parallel.py and tests/test_coursework_attacks.py",
    "course_tools/coursework/limits.py": "the sandbox's limits, attacked in "
    "tests/test_coursework_attacks.py",
    "course_tools/coursework/release.py": "release, in tests/test_coursework.py",
    "course_tools/coursework/sandbox.py": "the sandbox, attacked in "
    "tests/test_coursework_attacks.py",
    "course_tools/coursework/submissions.py": "deleted, altered and unexpected cells, in "
    "tests/test_coursework.py",
    "course_tools/machine.py": "not tested: what the benchmarks record about their machine",
    "course_tools/notebooks/env.py": "KERNEL_ENV, the environment of every notebook kernel "
    "(conftest.py): tests/test_notebooks.py",
    "course_tools/notebooks/execute.py": "not tested: tools/run_notebooks.py's executor",
    "course_tools/notebooks/wrong_answers.py": "tests/test_wrong_answers.py",
    "course_tools/reference_vit.py": "a test oracle, used by "
    "tests/companion/nn/test_vit_torchvision.py",
}


def _modules() -> list[Path]:
    """Every public module of the packages, relative to the repository."""
    return sorted(
        path.relative_to(ROOT)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if not path.name.startswith("_")  # __init__.py, __main__.py and private modules
    )


def _mirror(module: Path) -> Path:
    return Path("tests") / module.parent / f"test_{module.name}"


def test_every_module_has_its_test_file() -> None:
    missing = [
        f"{module} -> {_mirror(module)}"
        for module in _modules()
        if module.as_posix() not in ONLY_IN_CROSS_CUTTING_SUITES
        and not (ROOT / _mirror(module)).is_file()
    ]
    assert not missing, f"modules without their test file: {missing}"


def test_the_exceptions_are_modules_still_without_a_test_file() -> None:
    modules = {module.as_posix(): module for module in _modules()}
    stale = [
        name
        for name in ONLY_IN_CROSS_CUTTING_SUITES
        if name not in modules or (ROOT / _mirror(modules[name])).is_file()
    ]
    assert not stale, f"remove from ONLY_IN_CROSS_CUTTING_SUITES: {stale}"


def test_every_test_file_names_a_module() -> None:
    orphans = [
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in sorted((ROOT / "tests" / package).rglob("*.py"))
        if path.name != "__init__.py"
        and not (
            path.name.startswith("test_")
            and (
                ROOT / path.relative_to(ROOT / "tests").parent / path.name.removeprefix("test_")
            ).is_file()
        )
    ]
    assert not orphans, f"test files that name no module: {orphans}"
