"""companion.nn.position: sinusoidal encodings against the formula (a naive loop), 2-D
sin-cos against the 1-D ones, and interpolation against torchvision's interpolate_embeddings
(its stored results always, torchvision itself where it imports)."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from companion.nn.position import (
    interpolate_position_embeddings,
    sincos_2d_position_encoding,
    sinusoidal_position_encoding,
    sinusoidal_shift_matrix,
)

FIXTURE = (
    Path(__file__).resolve().parents[3]
    / "tests"
    / "fixtures"
    / "position"
    / "interpolate_embeddings.json"
)
DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 1e-6, "rtol": 1e-5}, torch.float64: {"atol": 1e-12, "rtol": 1e-10}}


def naive_sinusoidal(L: int, D: int, base: float = 10000.0) -> torch.Tensor:
    pe = torch.zeros(L, D, dtype=torch.float64)
    for p in range(L):
        for i in range(D // 2):
            angle = p / base ** (2 * i / D)
            pe[p, 2 * i] = math.sin(angle)
            pe[p, 2 * i + 1] = math.cos(angle)
    return pe


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("L", "D", "base"), [(1, 2, 10000.0), (17, 8, 10000.0), (50, 6, 100.0)])
def test_sinusoidal_equals_the_formula(dtype, L, D, base):
    pe = sinusoidal_position_encoding(L, D, base=base, dtype=dtype)
    assert pe.dtype == dtype
    torch.testing.assert_close(pe, naive_sinusoidal(L, D, base).to(dtype), **TOL[dtype])


def test_sinusoidal_dot_product_depends_only_on_the_offset():
    pe = sinusoidal_position_encoding(40, 16, dtype=torch.float64)
    gram = pe @ pe.T  # Σ_i cos((p - q) ω_i)
    for offset in (1, 5, 9):
        diagonal = torch.diagonal(gram, offset)
        torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal), atol=1e-12, rtol=0)


@pytest.mark.parametrize("offset", [0, 1, 3, 17, -5])
def test_a_shift_is_a_fixed_rotation_of_each_pair(offset):
    pe = sinusoidal_position_encoding(60, 12, dtype=torch.float64)
    rotation = sinusoidal_shift_matrix(offset, 12, dtype=torch.float64)
    start, stop = max(0, -offset), 60 - max(0, offset)
    # PE[p + k] = PE[p] R_k for every p with both positions in range
    torch.testing.assert_close(
        pe[start + offset : stop + offset], pe[start:stop] @ rotation, atol=1e-12, rtol=0
    )
    eye = torch.eye(12, dtype=torch.float64)
    torch.testing.assert_close(rotation.T @ rotation, eye, atol=1e-12, rtol=0)  # orthogonal
    # only the 2x2 blocks of the pairs are non-zero
    blocks = torch.block_diag(*[torch.ones(2, 2, dtype=torch.float64)] * 6)
    assert (rotation[blocks == 0] == 0).all()


def test_shift_matrices_compose_and_start_at_the_identity():
    r = {k: sinusoidal_shift_matrix(k, 8, base=100.0, dtype=torch.float64) for k in (0, 2, 5, 7)}
    torch.testing.assert_close(r[0], torch.eye(8, dtype=torch.float64))
    torch.testing.assert_close(r[2] @ r[5], r[7], atol=1e-12, rtol=0)
    assert sinusoidal_shift_matrix(3, 8).dtype == torch.float32


def test_shift_matrix_error_messages():
    with pytest.raises(
        ValueError, match=r"dim must be a multiple of 2 \(sin and cos pairs\), got 5"
    ):
        sinusoidal_shift_matrix(1, 5)
    with pytest.raises(TypeError, match="offset must be an int"):
        sinusoidal_shift_matrix(1.5, 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("grid", "D"), [(3, 8), ((2, 5), 12), (1, 4)])
def test_sincos_2d_against_a_loop(dtype, grid, D):
    rows, cols = (grid, grid) if isinstance(grid, int) else grid
    pe = sincos_2d_position_encoding(grid, D, dtype=dtype)
    assert pe.shape == (rows * cols, D)
    one_d = naive_sinusoidal(max(rows, cols), D // 2)
    for r in range(rows):
        for c in range(cols):
            expected = torch.cat([one_d[r], one_d[c]]).to(dtype)
            torch.testing.assert_close(pe[r * cols + c], expected, **TOL[dtype])


def _cases():
    return json.loads(FIXTURE.read_text())["cases"]


@pytest.mark.parametrize("case", range(3))
@pytest.mark.parametrize("batched", [True, False])
def test_interpolation_equals_torchvisions_stored_result(case, batched):
    data = _cases()[case]
    pos = torch.tensor(data["pos_embedding"], dtype=torch.float64)  # (1, 1 + N, D)
    expected = torch.tensor(data["expected"], dtype=torch.float64)
    out = interpolate_position_embeddings(pos if batched else pos[0], data["new_grid"])
    torch.testing.assert_close(out, expected if batched else expected[0], atol=1e-12, rtol=1e-10)


def test_interpolation_keeps_the_class_token_and_a_constant_grid():
    g = torch.Generator().manual_seed(0)
    cls = torch.randn(1, 1, 4, generator=g, dtype=torch.float64)
    constant = torch.randn(1, 1, 4, generator=g, dtype=torch.float64).expand(1, 9, 4)
    out = interpolate_position_embeddings(torch.cat([cls, constant], dim=1), (5, 4))
    assert out.shape == (1, 21, 4)
    torch.testing.assert_close(out[:, :1], cls)
    torch.testing.assert_close(out[:, 1:], constant[:, :1].expand(1, 20, 4))


def test_interpolation_to_the_same_grid_is_the_identity():
    pos = torch.randn(1, 10, 4)
    assert interpolate_position_embeddings(pos, 3) is pos


def test_interpolation_is_differentiable():
    pos = torch.randn(1, 17, 4, dtype=torch.float64, requires_grad=True)
    interpolate_position_embeddings(pos, 6).sum().backward()
    assert pos.grad is not None
    assert torch.isfinite(pos.grad).all()


def test_interpolation_equals_torchvision_directly():
    try:  # a torchvision built for another torch fails with a RuntimeError
        from torchvision.models.vision_transformer import interpolate_embeddings
    except Exception as error:
        pytest.skip(f"torchvision is not importable here ({error})")
    g = torch.Generator().manual_seed(1)
    for old, new in ((14, 16), (14, 24), (7, 5)):
        pos = torch.randn(1, 1 + old * old, 8, generator=g, dtype=torch.float64)
        state = interpolate_embeddings(new * 16, 16, OrderedDict({"encoder.pos_embedding": pos}))
        torch.testing.assert_close(
            interpolate_position_embeddings(pos, new), state["encoder.pos_embedding"]
        )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: sinusoidal_position_encoding(4.0, 8), TypeError, "num_positions must be an int"),
        (
            lambda: sinusoidal_position_encoding(0, 8),
            ValueError,
            "num_positions must be an int >= 1",
        ),
        (
            lambda: sinusoidal_position_encoding(4, 7),
            ValueError,
            r"dim must be a multiple of 2 \(sin and cos pairs\), got 7",
        ),
        (
            lambda: sinusoidal_position_encoding(4, 8, base=1),
            ValueError,
            "base must be a finite number > 1",
        ),
        (
            lambda: sincos_2d_position_encoding(3, 6),
            ValueError,
            r"dim must be a multiple of 4 \(sin and cos for rows and columns\), got 6",
        ),
        (lambda: sincos_2d_position_encoding([3, 3], 8), TypeError, "grid must be an int or a"),
        (lambda: sincos_2d_position_encoding((3, 0), 8), ValueError, r"grid\[1\] must be a"),
        (
            lambda: interpolate_position_embeddings(torch.zeros(1, 10, 4), 0),
            ValueError,
            "new_grid must be an int >= 1, got 0",
        ),
        (
            lambda: interpolate_position_embeddings(torch.zeros(1, 10, 4, dtype=torch.int64), 4),
            TypeError,
            "pos_embedding must be a floating-point tensor",
        ),
        (
            lambda: interpolate_position_embeddings(torch.zeros(2, 10, 4), 4),
            ValueError,
            r"pos_embedding must have shape \(1, 1 \+ N, D\) or \(1 \+ N, D\), got \(2, 10, 4\)",
        ),
        (
            lambda: interpolate_position_embeddings(torch.zeros(1, 11, 4), 4),
            ValueError,
            "the 10 patch embeddings .* are not a square grid",
        ),
        (
            lambda: interpolate_position_embeddings(torch.zeros(1, 10, 4), 4, mode="nearest"),
            ValueError,
            "mode must be one of 'bicubic', 'bilinear'",
        ),
    ],
)
def test_error_messages(call, error, match):
    with pytest.raises(error, match=match):
        call()
