"""Neural networks: attention, the Vision Transformer and the embedding network.

Model code only: nothing here imports data, training or plotting code (a test checks it).

==========================  ==============================================================
:mod:`.attention`           ``scaled_dot_product_attention`` and the masks
:mod:`.attention_backward`  the gradients of attention, by the derived formulas
:mod:`.memory_efficient`    the same output block by block, and a backward that recomputes
:mod:`.kernel_regression`   Nadaraya–Watson regression, attention's ancestor
:mod:`.layers`              ``layer_norm`` and ``gelu``
:mod:`.position`            sinusoidal, 2-D sin-cos and interpolated position embeddings
:mod:`.block`               ``TransformerBlock`` (pre- or post-norm), ``TokenEncoder``
:mod:`.multihead`           ``MultiHeadAttention``
:mod:`.vit_config`          ``ViTConfig``, the presets, parameter counts
:mod:`.vit`                 ``PatchEmbedding``, ``EncoderBlock``, ``VisionTransformer``
:mod:`.vit_torchvision`     torchvision's state-dict keys and the renaming
:mod:`.cnn`                 ``SmallCNN``, the convolutional baseline, and its features
:mod:`.embedding`           ``EmbeddingNet`` and ``ViTEmbedding``, the ``f`` of the triplet loss
==========================  ==============================================================
"""

from companion.nn import (
    attention,
    attention_backward,
    block,
    cnn,
    embedding,
    kernel_regression,
    layers,
    memory_efficient,
    multihead,
    position,
    vit,
    vit_config,
    vit_torchvision,
)

__all__ = [
    "attention",
    "attention_backward",
    "block",
    "cnn",
    "embedding",
    "kernel_regression",
    "layers",
    "memory_efficient",
    "multihead",
    "position",
    "vit",
    "vit_config",
    "vit_torchvision",
]
