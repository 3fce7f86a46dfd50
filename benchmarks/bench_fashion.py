"""Fashion-MNIST: the Vision Transformer against a small CNN, at full budget and by data size.

    python benchmarks/bench_fashion.py [--sizes 1000 5000 20000 60000] [--seeds 0]
                                       [--threads 2] [--out benchmarks/results/fashion_cpu.json]

Two questions of the ViT chapter, answered with more CPU time than a chapter may spend:

1. **The full recipe.** ``VIT_FASHION`` and ``SmallCNN`` trained with
   ``recipes.FASHION_FULL`` on all 60,000 training images ("trainval"), scored once on the
   10,000 test images, beside the rows of Zalando's benchmark table for Fashion-MNIST.
2. **Data efficiency.** The same two models trained with the same recipe on seeded,
   class-balanced subsets of the training images (``--sizes``), and scored on the test
   set. A subset of ``n`` images gets more passes than the full set (:func:`epochs_for`:
   as many optimizer steps as the full recipe, but at most ``--max-epochs`` passes), so
   that a small set is not judged on a few hundred steps.

Every run is one call of ``companion.train.loop.fit`` with the chapter's recipe, as the
chapter trains. Results are written after every run (a stopped benchmark keeps what
it measured), with the machine, torch's thread count and the CPU time of each run.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from companion.data.augment import FlipAveraged
from companion.data.fashion_mnist import load_fashion_mnist
from companion.nn.cnn import SmallCNN
from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import VIT_FASHION
from companion.train.loop import accuracy, fit
from companion.train.recipe import seeded
from companion.train.recipes import FASHION_FULL
from companion.utils import count_parameters
from course_tools.machine import describe

ROOT = Path(__file__).resolve().parents[1]
FULL = 60_000
#: Zalando's benchmark table (fashion-mnist's README and benchmark/baselines.json):
#: a few of its rows, test accuracy, for comparison with numbers nobody here wrote.
ZALANDO_ROWS = {
    "SVC (C=10, RBF kernel)": 0.897,
    "MLPClassifier (100 hidden, ReLU)": 0.871,
    "RandomForestClassifier (100 trees)": 0.873,
    "LogisticRegression": 0.842,
    "KNeighborsClassifier (k=5)": 0.854,
}


def epochs_for(n: int, full_epochs: int, max_epochs: int = 50) -> int:
    """Passes over ``n`` images: the full recipe's number of steps, spread over ``n``
    images, but at most ``max_epochs`` passes and at least ``full_epochs``."""
    return max(full_epochs, min(max_epochs, math.ceil(full_epochs * FULL / n)))


def build(model_name: str) -> torch.nn.Module:
    return VisionTransformer(VIT_FASHION) if model_name == "vit" else SmallCNN()


def run_one(model_name: str, n: int, seed: int, *, max_epochs: int) -> dict[str, object]:
    """Train ``model_name`` ("vit" or "cnn") on ``n`` training images and score the test set."""
    recipe = FASHION_FULL
    if n < FULL:
        recipe = replace(recipe, epochs=epochs_for(n, recipe.epochs, max_epochs))
        x, y = load_fashion_mnist("trainval", limit=n, subset_seed=seed)
    else:
        x, y = load_fashion_mnist("trainval")
    x_test, y_test = load_fashion_mnist("test")
    model = seeded(lambda: build(model_name), seed)
    wall, cpu = time.perf_counter(), time.process_time()
    history = fit(model, x, y, recipe, seed=seed)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "model": model_name,
        "train_images": n,
        "seed": seed,
        "epochs": recipe.epochs,
        "steps": recipe.epochs * math.ceil(n / recipe.batch_size),
        "parameters": count_parameters(model),
        "test_accuracy": accuracy(model, x_test, y_test),
        "test_accuracy_flip_averaged": accuracy(FlipAveraged(model), x_test, y_test),
        "final_train_loss": history.train_loss[-1],
        "train_seconds_wall": wall,
        "train_seconds_cpu": cpu,
    }


def stored_runs(path: Path, out: dict[str, object]) -> list[dict[str, object]]:
    """The runs already in ``path`` if it was measured with the same protocol (so the
    script can be resumed, and run as one process per model), else none."""
    if not path.exists():
        return []
    old = json.loads(path.read_text())
    same = old.get("protocol", {}).get("vit_recipe") == out["protocol"]["vit_recipe"]
    return old["runs"] if same else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000, FULL])
    parser.add_argument("--models", nargs="+", default=["vit", "cnn"], choices=["vit", "cnn"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-epochs", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fashion_cpu.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    out = {
        "machine": describe(),
        "protocol": {
            "vit_config": asdict(VIT_FASHION),
            "vit_recipe": asdict(FASHION_FULL),
            "sizes": args.sizes,
            "seeds": args.seeds,
            "epochs_rule": "max(full epochs, min(max_epochs, ceil(full epochs * 60000 / n)))",
            "max_epochs": args.max_epochs,
            "split": "seeded class-balanced subsets of the 60,000 training images; "
            "test: the 10,000 test images, scored once per run",
        },
        "zalando_rows": ZALANDO_ROWS,
        "runs": [],
    }
    done = {(r["model"], r["train_images"], r["seed"]) for r in stored_runs(args.out, out)}
    for n in sorted(args.sizes):
        for seed in args.seeds:
            for model_name in args.models:
                if (model_name, n, seed) in done:
                    continue
                row = run_one(model_name, n, seed, max_epochs=args.max_epochs)
                with open(args.out.with_suffix(".lock"), "w") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)  # one process per model may share the file
                    out["runs"] = [*stored_runs(args.out, out), row]
                    out["machine"]["load_average_at_end"] = list(os.getloadavg())
                    args.out.write_text(json.dumps(out, indent=1) + "\n")
                print(
                    f"{model_name} n={n:>6} seed {seed}: test {row['test_accuracy']:.4f} "
                    f"({row['epochs']} epochs, {row['train_seconds_wall']:.0f} s wall, "
                    f"{row['train_seconds_cpu']:.0f} s CPU)",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
