"""Metric learning: distances, miners, losses, retrieval and verification, each a small module.

======================  =====================================================================
:mod:`.distances`       ``pairwise_distances``
:mod:`.miners`          ``mine_triplets``, ``count_triplets`` (batch-all, batch-hard, semi-hard)
:mod:`.losses`          ``triplet_margin_loss``, ``mined_triplet_loss``,
                        ``batch_hard_triplet_loss``, ``batch_hard_soft_margin_loss``
                        (Hermans et al.'s soft margin)
:mod:`.retrieval`       ``nearest_neighbors``, ``nearest_neighbor_accuracy``, ``recall_at_k``
:mod:`.verification`    ``pair_scores``, ``roc_curve``, ``tar_at_far``, ``best_threshold``,
                        ``verification_accuracy`` (FaceNet-style), ``mean_average_precision``
======================  =====================================================================
"""

from companion.metric import distances, losses, miners, retrieval, verification

__all__ = ["distances", "losses", "miners", "retrieval", "verification"]
