"""Run the training notebooks under strict nbval once per CPU kernel PyTorch can pick here.

    python tools/check_kernels.py            # every kernel this CPU has
    python tools/check_kernels.py --others   # all but the one PyTorch picks by itself (CI)
    python tools/check_kernels.py --all-notebooks book/transformers/attention.ipynb ...

PyTorch chooses its CPU kernels by instruction set (no SIMD, AVX2, AVX-512), and floating-point
sums taken in another order send a training run down another path. Two libraries choose,
independently: ATen (``ATEN_CPU_CAPABILITY``) for most operations and oneDNN
(``ONEDNN_MAX_CPU_ISA``) for convolutions, so a kernel level here sets both, as a learner's
CPU of that level would. A claim a notebook asserts must hold on every level, so this script
re-runs the notebooks that train (those that import ``companion.train``) under each level the
CPU supports, checks that PyTorch really switched, and says which level failed which
notebook. It exits non-zero if any run failed. The levels and their detection are
:mod:`course_tools.notebooks.kernels`, which ``benchmarks/bench_kernels.py`` uses too, to
measure the claims' spread over levels and seeds.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from course_tools.notebooks.cells import text
from course_tools.notebooks.kernels import KERNELS, LEVELS, available_levels, level_env

ROOT = Path(__file__).resolve().parents[1]
_TRAINS = re.compile(r"^\s*(from\s+companion\.train\b|import\s+companion\.train\b)", re.M)


def training_notebooks() -> list[Path]:
    """Notebooks under book/ whose code imports ``companion.train``."""
    found = []
    for path in sorted((ROOT / "book").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join(text(c["source"]) for c in cells if c["cell_type"] == "code")
        if _TRAINS.search(code):
            found.append(path)
    return found


def run(kernel: str, notebooks: list[Path]) -> tuple[int, float, str]:
    """Strict nbval on ``notebooks`` under kernel level ``kernel``."""
    env = level_env(kernel)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "--no-header",
        *[str(p.relative_to(ROOT)) for p in notebooks],
    ]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return done.returncode, time.perf_counter() - start, done.stdout + done.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: the training notebooks")
    parser.add_argument(
        "--others",
        action="store_true",
        help="skip the kernel PyTorch picks without the variable (the plain test run covers it)",
    )
    args = parser.parse_args(argv)

    kernels, best = available_levels()
    if args.others:
        kernels = [k for k in kernels if KERNELS[k] != best]
    notebooks = [p.resolve() for p in args.notebooks] or training_notebooks()
    if not notebooks:
        parser.error("no notebook to run: none imports companion.train")
    print(f"this CPU's default kernel: {best}; checking {', '.join(kernels) or 'none'}")
    for path in notebooks:
        print(f"  {path.relative_to(ROOT)}")

    failed = []
    for kernel in kernels:
        code, seconds, log = run(kernel, notebooks)
        verdict = "passed" if code == 0 else f"FAILED (pytest exit {code})"
        variables = " ".join(f"{k}={v}" for k, v in LEVELS[kernel].items())
        print(f"{kernel:8s} ({variables}): {verdict} in {seconds:.0f} s", flush=True)
        if code != 0:
            failed.append(kernel)
            print(log[-6000:])
    if failed:
        print(f"the notebooks' claims fail under: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
