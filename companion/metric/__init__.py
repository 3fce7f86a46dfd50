"""Metric learning: distances, miners, losses and retrieval, each a small module.

==================  =====================================================================
:mod:`.distances`   ``pairwise_distances``
:mod:`.miners`      ``mine_triplets``, ``count_triplets`` (batch-all, batch-hard, semi-hard)
:mod:`.losses`      ``triplet_margin_loss``, ``mined_triplet_loss``, ``batch_hard_triplet_loss``
:mod:`.retrieval`   ``nearest_neighbors``, ``nearest_neighbor_accuracy``, ``recall_at_k``
==================  =====================================================================
"""

from companion.metric import distances, losses, miners, retrieval

__all__ = ["distances", "losses", "miners", "retrieval"]
