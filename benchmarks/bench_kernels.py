"""Do the chapters' training claims hold on every CPU kernel and seed?

    python benchmarks/bench_kernels.py [--seeds 0 1 2] [--workers 2]
                                       [--out benchmarks/results/kernels_cpu.json]

PyTorch picks its CPU kernels by instruction set, and float sums taken in another order
send a training run down another path. This script trains the chapters' models under
each kernel set the CPU supports and each seed, exactly as the chapters do, and records
the claims' numbers:

- Vision Transformer chapter: ``train_on_digits`` with the chapter's recipe on "train"
  (validation accuracy), then on "trainval" (the final model: test accuracy, scored with
  ``ShiftAveraged`` as the recipe says, and its training time). Claim: test >= 0.97.
- Triplet-loss chapter: the strategy chosen on validation (clean digits), the final fit on
  train+val (test 1-NN accuracy and Recall@1, claim >= 0.97); the shifted-digits model,
  its strategy chosen on the shifted validation digits (claim: test 1-NN beats pixels by
  >= 20 points); the model trained on classes 0-4 (claim: Recall@1 on the unseen classes
  5-9 beats pixels).

A kernel set is the instruction-set level of a CPU, emulated on this one. Two libraries
choose kernels, independently: ATen (``ATEN_CPU_CAPABILITY``: ``default``, ``avx2``,
``avx512``) for most operations, and oneDNN (``ONEDNN_MAX_CPU_ISA``) for convolutions.
A CPU without AVX-512 is limited in both, so each level sets both variables; the best
level leaves oneDNN to the machine's best, as on a learner's CPU of that kind.

Each (kernel set, seed, chapter) runs in its own interpreter (the variables must be set
before torch is imported), one thread, at most ``--workers`` at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

# The kernel levels, from the lowest to the highest, and the environment of each: the same
# levels tools/check_kernels.py runs the notebooks under.
from course_tools.notebooks import kernels
from course_tools.notebooks.kernels import LEVELS

# ----------------------------------------------------------------------------- the runs
# Run in the child interpreters; they import torch, the parent never does.


def vit_run(seed: int) -> dict[str, float]:
    """The Vision Transformer chapter's two trainings with ``seed``."""
    import torch

    from companion.data.augment import ShiftAveraged
    from companion.data.digits import load_digits
    from companion.nn.vit_config import VIT_DIGITS
    from companion.train.loop import accuracy
    from companion.train.recipes import DigitsRecipe, train_on_digits

    recipe = DigitsRecipe()
    x_val, y_val = load_digits("val")
    x_test, y_test = load_digits("test")
    cpu = time.process_time()
    model, history = train_on_digits(
        VIT_DIGITS, recipe, train_split="train", eval_split="val", seed=seed
    )
    val_seconds_cpu = time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    final, _ = train_on_digits(
        VIT_DIGITS, recipe, train_split="trainval", eval_split=None, seed=seed
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    scored = ShiftAveraged(final, max_shift=recipe.test_shift)
    return {
        "val_accuracy": history.metrics["eval_accuracy"][-1],
        "val_accuracy_plain": accuracy(model, x_val, y_val),
        "val_run_seconds_cpu": val_seconds_cpu,
        "test_accuracy": accuracy(scored, x_test, y_test),
        "test_accuracy_plain": accuracy(final, x_test, y_test),
        "train_seconds_wall": wall,
        "train_seconds_cpu": cpu,
        "torch_threads": torch.get_num_threads(),
    }


def triplet_run(seed: int) -> dict[str, object]:
    """The triplet-loss chapter's digits trainings with ``seed``
    (:func:`companion.train.experiments.digits_triplet`, as the chapter's recipes)."""
    import torch

    from companion.train import experiments

    torch.set_num_threads(1)
    cpu = time.process_time()
    result = experiments.digits_triplet(seed)
    result["train_seconds_cpu"] = time.process_time() - cpu
    return result


def fashion_run(seed: int) -> dict[str, object]:
    """The ViT chapter's Fashion-MNIST trainings with ``seed``: the ViT and the CNN, each
    with ``recipes.FashionRecipe()`` on the training split, scored on val and test."""
    import torch

    from companion.data.fashion_mnist import load_fashion_mnist
    from companion.nn.cnn import SmallCNN
    from companion.nn.vit import VisionTransformer
    from companion.nn.vit_config import VIT_FASHION
    from companion.train import recipes
    from companion.train.loop import accuracy
    from companion.utils import seed_everything

    torch.set_num_threads(1)
    x_train, y_train = load_fashion_mnist("train")
    x_val, y_val = load_fashion_mnist("val")
    x_test, y_test = load_fashion_mnist("test")
    out: dict[str, object] = {}
    for name, build in [("vit", lambda: VisionTransformer(VIT_FASHION)), ("cnn", SmallCNN)]:
        seed_everything(seed)
        model = build()
        cpu = time.process_time()
        recipes.train_classifier(model, x_train, y_train, recipes.FashionRecipe(), seed=seed)
        out[f"{name}_seconds_cpu"] = time.process_time() - cpu
        out[f"{name}_val"] = accuracy(model, x_val, y_val)
        out[f"{name}_test"] = accuracy(model, x_test, y_test)
    return out


def fashion_triplet_run(seed: int) -> dict[str, object]:
    """The triplet chapter's Fashion-MNIST section with ``seed``."""
    import torch

    from companion.train import experiments

    torch.set_num_threads(1)
    cpu = time.process_time()
    result = experiments.fashion_retrieval(seed=seed).scores
    return {**result, "train_seconds_cpu": time.process_time() - cpu}


def capstone_run(seed: int) -> dict[str, object]:
    """The capstone's training with ``seed``: the ViT and the CNN embedding on the seen
    classes, Recall@1 on the unseen ones (validation and test), and pixels."""
    import torch

    from companion.train import experiments

    torch.set_num_threads(1)
    cpu = time.process_time()
    result = experiments.open_set_retrieval(seed=seed).scores
    return {**result, "train_seconds_cpu": time.process_time() - cpu}


RUNS = {
    "vit": vit_run,
    "triplet": triplet_run,
    "fashion": fashion_run,
    "fashion_triplet": fashion_triplet_run,
    "capstone": capstone_run,
}


def child(chapter: str, seed: int) -> None:
    """Entry point of a child interpreter: one run, one JSON line on stdout."""
    import torch

    result = {"capability": torch.backends.cpu.get_cpu_capability(), **RUNS[chapter](seed)}
    sys.stdout.write(json.dumps(result) + "\n")


# ----------------------------------------------------------------------------- the parent


def _python(code: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def base_env() -> dict[str, str]:
    """This environment with one thread and no kernel choice of its own."""
    return {**kernels.level_env(None), "OMP_NUM_THREADS": "1", "COMPANION_PROGRESS": "0"}


def machine() -> dict[str, object]:
    """:func:`course_tools.machine.describe`, read in a one-thread child (this process never
    imports torch), with the kernel levels this CPU runs and the one PyTorch picks by itself."""
    levels, best = kernels.available_levels(base_env())
    described = json.loads(
        _python(
            "import json; from course_tools.machine import describe; print(json.dumps(describe()))",
            base_env(),
        )
    )
    return {**described, "best_capability": best, "capabilities": levels, "threads_per_run": 1}


def run_one(level: str, seed: int, chapter: str) -> dict[str, object]:
    env = {**base_env(), **LEVELS[level]}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", chapter, str(seed)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{chapter} run, {level}, seed {seed} failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["capability"].lower() != level:
        raise RuntimeError(f"asked for {level}, the child ran {result['capability']}")
    return {
        "kernels": level,
        "env": LEVELS[level],
        "seed": seed,
        "chapter": chapter,
        "wall_seconds": time.perf_counter() - start,
        **result,
    }


def summarize(runs: list[dict[str, object]]) -> dict[str, dict[str, float]]:
    """Worst and best of each claim's number over all runs."""
    out = {}
    for chapter in sorted({r["chapter"] for r in runs}):
        rows = [r for r in runs if r["chapter"] == chapter]
        names = [k for k, v in rows[0].items() if isinstance(v, float) and k != "wall_seconds"]
        for name in names:
            values = [float(r[name]) for r in rows]
            out[f"{chapter}.{name}"] = {"min": min(values), "max": max(values)}
    triplets = [r for r in runs if r["chapter"] == "triplet"]
    if triplets:
        margins = [float(r["unseen_recall"]) - float(r["pixel_unseen_recall"]) for r in triplets]
        out["triplet.unseen_margin_over_pixels"] = {"min": min(margins), "max": max(margins)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2, help="runs at a time (at most 2)")
    parser.add_argument("--chapters", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "kernels_cpu.json"
    )
    parser.add_argument("--child", nargs=2, metavar=("CHAPTER", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    if not 1 <= args.workers <= 2:
        parser.error(f"--workers must be 1 or 2, got {args.workers}")

    info = machine()
    jobs = [(lv, s, c) for c in args.chapters for lv in info["capabilities"] for s in args.seeds]
    runs: list[dict[str, object]] = []

    def save() -> None:  # after every run, so a failure keeps what was measured
        info["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
        result = {
            "benchmark": "the chapters' training claims per CPU kernel set and seed, one thread",
            "machine": info,
            "runs": sorted(runs, key=lambda r: (r["chapter"], r["kernels"], r["seed"])),
            "summary": summarize(runs),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")

    with ThreadPoolExecutor(max_workers=args.workers) as pool:  # each job is a subprocess
        for future in as_completed([pool.submit(run_one, *job) for job in jobs]):
            runs.append(future.result())
            save()
    for run in runs:
        numbers = ", ".join(
            f"{k} {v:.4f}" for k, v in run.items() if isinstance(v, float) and "seconds" not in k
        )
        sys.stdout.write(f"{run['chapter']:8} {run['kernels']:8} seed {run['seed']}: {numbers}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
