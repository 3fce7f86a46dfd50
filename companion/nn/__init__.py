"""Neural networks: attention, the Vision Transformer and the embedding network.

Model code only: nothing here imports data, training or plotting code (a test checks it).

======================  =================================================================
:mod:`.attention`       ``scaled_dot_product_attention`` and the masks
:mod:`.memory_efficient` the same output block by block, with the online softmax
:mod:`.multihead`       ``MultiHeadAttention``
:mod:`.vit`             ``ViTConfig``, ``PatchEmbedding``, ``EncoderBlock``, ``VisionTransformer``
:mod:`.embedding`       ``EmbeddingNet``, the ``f`` of the triplet loss
======================  =================================================================
"""

from companion.nn import attention, embedding, memory_efficient, multihead, vit

__all__ = ["attention", "embedding", "memory_efficient", "multihead", "vit"]
