"""companion.viz.probes: attention and embedding probes against loops."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from companion.viz import probes
from companion.viz.probes import attention_entropy, pca_2d

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 2e-5, "rtol": 1e-4}, torch.float64: {"atol": 1e-10, "rtol": 1e-9}}


# --------------------------------------------------------------------------- analysis


@pytest.mark.parametrize("dtype", DTYPES)
def test_class_token_attention_matches_loop(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(0)
    weights = torch.rand(2, 3, 10, 10, generator=g, dtype=dtype).softmax(-1)
    out = probes.class_token_attention(weights, 3)
    expected = torch.zeros(2, 3, 3, dtype=dtype)
    for b in range(2):
        for i in range(3):
            for j in range(3):
                expected[b, i, j] = sum(weights[b, h, 0, 1 + 3 * i + j] for h in range(3)) / 3
    torch.testing.assert_close(out, expected, **TOL[dtype])


def test_class_token_attention_error() -> None:
    with pytest.raises(
        ValueError, match=r"weights must have shape \(B, H, 17, 17\) for grid_size=4, got"
    ):
        probes.class_token_attention(torch.zeros(1, 2, 10, 10), 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("depth", [1, 3])
def test_attention_rollout_matches_loop(dtype: torch.dtype, depth: int) -> None:
    g = torch.Generator().manual_seed(0)
    weights = [torch.rand(2, 4, 5, 5, generator=g, dtype=dtype).softmax(-1) for _ in range(depth)]
    out = probes.attention_rollout(weights)
    for b in range(2):
        r = torch.eye(5, dtype=dtype)
        for w in weights:
            a = 0.5 * w[b].mean(0) + 0.5 * torch.eye(5, dtype=dtype)
            r = a @ r
        torch.testing.assert_close(out[b], r, **TOL[dtype])
    torch.testing.assert_close(out.sum(-1), torch.ones(2, 5, dtype=dtype), **TOL[dtype])


def test_attention_rollout_errors() -> None:
    with pytest.raises(ValueError, match=r"at least one block's attention weights, got none"):
        probes.attention_rollout([])
    with pytest.raises(ValueError, match=r"must all have the same shape \(B, H, L, L\), got"):
        probes.attention_rollout([torch.zeros(1, 2, 5, 5), torch.zeros(1, 2, 4, 4)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batched", [True, False])
def test_position_similarity_matches_loop(dtype: torch.dtype, batched: bool) -> None:
    pos = torch.randn(1, 10, 6, dtype=dtype, generator=torch.Generator().manual_seed(0))
    out = probes.position_similarity(pos if batched else pos[0], 3)
    assert out.shape == (3, 3, 3, 3)
    for i in range(3):
        for j in range(3):
            for k in range(3):
                for m in range(3):
                    expected = F.cosine_similarity(pos[0, 1 + 3 * i + j], pos[0, 1 + 3 * k + m], 0)
                    torch.testing.assert_close(out[i, j, k, m], expected, **TOL[dtype])


def test_position_similarity_error() -> None:
    with pytest.raises(ValueError, match=r"must be \(1, 17, D\) or \(17, D\) for grid_size=4"):
        probes.position_similarity(torch.zeros(1, 10, 4), 4)


# --------------------------------------------------------------------- chapter helpers


def test_attention_entropy_against_a_loop():
    w = torch.softmax(torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0)), -1)
    loop = torch.tensor([[-sum(p * math.log(p) for p in row.tolist()) for row in mat] for mat in w])
    torch.testing.assert_close(attention_entropy(w), loop.to(w.dtype))
    assert attention_entropy(torch.tensor([1.0, 0.0, 0.0])) == 0
    torch.testing.assert_close(attention_entropy(torch.full((4,), 0.25)), torch.tensor(math.log(4)))


def test_attention_entropy_refuses_rows_that_are_not_distributions():
    with pytest.raises(ValueError, match="p must sum to 1 along its last dimension, got sums off"):
        attention_entropy(torch.zeros(2, 3))  # a fully masked row of zeros
    with pytest.raises(ValueError, match="p must be non-negative, got a minimum of -0.5"):
        attention_entropy(torch.tensor([1.5, -0.5]))


def tol(dtype: torch.dtype) -> dict[str, float]:
    return (
        {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_pca_2d_matches_top_singular_directions(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 4, generator=g, dtype=dtype) * torch.tensor(
        [5.0, 2.0, 0.5, 0.1], dtype=dtype
    )
    z = pca_2d(x)
    assert z.shape == (50, 2)
    variances = z.var(dim=0)
    centred = x - x.mean(dim=0)
    top = torch.linalg.svdvals(centred)[:2] ** 2 / 49
    torch.testing.assert_close(variances, top, **tol(dtype))
    with pytest.raises(
        ValueError, match=r"x must be 2-D \(N, D\) with N, D >= 2, got shape \(5,\)"
    ):
        pca_2d(torch.zeros(5))
