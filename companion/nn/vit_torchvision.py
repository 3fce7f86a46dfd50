"""torchvision's ``VisionTransformer`` state dict and ours: the key table and the renaming.

torchvision names the blocks ``encoder.layers.encoder_layer_{i}``, fuses the query, key
and value maps into one ``in_proj`` ``(3D, D)``, calls a block's MLP layers ``mlp.0`` and
``mlp.3`` and embeds the patches with a ``Conv2d`` ``(D, C, P, P)``;
:class:`companion.nn.vit.VisionTransformer` keeps three ``Linear`` maps, calls the MLP
layers ``fc_1`` and ``fc_2`` (its blocks are :class:`~companion.nn.block.TransformerBlock`)
and embeds with a ``Linear`` ``(D, C·P·P)``. These functions convert one into the other,
without importing torchvision. ``tests/fixtures/torchvision_vit_b_16_keys.json`` holds
torchvision's real key table for ViT-B/16, and a test compares :func:`torchvision_shapes`
with it.
"""

from __future__ import annotations

import torch

from companion.nn.vit_config import ViTConfig

__all__ = ["from_torchvision_state_dict", "to_torchvision_state_dict", "torchvision_shapes"]

#: torchvision's name of a block's LayerNorm or MLP layer -> ours
#: (:class:`~companion.nn.block.TransformerBlock`'s).
_LAYER_NAMES = (("ln_1", "ln_1"), ("ln_2", "ln_2"), ("mlp.0", "fc_1"), ("mlp.3", "fc_2"))


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


def from_torchvision_state_dict(
    state_dict: dict[str, torch.Tensor], config: ViTConfig
) -> dict[str, torch.Tensor]:
    """Rename a torchvision ``VisionTransformer`` state dict to
    :class:`~companion.nn.vit.VisionTransformer`'s keys.

    The keys and shapes must be exactly those of :func:`torchvision_shapes` (``conv_proj.*``,
    ``class_token``, ``encoder.pos_embedding``, ``encoder.layers.encoder_layer_{i}.*``,
    ``encoder.ln.*``, ``heads.head.*``). The conv weight ``(D, C, P, P)`` becomes the
    linear weight ``(D, C·P·P)``; the fused ``in_proj`` ``(3D, D)`` is split into the
    query, key and value maps.

    Raises:
        ValueError: listing every missing, unexpected or mis-shaped key at once.
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
            for theirs, mine in _LAYER_NAMES:
                ours[f"{me}{mine}.{part}"] = state_dict[tv + f"{theirs}.{part}"]
    return ours


def to_torchvision_state_dict(
    state_dict: dict[str, torch.Tensor], config: ViTConfig
) -> dict[str, torch.Tensor]:
    """The inverse of :func:`from_torchvision_state_dict`: our keys to torchvision's."""
    c = config
    sd = state_dict
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
            for theirs, mine in _LAYER_NAMES[1:]:  # ln_1 went in above
                out[tv + f"{theirs}.{part}"] = sd[me + f"{mine}.{part}"]
    out["encoder.ln.weight"] = sd["norm.weight"]
    out["encoder.ln.bias"] = sd["norm.bias"]
    out["heads.head.weight"] = sd["head.weight"]
    out["heads.head.bias"] = sd["head.bias"]
    return out
