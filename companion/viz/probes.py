"""Probes that look inside a model: where the attention goes, what the position embeddings
learned, how the embeddings spread. Tensors in, tensors out; the notebooks draw them."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from companion.checks import check_floating, check_int, check_layout
from companion.foundations.prob import entropy

__all__ = [
    "attention_entropy",
    "attention_rollout",
    "class_token_attention",
    "occlusion_sensitivity",
    "pca_2d",
    "position_similarity",
]


def attention_entropy(weights: Tensor) -> Tensor:
    """Entropy ``-Σ_j w_j log w_j`` (nats) of each row: ``(..., L_q, L_k)`` → ``(..., L_q)``.

    0 for a row that puts all its weight on one key, ``log L_k`` for a uniform row
    (``0 log 0`` counts as 0): :func:`~companion.foundations.prob.entropy` of each row.

    Raises:
        TypeError: if ``weights`` is not a floating-point tensor.
        ValueError: as :func:`~companion.foundations.prob.entropy`, for rows that are not
            probability vectors (a fully masked row of zeros, say).
    """
    return entropy(check_floating("weights", weights))


def class_token_attention(weights: torch.Tensor, grid_size: int) -> torch.Tensor:
    """How much the class token attends to each patch, averaged over heads, as an image.

    Args:
        weights: one block's attention weights ``(B, H, N + 1, N + 1)``, ``N = grid_size²``.
        grid_size: patches per side.

    Returns:
        ``(B, grid_size, grid_size)``: ``mean_h weights[:, h, 0, 1:]`` on the patch grid.

    Raises:
        ValueError: if the shape does not match ``grid_size``.
    """
    L = grid_size * grid_size + 1
    check_layout("weights", weights, ("B", "H", L, L), f"for grid_size={grid_size}")
    B = weights.shape[0]
    return weights[:, :, 0, 1:].mean(dim=1).reshape(B, grid_size, grid_size)  # (B, g, g)


def attention_rollout(weights: list[torch.Tensor]) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, 2020), used in the ViT paper's attention maps.

    Each block's head-averaged weights get the residual connection added and rows
    renormalized, ``Â_l = (mean_h A_l + I) / 2``, and the blocks are chained:
    ``R = Â_L ··· Â_2 Â_1``. Row 0 of ``R`` is how much the class token's output draws,
    through all blocks, on each input token.

    Args:
        weights: ``depth`` tensors ``(B, H, L, L)`` (first block first).

    Returns:
        ``(B, L, L)``, each row summing to 1.

    Raises:
        ValueError: for an empty list or shapes that differ.
    """
    if len(weights) == 0:
        raise ValueError("weights must hold at least one block's attention weights, got none")
    shape = weights[0].shape
    if any(w.shape != shape for w in weights) or len(shape) != 4 or shape[2] != shape[3]:
        raise ValueError(
            "weights must all have the same shape (B, H, L, L), got "
            f"{[tuple(w.shape) for w in weights]}"
        )
    L = shape[-1]
    eye = torch.eye(L, device=weights[0].device, dtype=weights[0].dtype)
    rollout = eye.expand(shape[0], L, L)
    for w in weights:
        a = (w.mean(dim=1) + eye) / 2  # (B, L, L), rows sum to 1
        rollout = a @ rollout
    return rollout


def position_similarity(position_embedding: torch.Tensor, grid_size: int) -> torch.Tensor:
    """Cosine similarity between the position embeddings of the patches (as in the ViT
    paper's Figure 7): entry ``[i, j, k, l]`` compares patch ``(i, j)`` with patch ``(k, l)``.

    Args:
        position_embedding: ``(1, N + 1, D)`` or ``(N + 1, D)`` (class token first, ignored).
        grid_size: patches per side, ``N = grid_size²``.

    Returns:
        ``(grid_size, grid_size, grid_size, grid_size)``.

    Raises:
        ValueError: if the shape does not match ``grid_size``.
    """
    pos = position_embedding.detach()
    if pos.ndim == 3 and pos.shape[0] == 1:
        pos = pos[0]
    N = grid_size * grid_size
    if pos.ndim != 2 or pos.shape[0] != N + 1:
        raise ValueError(
            f"position_embedding must be (1, {N + 1}, D) or ({N + 1}, D) for "
            f"grid_size={grid_size}, got shape {tuple(position_embedding.shape)}"
        )
    unit = F.normalize(pos[1:], dim=-1)  # (N, D)
    g = grid_size
    return (unit @ unit.T).reshape(g, g, g, g)  # (g, g, g, g)


def pca_2d(x: torch.Tensor) -> torch.Tensor:
    """Project the rows of ``x`` on their two principal directions (for a scatter plot).

    Centres ``x``, takes the SVD ``X − mean = U Σ Vᵀ`` and returns ``U[:, :2] Σ[:2]``, with
    each direction's sign fixed so that its largest loading is positive (the SVD alone
    leaves the sign free).

    Args:
        x: ``(N, D)`` with ``N >= 2`` and ``D >= 2``.

    Returns:
        ``(N, 2)``.

    Raises:
        ValueError: if ``x`` is not 2-D with at least 2 rows and 2 columns.
    """
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"x must be 2-D (N, D) with N, D >= 2, got shape {tuple(x.shape)}")
    centred = x.detach() - x.detach().mean(dim=0)  # (N, D)
    _u, _s, vh = torch.linalg.svd(centred, full_matrices=False)  # vh: (min(N, D), D)
    directions = vh[:2]  # (2, D)
    largest = directions.abs().argmax(dim=1)  # (2,)
    signs = directions.gather(1, largest[:, None]).sign()  # (2, 1)
    return centred @ (directions * signs).T  # (N, 2)


def occlusion_sensitivity(
    embed: Callable[[Tensor], Tensor], images: Tensor, patch_size: int
) -> Tensor:
    """How far each image's embedding moves when one patch is blanked: an intervention,
    where attention rollout only follows the weights.

    For each patch ``p`` of the ``g x g`` grid (``g = H / patch_size``), the image with that
    patch set to 0 (the data sets' blank background) is embedded, and the map holds
    ``‖embed(x) − embed(x with p blanked)‖``.

    Args:
        embed: ``(B, C, H, W) -> (B, D)``, e.g. a model in eval mode (called without
            gradients).
        images: ``(B, C, H, W)``, ``H`` and ``W`` multiples of ``patch_size``.
        patch_size: side of the square patches.

    Returns:
        ``(B, H / patch_size, W / patch_size)``, on the device of ``images``.

    Raises:
        ValueError: if ``images`` is not 4-D or its sides are not multiples of
            ``patch_size``.
    """
    check_layout("images", images, ("B", "C", "H", "W"))
    check_int("patch_size", patch_size, low=1)
    B, _C, H, W = images.shape
    if H % patch_size or W % patch_size:
        raise ValueError(
            f"images must have sides that are multiples of patch_size={patch_size}, got {H}x{W}"
        )
    gh, gw = H // patch_size, W // patch_size
    with torch.no_grad():
        reference = embed(images)  # (B, D)
        masked = images.unsqueeze(1).repeat(1, gh * gw, 1, 1, 1)  # (B, g·g, C, H, W)
        for p in range(gh * gw):
            i, j = divmod(p, gw)
            rows = slice(i * patch_size, (i + 1) * patch_size)
            cols = slice(j * patch_size, (j + 1) * patch_size)
            masked[:, p, :, rows, cols] = 0
        moved = embed(masked.flatten(0, 1)).reshape(B, gh * gw, -1)  # (B, g·g, D)
    return (moved - reference[:, None]).norm(dim=-1).reshape(B, gh, gw)  # (B, gh, gw)
