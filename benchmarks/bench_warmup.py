"""Does warm-up rescue post-norm on every CPU kernel level and seed?

    python benchmarks/bench_warmup.py [--seeds 0 1 2] [--workers 2]
                                      [--out benchmarks/results/warmup_cpu.json]

The training chapter trains the post-norm ``TokenEncoder`` of
:mod:`companion.train.norm_placement` (6 blocks, D = 32, 4 heads) with AdamW at a peak
learning rate of 1e-2 for 6 epochs under ``fit``'s cosine schedule, once without warm-up and
once with 2 epochs of linear warm-up, and claims: with warm-up it learns (validation
accuracy >= 0.7), without it it does not (<= 0.4). This script runs exactly those trainings
under each kernel level of ``tools/check_kernels.py`` the CPU supports and each seed, one
interpreter per (level, seed), one thread, and records the validation accuracies and the
margins of the claim.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from course_tools.machine import cpu_model
from course_tools.notebooks import kernels

#: The chapter's run: its sizes and recipe, and the two arms (warm-up epochs).
RECIPE = {"depth": 6, "embed_dim": 32, "num_heads": 4, "epochs": 6, "lr": 1e-2}
ARMS = {"no warm-up": 0, "warm-up": 2}
#: The chapter's thresholds.
LEARNS, STUCK = 0.7, 0.4


def child(seed: int) -> None:
    """One interpreter: both arms for ``seed``; one JSON line on stdout."""
    import torch

    from companion.nn.block import BlockConfig
    from companion.train.norm_placement import train_norm_placement

    torch.set_num_threads(1)
    config = BlockConfig(
        depth=RECIPE["depth"],
        embed_dim=RECIPE["embed_dim"],
        num_heads=RECIPE["num_heads"],
        norm_first=False,
    )
    result: dict[str, object] = {"capability": torch.backends.cpu.get_cpu_capability()}
    for arm, warmup in ARMS.items():
        _, history = train_norm_placement(
            config,
            epochs=RECIPE["epochs"],
            lr=RECIPE["lr"],
            seed=seed,
            schedule="cosine",
            warmup_epochs=warmup,
        )
        result[arm] = history.metrics["val_accuracy"][-1]
    sys.stdout.write(json.dumps(result) + "\n")


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=kernels.one_thread_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def run_one(level: str, seed: int) -> dict[str, object]:
    """Both arms for ``seed`` in a fresh interpreter at ``level``
    (:func:`course_tools.notebooks.kernels.run_in_child`)."""
    result = kernels.run_in_child([__file__, "--child", str(seed)], level)
    return {"kernels": level, "seed": seed, **result}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2, help="runs at a time (at most 2)")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "warmup_cpu.json"
    )
    parser.add_argument("--child", type=int, metavar="SEED", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return 0
    if not 1 <= args.workers <= 2:
        parser.error(f"--workers must be 1 or 2, got {args.workers}")

    levels, _ = kernels.available_levels(kernels.one_thread_env())  # _: PyTorch's own pick
    machine = json.loads(
        _python(
            "import json; from course_tools.machine import describe; print(json.dumps(describe()))"
        )
    )
    machine.update(cpu=cpu_model(), capabilities=levels, threads_per_run=1)
    jobs = [(level, seed) for level in levels for seed in args.seeds]
    with ThreadPoolExecutor(max_workers=args.workers) as pool:  # each job is a subprocess
        runs = list(pool.map(lambda job: run_one(*job), jobs))
    with_warmup = [float(r["warm-up"]) for r in runs]
    without = [float(r["no warm-up"]) for r in runs]
    summary = {
        "warm-up": {"min": min(with_warmup), "max": max(with_warmup)},
        "no warm-up": {"min": min(without), "max": max(without)},
        "margin_learns": min(with_warmup) - LEARNS,
        "margin_stuck": STUCK - max(without),
        "claim_holds": min(with_warmup) >= LEARNS and max(without) <= STUCK,
    }
    result = {
        "benchmark": "post-norm with and without warm-up, per CPU kernel level and seed",
        "recipe": {**RECIPE, "schedule": "cosine", "warmup_epochs": ARMS},
        "thresholds": {"learns": LEARNS, "stuck": STUCK},
        "machine": machine,
        "runs": runs,
        "summary": summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for r in runs:
        sys.stdout.write(
            f"{r['kernels']:8} seed {r['seed']}: no warm-up {r['no warm-up']:.3f}, "
            f"warm-up {r['warm-up']:.3f}\n"
        )
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
