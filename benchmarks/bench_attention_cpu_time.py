"""CPU time of the attention implementations on one thread: a check that survives a busy machine.

    python benchmarks/bench_attention_cpu_time.py                  # L = 1024
    python benchmarks/bench_attention_cpu_time.py --lengths 512 1024 --repeats 5

``bench_attention.py`` measures wall-clock time with all threads, as the targets are
stated; on a machine shared with other jobs those times mostly measure waiting (an
implementation made of many operations waits for busy cores at each one). This script
measures what each call *costs*: the process's CPU time (``time.process_time``) on a
single thread, so waiting does not count and no thread spins for another. Same settings
(batch 4, 8 heads, d = 64, float32; forward without gradients, and forward plus backward);
the median of ``--repeats`` interleaved calls. Results go to
``benchmarks/results/attention_cpu_time_1thread.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from companion.nn.attention import scaled_dot_product_attention
from companion.nn.memory_efficient import memory_efficient_attention
from course_tools.machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "attention_cpu_time_1thread.json"
B, H, D = 4, 8, 64
IMPLEMENTATIONS = {
    "pytorch": lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
    "direct": lambda q, k, v: scaled_dot_product_attention(q, k, v)[0],
    "memory_efficient": lambda q, k, v: memory_efficient_attention(q, k, v, block_size=128),
}


def cpu_seconds(
    name: str, mode: str, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, d_out: torch.Tensor
) -> float:
    """CPU time of one call (forward, or forward plus the gradients for q, k and v)."""
    fn = IMPLEMENTATIONS[name]
    start = time.process_time()
    if mode == "forward":
        with torch.no_grad():
            fn(q, k, v)
    else:
        inputs = [t.detach().requires_grad_() for t in (q, k, v)]
        torch.autograd.grad(fn(*inputs), inputs, d_out)
    return time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for mode in ("forward", "forward_backward"):
        for L in args.lengths:
            g = torch.Generator().manual_seed(0)
            q, k, v, d_out = (torch.randn(B, H, L, D, generator=g) for _ in range(4))
            for name in IMPLEMENTATIONS:  # warm-up
                cpu_seconds(name, mode, q, k, v, d_out)
            times: dict[str, list[float]] = {name: [] for name in IMPLEMENTATIONS}
            for _ in range(args.repeats):
                for name in IMPLEMENTATIONS:
                    times[name].append(cpu_seconds(name, mode, q, k, v, d_out))
            median = {name: sorted(t)[len(t) // 2] for name, t in times.items()}
            for name, seconds in median.items():
                rows.append(
                    {
                        "mode": mode,
                        "L": L,
                        "implementation": name,
                        "cpu_time_s": round(seconds, 4),
                        "cpu_time_vs_pytorch": round(seconds / median["pytorch"], 2),
                    }
                )
                print(
                    f"{mode:16s} L={L:5d} {name:17s} {seconds * 1e3:8.1f} ms CPU  "
                    f"x{rows[-1]['cpu_time_vs_pytorch']:.2f}",
                    flush=True,
                )
    report = {
        "benchmark": "attention CPU time on one thread (time.process_time), median of repeats",
        "settings": {
            "batch": B,
            "heads": H,
            "d_k": D,
            "dtype": "float32",
            "block_size": 128,
            "repeats": args.repeats,
        },
        "machine": {
            "cpu": cpu_model(),
            "logical_cores": os.cpu_count(),
            "torch": torch.__version__,
        },
        "load_average": round(os.getloadavg()[0], 2),
        "results": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
