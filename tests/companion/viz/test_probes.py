"""companion.viz.probes: attention and embedding probes against loops."""

from __future__ import annotations

import math
import re

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


def test_occlusion_sensitivity_matches_a_loop_over_patches() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 8 * 12, 5))
    images = torch.rand(3, 2, 8, 12)
    got = probes.occlusion_sensitivity(net, images, 4)
    assert got.shape == (3, 2, 3)
    for b in range(3):
        for i in range(2):
            for j in range(3):
                x = images[b : b + 1].clone()
                x[:, :, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4] = 0
                expected = (net(x) - net(images[b : b + 1])).norm()
                torch.testing.assert_close(got[b, i, j], expected.detach())


def test_occlusion_of_a_blank_patch_moves_nothing() -> None:
    images = torch.zeros(1, 1, 8, 8)
    images[:, :, :4, :4] = 1.0  # only the top-left patch holds anything
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
    got = probes.occlusion_sensitivity(net, images, 4)
    assert got[0, 0, 0] > 0
    torch.testing.assert_close(got[0].flatten()[1:], torch.zeros(3), atol=1e-6, rtol=0)


def test_occlusion_sensitivity_errors() -> None:
    net = torch.nn.Identity()
    with pytest.raises(
        ValueError, match=re.escape("images must have shape (B, C, H, W), got (8, 8)")
    ):
        probes.occlusion_sensitivity(net, torch.zeros(8, 8), 4)
    with pytest.raises(
        ValueError,
        match=re.escape("images must have sides that are multiples of patch_size=3, got 8x8"),
    ):
        probes.occlusion_sensitivity(net, torch.zeros(1, 1, 8, 8), 3)
