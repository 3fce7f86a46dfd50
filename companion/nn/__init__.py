"""Neural networks: attention, the Transformer block, the Vision Transformer, the
embedding network, and two kinds of help for the ViT (a convolutional stem, distillation).

Model code only: nothing here imports data, training or plotting code (a test checks it).
The first four rows are a chain, in the chapters' order: each module builds on the one
before it.

==========================  ==============================================================
:mod:`.attention`           ``scaled_dot_product_attention`` and the masks
:mod:`.multihead`           ``MultiHeadAttention``
:mod:`.block`               ``TransformerBlock`` (pre- or post-norm), ``TokenEncoder``
:mod:`.vit`                 ``PatchEmbedding``, ``VisionTransformer`` (a stack of blocks)
:mod:`.vit_config`          ``ViTConfig``, the presets, parameter counts
:mod:`.vit_torchvision`     torchvision's state-dict keys and the renaming
:mod:`.attention_backward`  the gradients of attention, by the derived formulas
:mod:`.memory_efficient`    the same output block by block, and a backward that recomputes
:mod:`.attention_checks`    attention's input contract (``check_qkv``, ``check_mask``)
:mod:`.kernel_regression`   Nadaraya–Watson regression, attention's ancestor
:mod:`.layers`              ``layer_norm`` and ``gelu``
:mod:`.position`            sinusoidal, 2-D sin-cos and interpolated position embeddings
:mod:`.cnn`                 ``SmallCNN``, the convolutional baseline, and its features
:mod:`.embedding`           ``EmbeddingNet`` and ``ViTEmbedding``, the ``f`` of the triplet loss
:mod:`.conv_stem`           ``ConvStemViT``: the ViT with a convolutional stem (Xiao et al.)
:mod:`.distill`             ``DistilledViT`` and DeiT's hard-label distillation loss
:mod:`.product_net`         ``ProductNet``: the capstone's network, a classifier or an embedding
:mod:`.simclr`              ``SimCLRNet``: that network's encoder and a projection head (SimCLR)
==========================  ==============================================================
"""

from companion.nn import (
    attention,
    attention_backward,
    attention_checks,
    block,
    cnn,
    conv_stem,
    distill,
    embedding,
    kernel_regression,
    layers,
    memory_efficient,
    multihead,
    position,
    product_net,
    simclr,
    vit,
    vit_config,
    vit_torchvision,
)

__all__ = [  # noqa: RUF022 (in the table's order: the chain first)
    "attention",
    "multihead",
    "product_net",
    "block",
    "vit",
    "vit_config",
    "vit_torchvision",
    "attention_backward",
    "memory_efficient",
    "attention_checks",
    "kernel_regression",
    "layers",
    "position",
    "cnn",
    "embedding",
    "conv_stem",
    "distill",
    "simclr",
]
