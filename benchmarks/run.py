"""Run the benchmark suite: every contender on the same workloads, in one process.

    python benchmarks/run.py [--quick] [--json out.json] [--only W1,W3]

Prints, per workload, the median time per step of each contender and its
ratio to chainrule eager measured in this same run (> 1: chainrule is faster),
then the issue's targets with the measured ratios. No thresholds fail the run:
timing is reported, not asserted.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Result, Workload, blas_threads, fmt_time, run_workload  # noqa: E402
from workloads import w3_chain  # noqa: E402

# every workload, in the order the tables print
NAMES = [
    "w1_lesson",
    "w2_mlp",
    "w3_chain",
    "w4_smallnet",
    "w5_matmul",
    "w6_memory",
    "w7_cnn",
    "w8_memory",
    "w9_cifar_cnn",
    "w10_scaling",
    "w11_forward_mode",
]
WORKLOADS = [importlib.import_module(f"workloads.{name}") for name in NAMES]


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

        parts += [
            f"BLAS {i['internal_api']} {i['version']} ({i['num_threads']} threads)"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        ]
    except ImportError:
        parts.append("BLAS threads unknown (pip install threadpoolctl)")
    try:
        import torch

        parts.append(f"PyTorch {torch.__version__} ({blas_threads()} threads)")
    except ImportError:
        parts.append("PyTorch not installed")
    return "; ".join(parts)


def print_table(w: Workload, results: list[Result]) -> None:
    print(f"\n{results[0].workload}  {w.title}")
    base = next((r for r in results if r.contender == w.base), None)
    label = f"× {w.base}"
    if w.unit == "scaling":
        sizes = list(next((r.extra for r in results if not r.error), {}))
        print(f"  {'':<22} " + " ".join(f"{int(n):>9,}" for n in sizes) + f"   {'last/first':>10}")
    if w.unit == "process":
        print(f"  {'':<22} {'peak RSS':>10} {'ratio':>7}   {'peak traced':>11}   {'retained RSS':>12} {'traced':>10}")
    for r in results:
        if r.error:
            print(f"  {r.contender:<22} {r.error}")
        elif w.unit == "scaling":
            values = list(r.extra.values())
            print(
                f"  {r.contender:<22} "
                + " ".join(f"{v:6.2f} µs" for v in values)
                + f"   {values[-1] / values[0]:9.2f}×"
            )
        elif w.unit == "process":
            mib = lambda key, r=r: f"{r.extra[key] / 2**20:7.1f} MiB" if key in r.extra else " " * 11  # noqa: E731
            ratio = r.peak_bytes / base.peak_bytes if base and base.peak_bytes else float("nan")
            print(
                f"  {r.contender:<22} {mib('rss_peak'):>10} {ratio:6.2f}×   {mib('traced_peak'):>11}   "
                f"{mib('rss_retained'):>12} {mib('traced_retained'):>10}"
            )
        elif r.peak_bytes is not None:
            ratio = r.peak_bytes / base.peak_bytes if base and base.peak_bytes else float("nan")
            print(f"  {r.contender:<22} {r.peak_bytes / 2**20:8.2f} MiB   {ratio:6.2f}{label}")
        else:
            ratio = r.seconds / base.seconds if base and base.seconds else float("nan")
            extra = f"   {w.flops / r.seconds / 1e9:7.1f} GFLOP/s" if w.flops else ""
            print(f"  {r.contender:<22} {fmt_time(r.seconds)}   {ratio:6.2f}{label}{extra}")


# (description, workload, contender, over contender or None, bound); "s" in the description: seconds
TARGETS = [
    ("W1 Graph / micrograd            (< 1)", "W1", "chainrule Graph", "micrograd", 1.0),
    ("W1 Graph / pytorch              (<= 0.2)", "W1", "chainrule Graph", "pytorch", 0.2),
    ("W1 eager / pytorch              (<= 0.4)", "W1", "chainrule eager", "pytorch", 0.4),
    ("W1 compiled / numpy             (<= 3)", "W1", "chainrule compiled", "numpy (by hand)", 3.0),
    ("W2 eager / numpy                (<= 1.10)", "W2", "chainrule eager", "numpy (by hand)", 1.10),
    ("W2 Graph / numpy                (<= 1.10)", "W2", "chainrule Graph", "numpy (by hand)", 1.10),
    ("W2 compiled / numpy             (<= 1.02)", "W2", "chainrule compiled", "numpy (by hand)", 1.02),
    ("W3 eager / pytorch              (<= 0.5)", "W3", "chainrule eager", "pytorch", 0.5),
    ("W3 compiled / numpy             (<= 1.2)", "W3", "chainrule compiled", "numpy (by hand)", 1.2),
    ("W3 compiling 10,000 steps, s    (< 2)", "W3", "compile", None, 2.0),
    ("W4 eager / pytorch              (< 1)", "W4", "chainrule eager", "pytorch", 1.0),
    ("W4 eager / pytorch 1 thread     (< 1)", "W4", "chainrule eager", "pytorch 1 thread", 1.0),
    ("W4 compiled / numpy             (<= 1.2)", "W4", "chainrule compiled", "numpy (by hand)", 1.2),
    ("W5 numpy GFLOP/s / chainrule's  (<= 1/0.95)", "W5", "chainrule eager", "numpy (by hand)", 1 / 0.95),
    ("W7 eager / pytorch              (<= 1.0)", "W7", "chainrule eager", "pytorch", 1.0),
    ("W6 eager peak / numpy peak      (<= 1.3)", "W6", "chainrule eager", "numpy (by hand)", 1.3),
    ("W6 compiled peak / numpy peak   (<= 1.0)", "W6", "chainrule compiled", "numpy (by hand)", 1.0),
    ("W8.1 MLP peak / pytorch         (<= 1.1)", "W8.1", "chainrule eager", "pytorch", 1.1),
    ("W8.2 CNN peak / pytorch         (<= 1.2)", "W8.2", "chainrule eager", "pytorch", 1.2),
    ("W8.3 8xLinear loop / pytorch    (<= 1.2)", "W8.3", "chainrule eager", "pytorch", 1.2),
    ("W8.5 fit peak / hand loop       (<= 1.05)", "W8.5", "chainrule fit", "chainrule hand loop", 1.05),
    ("W9 eager / pytorch              (<= 1.2)", "W9", "chainrule eager", "pytorch", 1.2),
    ("W10 eager, largest / smallest   (<= 1.15)", "W10", "chainrule eager", None, 1.15),
    ("W10 compiled, the same          (<= 1.15)", "W10", "chainrule compiled", None, 1.15),
]


def target_value(res: dict, workload: str, contender: str, over: str | None) -> float:
    """The measured value of a target: a ratio of times (or peaks), W10's growth, W3's compile time."""
    if contender == "compile":
        return w3_chain.COMPILE_SECONDS[10_000]  # a full run only
    if over is None:
        return _last_over_first(res[workload][contender].extra)
    a, b = res[workload][contender], res[workload][over]
    return a.peak_bytes / b.peak_bytes if a.seconds is None else a.seconds / b.seconds


def _last_over_first(per_size: dict) -> float:
    values = list(per_size.values())
    return values[-1] / values[0]


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
        found = module.workloads(args.quick) if hasattr(module, "workloads") else [module.workload(args.quick)]
        for w in found:
            if only and w.key not in only and w.key.split(".")[0] not in only:
                continue
            results = run_workload(w, budget, repeats, memory_steps)
            res[w.key] = {r.contender: r for r in results}
            print_table(w, results)

    print("\ntargets (ratio, bound: the target holds when ratio <= bound)")
    for desc, workload, contender, over, bound in TARGETS:
        try:
            value = target_value(res, workload, contender, over)
        except (KeyError, TypeError, ZeroDivisionError, AttributeError, IndexError):
            continue
        print(f"  {desc:<46} {value:6.3f}  {'met' if value <= bound else 'MISSED'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": machine_line(),
                    "quick": args.quick,
                    "w3_compile_seconds": w3_chain.COMPILE_SECONDS,
                    "results": {w: {c: vars(r) for c, r in rs.items()} for w, rs in res.items()},
                },
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
