"""The sizes of a Vision Transformer: ``ViTConfig``, torchvision's presets, the course's tiny
ViT for the digits, and what each size costs in parameters."""

from __future__ import annotations

from dataclasses import dataclass, replace

from companion.checks import check_divisible, check_int, check_number

__all__ = [
    "VIT_B_16",
    "VIT_DIGITS",
    "VIT_FASHION",
    "VIT_H_14",
    "VIT_L_16",
    "ViTConfig",
    "parameter_count",
    "parameter_counts",
]


@dataclass(frozen=True)
class ViTConfig:
    """Sizes of a Vision Transformer; the defaults are ViT-B/16 on 224x224 ImageNet images.

    Attributes:
        image_size: side ``H = W`` of the square input images, divisible by ``patch_size``.
        patch_size: side ``P`` of the square patches.
        in_channels: ``C``, 3 for RGB.
        num_classes: outputs of the classification head.
        embed_dim: ``D``, the width of every token, divisible by ``num_heads``.
        depth: ``n_blocks``, the number of encoder blocks.
        num_heads: attention heads per block.
        mlp_dim: hidden width of each block's MLP (``4D`` in the paper).
        dropout: dropout after the embeddings, after the attention and in the MLP
            (there is no dropout on the attention weights; ViT trains with none).
        layer_norm_eps: the LayerNorms' epsilon (torchvision uses 1e-6).
    """

    image_size: int = 224
    patch_size: int = 16
    in_channels: int = 3
    num_classes: int = 1000
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_dim: int = 3072
    dropout: float = 0.0
    layer_norm_eps: float = 1e-6

    def __post_init__(self) -> None:
        for name in (
            "image_size",
            "patch_size",
            "in_channels",
            "num_classes",
            "embed_dim",
            "depth",
            "num_heads",
            "mlp_dim",
        ):
            check_int(name, getattr(self, name), low=1)
        check_divisible("image_size", self.image_size, "patch_size", self.patch_size)
        check_divisible("embed_dim", self.embed_dim, "num_heads", self.num_heads)
        check_number("dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        check_number("layer_norm_eps", self.layer_norm_eps, low=0.0, low_open=True)

    @property
    def grid_size(self) -> int:
        """Patches along each side, ``H / P``."""
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        """``N = HW / P²``."""
        return self.grid_size**2

    @property
    def patch_dim(self) -> int:
        """Length ``P²C`` of one flattened patch."""
        return self.patch_size**2 * self.in_channels


#: torchvision's ``vit_b_16``: 86,567,656 parameters.
VIT_B_16 = ViTConfig()


#: torchvision's ``vit_l_16``: 304,326,632 parameters.
VIT_L_16 = ViTConfig(embed_dim=1024, depth=24, num_heads=16, mlp_dim=4096)


#: torchvision's ``vit_h_14``: 632,045,800 parameters.
VIT_H_14 = ViTConfig(patch_size=14, embed_dim=1280, depth=32, num_heads=16, mlp_dim=5120)


#: A tiny ViT for the 8x8 digits, 4 patches of 4x4 pixels (chosen on the validation split).
VIT_DIGITS = ViTConfig(
    image_size=8,
    patch_size=4,
    in_channels=1,
    num_classes=10,
    embed_dim=64,
    depth=4,
    num_heads=4,
    mlp_dim=128,
    dropout=0.0,
)


#: A small ViT for Fashion-MNIST's 28x28 images, 16 patches of 7x7 pixels (chosen on the
#: validation split); width, depth, heads and MLP those of :data:`VIT_DIGITS`.
VIT_FASHION = replace(VIT_DIGITS, image_size=28, patch_size=7)


def parameter_counts(config: ViTConfig) -> dict[str, int]:
    """Parameters of each part, by the formulas (``D`` width, ``M`` MLP width, ``K`` classes):

    patch embedding ``P²C·D + D``; class token ``D``; position embeddings ``(N + 1)D``;
    each block ``4D² + 4D`` (attention) ``+ 2DM + M + D`` (MLP) ``+ 4D`` (two LayerNorms);
    final LayerNorm ``2D``; head ``DK + K``.
    """
    D, M, K = config.embed_dim, config.mlp_dim, config.num_classes
    block = (4 * D * D + 4 * D) + (2 * D * M + M + D) + 4 * D
    return {
        "patch_embedding": config.patch_dim * D + D,
        "class_token": D,
        "position_embedding": (config.num_patches + 1) * D,
        "blocks": config.depth * block,
        "norm": 2 * D,
        "head": D * K + K,
    }


def parameter_count(config: ViTConfig) -> int:
    """Total number of parameters of ``VisionTransformer(config)`` (sum of
    :func:`parameter_counts`)."""
    return sum(parameter_counts(config).values())
