"""Position encodings: attention sees a set, these tell it where each token sits.

Attention is permutation equivariant (shuffle the tokens, the outputs shuffle the same
way), so a transformer adds to each token a vector that depends on its position.

Sinusoidal (Vaswani et al., 2017), for position ``p`` and feature pair ``i``:

    PE[p, 2i] = sin(p / base^(2i/D)),   PE[p, 2i+1] = cos(p / base^(2i/D))

A shift by ``k`` positions is a fixed rotation of each feature pair (Vaswani et al.'s
stated reason for the choice): ``PE[p + k] = PE[p] R_k``, ``R_k`` block-diagonal with one
2x2 rotation by ``k ω_i`` per pair, the same for every ``p``.

2-D sin-cos for a grid of patches (like MAE's, up to the order of the features): the first
``D/2`` features encode the patch's row with the 1-D formula, the last ``D/2`` its column.

Learned embeddings (ViT) are trained like any weight, one vector per position; to use a
model at a higher resolution, the grid of patch embeddings is resized by bicubic
interpolation, the class token's embedding is kept (torchvision's
``interpolate_embeddings``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from companion.checks import check_choice, check_floating, check_int, check_multiple, check_number

__all__ = [
    "interpolate_position_embeddings",
    "sincos_2d_position_encoding",
    "sinusoidal_position_encoding",
    "sinusoidal_shift_matrix",
]


def _grid(name: str, grid: object) -> tuple[int, int]:
    """``int`` or ``(rows, columns)`` → ``(rows, columns)``, checked."""
    if isinstance(grid, tuple) and len(grid) == 2:
        return check_int(f"{name}[0]", grid[0], low=1), check_int(f"{name}[1]", grid[1], low=1)
    if isinstance(grid, int) and not isinstance(grid, bool):
        n = check_int(name, grid, low=1)
        return n, n
    raise TypeError(f"{name} must be an int or a (rows, columns) tuple, got {grid!r}")


def sinusoidal_position_encoding(
    num_positions: int,
    dim: int,
    *,
    base: float = 10000.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """The sinusoidal encodings of positions ``0 … num_positions − 1``, ``(L, D)``.

    ``PE[p, 2i] = sin(p ω_i)``, ``PE[p, 2i+1] = cos(p ω_i)``, ``ω_i = base^(−2i/D)``: each
    pair of features turns at its own frequency, from one radian per position (``i = 0``)
    down to one turn per ``2π·base`` positions.

    Raises:
        TypeError: non-int sizes.
        ValueError: sizes below 1, an odd ``dim``, ``base`` not above 1.
    """
    L = check_int("num_positions", num_positions, low=1)
    D = check_int("dim", dim, low=1)
    check_multiple("dim", D, 2, "(sin and cos pairs)")
    check_number("base", base, low=1, low_open=True)
    positions = torch.arange(L, dtype=torch.float64, device=device)[:, None]  # (L, 1)
    two_i = torch.arange(0, D, 2, dtype=torch.float64, device=device)  # (D/2,)
    angles = positions * torch.exp(-math.log(base) * two_i / D)  # (L, D/2): p ω_i
    pe = torch.empty(L, D, dtype=torch.float64, device=device)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe.to(dtype)  # (L, D)


def sinusoidal_shift_matrix(
    offset: int,
    dim: int,
    *,
    base: float = 10000.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """The ``(D, D)`` matrix ``R_k`` with ``PE[p + k] = PE[p] R_k`` for every position ``p``.

    For the pair ``(sin pω, cos pω)`` of features ``2i, 2i+1``, the addition formulas give
    ``sin((p+k)ω) = sin pω cos kω + cos pω sin kω`` and
    ``cos((p+k)ω) = cos pω cos kω − sin pω sin kω``: a rotation by ``kω_i``, the block
    ``[[cos kω_i, −sin kω_i], [sin kω_i, cos kω_i]]`` (rows: input features, columns:
    output features). ``R_k`` is orthogonal, ``R_0 = I`` and ``R_j R_k = R_{j+k}``; ``k`` may
    be negative.

    Raises:
        TypeError: non-int sizes or offset.
        ValueError: ``dim`` below 1 or odd, ``base`` not above 1.
    """
    k = check_int("offset", offset)
    D = check_int("dim", dim, low=1)
    check_multiple("dim", D, 2, "(sin and cos pairs)")
    check_number("base", base, low=1, low_open=True)
    two_i = torch.arange(0, D, 2, dtype=torch.float64, device=device)  # (D/2,)
    angles = k * torch.exp(-math.log(base) * two_i / D)  # (D/2,): k ω_i
    cos, sin = torch.cos(angles), torch.sin(angles)
    rotation = torch.zeros(D, D, dtype=torch.float64, device=device)
    rotation[0::2, 0::2] = torch.diag(cos)  # sin-feature → sin-feature
    rotation[0::2, 1::2] = torch.diag(-sin)  # sin-feature → cos-feature
    rotation[1::2, 0::2] = torch.diag(sin)  # cos-feature → sin-feature
    rotation[1::2, 1::2] = torch.diag(cos)  # cos-feature → cos-feature
    return rotation.to(dtype)  # (D, D)


def sincos_2d_position_encoding(
    grid: int | tuple[int, int],
    dim: int,
    *,
    base: float = 10000.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """2-D sin-cos encodings of a ``rows x columns`` grid of patches, ``(rows·columns, D)``.

    Patch ``(r, c)`` (row-major order, as patches are flattened) gets
    ``[PE_{D/2}(r), PE_{D/2}(c)]``: the 1-D encoding of its row in the first half of the
    features, of its column in the second.

    Args:
        grid: ``rows`` (a square grid) or ``(rows, columns)``.
        dim: ``D``, divisible by 4.

    Raises:
        TypeError: a grid that is not an int or a pair of ints, a non-int ``dim``.
        ValueError: sizes below 1, ``dim`` not divisible by 4.
    """
    rows, cols = _grid("grid", grid)
    D = check_int("dim", dim, low=1)
    check_multiple("dim", D, 4, "(sin and cos for rows and columns)")
    row_pe = sinusoidal_position_encoding(rows, D // 2, base=base, dtype=dtype, device=device)
    col_pe = sinusoidal_position_encoding(cols, D // 2, base=base, dtype=dtype, device=device)
    row_part = row_pe[:, None, :].expand(rows, cols, D // 2)  # (rows, cols, D/2)
    col_part = col_pe[None, :, :].expand(rows, cols, D // 2)  # (rows, cols, D/2)
    return torch.cat([row_part, col_part], dim=-1).reshape(rows * cols, D)  # (N, D)


def interpolate_position_embeddings(
    pos_embedding: Tensor,
    new_grid: int | tuple[int, int],
    *,
    mode: str = "bicubic",
) -> Tensor:
    """Resize learned ViT position embeddings to a new grid of patches; class token kept.

    The ``N = n x n`` patch embeddings are laid out as an image of ``D`` channels, resized
    to ``new_grid`` (``align_corners=True``, as torchvision's ``interpolate_embeddings``),
    and flattened back; the class token's embedding (position 0) is kept as it is.

    Args:
        pos_embedding: ``(1, 1 + N, D)`` (a ViT state dict's ``encoder.pos_embedding``) or
            ``(1 + N, D)``, ``N`` a perfect square.
        new_grid: ``n'`` (square) or ``(rows, columns)``.
        mode: ``"bicubic"`` (torchvision's default) or ``"bilinear"``.

    Returns:
        ``(1, 1 + n'², D)`` (or ``(1 + n'², D)``, following the input); the input itself
        when the grid does not change.

    Raises:
        TypeError: ``pos_embedding`` not a floating tensor; a bad ``new_grid``.
        ValueError: a shape other than ``(1, 1 + N, D)`` or ``(1 + N, D)``, ``N`` not a
            perfect square, an unknown ``mode``.
    """
    check_floating("pos_embedding", pos_embedding)
    rows, cols = _grid("new_grid", new_grid)
    check_choice("mode", mode, ("bicubic", "bilinear"))
    squeeze = pos_embedding.ndim == 2
    pe = pos_embedding[None] if squeeze else pos_embedding  # (1, 1 + N, D)
    if pe.ndim != 3 or pe.shape[0] != 1 or pe.shape[1] < 2:
        raise ValueError(
            f"pos_embedding must have shape (1, 1 + N, D) or (1 + N, D), got "
            f"{tuple(pos_embedding.shape)}"
        )
    _, tokens, D = pe.shape
    N = tokens - 1
    n = math.isqrt(N)
    if n * n != N:
        raise ValueError(f"the {N} patch embeddings (after the class token) are not a square grid")
    if (rows, cols) == (n, n):
        return pos_embedding
    class_token = pe[:, :1, :]  # (1, 1, D): not a grid position, kept as it is
    patches = pe[:, 1:, :].transpose(1, 2).reshape(1, D, n, n)  # (1, D, n, n): an image
    resized = F.interpolate(patches, size=(rows, cols), mode=mode, align_corners=True)
    resized = resized.reshape(1, D, rows * cols).transpose(1, 2)  # (1, N', D)
    out = torch.cat([class_token, resized], dim=1)  # (1, 1 + N', D)
    return out[0] if squeeze else out
