"""The sandbox runner: its client's output budget alone (no kernel), and end to end in a
sandbox, a cell's time limit is CPU time.

The runner's watch of the kernel, each piece alone, is tested in ``test_kernel_watch.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import nbformat

from course_tools.coursework.limits import Limits
from course_tools.coursework.protocol import Request
from course_tools.coursework.runner import GuardedClient
from course_tools.coursework.sandbox import Sandbox

_CUT_NOTE = "[output cut: this cell printed more than 100 bytes]\n"


def _client(max_output_bytes: int = 100) -> Any:
    """A client of a two-cell notebook; no kernel is started."""
    cells = [nbformat.v4.new_code_cell("print('x')") for _ in range(2)]
    notebook = dict(nbformat.v4.new_notebook(cells=cells))
    client = GuardedClient(
        Request(notebook, timeout=1, notebook_timeout=1, max_output_bytes=max_output_bytes)
    )
    client.clear_before_next_output = False  # as nbclient sets it when a cell starts
    return client


def _stream(text: str, name: str = "stdout") -> dict[str, Any]:
    """An iopub stream message, as the kernel sends it."""
    return {
        "header": {"msg_type": "stream"},
        "msg_type": "stream",
        "parent_header": {"msg_id": "run-1"},
        "content": {"name": name, "text": text},
    }


def test_outputs_within_the_budget_are_kept() -> None:
    client, outs = _client(max_output_bytes=1000), []
    for text in ("a" * 20, "b" * 20):
        assert client.output(outs, _stream(text), None, 0) is outs[-1]
    assert [out["text"] for out in outs] == ["a" * 20, "b" * 20]
    assert client.cut == []


def test_outputs_past_the_budget_are_cut_with_one_note() -> None:
    """The output that crosses the budget and every later one are dropped; the cell's
    outputs end with the note, once, and the cell is counted as cut once."""
    client, outs = _client(), []
    assert client.output(outs, _stream("a" * 20), None, 0) is not None
    assert client.output(outs, _stream("b" * 200), None, 0) is None
    assert client.output(outs, _stream("c"), None, 0) is None
    assert client.output(outs, _stream("d", "stderr"), None, 0) is None
    assert [out["text"] for out in outs] == ["a" * 20, _CUT_NOTE]
    assert outs[-1]["name"] == "stdout"
    assert client.cut == [0]


def test_the_budget_is_per_cell() -> None:
    client, first, second = _client(), [], []
    client.output(first, _stream("a" * 200), None, 0)
    assert client.output(second, _stream("b" * 20), None, 1) is not None
    client.output(second, _stream("c" * 200), None, 1)
    assert [out["text"] for out in first] == [_CUT_NOTE]
    assert [out["text"] for out in second] == ["b" * 20, _CUT_NOTE]
    assert client.cut == [0, 1]
    assert client.reply(None).cut == (0, 1)


def test_no_budget_keeps_everything() -> None:
    client, outs = _client(max_output_bytes=0), []
    client.output(outs, _stream("a" * 10_000), None, 0)
    assert [out["text"] for out in outs] == ["a" * 10_000]
    assert client.cut == []


def test_a_cell_within_its_cpu_time_passes_on_a_loaded_machine() -> None:
    """1.5 s of CPU time against a 4 s limit, with one CPU-burning process per core beside
    it (and whatever else the suite runs): on a wall-clock limit this cell timed out
    whenever the machine was busy enough (the same cell, 2 s of CPU time, did in 2 of 2
    runs of the former runner on a loaded 2-core machine); on CPU time it passes."""
    cell = (
        "import time\nstart = time.process_time()\n"
        "while time.process_time() - start < 1.5:\n    pass\nprint('computed')\n"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in os.sched_getaffinity(0)
    ]
    try:
        result = Sandbox("auto", Limits(timeout=4, notebook_timeout=60)).run_notebook(
            dict(notebook)
        )
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert result.reply is not None, result.failure
    assert result.reply.timed_out == ()
    assert result.reply.notebook["cells"][0]["outputs"][0]["text"] == "computed\n"
