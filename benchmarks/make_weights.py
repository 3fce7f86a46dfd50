"""Train the networks the course ships, and record where they came from.

    python benchmarks/make_weights.py [--runs fashion_triplet fashion]
                                      [--level avx2] [--seed 0]

A chapter whose networks take minutes to train on one core (the triplet chapter's
Fashion-MNIST section, the ViT chapter's Fashion-MNIST classifiers) loads them from
``companion/weights/`` instead of training while the page executes. This script
makes those files: for each registered run with an ``experiment``
(:mod:`companion.train.registry`), it runs the experiment with ``--seed`` in a fresh
interpreter at kernel ``--level``, one thread, exactly as ``bench_kernels.py`` runs it,
and writes each network's ``state_dict`` and the provenance of the set
(:func:`companion.train.weights.save_weights`: recipes' digests, kernel level, CPU, torch,
each file's SHA-256, the scores and histories measured with them).
``tests/companion/train/test_weights.py`` loads every shipped file and re-scores it against
that record.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from course_tools.machine import cpu_model
from course_tools.notebooks import kernels


def child(name: str, seed: int) -> None:
    """Entry point of a child interpreter: train and save run ``name``'s networks; one JSON
    line on stdout (the kernel set, the scores, the files)."""
    import torch

    from companion.train import registry, weights

    torch.set_num_threads(1)
    run = registry.get_run(name)
    result = run.experiment(seed)
    provenance = weights.save_weights(
        name,
        seed,
        result.models,
        scores=result.scores,
        histories=result.histories,
        machine={"cpu": cpu_model()},
    )
    summary = {
        "capability": torch.backends.cpu.get_cpu_capability(),
        "files": provenance.files,
        "scores": provenance.scores,
    }
    sys.stdout.write(json.dumps(summary) + "\n")


def shipped_runs() -> list[str]:
    """The registered runs whose networks the course ships (read in a child: this process
    never imports torch)."""
    code = (
        "import json; from companion.train import registry; "
        "print(json.dumps([n for n in registry.list_runs() "
        "if registry.get_run(n).experiment is not None]))"
    )
    return json.loads(kernels.run_python(code))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", help="registered runs (default: every shipped one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--level", help="kernel level (default: the best this CPU runs)")
    parser.add_argument("--child", nargs=2, metavar=("RUN", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    names = shipped_runs()
    runs = args.runs or names
    if unknown := sorted(set(runs) - set(names)):
        parser.error(f"--runs must name runs with an experiment {names}, got {unknown}")
    levels, _ = kernels.available_levels(kernels.one_thread_env())
    level = args.level or levels[-1]
    if level not in levels:
        parser.error(f"--level must be one of {levels}, got {level!r}")
    for name in runs:
        start = time.perf_counter()
        result = kernels.run_in_child([__file__, "--child", name, str(args.seed)], level)
        seconds = time.perf_counter() - start
        scores = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result["scores"].items()))
        sys.stdout.write(f"{name} ({level}, seed {args.seed}, {seconds:.0f} s): {scores}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
