"""W10, cost per node as graphs grow: W3's chain ``h = tanh(h*1.0001 + 0.001)`` on (16,),
forward + backward, in µs per 3-op step, at 1,000 / 10,000 / 100,000 steps.

Unlike the other workloads the garbage collector stays on (a collector walking a
growing heap of nodes is exactly what this measures), and each contender runs
in a fresh process, so that no other contender's objects enlarge its heap.
The median of ``REPEATS`` samples is shown (see ``measure``).

    python benchmarks/workloads/w10_scaling.py CONTENDER [--quick]   # one contender, JSON
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

WIDTH = 16
SIZES = {"full": (1_000, 10_000, 100_000), "quick": (100, 300, 1_000)}
REPEATS = {"full": 3, "quick": 1}  # samples per size


def _x():
    return np.random.default_rng(0).standard_normal(WIDTH).astype(np.float32)


def _chain(h, depth: int, tanh):
    for _ in range(depth):
        h = tanh(h * 1.0001 + 0.001)
    return h.sum()


def _eager(x, tanh):
    def run(depth):
        x.grad = None
        _chain(x, depth, tanh).backward()

    return run


def chainrule_eager():
    import chainrule as cr

    return _eager(cr.Variable(_x(), name="x"), cr.tanh)


def chainrule_compiled():
    """The chain built and compiled once per size (compiling is not timed), then run."""
    import chainrule as cr

    x = cr.Variable(_x(), name="x")
    programs = {}

    def run(depth):
        if depth not in programs:
            programs[depth] = cr.Graph(_chain(x, depth, cr.tanh)).compile()
        programs[depth].forward()
        programs[depth].backward()

    return run


def pytorch():
    import torch

    torch.set_num_threads(1)
    return _eager(torch.tensor(_x(), requires_grad=True), torch.tanh)


CONTENDERS = {"chainrule eager": chainrule_eager, "chainrule compiled": chainrule_compiled, "pytorch": pytorch}


def measure(contender: str, quick: bool) -> dict:
    """µs per step at each size: the median of REPEATS samples after a warm-up run. A sample
    runs the chain as often as it takes to do as many steps as the largest size does once,
    and the sizes take turns (1,000 10,000 100,000, 1,000 ...), so that a load drifting
    during the run shifts every size alike."""
    mode = "quick" if quick else "full"
    run, sizes = CONTENDERS[contender](), SIZES[mode]
    samples: dict[int, list[float]] = {depth: [] for depth in sizes}
    for depth in sizes:
        run(depth)
    for _ in range(REPEATS[mode]):
        for depth in sizes:
            number = max(1, sizes[-1] // depth)
            t0 = time.perf_counter()
            for _ in range(number):
                run(depth)
            samples[depth].append((time.perf_counter() - t0) / (number * depth))
    return {str(depth): statistics.median(s) * 1e6 for depth, s in samples.items()}


def run_in_fresh_process(contender: str, quick: bool) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), contender] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        if "No module named 'torch'" in proc.stderr:
            raise ImportError("torch is needed", name="torch")
        raise RuntimeError(f"W10 {contender} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def workload(quick: bool):
    from harness import Workload

    sizes = SIZES["quick" if quick else "full"]
    return Workload(
        "W10",
        f"cost per step as the chain grows: {', '.join(f'{n:,}' for n in sizes)} tanh steps "
        "(µs per 3-op step, fwd+bwd, GC on)",
        {name: (lambda name=name: run_in_fresh_process(name, quick)) for name in CONTENDERS},
        unit="scaling",
    )


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], "--quick" in sys.argv)))
