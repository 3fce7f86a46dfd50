"""Execute notebooks in place, so their stored outputs are what the code produces now.

    python tools/run_notebooks.py book/foundations/calculus.ipynb [more.ipynb ...]
    python tools/run_notebooks.py --all

Runs each notebook top to bottom in a fresh kernel from its own folder, with the same
environment the test suite gives nbval (no progress bars, fixed hash seed), and writes
outputs and execution counts back into the file. Prints each notebook's run time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from notebook_env import KERNEL_ENV  # noqa: E402


def run(path: Path, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    elapsed = time.perf_counter() - start
    # Keep stored notebooks free of per-run noise.
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every notebook under book/")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args()
    paths = sorted((ROOT / "book").rglob("*.ipynb")) if args.all else args.notebooks
    paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
    if not paths:
        parser.error("give notebooks or --all")
    os.environ.update(KERNEL_ENV)
    for path in paths:
        print(f"{run(path, args.timeout):6.1f} s  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
