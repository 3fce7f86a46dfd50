"""Metric learning: distances, miners, losses, retrieval and verification, each a small module.

======================  =====================================================================
:mod:`.distances`       ``pairwise_distances`` (``row_distances`` for the losses)
:mod:`.miners`          ``mine_triplets``, ``count_triplets`` (batch-all, batch-hard, semi-hard)
:mod:`.losses`          ``triplet_margin_loss``, ``mined_triplet_loss``,
                        ``batch_hard_triplet_loss``, ``batch_hard_soft_margin_loss``
                        (Hermans et al.'s soft margin)
:mod:`.retrieval`       ``nearest_neighbors``, ``nearest_neighbor_accuracy``, ``recall_at_k``,
                        ``mean_average_precision``: each ``metric(query, query_labels,
                        reference=None, reference_labels=None)``, leave-one-out without a
                        reference
:mod:`.verification`    ``pair_scores``, ``balanced_pairs``, ``roc_curve``, ``tar_at_far``,
                        ``best_threshold``, ``verification_accuracy`` and
                        ``verification_protocol`` (FaceNet-style)
======================  =====================================================================
"""

from companion.metric import distances, losses, miners, retrieval, verification

__all__ = ["distances", "losses", "miners", "retrieval", "verification"]
