"""companion.train.open_set_vit: the ViT's warm start and its class-token features (the
protocol itself runs on a tiny budget in test_open_set.py and tests/test_run_data.py)."""

from __future__ import annotations

from dataclasses import replace

import torch

from companion.nn.embedding import ViTEmbedding
from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import VIT_FASHION
from companion.train import recipes, registry
from companion.train.open_set_vit import ClassToken


def test_class_token_is_what_the_head_reads() -> None:
    torch.manual_seed(0)
    vit = VisionTransformer(replace(VIT_FASHION, num_classes=3)).eval()
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(vit.head(ClassToken(vit)(x)), vit(x))


def test_the_warm_start_copies_all_but_the_head() -> None:
    torch.manual_seed(0)
    vit = VisionTransformer(replace(VIT_FASHION, num_classes=3))
    embedding = ViTEmbedding(VIT_FASHION, dim=32)
    body = {k: v for k, v in vit.state_dict().items() if not k.startswith("head.")}
    missing, unexpected = embedding.vit.load_state_dict(body, strict=False)
    assert sorted(missing) == ["head.bias", "head.weight"]
    assert not unexpected


def test_the_vit_run_records_its_recipes() -> None:
    run = registry.get_run("open_set_vit")
    assert run.recipes == {
        "vit": recipes.OPEN_SET_VIT,
        "vit_triplet": recipes.OPEN_SET_VIT_TRIPLET,
    }
    assert run.results == registry.get_run("open_set").results
