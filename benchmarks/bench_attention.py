"""Benchmark the course's attention against PyTorch's fused attention on the CPU.

    python benchmarks/bench_attention.py                 # wall clock, L in 256, 1024, 4096
    python benchmarks/bench_attention.py --lengths 256 1024 --output /tmp/attention.json
    python benchmarks/bench_attention.py --clock cpu     # CPU time on one thread, L = 1024
    python benchmarks/bench_attention.py --clock cpu --lengths 512 1024 --rounds 5

For batch 4, 8 heads, d_k = d_v = 64, float32 and each sequence length L, it measures
three implementations of the same attention, in two modes: the forward pass without
gradients (``results``), and forward plus backward (``results_forward_backward``: the
output, then the gradients of ``(output * dO).sum()`` with respect to q, k and v):

- ``pytorch``: ``torch.nn.functional.scaled_dot_product_attention`` (a fused kernel);
- ``direct``: ``companion.nn.attention.scaled_dot_product_attention`` (holds the L x L
  weights; with gradients, autograd through it stores them for the backward pass);
- ``memory_efficient``: ``companion.nn.memory_efficient.memory_efficient_attention``
  (online softmax over blocks of 128 keys; its backward pass recomputes each block from
  the output and one log-sum-exp per query row).

What is reported, per mode, implementation and L:

- time: median seconds per call from ``torch.utils.benchmark.Timer`` with all of
  PyTorch's threads (the Timer would use one thread by default). The implementations are
  measured side by side in ``--rounds`` interleaved rounds (pytorch, direct,
  memory_efficient, then again), and the median over the rounds is kept: on a shared
  virtual machine the speed drifts over minutes, and one implementation measured minutes
  after another would carry that drift into the ratio;
- GFLOP/s: ``4·B·H·L²·d / time`` (two matrix products of ``2·L²·d`` flops per head);
- peak extra memory: each (implementation, L) runs in a fresh Python process. It builds
  the inputs and makes one small warm-up call, reads its peak resident set size
  (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), makes one call at size L, and reads
  the peak again: the difference is the memory the call needed on top of its inputs
  (its output included; with gradients, the gradients too). ``tracemalloc`` cannot be
  used: PyTorch allocates outside Python's allocator. A fresh process per measurement
  keeps one measurement's peak from hiding the next one's.

The machine (CPU model, cores, threads, PyTorch version), its load average and ``uptime``
before and after are stored
with the results in ``benchmarks/results/attention_cpu.json``. The numbers are only
comparable on one machine; times measured while other jobs ran are flagged
(``--contended``), since contention inflates them, and unevenly: an
implementation made of many small operations waits for busy cores more often than one
fused kernel does.

``--clock cpu`` measures what each call *costs* instead, a check that survives a busy
machine: the process's CPU time (``time.process_time``) on a single thread, so waiting
does not count and no thread spins for another. Same settings and modes; after one
warm-up call each, the implementations are called in ``--rounds`` interleaved rounds in
one process and the median call is kept (no memory is measured). Results go to
``benchmarks/results/attention_cpu_time_1thread.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils import benchmark

from companion.nn.attention import scaled_dot_product_attention
from companion.nn.memory_efficient import memory_efficient_attention
from course_tools.machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CLOCKS = ("wall", "cpu")
DEFAULT_OUTPUTS = {
    "wall": RESULTS / "attention_cpu.json",
    "cpu": RESULTS / "attention_cpu_time_1thread.json",
}
DEFAULT_LENGTHS = {"wall": [256, 1024, 4096], "cpu": [1024]}
B, H, D = 4, 8, 64
IMPLEMENTATIONS = {
    "pytorch": lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
    "direct": lambda q, k, v: scaled_dot_product_attention(q, k, v)[0],
    "memory_efficient": lambda q, k, v: memory_efficient_attention(q, k, v, block_size=128),
}


MODES = ("forward", "forward_backward")


def flops(L: int, mode: str = "forward") -> float:
    """Floating-point operations of one call: ``Q Kᵀ`` and ``W V``, ``2·L²·d`` each per head.

    The backward pass adds four products of the same size (``dV``, ``dP``, ``dQ``, ``dK``):
    ``(2 + 4)·2·L²·d`` per head for forward plus backward (a recomputing backward does one
    more, ``Q Kᵀ`` again, which is not counted: the useful work is the same).
    """
    return (4.0 if mode == "forward" else 12.0) * B * H * L * L * D


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(name: str, L: int, min_run_time: float, mode: str = "forward") -> dict[str, float]:
    """Run in a fresh process: peak extra memory of one call, then its median time."""
    fn = IMPLEMENTATIONS[name]
    g = torch.Generator().manual_seed(0)
    q, k, v, d_out = (torch.randn(B, H, L, D, generator=g) for _ in range(4))
    if mode == "forward":
        call = fn
        context = torch.no_grad
    else:
        for t in (q, k, v):
            t.requires_grad_(True)

        def call(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return torch.autograd.grad(fn(q, k, v), (q, k, v), d_out[..., : q.shape[-2], :])

        context = torch.enable_grad
    with context():
        small = [
            t[:, :, :64].detach().contiguous().requires_grad_(t.requires_grad) for t in (q, k, v)
        ]
        call(*small)  # load the code paths and start the thread pool
        before = peak_rss_mib()
        call(q, k, v)
        extra = peak_rss_mib() - before
        timer = benchmark.Timer(
            stmt="call(q, k, v)",
            globals={"call": call, "q": q, "k": k, "v": v},
            num_threads=torch.get_num_threads(),
        )
        # a long call (L = 4096) is timed once or twice: the Timer stops at min_run_time
        seconds = timer.blocked_autorange(min_run_time=min_run_time).median
    return {"time_s": seconds, "peak_extra_mib": max(extra, 0.0)}


def run_in_subprocess(name: str, L: int, min_run_time: float, mode: str) -> dict[str, float]:
    """``measure`` in a fresh interpreter (so ``ru_maxrss`` starts from scratch)."""
    command = [sys.executable, __file__, "--worker", name, str(L), str(min_run_time), mode]
    command += ["--threads", str(torch.get_num_threads())]
    result = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def uptime() -> str:
    """``uptime``'s line (the load averages over 1, 5 and 15 minutes), or the load averages."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def evaluate_targets(rows: dict[str, list[dict]]) -> dict[str, bool | float]:
    """The issue's targets, for the lengths that were measured."""

    def row(mode: str, L: int, name: str) -> dict | None:
        found = (r for r in rows.get(mode, []) if r["L"] == L and r["implementation"] == name)
        return next(found, None)

    targets: dict[str, bool | float] = {}
    for name in ("direct", "memory_efficient"):
        if r := row("forward", 1024, name):
            targets[f"forward_{name}_within_2.0x_of_pytorch_at_L1024"] = r["time_vs_pytorch"] <= 2.0
    if r := row("forward_backward", 1024, "memory_efficient"):
        targets["forward_backward_memory_efficient_within_1.5x_of_pytorch_at_L1024"] = (
            r["time_vs_pytorch"] <= 1.5
        )
    for mode in ("forward", "forward_backward"):
        ours, direct = row(mode, 4096, "memory_efficient"), row(mode, 4096, "direct")
        if ours and direct:
            ratio = ours["peak_extra_mib"] / direct["peak_extra_mib"]
            targets[f"{mode}_memory_efficient_memory_over_direct_at_L4096"] = round(ratio, 3)
            targets[f"{mode}_memory_efficient_at_most_1/8_of_direct_at_L4096"] = ratio <= 1 / 8
    return targets


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


def wall_clock_report(args: argparse.Namespace) -> dict:
    """``--clock wall``: time, GFLOP/s and peak extra memory, a fresh process per measurement."""
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()[0]
    uptime_before = uptime()
    started = time.perf_counter()
    rows: dict[str, list[dict]] = {mode: [] for mode in args.modes}
    for mode in args.modes:
        for L in args.lengths:
            rounds = [
                {
                    name: run_in_subprocess(name, L, args.min_run_time, mode)
                    for name in IMPLEMENTATIONS
                }
                for _ in range(args.rounds)
            ]
            results = {
                name: {
                    key: statistics.median(r[name][key] for r in rounds)
                    for key in ("time_s", "peak_extra_mib")
                }
                for name in IMPLEMENTATIONS
            }
            reference = results["pytorch"]
            for name, r in results.items():
                rows[mode].append(
                    {
                        "L": L,
                        "implementation": name,
                        "time_s": round(r["time_s"], 4),
                        "gflops": round(flops(L, mode) / r["time_s"] / 1e9, 1),
                        "peak_extra_mib": round(r["peak_extra_mib"], 1),
                        "time_vs_pytorch": round(r["time_s"] / reference["time_s"], 2),
                    }
                )
                print(
                    f"{mode:16s} L={L:5d} {name:17s} {r['time_s'] * 1e3:9.1f} ms "
                    f"{rows[mode][-1]['gflops']:7.1f} GFLOP/s {r['peak_extra_mib']:8.1f} MiB "
                    f"x{rows[mode][-1]['time_vs_pytorch']:.2f}",
                    flush=True,
                )
    load_after = os.getloadavg()[0]
    return {
        "benchmark": "attention forward (no gradients), and forward plus backward",
        "settings": {"batch": B, "heads": H, "d_k": D, "dtype": "float32", "block_size": 128},
        "machine": {
            "cpu": cpu_model(),
            "logical_cores": cores,
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "system": f"{platform.system()} {platform.machine()}",
        },
        "load_average": {"before": round(load_before, 2), "after": round(load_after, 2)},
        "uptime": {"before": uptime_before, "after": uptime()},
        # Said by whoever runs it: the load average counts this benchmark's own threads.
        "measured_while_other_jobs_ran": args.contended,
        "method": {
            "time": "median of torch.utils.benchmark.Timer, all torch threads; median over "
            f"{args.rounds} interleaved rounds of the three implementations",
            "gflops": "4*B*H*L^2*d / time forward; 12*B*H*L^2*d / time forward plus backward",
            "peak_extra_memory": "ru_maxrss after one call minus before it, fresh process",
            "forward_backward": "torch.autograd.grad(output, (q, k, v), dO), dO ~ N(0, 1)",
        },
        "results": rows.get("forward", []),
        "results_forward_backward": rows.get("forward_backward", []),
        "targets": evaluate_targets(rows),
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def cpu_time_report(args: argparse.Namespace) -> dict:
    """``--clock cpu``: the median CPU time of ``--rounds`` interleaved calls, one thread."""
    rows = []
    for mode in args.modes:
        for L in args.lengths:
            g = torch.Generator().manual_seed(0)
            q, k, v, d_out = (torch.randn(B, H, L, D, generator=g) for _ in range(4))
            for name in IMPLEMENTATIONS:  # warm-up
                cpu_seconds(name, mode, q, k, v, d_out)
            times: dict[str, list[float]] = {name: [] for name in IMPLEMENTATIONS}
            for _ in range(args.rounds):
                for name in IMPLEMENTATIONS:
                    times[name].append(cpu_seconds(name, mode, q, k, v, d_out))
            median = {name: statistics.median_high(t) for name, t in times.items()}
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
    return {
        "benchmark": "attention CPU time on one thread (time.process_time), median of repeats",
        "settings": {
            "batch": B,
            "heads": H,
            "d_k": D,
            "dtype": "float32",
            "block_size": 128,
            "repeats": args.rounds,
        },
        "machine": {
            "cpu": cpu_model(),
            "logical_cores": os.cpu_count(),
            "torch": torch.__version__,
        },
        "load_average": round(os.getloadavg()[0], 2),
        "results": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="wall",
        help="wall: wall-clock time, all threads, and memory; cpu: CPU time on one thread",
    )
    parser.add_argument(
        "--lengths", type=int, nargs="+", help="default: 256 1024 4096 (wall), 1024 (cpu)"
    )
    parser.add_argument("--min-run-time", type=float, default=1.0, help="seconds per Timer")
    parser.add_argument(
        "--rounds",
        "--repeats",
        type=int,
        default=3,
        help="interleaved rounds per L; the median is kept",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"default: {DEFAULT_OUTPUTS['wall'].name} (wall), "
        f"{DEFAULT_OUTPUTS['cpu'].name} (cpu), in benchmarks/results",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument(
        "--contended", action="store_true", help="flag: measured on a shared, loaded machine"
    )
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clock == "cpu":
        if args.threads not in (None, 1):
            parser.error("--clock cpu measures one thread; leave out --threads")
        args.threads = 1
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.worker:
        name, L, min_run_time, mode = args.worker
        print(json.dumps(measure(name, int(L), float(min_run_time), mode)))
        return 0

    args.lengths = args.lengths or DEFAULT_LENGTHS[args.clock]
    output = args.output or DEFAULT_OUTPUTS[args.clock]
    report = wall_clock_report(args) if args.clock == "wall" else cpu_time_report(args)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
