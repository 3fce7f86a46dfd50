"""Do the chapters' training claims hold on every CPU kernel and seed?

    python benchmarks/bench_kernels.py [--seeds 0 1 2] [--workers 2]
                                       [--out benchmarks/results/kernels_cpu.json]

PyTorch picks its CPU kernels by instruction set, and float sums taken in another order
send a training run down another path. This script runs the chapters' measured runs (the
registry of :mod:`companion.train.registry`: by default those stored in ``--out``;
``--chapters`` names others) under each kernel
set the CPU supports and each seed, exactly as the chapters do, and records each run's
record, the fingerprints of the recipes it trained with, and the kernel set. ``--merge``
re-measures some rows of an existing file and keeps the others. The runs:

- Vision Transformer chapter (``vit``): ``train_on_digits`` with the chapter's recipe on "train"
  (validation accuracy), then on "trainval" (the final model: test accuracy, scored with
  ``ShiftAveraged`` as the recipe says, and its training time). Claim: test >= 0.97.
- Vision Transformer chapter, Fashion-MNIST (``fashion``): the ViT and the CNN.
- Triplet-loss chapter (``triplet``): the strategy chosen on validation (clean digits),
  the final fit on train+val (test 1-NN accuracy and Recall@1, claim >= 0.97); the
  shifted-digits model, its strategy chosen on the shifted validation digits (claim: test
  1-NN beats pixels by >= 20 points); the model trained on classes 0-4 (claim: Recall@1
  on the unseen classes 5-9 beats pixels). Its Fashion-MNIST section
  (``fashion_triplet``).
- Triplet-loss chapter, the ablation of FaceNet's and Hermans et al.'s choices
  (``triplet_ablation``: each row's validation Recall@1; ``triplet_ablation_final``: the
  chosen row on train+val, test Recall@1 scored once), in
  ``results/kernels_triplet_ablation_cpu.json``.
- Training chapter (``warmup``): post-norm without and with warm-up (claim: with it
  validation accuracy >= 0.7, without it <= 0.4), in ``results/kernels_warmup_cpu.json``.
- Vision Transformer chapter, data efficiency (``fashion_size_1000`` ... ``_60000``,
  :mod:`companion.train.data_efficiency`): the ViT and the CNN on 1,000 to 60,000
  Fashion-MNIST images, the largest the full recipe, in ``results/fashion_cpu.json``. Many
  CPU minutes each (the full recipe: about 18), so measured at the best level only
  (``--levels avx2`` on this machine).

Each run's rows go to the file it is registered with (``--out``, as the command in
``registry.MeasuredRun.command`` writes it).

A kernel set is the instruction-set level of a CPU, emulated on this one. Two libraries
choose kernels, independently: ATen (``ATEN_CPU_CAPABILITY``: ``default``, ``avx2``,
``avx512``) for most operations, and oneDNN (``ONEDNN_MAX_CPU_ISA``) for convolutions.
A CPU without AVX-512 is limited in both, so each level sets both variables; the best
level leaves oneDNN to the machine's best, as on a learner's CPU of that kind.

Each (kernel set, seed, chapter) runs in its own interpreter
(:func:`course_tools.notebooks.kernels.run_in_child`: the variables must be set before
torch is imported), one thread, at most ``--workers`` at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, is_dataclass
from pathlib import Path

# The kernel levels, from the lowest to the highest, and the environment of each: the same
# levels tools/check_kernels.py runs the notebooks under.
from course_tools.notebooks import kernels
from course_tools.notebooks.kernels import LEVELS

# ----------------------------------------------------------------------------- the child


def child(name: str, seed: int) -> None:
    """Entry point of a child interpreter: the registered run ``name`` with ``seed``, one
    JSON line on stdout (its record's fields, the recipes' fingerprints, the kernel set)."""
    import torch

    from companion.train import registry

    torch.set_num_threads(1)
    run = registry.get_run(name)
    record = run.run(seed)
    fields = asdict(record) if is_dataclass(record) else dict(record)
    result = {
        "capability": torch.backends.cpu.get_cpu_capability(),
        **fields,
        "recipes": run.digests(),
    }
    sys.stdout.write(json.dumps(result) + "\n")


# ----------------------------------------------------------------------------- the parent


def run_names() -> dict[str, str]:
    """Each registered run's name and the file its rows are stored in (read in a child:
    this process never imports torch)."""
    code = (
        "import json; from companion.train import registry; "
        "print(json.dumps({n: registry.get_run(n).results for n in registry.list_runs()}))"
    )
    return json.loads(kernels.run_python(code))


def machine() -> dict[str, object]:
    """:func:`course_tools.machine.describe`, read in a one-thread child (this process never
    imports torch), with the kernel levels this CPU runs and the one PyTorch picks by itself."""
    levels, best = kernels.available_levels(kernels.one_thread_env())
    described = json.loads(
        kernels.run_python(
            "import json; from course_tools.machine import describe; print(json.dumps(describe()))"
        )
    )
    return {**described, "best_capability": best, "capabilities": levels, "threads_per_run": 1}


def run_one(level: str, seed: int, chapter: str) -> dict[str, object]:
    """The registered run ``chapter`` with ``seed`` in a fresh interpreter at ``level``."""
    start = time.perf_counter()
    result = kernels.run_in_child([__file__, "--child", chapter, str(seed)], level)
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


def merge(stored: dict[str, object], fresh: dict[str, object]) -> dict[str, object]:
    """``stored`` with ``fresh``'s rows in place of its rows of the same (chapter, kernels,
    seed): a partial re-measurement. A fresh row measured on another CPU than ``stored``'s
    records that CPU under ``"cpu"``; the summary is recomputed over all rows."""
    key = lambda r: (r["chapter"], r["kernels"], r["seed"])  # noqa: E731
    rows = {key(r): r for r in stored["runs"]}
    for row in fresh["runs"]:
        if fresh["machine"]["cpu"] != stored["machine"]["cpu"]:
            row = {**row, "cpu": fresh["machine"]["cpu"]}
        rows[key(row)] = row
    runs = sorted(rows.values(), key=key)
    remeasured = [f"{c} {lv} seed {s}" for c, lv, s in map(key, fresh["runs"])]
    notes = [*stored.get("remeasured", []), {"rows": remeasured, "machine": fresh["machine"]}]
    return {**stored, "runs": runs, "summary": summarize(runs), "remeasured": notes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2, help="runs at a time (at most 2)")
    parser.add_argument(
        "--chapters", nargs="+", help="registered runs (default: those stored in --out)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "kernels_cpu.json"
    )
    parser.add_argument("--levels", nargs="+", help="kernel levels (default: all this CPU runs)")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep --out's other rows: the runs measured now replace theirs (see merge())",
    )
    parser.add_argument(
        "--merge-file", type=Path, help="merge this result file into --out, run nothing"
    )
    parser.add_argument("--child", nargs=2, metavar=("CHAPTER", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    if args.merge_file:
        merged = merge(json.loads(args.out.read_text()), json.loads(args.merge_file.read_text()))
        args.out.write_text(json.dumps(merged, indent=2) + "\n")
        return 0
    if not 1 <= args.workers <= 2:
        parser.error(f"--workers must be 1 or 2, got {args.workers}")
    names = run_names()
    chapters = args.chapters or [n for n, file in names.items() if file == args.out.name]
    if unknown := sorted(set(chapters) - set(names)):
        parser.error(f"--chapters must name registered runs {sorted(names)}, got {unknown}")
    if not chapters:
        parser.error(f"--out: no registered run is stored in {args.out.name}; name --chapters")

    info = machine()
    levels = args.levels or info["capabilities"]
    if unknown := sorted(set(levels) - set(info["capabilities"])):
        parser.error(f"--levels must be among {info['capabilities']}, got {unknown}")
    jobs = [(lv, s, c) for c in chapters for lv in levels for s in args.seeds]
    runs: list[dict[str, object]] = []
    stored = json.loads(args.out.read_text()) if args.merge and args.out.exists() else None

    def save() -> None:  # after every run, so a failure keeps what was measured
        info["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
        result = {
            "benchmark": "the chapters' training claims per CPU kernel set and seed, one thread",
            "machine": info,
            "runs": sorted(runs, key=lambda r: (r["chapter"], r["kernels"], r["seed"])),
            "summary": summarize(runs),
        }
        if stored is not None:
            result = merge(stored, result)
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
