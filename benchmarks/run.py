"""Run the benchmark suite: every contender on the same workloads, in one process.

    python benchmarks/run.py [--quick] [--json out.json] [--only W1,W3]

Prints, per workload, the median time per step of each contender and its
ratio to chainrule eager measured in this same run (> 1: chainrule is faster),
then the issue's targets with the measured ratios. No thresholds fail the run:
timing is reported, not asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from typing import Callable, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Result, blas_threads, fmt_time, run_workload  # noqa: E402
from workloads import w1_lesson, w2_mlp, w3_chain, w4_smallnet, w5_matmul, w6_memory, w7_cnn  # noqa: E402
from workloads import w11_forward_mode  # noqa: E402

WORKLOADS = [w1_lesson, w2_mlp, w3_chain, w4_smallnet, w5_matmul, w6_memory, w7_cnn, w11_forward_mode]
BASE = "chainrule eager"


def machine_line() -> str:
    import numpy as np
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    parts = [f"{cpu}, {os.cpu_count()} cores", f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    try:
        from threadpoolctl import threadpool_info
        parts += [f"BLAS {i['internal_api']} {i['version']} ({i['num_threads']} threads)"
                  for i in threadpool_info() if i.get("user_api") == "blas"]
    except ImportError:
        parts.append("BLAS threads unknown (pip install threadpoolctl)")
    try:
        import torch
        parts.append(f"PyTorch {torch.__version__} ({blas_threads()} threads)")
    except ImportError:
        parts.append("PyTorch not installed")
    return "; ".join(parts)


def print_table(title: str, results: list[Result], flops: Optional[float]) -> None:
    print(f"\n{results[0].workload}  {title}")
    base = next((r for r in results if r.contender == BASE), None)
    for r in results:
        if r.error:
            print(f"  {r.contender:<20} {r.error}")
        elif r.peak_bytes is not None:
            ratio = r.peak_bytes / base.peak_bytes if base and base.peak_bytes else float("nan")
            print(f"  {r.contender:<20} {r.peak_bytes / 2**20:8.2f} MiB   {ratio:6.2f}× chainrule eager")
        else:
            ratio = r.seconds / base.seconds if base and base.seconds else float("nan")
            extra = f"   {flops / r.seconds / 1e9:7.1f} GFLOP/s" if flops else ""
            print(f"  {r.contender:<20} {fmt_time(r.seconds)}   {ratio:6.2f}× chainrule eager{extra}")


def targets(res: dict) -> list[tuple[str, Callable[[], float], float]]:
    """(description, measured ratio, bound): each target holds when ratio <= bound."""
    t = lambda w, c: res[w][c].seconds  # noqa: E731
    m = lambda w, c: res[w][c].peak_bytes  # noqa: E731
    return [
        ("W1 Graph / micrograd            (< 1)", lambda: t("W1", "chainrule Graph") / t("W1", "micrograd"), 1.0),
        ("W1 Graph / pytorch              (<= 0.2)", lambda: t("W1", "chainrule Graph") / t("W1", "pytorch"), 0.2),
        ("W1 eager / pytorch              (<= 0.5)", lambda: t("W1", "chainrule eager") / t("W1", "pytorch"), 0.5),
        ("W2 eager / numpy                (<= 1.10)", lambda: t("W2", "chainrule eager") / t("W2", "numpy (by hand)"), 1.10),
        ("W2 Graph / numpy                (<= 1.10)", lambda: t("W2", "chainrule Graph") / t("W2", "numpy (by hand)"), 1.10),
        ("W3 eager / pytorch              (<= 0.5)", lambda: t("W3", "chainrule eager") / t("W3", "pytorch"), 0.5),
        ("W4 eager / pytorch              (< 1)", lambda: t("W4", "chainrule eager") / t("W4", "pytorch"), 1.0),
        ("W4 eager / pytorch 1 thread     (< 1)", lambda: t("W4", "chainrule eager") / t("W4", "pytorch 1 thread"), 1.0),
        ("W5 numpy GFLOP/s / chainrule's  (<= 1/0.95)", lambda: t("W5", "chainrule eager") / t("W5", "numpy (by hand)"), 1 / 0.95),
        ("W6 eager peak / numpy peak      (<= 1.3)", lambda: m("W6", "chainrule eager") / m("W6", "numpy (by hand)"), 1.3),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short timing budget (a smoke test, as CI runs it)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--only", metavar="W1,W3", help="run only these workloads")
    args = parser.parse_args(argv)
    budget, repeats, memory_steps = (0.15, 3, 5) if args.quick else (1.5, 7, 50)
    only = set(args.only.upper().split(",")) if args.only else None

    print(f"chainrule benchmarks{' (quick)' if args.quick else ''}\nmachine: {machine_line()}")
    res: dict[str, dict[str, Result]] = {}
    for module in WORKLOADS:
        w = module.workload(args.quick)
        if only and w.key not in only:
            continue
        results = run_workload(w, budget, repeats, memory_steps)
        res[w.key] = {r.contender: r for r in results}
        print_table(w.title, results, w.flops)

    print("\ntargets (ratio, bound: the target holds when ratio <= bound)")
    for desc, ratio, bound in targets(res):
        try:
            value = ratio()
        except (KeyError, TypeError, ZeroDivisionError, AttributeError):
            continue
        print(f"  {desc:<46} {value:6.3f}  {'met' if value <= bound else 'MISSED'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine_line(), "quick": args.quick,
                       "results": {w: {c: vars(r) for c, r in rs.items()} for w, rs in res.items()}}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
