"""Execute a notebook in place, so its stored outputs are what the code produces now.

A fresh kernel runs the notebook top to bottom from the notebook's own folder, in the
environment of :data:`course_tools.notebooks.env.KERNEL_ENV` (the one nbval gives the test
suite's kernels); outputs and execution counts are written back into the file, without
per-run metadata. A code cell whose only outputs are figures gets the ``hide-input`` tag,
so the site shows the figure with its code one click away. ``tools/run_notebooks.py`` is
the command line.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .env import KERNEL_ENV

__all__ = ["execute", "tag_figure_cells"]


def tag_figure_cells(nb: Any) -> int:
    """Give every code cell of the ``nbformat`` notebook ``nb`` that only draws figures the
    ``hide-input`` tag; returns how many cells were tagged."""
    tagged = 0
    for cell in nb.cells:
        outputs = cell.get("outputs", []) if cell.cell_type == "code" else []
        only_figures = bool(outputs) and all(
            o.output_type == "display_data" and "image/png" in o.get("data", {}) for o in outputs
        )
        tags = cell.metadata.setdefault("tags", []) if only_figures else []
        if only_figures and "hide-input" not in tags:
            tags.append("hide-input")
            tagged += 1
    return tagged


def execute(path: str | Path, timeout: int = 600) -> float:
    """Run the notebook at ``path`` in a fresh ``python3`` kernel (``timeout`` seconds per
    cell), tag its figure cells and write it back; returns the run time in seconds.

    The kernel inherits this process's environment with :data:`KERNEL_ENV` on top.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised (the file is not written).
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    os.environ.update(KERNEL_ENV)  # the kernel is started by this process, with its env
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        # one output per stream and cell: ipykernel's timed flush can split one print into
        # two messages on a busy machine, which would change the stored file for nothing
        coalesce_streams=True,
    )
    client.execute()
    elapsed = time.perf_counter() - start
    for cell in nb.cells:  # keep stored notebooks free of per-run noise
        cell.metadata.pop("execution", None)
    tag_figure_cells(nb)
    nbformat.write(nb, path)
    return elapsed
