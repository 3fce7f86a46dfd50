"""A fair baseline for an embedding: a classifier's features, projected by PCA to the same
dimension and normalised the same way.

A classifier's penultimate features (``F`` of them) compared with a ``D``-dimensional
embedding on the unit sphere would differ in two ways at once, the dimension and the
normalisation. :func:`fit_pca` fits the projection on the *training* features only;
:meth:`PCAProjection.project` then maps any features, training or test, to ``D``
dimensions, and ``normalize=True`` puts them on the unit sphere as the embedding is::

    X̄ = X − μ,   μ = (1/N) Σ_n x_n            centred training features (N, F)
    X̄ = U S Vᵀ                                 thin SVD, s_1 >= s_2 >= ...
    W = first dim rows of Vᵀ                   components (dim, F), orthonormal rows
    project(x) = W (x − μ)                     (dim,), optionally divided by its length

The columns of ``X̄ Wᵀ`` are uncorrelated, with variances ``s_k² / (N − 1)`` in
decreasing order. A component's sign is arbitrary in the SVD (and may change with the
LAPACK build or the device); each is flipped so that its entry of largest absolute value
(the first such entry on a tie) is positive, so the projection is the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from companion.checks import check_bool, check_int, check_matrix, check_same_dtype, check_shape

__all__ = ["PCAProjection", "fit_pca"]

#: Relative size below which a singular value counts as zero (``s_dim <= RANK_TOL · s_1``
#: means the centred features span fewer than ``dim`` directions).
RANK_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class PCAProjection:
    """The ``dim`` principal directions of some training features, and their mean.

    Made by :func:`fit_pca`; ``project`` maps features ``(N, F) -> (N, dim)``. Two
    projections are equal only if they are the same object (tensors have no single ``==``).
    """

    #: The mean of the training features, ``(F,)``.
    mean: torch.Tensor
    #: The principal directions, ``(dim, F)``, orthonormal rows by decreasing variance.
    components: torch.Tensor

    @property
    def dim(self) -> int:
        """The number of components, the width of a projection."""
        return self.components.shape[0]

    @torch.no_grad()
    def project(self, features: torch.Tensor, *, normalize: bool = False) -> torch.Tensor:
        """``(N, F) -> (N, dim)``: ``(x − μ) Wᵀ`` for each row ``x``, on the device of
        ``features``.

        Args:
            features: ``(N, F)`` in the dtype of the fit.
            normalize: divide each row by its Euclidean length (``F.normalize``; a zero
                row stays zero).

        Returns:
            ``(N, dim)``.

        Raises:
            TypeError: for a non-floating ``features``, one in another dtype than the fit,
                or a non-bool ``normalize``.
            ValueError: for ``features`` that are not 2-D or not ``F`` wide.
        """
        check_matrix("features", features, "(N, F)")
        check_same_dtype("features", features, "the fit", self.mean)
        check_shape(
            "features",
            features,
            (features.shape[0], self.mean.shape[0]),
            "(N, F of the fit)",
        )
        check_bool("normalize", normalize)
        mean = self.mean.to(features.device)
        components = self.components.to(features.device)
        projected = (features - mean) @ components.T  # (N, F) @ (F, dim) -> (N, dim)
        return F.normalize(projected, dim=1) if normalize else projected


@torch.no_grad()
def fit_pca(features: torch.Tensor, dim: int) -> PCAProjection:
    """The PCA of ``features`` (training features only), kept to ``dim`` components.

    Centres the rows, takes the thin SVD ``X̄ = U S Vᵀ`` (``torch.linalg.svd``, exact and
    deterministic up to the signs), keeps the first ``dim`` rows of ``Vᵀ`` and flips each
    so that its largest-magnitude entry is positive.

    Args:
        features: ``(N, F)``, ``N >= 2``.
        dim: ``1 <= dim <= F`` and ``dim <= N − 1`` (the rank of ``N`` centred rows), and
            the centred features must span ``dim`` directions.

    Returns:
        A :class:`PCAProjection` on the device and in the dtype of ``features``.

    Raises:
        TypeError: for a non-floating ``features`` or a non-int ``dim``.
        ValueError: for ``features`` not 2-D or with fewer than two rows, ``dim`` out of
            range, or features of rank below ``dim`` once centred.
    """
    check_matrix("features", features, "(N, F)")
    n, width = features.shape
    check_int("features.shape[0]", n, low=2)
    check_int("dim", dim, low=1, high=width)
    if dim > n - 1:
        raise ValueError(
            f"dim must be at most N − 1 = {n - 1} (the rank of {n} centred rows), got {dim}"
        )
    mean = features.mean(dim=0)  # (F,)
    _, s, vh = torch.linalg.svd(features - mean, full_matrices=False)  # s (K,), vh (K, F)
    if not bool(s[dim - 1] > RANK_TOL * s[0]):
        rank = int((s > RANK_TOL * s[0]).sum())
        raise ValueError(f"features must span dim = {dim} directions once centred, got rank {rank}")
    components = vh[:dim]  # (dim, F)
    largest = components.abs().argmax(dim=1, keepdim=True)  # (dim, 1): first on a tie
    signs = torch.sign(components.gather(1, largest))  # (dim, 1), never 0
    return PCAProjection(mean=mean, components=components * signs)
