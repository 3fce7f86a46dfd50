"""companion.nn.vit_torchvision: the torchvision key mapping, without torchvision (its recorded key
table and a reference twin)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from companion.nn import vit, vit_config, vit_torchvision
from course_tools.reference_vit import TorchVisionTwin

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 2e-5, "rtol": 1e-4}, torch.float64: {"atol": 1e-10, "rtol": 1e-9}}
SMALL = vit_config.ViTConfig(
    image_size=8, patch_size=2, in_channels=3, num_classes=5, embed_dim=16, depth=2,
    num_heads=4, mlp_dim=24,
)  # fmt: skip


def _random_state_dict(config: vit_config.ViTConfig, dtype: torch.dtype, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {
        k: torch.randn(shape, generator=g, dtype=dtype) * 0.3
        for k, shape in vit_torchvision.torchvision_shapes(config).items()
    }


# ------------------------------------------------------------------------ torchvision


TORCHVISION_KEYS = (
    Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "torchvision_vit_b_16_keys.json"
)


def test_torchvision_shapes_equal_torchvisions_own_key_table() -> None:
    """Against torchvision's real ``vit_b_16`` state dict, recorded by
    tools/make_torchvision_fixture.py: every key, in torchvision's order, and its shape."""
    recorded = json.loads(TORCHVISION_KEYS.read_text())
    theirs = {key: tuple(shape) for key, shape in recorded["shapes"].items()}
    ours = vit_torchvision.torchvision_shapes(vit_config.VIT_B_16)
    assert sorted(set(theirs) - set(ours)) == [], "keys torchvision has and we lack"
    assert sorted(set(ours) - set(theirs)) == [], "keys we expect and torchvision lacks"
    assert list(ours) == list(theirs)
    assert ours == theirs
    assert vit_config.parameter_count(vit_config.VIT_B_16) == recorded["parameters"]


def test_a_real_torchvision_state_dict_loads() -> None:
    """Zeros in torchvision's recorded shapes load with no missing, unexpected or
    mis-shaped key, and come back under the same keys."""
    recorded = json.loads(TORCHVISION_KEYS.read_text())["shapes"]
    with torch.device("meta"):
        state_dict = {key: torch.zeros(shape) for key, shape in recorded.items()}
        ours = vit_torchvision.from_torchvision_state_dict(state_dict, vit_config.VIT_B_16)
        back = vit_torchvision.to_torchvision_state_dict(ours, vit_config.VIT_B_16)
    assert {k: list(v.shape) for k, v in back.items()} == recorded


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_torchvision_matches_reference(dtype: torch.dtype) -> None:
    sd = _random_state_dict(SMALL, dtype)
    model = vit.VisionTransformer.from_torchvision(sd, SMALL)
    assert not model.training
    reference = TorchVisionTwin(SMALL).to(dtype)
    reference.load_torchvision(sd)
    reference.eval()
    images = torch.randn(4, 3, 8, 8, dtype=dtype, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(model(images), reference(images), **TOL[dtype])


def test_from_torchvision_round_trip() -> None:
    sd = _random_state_dict(SMALL, torch.float32)
    back = vit.VisionTransformer.from_torchvision(sd, SMALL).to_torchvision()
    assert set(back) == set(sd)
    for key, value in sd.items():
        assert torch.equal(back[key], value), key


def test_from_torchvision_missing_key() -> None:
    sd = _random_state_dict(SMALL, torch.float32)
    del sd["encoder.layers.encoder_layer_1.mlp.3.bias"]
    del sd["class_token"]
    with pytest.raises(
        ValueError,
        match=r"missing keys: class_token, encoder\.layers\.encoder_layer_1\.mlp\.3\.bias$",
    ):
        vit.VisionTransformer.from_torchvision(sd, SMALL)


def test_from_torchvision_unexpected_key() -> None:
    sd = _random_state_dict(SMALL, torch.float32)
    sd["heads.pre_logits.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"unexpected keys: heads\.pre_logits\.weight$"):
        vit.VisionTransformer.from_torchvision(sd, SMALL)


def test_from_torchvision_misshaped_key() -> None:
    sd = _random_state_dict(SMALL, torch.float32)
    sd["encoder.pos_embedding"] = torch.zeros(1, 5, 16)
    message = "mis-shaped keys: encoder.pos_embedding: expected (1, 17, 16), got (1, 5, 16)"
    with pytest.raises(ValueError, match=re.escape(message)):
        vit.VisionTransformer.from_torchvision(sd, SMALL)
