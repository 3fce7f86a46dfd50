"""Metric learning: distances, miners, losses, collapse, retrieval, MAP@R, verification, a
PCA baseline, and the contrastive loss with its diagnostics and probes, each a small module.

======================  =====================================================================
:mod:`.distances`       ``pairwise_distances`` (``row_distances`` for the losses)
:mod:`.miners`          ``mine_triplets``, ``count_triplets`` (batch-all, batch-hard, semi-hard)
:mod:`.losses`          ``triplet_margin_loss``, ``mined_triplet_loss``,
                        ``batch_hard_triplet_loss``, ``batch_hard_soft_margin_loss``
                        (Hermans et al.'s soft margin)
:mod:`.collapse`        ``shrink_to_mean``, ``losses_by_spread``, ``label_independent_losses``:
                        why batch-hard mining pulls an embedding towards one point
:mod:`.retrieval`       ``nearest_neighbors``, ``nearest_neighbor_accuracy``, ``recall_at_k``,
                        ``mean_average_precision``: each ``metric(query, query_labels,
                        reference=None, reference_labels=None)``, leave-one-out without a
                        reference
:mod:`.map_at_r`        ``map_at_r`` (Musgrave et al.'s MAP@R), with the same signature and
                        neighbour order as ``recall_at_k``
:mod:`.verification`    ``pair_scores``, ``balanced_pairs``, ``roc_curve``, ``tar_at_far``,
                        ``best_threshold``, ``verification_accuracy`` and
                        ``verification_protocol`` (FaceNet-style)
:mod:`.projection`      ``fit_pca``, ``PCAProjection``: a classifier's features projected to
                        an embedding's dimension (and normalised), a fair baseline
:mod:`.info_nce`        ``info_nce``, ``nt_xent``: one positive against many negatives, as
                        cross-entropy (InfoNCE; SimCLR's NT-Xent from instance ids)
:mod:`.alignment`       ``alignment``, ``uniformity``: Wang and Isola's diagnostics
:mod:`.probe`           ``linear_probe``, ``knn_accuracy``: frozen features scored by labels
======================  =====================================================================
"""

from companion.metric import (
    alignment,
    collapse,
    distances,
    info_nce,
    losses,
    map_at_r,
    miners,
    probe,
    projection,
    retrieval,
    verification,
)

__all__ = [
    "alignment",
    "collapse",
    "distances",
    "info_nce",
    "losses",
    "map_at_r",
    "miners",
    "probe",
    "projection",
    "retrieval",
    "verification",
]
