"""The Vision Transformer (ViT, Dosovitskiy et al., 2021): BERT's encoder applied to patches.

An image ``(C, H, W)`` is cut into ``N = HW / P²`` patches of ``P x P`` pixels; each patch,
flattened to ``P²C`` numbers, is projected linearly to ``D`` dimensions. A learned
``[class]`` token is put at position 0, learned position embeddings are added, and a stack
of pre-LayerNorm encoder blocks mixes the ``N + 1`` tokens:

    z_0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos
    z'_l = z_{l-1} + MSA(LN(z_{l-1}))
    z_l  = z'_l + MLP(LN(z'_l))
    y    = head(LN(z_L^0))

The names mirror the paper and torchvision, so a torchvision checkpoint loads with
:meth:`VisionTransformer.from_torchvision` and can be inspected with the same tools
(:meth:`VisionTransformer.encode` returns every block's attention weights).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from companion.attention import MultiHeadAttention
from companion.data import load_digits
from companion.train import History, accuracy, fit

__all__ = [
    "VIT_B_16",
    "VIT_DIGITS",
    "VIT_H_14",
    "VIT_L_16",
    "DigitsRecipe",
    "EncoderBlock",
    "PatchEmbedding",
    "ShiftAveraged",
    "ViTConfig",
    "VisionTransformer",
    "attention_rollout",
    "class_token_attention",
    "parameter_count",
    "parameter_counts",
    "patchify",
    "position_similarity",
    "random_shift",
    "torchvision_shapes",
    "train_on_digits",
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
        depth: ``L``, the number of encoder blocks.
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
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.image_size % self.patch_size != 0:
            raise ValueError(
                f"image_size must be divisible by patch_size, got image_size={self.image_size} "
                f"and patch_size={self.patch_size}"
            )
        if self.embed_dim % self.num_heads != 0:
            raise ValueError(
                f"embed_dim must be divisible by num_heads, got embed_dim={self.embed_dim} "
                f"and num_heads={self.num_heads}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.layer_norm_eps <= 0:
            raise ValueError(f"layer_norm_eps must be positive, got {self.layer_norm_eps!r}")

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
#: A tiny ViT for the 8x8 digits: 4 patches of 4x4 pixels (chosen on the validation split).
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


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping ``P x P`` patches and flatten each one.

    Patches are numbered row by row (left to right, then top to bottom); each patch is
    flattened channel by channel, ``(C, P, P) -> C·P·P``, the order of a ``Conv2d``
    weight, so that ``conv.weight.reshape(D, -1)`` is the equivalent linear map.

    Args:
        images: ``(B, C, H, W)`` with ``H`` and ``W`` divisible by ``patch_size``.
        patch_size: ``P``.

    Returns:
        ``(B, N, P·P·C)`` with ``N = (H / P)(W / P)``.

    Raises:
        ValueError: if ``images`` is not 4-D or its sides are not divisible by ``P``.
    """
    if not isinstance(patch_size, int) or isinstance(patch_size, bool) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive int, got {patch_size!r}")
    if images.ndim != 4:
        raise ValueError(f"images must be 4-D (B, C, H, W), got shape {tuple(images.shape)}")
    B, C, H, W = images.shape
    P = patch_size
    if H % P != 0 or W % P != 0:
        raise ValueError(
            f"image size must be divisible by the patch size, got {H}x{W} images and patch_size={P}"
        )
    x = images.reshape(B, C, H // P, P, W // P, P)  # (B, C, gh, P, gw, P)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, gh, gw, C, P, P)
    return x.reshape(B, (H // P) * (W // P), C * P * P)  # (B, N, C·P·P)


class PatchEmbedding(nn.Module):
    """Flattened patches times a learned matrix: ``x_p E + b`` with ``E`` of shape ``(P²C, D)``.

    Equal to ``Conv2d(C, D, kernel_size=P, stride=P)`` whose weight is ``proj.weight``
    reshaped to ``(D, C, P, P)``.
    """

    def __init__(self, patch_size: int, in_channels: int, embed_dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.in_channels = in_channels
        self.proj = nn.Linear(patch_size * patch_size * in_channels, embed_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, N, D)``."""
        if images.ndim != 4 or images.shape[1] != self.in_channels:
            raise ValueError(
                f"images must be (B, {self.in_channels}, H, W), got shape {tuple(images.shape)}"
            )
        return self.proj(patchify(images, self.patch_size))  # (B, N, D)


class EncoderBlock(nn.Module):
    """One pre-LayerNorm encoder block, as in ViT and torchvision's ``EncoderBlock``:

        x = x + Dropout(MSA(LN_1(x)))
        x = x + MLP(LN_2(x)),    MLP = Linear(D, M) → GELU → Dropout → Linear(M, D) → Dropout

    ``MSA`` is :class:`companion.attention.MultiHeadAttention`.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        D = config.embed_dim
        self.ln_1 = nn.LayerNorm(D, eps=config.layer_norm_eps)
        self.attention = MultiHeadAttention(D, config.num_heads)
        self.dropout = nn.Dropout(config.dropout)
        self.ln_2 = nn.LayerNorm(D, eps=config.layer_norm_eps)
        self.mlp = nn.Sequential(
            nn.Linear(D, config.mlp_dim),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.mlp_dim, D),
            nn.Dropout(config.dropout),
        )

    def forward(
        self, x: torch.Tensor, *, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(B, L, D) -> (B, L, D)``, and the attention weights ``(B, H, L, L)`` if asked."""
        h = self.ln_1(x)
        h, weights = self.attention(h, h, h, need_weights=need_weights)
        x = x + self.dropout(h)
        x = x + self.mlp(self.ln_2(x))
        return x, weights


class VisionTransformer(nn.Module):
    """ViT: patch embedding, ``[class]`` token, position embeddings, encoder, head.

    ``forward(images)`` gives the logits ``(B, num_classes)``. To look inside, call
    :meth:`encode` with ``need_weights=True``: it also returns each block's attention
    weights ``(B, H, N + 1, N + 1)`` (token 0 is the class token; the patches follow row
    by row).
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        if not isinstance(config, ViTConfig):
            raise TypeError(f"config must be a ViTConfig, got {type(config).__name__}")
        self.config = config
        D = config.embed_dim
        self.patch_embedding = PatchEmbedding(config.patch_size, config.in_channels, D)
        self.class_token = nn.Parameter(torch.zeros(1, 1, D))
        self.position_embedding = nn.Parameter(torch.zeros(1, config.num_patches + 1, D))
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(EncoderBlock(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(D, eps=config.layer_norm_eps)
        self.head = nn.Linear(D, config.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """As torchvision where it matters: the linear maps keep PyTorch's default
        initialisation, the position embeddings are drawn from a truncated normal with
        std 0.02, the class token and the head start at zero."""
        nn.init.trunc_normal_(self.position_embedding, std=0.02)
        nn.init.zeros_(self.class_token)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def _check_images(self, images: torch.Tensor) -> None:
        c = self.config
        expected = (c.in_channels, c.image_size, c.image_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"images must be (B, {c.in_channels}, {c.image_size}, {c.image_size}) "
                f"for this config, got shape {tuple(images.shape)}"
            )

    def encode(
        self, images: torch.Tensor, *, need_weights: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The encoder's output tokens, after the final LayerNorm.

        Args:
            images: ``(B, C, H, W)`` matching the config.
            need_weights: also return each block's attention weights.

        Returns:
            ``tokens`` ``(B, N + 1, D)`` and a list of ``depth`` tensors
            ``(B, H, N + 1, N + 1)`` (empty unless ``need_weights``).
        """
        self._check_images(images)
        B = images.shape[0]
        x = self.patch_embedding(images)  # (B, N, D)
        cls = self.class_token.expand(B, -1, -1)  # (B, 1, D)
        x = torch.cat([cls, x], dim=1) + self.position_embedding  # (B, N + 1, D)
        x = self.dropout(x)
        all_weights = []
        for block in self.blocks:
            x, weights = block(x, need_weights=need_weights)
            if weights is not None:
                all_weights.append(weights)
        return self.norm(x), all_weights

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, num_classes)``: the head applied to the class token."""
        tokens, _ = self.encode(images)
        return self.head(tokens[:, 0])  # (B, num_classes)

    @classmethod
    def from_torchvision(
        cls, state_dict: dict[str, torch.Tensor], config: ViTConfig
    ) -> VisionTransformer:
        """Build a model from a ``torchvision.models.VisionTransformer`` state dict.

        The keys and shapes must be exactly those of :func:`torchvision_shapes`
        (``conv_proj.*``, ``class_token``, ``encoder.pos_embedding``,
        ``encoder.layers.encoder_layer_{i}.*``, ``encoder.ln.*``, ``heads.head.*``).
        The conv weight ``(D, C, P, P)`` becomes the linear weight ``(D, C·P·P)``; the fused
        ``in_proj`` ``(3D, D)`` is split into the query, key and value maps. torchvision is
        not imported. The model is returned in eval mode.

        Raises:
            ValueError: listing every missing, unexpected or mis-shaped key.
        """
        expected = torchvision_shapes(config)
        missing = sorted(set(expected) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(expected))
        misshaped = sorted(
            f"{k}: expected {expected[k]}, got {tuple(state_dict[k].shape)}"
            for k in set(expected) & set(state_dict)
            if tuple(state_dict[k].shape) != expected[k]
        )
        if missing or unexpected or misshaped:
            problems = []
            for name, items in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("mis-shaped keys", misshaped),
            ):
                if items:
                    problems.append(f"{name}: {', '.join(items)}")
            raise ValueError("state_dict does not match the config; " + "; ".join(problems))
        D = config.embed_dim
        ours = {
            "patch_embedding.proj.weight": state_dict["conv_proj.weight"].reshape(D, -1),
            "patch_embedding.proj.bias": state_dict["conv_proj.bias"],
            "class_token": state_dict["class_token"],
            "position_embedding": state_dict["encoder.pos_embedding"],
            "norm.weight": state_dict["encoder.ln.weight"],
            "norm.bias": state_dict["encoder.ln.bias"],
            "head.weight": state_dict["heads.head.weight"],
            "head.bias": state_dict["heads.head.bias"],
        }
        for i in range(config.depth):
            tv, me = f"encoder.layers.encoder_layer_{i}.", f"blocks.{i}."
            w_q, w_k, w_v = state_dict[tv + "self_attention.in_proj_weight"].chunk(3)
            b_q, b_k, b_v = state_dict[tv + "self_attention.in_proj_bias"].chunk(3)
            for name, w, b in (("q_proj", w_q, b_q), ("k_proj", w_k, b_k), ("v_proj", w_v, b_v)):
                ours[f"{me}attention.{name}.weight"] = w
                ours[f"{me}attention.{name}.bias"] = b
            for part in ("weight", "bias"):
                ours[f"{me}attention.out_proj.{part}"] = state_dict[
                    tv + f"self_attention.out_proj.{part}"
                ]
                for layer in ("ln_1", "ln_2", "mlp.0", "mlp.3"):
                    ours[f"{me}{layer}.{part}"] = state_dict[tv + f"{layer}.{part}"]
        first = state_dict["class_token"]
        model = cls(config).to(device=first.device, dtype=first.dtype)
        model.load_state_dict(ours, strict=True)
        return model.eval()

    def to_torchvision(self) -> dict[str, torch.Tensor]:
        """This model's weights as a torchvision ``VisionTransformer`` state dict (the
        inverse of :meth:`from_torchvision`)."""
        c = self.config
        sd = self.state_dict()
        out = {
            "class_token": sd["class_token"],
            "conv_proj.weight": sd["patch_embedding.proj.weight"].reshape(
                c.embed_dim, c.in_channels, c.patch_size, c.patch_size
            ),
            "conv_proj.bias": sd["patch_embedding.proj.bias"],
            "encoder.pos_embedding": sd["position_embedding"],
        }
        for i in range(c.depth):
            tv, me = f"encoder.layers.encoder_layer_{i}.", f"blocks.{i}."
            for part in ("weight", "bias"):
                out[tv + f"ln_1.{part}"] = sd[me + f"ln_1.{part}"]
            qkv = ("q_proj", "k_proj", "v_proj")
            out[tv + "self_attention.in_proj_weight"] = torch.cat(
                [sd[f"{me}attention.{n}.weight"] for n in qkv]
            )
            out[tv + "self_attention.in_proj_bias"] = torch.cat(
                [sd[f"{me}attention.{n}.bias"] for n in qkv]
            )
            for part in ("weight", "bias"):
                out[tv + f"self_attention.out_proj.{part}"] = sd[f"{me}attention.out_proj.{part}"]
                for layer in ("ln_2", "mlp.0", "mlp.3"):
                    out[tv + f"{layer}.{part}"] = sd[me + f"{layer}.{part}"]
        out["encoder.ln.weight"] = sd["norm.weight"]
        out["encoder.ln.bias"] = sd["norm.bias"]
        out["heads.head.weight"] = sd["head.weight"]
        out["heads.head.bias"] = sd["head.bias"]
        return out


def torchvision_shapes(config: ViTConfig) -> dict[str, tuple[int, ...]]:
    """Key → shape of the state dict of torchvision's ``VisionTransformer`` for ``config``
    (for ViT-B/16: ``conv_proj.weight`` ``(768, 3, 16, 16)``, ``encoder.pos_embedding``
    ``(1, 197, 768)``, ``...in_proj_weight`` ``(2304, 768)``, ...)."""
    C, P, D, M = config.in_channels, config.patch_size, config.embed_dim, config.mlp_dim
    shapes: dict[str, tuple[int, ...]] = {
        "class_token": (1, 1, D),
        "conv_proj.weight": (D, C, P, P),
        "conv_proj.bias": (D,),
        "encoder.pos_embedding": (1, config.num_patches + 1, D),
    }
    for i in range(config.depth):
        p = f"encoder.layers.encoder_layer_{i}."
        shapes.update(
            {
                p + "ln_1.weight": (D,),
                p + "ln_1.bias": (D,),
                p + "self_attention.in_proj_weight": (3 * D, D),
                p + "self_attention.in_proj_bias": (3 * D,),
                p + "self_attention.out_proj.weight": (D, D),
                p + "self_attention.out_proj.bias": (D,),
                p + "ln_2.weight": (D,),
                p + "ln_2.bias": (D,),
                p + "mlp.0.weight": (M, D),
                p + "mlp.0.bias": (M,),
                p + "mlp.3.weight": (D, M),
                p + "mlp.3.bias": (D,),
            }
        )
    shapes.update(
        {
            "encoder.ln.weight": (D,),
            "encoder.ln.bias": (D,),
            "heads.head.weight": (config.num_classes, D),
            "heads.head.bias": (config.num_classes,),
        }
    )
    return shapes


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


def class_token_attention(weights: torch.Tensor, grid_size: int) -> torch.Tensor:
    """How much the class token attends to each patch, averaged over heads, as an image.

    Args:
        weights: one block's attention weights ``(B, H, N + 1, N + 1)``, ``N = grid_size²``.
        grid_size: patches per side.

    Returns:
        ``(B, grid_size, grid_size)``: ``mean_h weights[:, h, 0, 1:]`` on the patch grid.

    Raises:
        ValueError: if the shape does not match ``grid_size``.
    """
    L = grid_size * grid_size + 1
    if weights.ndim != 4 or tuple(weights.shape[2:]) != (L, L):
        raise ValueError(
            f"weights must be (B, H, {L}, {L}) for grid_size={grid_size}, "
            f"got shape {tuple(weights.shape)}"
        )
    B = weights.shape[0]
    return weights[:, :, 0, 1:].mean(dim=1).reshape(B, grid_size, grid_size)  # (B, g, g)


def attention_rollout(weights: list[torch.Tensor]) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, 2020), used in the ViT paper's attention maps.

    Each block's head-averaged weights get the residual connection added and rows
    renormalized, ``Â_l = (mean_h A_l + I) / 2``, and the blocks are chained:
    ``R = Â_L ··· Â_2 Â_1``. Row 0 of ``R`` is how much the class token's output draws,
    through all blocks, on each input token.

    Args:
        weights: ``depth`` tensors ``(B, H, L, L)`` (first block first).

    Returns:
        ``(B, L, L)``, each row summing to 1.

    Raises:
        ValueError: for an empty list or shapes that differ.
    """
    if len(weights) == 0:
        raise ValueError("weights must hold at least one block's attention weights, got none")
    shape = weights[0].shape
    if any(w.shape != shape for w in weights) or len(shape) != 4 or shape[2] != shape[3]:
        raise ValueError(
            "weights must all have the same shape (B, H, L, L), got "
            f"{[tuple(w.shape) for w in weights]}"
        )
    L = shape[-1]
    eye = torch.eye(L, device=weights[0].device, dtype=weights[0].dtype)
    rollout = eye.expand(shape[0], L, L)
    for w in weights:
        a = (w.mean(dim=1) + eye) / 2  # (B, L, L), rows sum to 1
        rollout = a @ rollout
    return rollout


def position_similarity(position_embedding: torch.Tensor, grid_size: int) -> torch.Tensor:
    """Cosine similarity between the position embeddings of the patches (as in the ViT
    paper's Figure 7): entry ``[i, j, k, l]`` compares patch ``(i, j)`` with patch ``(k, l)``.

    Args:
        position_embedding: ``(1, N + 1, D)`` or ``(N + 1, D)`` (class token first, ignored).
        grid_size: patches per side, ``N = grid_size²``.

    Returns:
        ``(grid_size, grid_size, grid_size, grid_size)``.

    Raises:
        ValueError: if the shape does not match ``grid_size``.
    """
    pos = position_embedding.detach()
    if pos.ndim == 3 and pos.shape[0] == 1:
        pos = pos[0]
    N = grid_size * grid_size
    if pos.ndim != 2 or pos.shape[0] != N + 1:
        raise ValueError(
            f"position_embedding must be (1, {N + 1}, D) or ({N + 1}, D) for "
            f"grid_size={grid_size}, got shape {tuple(position_embedding.shape)}"
        )
    unit = F.normalize(pos[1:], dim=-1)  # (N, D)
    g = grid_size
    return (unit @ unit.T).reshape(g, g, g, g)  # (g, g, g, g)


def random_shift(
    images: torch.Tensor, generator: torch.Generator, *, max_shift: int = 1
) -> torch.Tensor:
    """Move each image by a random whole number of pixels in ``[-max_shift, max_shift]``
    along each axis, filling with zeros (a light augmentation; the signature is
    :func:`companion.train.fit`'s ``transform``).

    Args:
        images: ``(B, C, H, W)``.
        generator: a CPU generator; all randomness is drawn from it.
        max_shift: largest shift in pixels, ``0 <= max_shift < min(H, W)``.

    Returns:
        ``(B, C, H, W)``, on the device and with the dtype of ``images``.

    Raises:
        ValueError: if ``images`` is not 4-D or ``max_shift`` is out of range.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be 4-D (B, C, H, W), got shape {tuple(images.shape)}")
    B, _, H, W = images.shape
    if not isinstance(max_shift, int) or not 0 <= max_shift < min(H, W):
        raise ValueError(f"max_shift must be an int in [0, {min(H, W)}), got {max_shift!r}")
    if max_shift == 0:
        return images
    s = max_shift
    shifts = torch.randint(-s, s + 1, (B, 2), generator=generator).to(images.device)
    padded = F.pad(images, (s, s, s, s))  # (B, C, H + 2s, W + 2s)
    rows = torch.arange(H, device=images.device) + s - shifts[:, :1]  # (B, H)
    cols = torch.arange(W, device=images.device) + s - shifts[:, 1:]  # (B, W)
    batch = torch.arange(B, device=images.device)[:, None, None]  # (B, 1, 1)
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()  # (B, C, H, W)


class ShiftAveraged(nn.Module):
    """Test-time augmentation: ``model``'s logits averaged over shifted copies of the input.

    Each image is moved by every ``(dy, dx)`` with ``-s <= dy, dx <= s`` (``s = max_shift``,
    zero fill, the shifts :func:`random_shift` trains with), giving ``V = (2s + 1)²`` views,
    and the logits of the views are averaged:

        logits(x) = (1 / V) · Σ_{dy, dx} model(shift(x, dy, dx))

    A prediction then no longer hangs on where, within a pixel or so, the digit happens to
    sit. ``max_shift=0`` gives ``model(x)`` itself.

    Args:
        model: a classifier ``(B, C, H, W) -> (B, K)``.
        max_shift: largest shift in pixels, ``s >= 0`` (and ``s < min(H, W)``).

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``.
        ValueError: if ``max_shift`` is not a non-negative int; in ``forward``, if the images
            are not 4-D or ``max_shift`` is not below their height and width.
    """

    def __init__(self, model: nn.Module, *, max_shift: int = 1) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(max_shift, int) or isinstance(max_shift, bool) or max_shift < 0:
            raise ValueError(f"max_shift must be an int >= 0, got {max_shift!r}")
        self.model = model
        self.max_shift = max_shift

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, K)``: the mean of the ``V`` views' logits."""
        if images.ndim != 4:
            raise ValueError(f"images must be 4-D (B, C, H, W), got shape {tuple(images.shape)}")
        B, _, H, W = images.shape
        s = self.max_shift
        if s >= min(H, W):
            raise ValueError(f"max_shift must be below min(H, W) = {min(H, W)}, got {s}")
        padded = F.pad(images, (s, s, s, s))  # (B, C, H + 2s, W + 2s)
        views = [
            padded[:, :, s - dy : s - dy + H, s - dx : s - dx + W]  # (B, C, H, W) moved by (dy, dx)
            for dy in range(-s, s + 1)
            for dx in range(-s, s + 1)
        ]
        logits = self.model(torch.cat(views))  # (V·B, K)
        return logits.reshape(len(views), B, -1).mean(dim=0)  # (V, B, K) -> (B, K)


@dataclass(frozen=True)
class DigitsRecipe:
    """How :func:`train_on_digits` trains (defaults chosen on the validation split).

    Attributes:
        epochs: passes over the training split.
        batch_size: images per step.
        lr: peak learning rate of AdamW (linear warm-up, then cosine decay to 0).
        warmup_epochs: epochs of warm-up.
        weight_decay: AdamW's decoupled weight decay.
        label_smoothing: cross-entropy's label smoothing.
        max_shift: random shift of each training image, in pixels (0: no augmentation).
        test_shift: evaluate with :class:`ShiftAveraged` (logits averaged over every shift
            of up to ``test_shift`` pixels); 0: the plain model.
    """

    epochs: int = 100
    batch_size: int = 128
    lr: float = 3e-3
    warmup_epochs: int = 5
    weight_decay: float = 0.3
    label_smoothing: float = 0.1
    max_shift: int = 1
    test_shift: int = 1

    def __post_init__(self) -> None:
        for name in ("max_shift", "test_shift"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")


def train_on_digits(
    config: ViTConfig = VIT_DIGITS,
    recipe: DigitsRecipe | None = None,
    *,
    train_split: str = "train",
    eval_split: str | None = "val",
    seed: int = 0,
    device: torch.device | str | None = None,
) -> tuple[VisionTransformer, History]:
    """Train ``VisionTransformer(config)`` on one split of :func:`companion.data.load_digits`.

    The loss is cross-entropy with ``recipe.label_smoothing``; each training batch is
    moved by :func:`random_shift` (``recipe.max_shift``). After each epoch the accuracy
    on ``eval_split`` of ``ShiftAveraged(model, max_shift=recipe.test_shift)`` is recorded
    as ``history.metrics["eval_accuracy"]`` (skipped if ``eval_split`` is ``None``; never
    pass the test split here, score it once at the end, the same way).

    Returns:
        The trained model (in eval mode) and its :class:`companion.train.History`.

    Raises:
        ValueError: if ``eval_split`` is ``"test"`` (choices are made on the validation
            split; the test split is scored once, by the caller, at the end).
    """
    if eval_split == "test":
        raise ValueError(
            "eval_split must not be 'test': make choices on 'val' and score the test split "
            "once at the end"
        )
    recipe = recipe if recipe is not None else DigitsRecipe()
    torch.manual_seed(seed)
    model = VisionTransformer(config).to(device)
    x, y = load_digits(train_split, device=device)
    evaluate = None
    if eval_split is not None:
        x_eval, y_eval = load_digits(eval_split, device=device)

        def evaluate(m: nn.Module) -> dict[str, float]:
            scored = ShiftAveraged(m, max_shift=recipe.test_shift)
            return {"eval_accuracy": accuracy(scored, x_eval, y_eval)}

    def transform(xb: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return random_shift(xb, gen, max_shift=recipe.max_shift)

    history = fit(
        model,
        nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
        x,
        y,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        weight_decay=recipe.weight_decay,
        schedule="cosine",
        warmup_epochs=recipe.warmup_epochs,
        transform=transform if recipe.max_shift > 0 else None,
        evaluate=evaluate,
        seed=seed,
    )
    return model.eval(), history
