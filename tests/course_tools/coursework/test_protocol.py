"""course_tools.coursework.protocol: the runner's records and time-limit words."""

from __future__ import annotations

import pytest

from course_tools.coursework.protocol import (
    CPU,
    WALL,
    WALL_FACTOR,
    WALL_SLACK,
    Reply,
    Request,
    Stopped,
    TimedOut,
    Timing,
    timeout_words,
    wall_limit,
)


def test_wall_limit_is_far_from_the_cpu_limit() -> None:
    assert wall_limit(4) == 4 + WALL_SLACK
    assert wall_limit(60) == WALL_FACTOR * 60
    assert all(wall_limit(s) >= WALL_FACTOR * s for s in (1, 4, 60, 300))


def test_time_outs_say_which_clock() -> None:
    assert timeout_words(4, CPU) == "timed out after 4 s of CPU time"
    assert timeout_words(34, WALL) == "timed out after 34 s of waiting (wall clock)"
    assert TimedOut(3, 4.0).words == "timed out after 4 s of CPU time"


def test_protocol_records_round_trip() -> None:
    request = Request({"cells": []}, 5, 60, memory_mb=10, seed_dirs={"/a": "/b"})
    assert Request.from_json(request.to_json()) == request
    reply = Reply({"cells": []}, Stopped("crash", 3, "the kernel died"), (1, 2),
                  (TimedOut(1, 5.0),), Timing(1.5, 2.5))  # fmt: skip
    assert Reply.from_json(reply.to_json()) == reply
    with pytest.raises(TypeError):
        Reply.from_json('{"stopped": null}')
