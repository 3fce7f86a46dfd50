"""Write tests/fixtures/position/interpolate_embeddings.json with torchvision's own result.

    /path/to/python-with-torchvision tools/make_position_fixture.py

Runs torchvision's ``interpolate_embeddings`` on small seeded position embeddings (a
ViT state dict with only ``encoder.pos_embedding``) and stores inputs and outputs, so
``tests/companion/nn/test_position.py`` compares ``interpolate_position_embeddings`` with
torchvision on every run, without torchvision installed. Run once; commit the JSON.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import torch
import torchvision
from torchvision.models.vision_transformer import interpolate_embeddings

OUTPUT = Path(__file__).resolve().parents[1] / "tests/fixtures/position/interpolate_embeddings.json"
# (old grid side, new grid side, hidden size): up, down, and a larger step up
CASES = [(4, 6, 6), (4, 3, 4), (3, 7, 2)]


def main() -> None:
    g = torch.Generator().manual_seed(0)
    cases = []
    for old, new, dim in CASES:
        pos = torch.randn(1, 1 + old * old, dim, generator=g, dtype=torch.float64)
        patch_size = 2
        state = interpolate_embeddings(
            new * patch_size, patch_size, OrderedDict({"encoder.pos_embedding": pos.clone()})
        )
        cases.append(
            {
                "old_grid": old,
                "new_grid": new,
                "pos_embedding": pos.tolist(),
                "expected": state["encoder.pos_embedding"].tolist(),
            }
        )
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    meta = {"torch": torch.__version__, "torchvision": torchvision.__version__}
    OUTPUT.write_text(json.dumps({"made_with": meta, "cases": cases}) + "\n")


if __name__ == "__main__":
    main()
