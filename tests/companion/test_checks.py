"""companion.checks: each helper passes good input through and words each refusal alike."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from companion import checks
from companion.checks import check_floating

F32 = torch.zeros(2, 3)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: checks.check_tensor("x", [1.0]), TypeError, "x must be a torch.Tensor, got list"),
        (
            lambda: checks.check_floating("x", torch.zeros(2, dtype=torch.int64)),
            TypeError,
            "x must be a floating-point tensor, got dtype torch.int64",
        ),
        (lambda: checks.check_floating("x", 3.0), TypeError, "x must be a torch.Tensor, got float"),
        (
            lambda: checks.check_ndim("x", F32, 1, "(d,)"),
            ValueError,
            r"x must be 1-D \(d,\), got shape \(2, 3\)",
        ),
        (
            lambda: checks.check_matrix("A", torch.zeros(3), "(m, n)"),
            ValueError,
            r"A must be 2-D \(m, n\), got shape \(3,\)",
        ),
        (
            lambda: checks.check_vector("v", F32),
            ValueError,
            r"v must be 1-D \(d,\), got shape \(2, 3\)",
        ),
        (
            lambda: checks.check_shape("b", F32, (3,), "to match A"),
            ValueError,
            r"b must have shape \(3,\) to match A, got \(2, 3\)",
        ),
        (
            lambda: checks.check_same_dtype("x", F32, "A", F32.double()),
            TypeError,
            r"x must have the dtype of A \(torch.float64\), got torch.float32",
        ),
        (
            lambda: checks.check_same_shape("p", torch.zeros(2), "q", torch.zeros(3)),
            ValueError,
            r"p must have the shape of q \(3,\), got \(2,\)",
        ),
        (lambda: checks.check_bool("flag", 1), TypeError, "flag must be a bool, got int"),
        (lambda: checks.check_instance("cfg", [], dict), TypeError, "cfg must be a dict, got list"),
        (lambda: checks.check_instance("n", "3", int), TypeError, "n must be an int, got str"),
        (lambda: checks.check_int("k", 2.0), TypeError, "k must be an int, got float"),
        (lambda: checks.check_int("k", True), TypeError, "k must be an int, got bool"),
        (lambda: checks.check_int("k", 0, low=1), ValueError, "k must be an int >= 1, got 0"),
        (lambda: checks.check_int("k", 9, high=8), ValueError, "k must be an int <= 8, got 9"),
        (
            lambda: checks.check_int("k", 9, low=0, high=8),
            ValueError,
            r"k must be an int in \[0, 8\], got 9",
        ),
        (lambda: checks.check_number("lr", "0.1"), TypeError, "lr must be a number, got str"),
        (lambda: checks.check_number("lr", False), TypeError, "lr must be a number, got bool"),
        (
            lambda: checks.check_number("lr", 0.0, low=0, low_open=True),
            ValueError,
            "lr must be a finite number > 0, got 0.0",
        ),
        (
            lambda: checks.check_number("m", -1, low=0),
            ValueError,
            "m must be a finite number >= 0, got -1",
        ),
        (
            lambda: checks.check_number("p", 1.0, low=0, high=1, high_open=True),
            ValueError,
            r"p must be a finite number in \[0, 1\), got 1.0",
        ),
        (
            lambda: checks.check_number("p", 0, low=0, high=1, low_open=True, high_open=True),
            ValueError,
            r"p must be a finite number in \(0, 1\), got 0",
        ),
        (
            lambda: checks.check_number("t", 2.0, high=1),
            ValueError,
            "t must be a finite number <= 1, got 2.0",
        ),
        (
            lambda: checks.check_number("t", math.nan),
            ValueError,
            "t must be a finite number, got nan",
        ),
        (
            lambda: checks.check_choice("mode", "max", ("mean", "sum")),
            ValueError,
            "mode must be one of 'mean', 'sum', got 'max'",
        ),
        (
            lambda: checks.check_labels("labels", torch.zeros(3), 4),
            ValueError,
            r"labels must have shape \(4,\) \(one label per row\), got \(3,\)",
        ),
        (
            lambda: checks.check_boolean("is_same", F32, "True = same label"),
            TypeError,
            r"is_same must be a boolean tensor \(True = same label\), got torch.float32",
        ),
        (
            lambda: checks.check_given_together("ref", None, "ref_labels", F32),
            ValueError,
            "ref must be given with ref_labels, got None",
        ),
        (
            lambda: checks.check_given_together("ref", F32, "ref_labels", None),
            ValueError,
            "ref_labels must be given with ref, got None",
        ),
        (
            lambda: checks.check_output("f", 1.0),
            TypeError,
            "f must return a torch.Tensor, got float",
        ),
        (
            lambda: checks.check_output("f", torch.zeros(3), scalar=True),
            ValueError,
            r"f must return a scalar \(one element\), got shape \(3,\)",
        ),
        (
            lambda: checks.check_divisible("embed_dim", 10, "num_heads", 4),
            ValueError,
            "embed_dim must be divisible by num_heads, got embed_dim=10 and num_heads=4",
        ),
        (
            lambda: checks.check_multiple("dim", 6, 4, "(rows and columns)"),
            ValueError,
            r"dim must be a multiple of 4 \(rows and columns\), got 6",
        ),
        (
            lambda: checks.check_layout("x", torch.zeros(2, 3, 8, 8), ("B", 1, 8, 8)),
            ValueError,
            r"x must have shape \(B, 1, 8, 8\), got \(2, 3, 8, 8\)",
        ),
        (
            lambda: checks.check_layout("w", torch.zeros(2, 5), ("B", "H", 5, 5), "for L=5"),
            ValueError,
            r"w must have shape \(B, H, 5, 5\) for L=5, got \(2, 5\)",
        ),
        (
            lambda: checks.check_multiple("dim", 7, 2),
            ValueError,
            r"dim must be a multiple of 2, got 7",
        ),
    ],
)
def test_each_message(call, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_good_input_passes_through() -> None:
    x = torch.zeros(2, 3)
    assert checks.check_tensor("x", x) is x
    assert checks.check_floating("x", x) is x
    assert checks.check_matrix("x", x) is x
    assert checks.check_ndim("x", x, 2, "(N, D)") is x
    assert checks.check_shape("x", x, (2, 3)) is x
    assert checks.check_int("k", 3, low=3, high=3) == 3
    assert checks.check_number("lr", 1, low=0, low_open=True) == 1.0
    assert isinstance(checks.check_number("lr", 1), float)
    assert checks.check_choice("mode", None, ("mean", None)) is None
    assert checks.check_instance("n", 3, int) == 3
    assert checks.check_bool("flag", False) is False
    assert checks.check_divisible("embed_dim", 12, "num_heads", 4) == 12
    assert checks.check_multiple("dim", 8, 4) == 8
    assert checks.check_layout("x", x, ("N", 3)) is x
    assert checks.check_given_together("ref", x, "ref_labels", torch.zeros(2)) is x
    assert checks.check_given_together("ref", None, "ref_labels", None) is None
    flags = torch.tensor([True, False])
    assert checks.check_boolean("flags", flags, "True = kept") is flags
    assert checks.check_output("f", torch.ones(1, 1), scalar=True).shape == ()
    out = torch.zeros(3)
    assert checks.check_output("f", out) is out


def test_every_helper_is_tested_here() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    untested = [name for name in checks.__all__ if f"checks.{name}(" not in source]
    assert not untested, f"helpers without a test here: {untested}"


def test_check_floating_returns_floating_tensors() -> None:
    x = torch.zeros(2, dtype=torch.float64)
    assert check_floating("x", x) is x


def test_check_floating_rejects_non_tensor() -> None:
    with pytest.raises(TypeError, match="weights must be a torch.Tensor, got list"):
        check_floating("weights", [1.0])


def test_check_floating_rejects_integer_dtype() -> None:
    with pytest.raises(TypeError, match="x must be a floating-point tensor, got dtype torch.int64"):
        check_floating("x", torch.tensor([1, 2]))
