"""Neural networks: attention, the Vision Transformer and the embedding network.

Model code only: nothing here imports data, training or plotting code (a test checks it).

==========================  ==============================================================
:mod:`.attention`           ``scaled_dot_product_attention`` and the masks
:mod:`.memory_efficient`    the same output block by block, with the online softmax
:mod:`.multihead`           ``MultiHeadAttention``
:mod:`.vit_config`          ``ViTConfig``, the presets, parameter counts
:mod:`.vit`                 ``PatchEmbedding``, ``EncoderBlock``, ``VisionTransformer``
:mod:`.vit_torchvision`     torchvision's state-dict keys and the renaming
:mod:`.embedding`           ``EmbeddingNet``, the ``f`` of the triplet loss
==========================  ==============================================================
"""

from companion.nn import (
    attention,
    embedding,
    memory_efficient,
    multihead,
    vit,
    vit_config,
    vit_torchvision,
)

__all__ = [
    "attention",
    "embedding",
    "memory_efficient",
    "multihead",
    "vit",
    "vit_config",
    "vit_torchvision",
]
