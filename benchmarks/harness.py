"""Timing harness: every contender of a workload is timed in the same process run.

A contender is a ``setup()`` returning a zero-argument ``step`` callable (one
forward + backward, or one training step). Each is warmed up, then timed as
the median over ``repeats`` batches of ``number`` calls, with
``time.perf_counter``.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

Step = Callable[[], object]


@dataclass
class Workload:
    key: str  # "W1"
    title: str  # "lesson graph"
    contenders: dict[str, Callable[[], Step]]
    unit: str = "time"  # "time"; "memory" for peak traced bytes; "process" for a dict of
    #                               memory figures that each contender measures in a fresh process;
    #                               "scaling" for {graph size: µs per step}, also from a fresh process
    flops: float | None = None  # per step, to print GFLOP/s
    notes: str = ""
    base: str = "chainrule eager"  # the contender the ratios are taken to


@dataclass
class Result:
    workload: str
    contender: str
    seconds: float | None = None  # median per step
    peak_bytes: int | None = None
    error: str | None = None
    extra: dict = field(default_factory=dict)


def time_steps(steps: dict[str, Step], budget: float, repeats: int) -> dict[str, float]:
    """Median seconds per call of each step, spending about ``budget`` seconds on each.

    Contenders are timed in interleaved rounds (A B C, A B C, ...), so a load
    that drifts during the run shifts every contender alike and the ratios
    between them stay fair.
    """
    numbers = {}
    for name, step in steps.items():
        step()  # warm-up: caches, first allocations
        t0 = time.perf_counter()
        step()
        once = max(time.perf_counter() - t0, 1e-7)
        numbers[name] = max(1, int(budget / repeats / once))
    samples: dict[str, list[float]] = {name: [] for name in steps}
    gc_was = gc.isenabled()
    gc.disable()  # the collector's pauses are noise at µs scale; it runs between batches
    try:
        for _ in range(repeats):
            for name, step in steps.items():
                number = numbers[name]
                t0 = time.perf_counter()
                for _ in range(number):
                    step()
                samples[name].append((time.perf_counter() - t0) / number)
                gc.collect()
    finally:
        if gc_was:
            gc.enable()
    return {name: statistics.median(s) for name, s in samples.items()}


def peak_memory(step: Step, steps: int) -> int:
    """Peak bytes traced by tracemalloc (NumPy reports its buffers there) over ``steps`` calls,
    above what was allocated before the first call."""
    step()
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    for _ in range(steps):
        step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - base


def run_workload(w: Workload, budget: float, repeats: int, memory_steps: int) -> list[Result]:
    results, steps = [], {}
    for name, setup in w.contenders.items():
        try:
            steps[name] = setup()
        except ImportError as exc:
            results.append(Result(w.key, name, error=f"not installed ({exc.name})"))
    if w.unit == "memory":
        results += [Result(w.key, name, peak_bytes=peak_memory(step, memory_steps)) for name, step in steps.items()]
    elif w.unit == "process":  # the "setup" already measured, in its own process
        results += [
            Result(w.key, name, peak_bytes=figures["rss_peak"], extra=figures) for name, figures in steps.items()
        ]
    elif w.unit == "scaling":  # the "setup" already measured: µs per step for each graph size
        results += [Result(w.key, name, extra=figures) for name, figures in steps.items()]
    else:
        results += [Result(w.key, name, seconds=s) for name, s in time_steps(steps, budget, repeats).items()]
    order = list(w.contenders)
    return sorted(results, key=lambda r: order.index(r.contender))


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds:8.2f} s "


def blas_threads() -> int:
    """NumPy's BLAS thread count (PyTorch is given the same, to compare like with like)."""
    try:
        from threadpoolctl import threadpool_info

        counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        return counts[0] if counts else 1
    except ImportError:
        return 1


def import_torch(threads: int | None = None):
    """torch, with its intra-op threads set to ``threads`` (default: NumPy's BLAS threads)."""
    import torch

    torch.set_num_threads(threads or blas_threads())
    return torch
