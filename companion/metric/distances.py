"""Euclidean distances between embeddings, with a finite gradient at distance 0."""

from __future__ import annotations

import torch

from companion.checks import check_matrix, check_shape

__all__ = [
    "pairwise_distances",
    "row_distances",
]


def _safe_sqrt(squared_distances: torch.Tensor) -> torch.Tensor:
    """``sqrt`` with a zero (not infinite) gradient where the argument is 0.

    The derivative of ``sqrt(s)`` is ``1 / (2 sqrt(s))``, infinite at ``s = 0``; multiplied
    by the zero gradient of ``s`` there it gives NaN. Taking the root only where ``s > 0``
    and a constant 0 elsewhere keeps every gradient finite.
    """
    positive = squared_distances > 0
    safe = torch.where(positive, squared_distances, torch.ones_like(squared_distances))
    return torch.where(positive, safe.sqrt(), torch.zeros_like(squared_distances))


def pairwise_distances(
    x: torch.Tensor, y: torch.Tensor | None = None, *, squared: bool = False
) -> torch.Tensor:
    """Euclidean distances between every row of ``x`` and every row of ``y``.

    Uses ``‖x_i − y_j‖² = ‖x_i‖² + ‖y_j‖² − 2 x_i·y_j`` (one matrix product, no ``(N, M, D)``
    tensor), clamped at 0 against rounding. With ``y=None`` the distances are within ``x``
    and the diagonal is exactly 0. The square root has a finite gradient (0) at distance 0.
    Rounding in the expansion is about ``eps·‖x‖²`` (eps of the dtype): distances between
    nearly equal rows are accurate to about ``sqrt(eps)·‖x‖``.

    Args:
        x: ``(N, D)``.
        y: ``(M, D)``, or ``None`` for ``y = x``.
        squared: return ``‖x_i − y_j‖²`` instead of ``‖x_i − y_j‖``.

    Returns:
        ``(N, M)`` (``(N, N)`` when ``y`` is ``None``).

    Raises:
        ValueError: if ``x`` or ``y`` is not 2-D, or their widths ``D`` differ.
    """
    check_matrix("x", x)
    other = x if y is None else check_matrix("y", y)
    check_shape("y", other, (other.shape[0], x.shape[1]), f"(columns to match x {tuple(x.shape)})")
    x_sq = (x * x).sum(dim=1)  # (N,)
    y_sq = (other * other).sum(dim=1)  # (M,)
    sq = x_sq[:, None] + y_sq[None, :] - 2.0 * (x @ other.T)  # (N, M)
    sq = sq.clamp_min(0.0)
    if y is None:
        diagonal = torch.eye(x.shape[0], dtype=torch.bool, device=x.device)
        sq = sq.masked_fill(diagonal, 0.0)
    return sq if squared else _safe_sqrt(sq)


def row_distances(a: torch.Tensor, b: torch.Tensor, *, squared: bool) -> torch.Tensor:
    """``‖a_i − b_i‖`` (or its square) for each row ``i``: ``(N, D), (N, D) -> (N,)``."""
    sq = ((a - b) ** 2).sum(dim=1)  # (N,)
    return sq if squared else _safe_sqrt(sq)
