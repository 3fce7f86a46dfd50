"""Alignment and uniformity (Wang & Isola 2020): what a contrastive loss asks of an embedding.

On the unit sphere, InfoNCE with many negatives rewards two things at once: the two views
of an image land close together (*alignment*) and the embeddings of all images spread
over the sphere (*uniformity*). Wang and Isola measure each with one number, both lower
is better:

.. math::

    \\mathcal{L}_{\\text{align}} = \\mathbb{E}_{(x, y)\\ \\text{positive}}
        \\big[\\lVert f(x) - f(y) \\rVert^{\\alpha}\\big], \\qquad
    \\mathcal{L}_{\\text{uniform}} = \\log \\mathbb{E}_{x, y}
        \\big[e^{-t \\lVert f(x) - f(y) \\rVert^2}\\big]

with ``f`` normalised to unit length. A collapsed embedding (every image at one point) is
perfectly aligned (0) and as far from uniform as can be (0, the largest value); a uniform
one on ``S^{D−1}`` with ``t = 2`` tends to ``−4`` as ``D`` grows.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from companion.checks import check_int, check_matrix, check_number, check_same_shape

__all__ = ["alignment", "uniformity"]


def alignment(z1: torch.Tensor, z2: torch.Tensor, *, alpha: float = 2.0) -> torch.Tensor:
    """Wang and Isola's alignment ``mean_i ‖f(x_i) − f(y_i)‖^α`` of matched rows.

    Args:
        z1, z2: ``(N, D)``, row ``i`` of each an embedding of the same image (two views);
            both normalised inside.
        alpha: the power ``α > 0`` (their default 2).

    Returns:
        A scalar in ``[0, 2^α]``.

    Raises:
        TypeError: for non-floating inputs.
        ValueError: for inputs that are not 2-D, differing shapes, or ``α <= 0``.
    """
    check_matrix("z1", z1, "(N, D)")
    check_matrix("z2", z2, "(N, D)")
    check_same_shape("z2", z2, "z1", z1)
    alpha = check_number("alpha", alpha, low=0, low_open=True)
    diff = F.normalize(z1, dim=1) - F.normalize(z2.to(z1.device), dim=1)  # (N, D)
    return diff.norm(dim=1).pow(alpha).mean()


def uniformity(z: torch.Tensor, *, t: float = 2.0) -> torch.Tensor:
    """Wang and Isola's uniformity ``log mean_{i<j} exp(−t ‖f(x_i) − f(x_j)‖²)``.

    Computed as a log-sum-exp over the ``N(N − 1)/2`` pairs, so it stays finite for a
    large ``t``.

    Args:
        z: ``(N, D)`` with ``N >= 2``, normalised inside.
        t: ``t > 0`` (their default 2).

    Returns:
        A scalar in ``[−4t, 0]``: 0 when every row is the same point.

    Raises:
        TypeError: for a non-floating ``z``.
        ValueError: for ``z`` that is not 2-D or has one row, or ``t <= 0``.
    """
    check_matrix("z", z, "(N, D)")
    n = check_int("z.shape[0]", z.shape[0], low=2)  # one pair at least
    t = check_number("t", t, low=0, low_open=True)
    u = F.normalize(z, dim=1)  # (N, D)
    squared = (2 - 2 * (u @ u.T)).clamp_min(0)  # (N, N): ‖u_i − u_j‖² on the sphere
    i, j = torch.triu_indices(n, n, offset=1, device=z.device)  # the pairs i < j
    return torch.logsumexp(-t * squared[i, j], dim=0) - math.log(n * (n - 1) / 2)
