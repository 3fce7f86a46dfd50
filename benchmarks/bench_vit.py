"""Benchmark companion.nn.vit on the CPU: forward throughput against PyTorch's own encoder.

    python benchmarks/bench_vit.py [--quick] [--contended] [--out benchmarks/results/vit_cpu.json]

Throughput: ``VisionTransformer(config)`` against the same network built from
``nn.TransformerEncoder`` (``course_tools/reference_vit.py``, the twin the tests compare with:
``norm_first=True``, GELU, ``batch_first=True``) carrying the same weights, both in
``eval()`` under ``torch.inference_mode()``, so PyTorch's fused inference path ("fast
path") is in play for the reference. The two are timed in alternation, and the median of
the repeats is kept, so that load on a shared machine hits both alike. Sizes: the digits
model (``VIT_DIGITS``: 8x8, patch 4) and ViT-B/16 (224x224).

The chapter's digits training is a registered run (``vit``), measured over kernel levels
and seeds by ``bench_kernels.py`` (``benchmarks/results/kernels_cpu.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from companion.nn import vit, vit_config
from course_tools.machine import describe as machine
from course_tools.reference_vit import TorchVisionTwin


def throughput(
    config: vit_config.ViTConfig, batch: int, repeats: int, seed: int = 0
) -> dict[str, float | int | str]:
    torch.manual_seed(seed)
    ours = vit.VisionTransformer(config).eval()
    with torch.no_grad():  # a non-zero head, so that the logits can be compared
        nn.init.normal_(ours.head.weight, std=0.02)
    theirs = TorchVisionTwin(config).eval()
    theirs.load_torchvision(ours.to_torchvision())
    images = torch.randn(batch, config.in_channels, config.image_size, config.image_size)
    times: dict[str, list[float]] = {"ours": [], "torch": []}
    with torch.inference_mode():
        diff = (ours(images) - theirs(images)).abs().max().item()
        for _ in range(repeats):
            for name, model in (("ours", ours), ("torch", theirs)):
                start = time.perf_counter()
                model(images)
                times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "image_size": config.image_size,
        "patch_size": config.patch_size,
        "embed_dim": config.embed_dim,
        "depth": config.depth,
        "batch": batch,
        "repeats": repeats,
        "ours_images_per_s": batch / med["ours"],
        "torch_images_per_s": batch / med["torch"],
        "ours_time_over_torch": med["ours"] / med["torch"],
        "max_abs_logit_difference": diff,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument(
        "--contended", action="store_true", help="flag: measured on a shared, loaded machine"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "vit_cpu.json"
    )
    args = parser.parse_args()
    result: dict[str, object] = {
        "benchmark": "companion.nn.vit on the CPU, float32",
        "machine": machine(),
        "measured_under_contention": args.contended,
    }
    sizes = [
        ("digits", vit_config.VIT_DIGITS, 512, 5 if args.quick else 20),
        ("vit_b_16", vit_config.VIT_B_16, 2, 2 if args.quick else 5),
    ]
    result["throughput"] = {}
    for name, config, batch, repeats in sizes:
        row = throughput(config, batch, repeats)
        result["throughput"][name] = row
        print(
            f"{name:9s} batch {batch:4d}: ours {row['ours_images_per_s']:9.1f} img/s, "
            f"nn.TransformerEncoder {row['torch_images_per_s']:9.1f} img/s, "
            f"ours/torch time {row['ours_time_over_torch']:.2f}x, "
            f"max |logit diff| {row['max_abs_logit_difference']:.1e}"
        )
    result["machine"]["load_average_at_end"] = list(os.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
