"""companion.utils: seeding, device choice, parameter counts, progress switch."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
import torch
from torch import nn

from companion.utils import count_parameters, get_device, progress_enabled, seed_everything


def test_seed_everything_makes_every_rng_repeat() -> None:
    gen = seed_everything(7)
    first = [random.random(), np.random.rand(), torch.rand(1).item()]  # noqa: NPY002
    first.append(torch.rand(1, generator=gen).item())
    gen = seed_everything(7)
    second = [random.random(), np.random.rand(), torch.rand(1).item()]  # noqa: NPY002
    second.append(torch.rand(1, generator=gen).item())
    assert first == second


def test_seed_everything_rejects_non_int() -> None:
    with pytest.raises(TypeError, match="seed must be an int, got float"):
        seed_everything(1.5)  # type: ignore[arg-type]


def test_seed_everything_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 4294967295\], got -1"):
        seed_everything(-1)


def test_get_device_auto_matches_cuda_availability() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert get_device().type == expected
    assert get_device("cpu") == torch.device("cpu")


def test_get_device_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match="prefer must be one of None, 'cpu', 'cuda', got 'tpu'"):
        get_device("tpu")


def test_get_device_cuda_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    # CUDA hidden, so the message is checked on a GPU machine too.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    message = "prefer='cuda' was asked for, but torch.cuda.is_available() is False"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        get_device("cuda")


def test_count_parameters_matches_hand_count() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2, bias=False))
    assert count_parameters(model) == 4 * 3 + 3 + 3 * 2
    model[0].weight.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 3 + 3 * 2


def test_count_parameters_counts_shared_weights_once() -> None:
    shared = nn.Linear(5, 5)
    model = nn.Sequential(shared, shared)
    assert count_parameters(model) == 30


def test_count_parameters_rejects_non_module() -> None:
    with pytest.raises(TypeError, match="module must be a Module, got Tensor"):
        count_parameters(torch.zeros(3))  # type: ignore[arg-type]


def test_progress_enabled_follows_argument_then_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMPANION_PROGRESS", "0")
    assert progress_enabled() is False
    assert progress_enabled(True) is True
    monkeypatch.setenv("COMPANION_PROGRESS", "1")
    assert progress_enabled() is True
    assert progress_enabled(False) is False


def test_forbidden_calls_refuse_inside_and_restore_after() -> None:
    from companion.utils import forbidden_calls

    A = torch.eye(2, dtype=torch.float64) * 2
    original = torch.linalg.inv
    with forbidden_calls("torch.linalg.inv", "torch.Tensor.backward"):
        with pytest.raises(
            AssertionError, match="torch.linalg.inv must not be called in this exercise, got a call"
        ):
            torch.linalg.inv(A)
        with pytest.raises(AssertionError, match="torch.Tensor.backward must not be called"):
            torch.ones(1, requires_grad=True).sum().backward()
        assert torch.equal(
            torch.linalg.solve(A, torch.ones(2, dtype=torch.float64)),
            torch.full((2,), 0.5, dtype=torch.float64),
        )
    assert torch.linalg.inv is original
    torch.testing.assert_close(torch.linalg.inv(A), A / 4)


def test_forbidden_calls_restore_after_an_error_and_reject_unknown_names() -> None:
    from companion.utils import forbidden_calls

    original = torch.autograd.grad
    with pytest.raises(RuntimeError, match="inside"):
        with forbidden_calls("torch.autograd.grad"):
            raise RuntimeError("inside")
    assert torch.autograd.grad is original
    with pytest.raises(AttributeError):
        with forbidden_calls("torch.linalg.no_such_function"):
            pass
    with pytest.raises(ValueError, match="names must start with an importable module"):
        with forbidden_calls("no_such_module_xyz.f"):
            pass
