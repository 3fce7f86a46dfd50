"""companion.nn.cnn: the small CNN equals its layers by hand, counts by the formula, checks its
config."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from companion.nn.cnn import CNNConfig, CNNFeatures, SmallCNN
from companion.utils import count_parameters


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("size", "channels"), [(28, (32, 64)), (8, (4, 6))])
def test_small_cnn_equals_its_layers_by_hand(dtype, size: int, channels) -> None:
    torch.manual_seed(0)
    cnn = SmallCNN(CNNConfig(image_size=size, channels=channels, hidden=12)).to(dtype)
    x = torch.rand(3, 1, size, size, dtype=dtype)
    c1, c2 = cnn.convs[0], cnn.convs[3]
    h = F.max_pool2d(F.relu(F.conv2d(x, c1.weight, c1.bias, padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, c2.weight, c2.bias, padding=1)), 2)
    features = F.relu(h.flatten(1) @ cnn.hidden.weight.T + cnn.hidden.bias)
    logits = features @ cnn.classifier.weight.T + cnn.classifier.bias
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 0}
    torch.testing.assert_close(cnn.features(x), features, **tol)
    torch.testing.assert_close(cnn(x), logits, **tol)
    torch.testing.assert_close(CNNFeatures(cnn)(x), features, **tol)
    assert cnn(x).shape == (3, 10)
    assert cnn.features(x).shape == (3, 12)


def test_small_cnn_parameter_count_by_the_formula() -> None:
    cfg = CNNConfig()
    c1, c2 = cfg.channels
    flat = c2 * (cfg.image_size // 4) ** 2
    expected = (9 * c1 + c1) + (9 * c1 * c2 + c2) + (flat * cfg.hidden + cfg.hidden)
    expected += cfg.hidden * cfg.num_classes + cfg.num_classes
    assert count_parameters(SmallCNN(cfg)) == expected


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"image_size": 30},
            ValueError,
            "image_size must be a multiple of 4 (two 2x2 pools), got 30",
        ),
        ({"image_size": 2}, ValueError, "image_size must be"),
        ({"channels": (32,)}, ValueError, "channels must be a tuple of 2 ints, got (32,)"),
        ({"channels": (32, 0)}, ValueError, "channels must be"),
        ({"hidden": 0}, ValueError, "hidden must be"),
        ({"num_classes": 2.0}, TypeError, "num_classes must be an int"),
    ],
)  # fmt: skip
def test_cnn_config_validates_itself(kwargs, error, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        CNNConfig(**kwargs)


def test_cnn_errors() -> None:
    with pytest.raises(TypeError, match="config must be a CNNConfig, got dict"):
        SmallCNN({})  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=re.escape("x must have shape (B, 1, 28, 28), got (2, 1, 8, 8)")
    ):
        SmallCNN()(torch.zeros(2, 1, 8, 8))
    with pytest.raises(TypeError, match="cnn must be a SmallCNN, got Linear"):
        CNNFeatures(nn.Linear(2, 2))  # type: ignore[arg-type]
