"""The reference ViT that the tests and the benchmark compare ``companion`` with.

torchvision's ``VisionTransformer`` forward pass rebuilt from PyTorch's own modules (a
strided ``Conv2d`` patch embedding, ``nn.TransformerEncoder`` with pre-LayerNorm layers,
GELU, batch first), so that a torchvision state dict loads into it by renaming keys only,
without torchvision (which does not install beside the course's CPU torch).

Imported by ``tests/companion/nn/test_vit_torchvision.py`` and ``benchmarks/bench_vit.py``;
it lives here, not in ``tests/``, so that both import it as an installed module.
"""

from __future__ import annotations

import torch
from torch import nn

from companion.nn.vit_config import ViTConfig

__all__ = ["TorchVisionTwin"]

#: torchvision's name inside an encoder layer -> ``nn.TransformerEncoderLayer``'s.
_LAYER_RENAMES = {
    ".ln_1.": ".norm1.",
    ".ln_2.": ".norm2.",
    ".mlp.0.": ".linear1.",
    ".mlp.3.": ".linear2.",
    ".self_attention.": ".self_attn.",
}


class TorchVisionTwin(nn.Module):
    """torchvision's ViT, built from ``nn.Conv2d`` and ``nn.TransformerEncoder``."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.conv_proj = nn.Conv2d(c.in_channels, c.embed_dim, c.patch_size, c.patch_size)
        self.class_token = nn.Parameter(torch.zeros(1, 1, c.embed_dim))
        self.pos_embedding = nn.Parameter(torch.zeros(1, c.num_patches + 1, c.embed_dim))
        layer = nn.TransformerEncoderLayer(
            c.embed_dim,
            c.num_heads,
            c.mlp_dim,
            dropout=0.0,
            activation="gelu",
            layer_norm_eps=c.layer_norm_eps,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, c.depth, enable_nested_tensor=False)
        self.ln = nn.LayerNorm(c.embed_dim, eps=c.layer_norm_eps)
        self.head = nn.Linear(c.embed_dim, c.num_classes)

    def load_torchvision(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a torchvision ``VisionTransformer`` state dict: keys renamed, values kept."""
        ours = {}
        for key, value in state_dict.items():
            new = key.replace("encoder.layers.encoder_layer_", "encoder.layers.")
            new = new.replace("encoder.pos_embedding", "pos_embedding")
            new = new.replace("encoder.ln.", "ln.").replace("heads.head.", "head.")
            for theirs, torch_name in _LAYER_RENAMES.items():
                new = new.replace(theirs, torch_name)
            ours[new] = value
        self.load_state_dict(ours, strict=True)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, num_classes)``."""
        B = images.shape[0]
        x = self.conv_proj(images).flatten(2).transpose(1, 2)  # (B, N, D)
        x = torch.cat([self.class_token.expand(B, -1, -1), x], dim=1) + self.pos_embedding
        return self.head(self.ln(self.encoder(x))[:, 0])  # (B, num_classes)
