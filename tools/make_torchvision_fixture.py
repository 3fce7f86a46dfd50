"""Write torchvision's real ``vit_b_16`` state-dict key table to a JSON fixture.

Run once, where torchvision is installed (it is not in the course's environment):

    python tools/make_torchvision_fixture.py            # writes the file below
    python tools/make_torchvision_fixture.py --check    # exits 1 if the file is stale

The model is built on the meta device (no memory, no weights, no download), so only the
key names and shapes are read. ``tests/companion/nn/test_vit_torchvision.py`` compares
``companion.nn.vit_torchvision.torchvision_shapes(VIT_B_16)`` with this file on every run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torchvision
from torchvision.models import vit_b_16

FIXTURE = (
    Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "torchvision_vit_b_16_keys.json"
)


def key_table() -> dict[str, object]:
    with torch.device("meta"):
        model = vit_b_16(weights=None)
    shapes = {key: list(tensor.shape) for key, tensor in model.state_dict().items()}
    return {
        "model": "torchvision.models.vit_b_16",
        "torchvision": torchvision.__version__,
        "torch": torch.__version__,
        "made_by": "tools/make_torchvision_fixture.py",
        "parameters": sum(p.numel() for p in model.parameters()),
        "shapes": shapes,
    }


def _dumps(table: dict[str, object]) -> str:
    """JSON with one line per key, so a diff of the fixture reads key by key."""
    head = {k: v for k, v in table.items() if k != "shapes"}
    lines = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    shapes = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in table["shapes"].items()]
    return "{\n" + "\n".join(lines) + '\n "shapes": {\n' + ",\n".join(shapes) + "\n }\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    text = _dumps(key_table())
    if args.check:
        same = (
            FIXTURE.exists()
            and json.loads(FIXTURE.read_text())["shapes"] == json.loads(text)["shapes"]
        )
        print(f"{FIXTURE}: {'up to date' if same else 'STALE'}")
        return 0 if same else 1
    FIXTURE.write_text(text)
    print(f"wrote {FIXTURE} ({len(json.loads(text)['shapes'])} keys)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
