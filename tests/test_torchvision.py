"""Cross-check against torchvision itself, wherever it can be imported.

torchvision does not import beside the CPU torch wheel this course pins, so these tests
are skipped in the course's environment; they run on machines that have it (the GPU
machine the maintainers check CUDA on has torch + torchvision). The mapping is tested
without torchvision in tests/companion/nn/test_vit_torchvision.py.
"""

from __future__ import annotations

import pytest
import torch

from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import VIT_B_16, ViTConfig
from companion.nn.vit_torchvision import torchvision_shapes
from companion.utils import count_parameters

try:  # a torchvision built for another torch fails with a RuntimeError, not an ImportError
    from torchvision import models
except Exception as error:
    pytest.skip(f"torchvision is not importable here ({error})", allow_module_level=True)


def test_state_dict_keys_and_shapes_match_vit_b_16() -> None:
    with torch.device("meta"):
        reference = models.vit_b_16()
    shapes = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert shapes == torchvision_shapes(VIT_B_16)
    assert count_parameters(reference) == 86_567_656


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_logits_equal_torchvision_with_the_same_weights(device: str) -> None:
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from torchvision.models.vision_transformer import VisionTransformer as TorchvisionViT

    torch.manual_seed(0)
    config = ViTConfig(
        image_size=32, patch_size=8, num_classes=10, embed_dim=64, depth=2, num_heads=4, mlp_dim=128
    )
    reference = TorchvisionViT(
        image_size=32,
        patch_size=8,
        num_layers=2,
        num_heads=4,
        hidden_dim=64,
        mlp_dim=128,
        num_classes=10,
    ).double()
    # torchvision zero-initialises the head and the class token: give them values.
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.02 * torch.randn_like(p))
    reference = reference.eval().to(device)
    ours = VisionTransformer.from_torchvision(reference.state_dict(), config).double().to(device)
    images = torch.randn(3, 3, 32, 32, dtype=torch.float64, device=device)
    with torch.no_grad():
        torch.testing.assert_close(ours(images), reference(images), rtol=1e-9, atol=1e-9)
