"""The Vision Transformer (ViT, Dosovitskiy et al., 2021): a pre-norm encoder over patches.

An image ``(C, H, W)`` is cut into ``N = HW / P²`` patches of ``P x P`` pixels; each patch,
flattened to ``P²C`` numbers, is projected linearly to ``D`` dimensions. A learned
``[class]`` token is put at position 0, learned position embeddings are added, and a stack
of pre-LayerNorm encoder blocks mixes the ``N + 1`` tokens:

    z_0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos
    z'_l = z_{l-1} + MSA(LN(z_{l-1}))
    z_l  = z'_l + MLP(LN(z'_l))
    y    = head(LN(z_L^0))

Each block is the Transformer-block chapter's pre-norm
:class:`companion.nn.block.TransformerBlock`. A torchvision checkpoint loads with
:meth:`VisionTransformer.from_torchvision` (the key mapping is in
:mod:`companion.nn.vit_torchvision`) and can be inspected with the same tools
(:meth:`VisionTransformer.encode` returns every block's attention weights).
"""

from __future__ import annotations

import torch
from torch import nn

from companion.checks import check_instance, check_int, check_layout, check_ndim, check_tensor
from companion.nn.block import TransformerBlock
from companion.nn.vit_config import ViTConfig
from companion.nn.vit_torchvision import from_torchvision_state_dict, to_torchvision_state_dict

__all__ = ["PatchEmbedding", "VisionTransformer", "patchify"]


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
    check_int("patch_size", patch_size, low=1)
    check_ndim("images", check_tensor("images", images), 4, "(B, C, H, W)")
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
        check_layout("images", images, ("B", self.in_channels, "H", "W"))
        return self.proj(patchify(images, self.patch_size))  # (B, N, D)


class VisionTransformer(nn.Module):
    """ViT: patch embedding, ``[class]`` token, position embeddings, encoder, head.

    ``forward(images)`` gives the logits ``(B, num_classes)``. To look inside, call
    :meth:`encode` with ``need_weights=True``: it also returns each block's attention
    weights ``(B, H, N + 1, N + 1)`` (token 0 is the class token; the patches follow row
    by row).

    Attributes:
        blocks: ``depth`` pre-norm blocks, each a
            :class:`~companion.nn.block.TransformerBlock` with the config's ``mlp_dim``,
            ``dropout`` and ``layer_norm_eps``.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        check_instance("config", config, ViTConfig)
        self.config = config
        D = config.embed_dim
        self.patch_embedding = PatchEmbedding(config.patch_size, config.in_channels, D)
        self.class_token = nn.Parameter(torch.zeros(1, 1, D))
        self.position_embedding = nn.Parameter(torch.zeros(1, config.num_patches + 1, D))
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                D,
                config.num_heads,
                config.mlp_dim,
                norm_first=True,
                dropout=config.dropout,
                layer_norm_eps=config.layer_norm_eps,
            )
            for _ in range(config.depth)
        )
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
        layout = ("B", c.in_channels, c.image_size, c.image_size)
        check_layout("images", images, layout, "for this config")

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """The encoder's input ``(B, N + 1, D)``: the class token, then the patch tokens,
        plus the position embeddings (after dropout). Unchecked: :meth:`encode` checks."""
        B = images.shape[0]
        x = self.patch_embedding(images)  # (B, N, D)
        cls = self.class_token.expand(B, -1, -1)  # (B, 1, D)
        x = torch.cat([cls, x], dim=1) + self.position_embedding  # (B, N + 1, D)
        return self.dropout(x)

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
        x = self.embed(images)  # (B, N + 1, D)
        all_weights = []
        for block in self.blocks:
            if need_weights:
                x, weights = block.forward_with_weights(x)
                all_weights.append(weights)
            else:
                x = block(x)
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

        The keys and shapes must be exactly those of
        :func:`~companion.nn.vit_torchvision.torchvision_shapes`; the weights are renamed
        by :func:`~companion.nn.vit_torchvision.from_torchvision_state_dict`. torchvision
        is not imported. The model is returned in eval mode, on the device and with the
        dtype of the weights.

        Raises:
            ValueError: listing every missing, unexpected or mis-shaped key.
        """
        ours = from_torchvision_state_dict(state_dict, config)
        first = state_dict["class_token"]
        model = cls(config).to(device=first.device, dtype=first.dtype)
        model.load_state_dict(ours, strict=True)
        return model.eval()

    def to_torchvision(self) -> dict[str, torch.Tensor]:
        """This model's weights as a torchvision ``VisionTransformer`` state dict (the
        inverse of :meth:`from_torchvision`)."""
        return to_torchvision_state_dict(self.state_dict(), self.config)
