"""chainrule against PyTorch on one thread, in CPU time, for a busy machine.

    OPENBLAS_NUM_THREADS=1 python benchmarks/cpu_time.py W9 [--rounds 5] [--steps 3]

When other processes keep the cores busy, two-thread timings mostly measure how
long BLAS's and PyTorch's threads wait for a core. One thread each, timed with
``time.process_time`` (the CPU time this process used), interleaved round by
round (chainrule's steps, then PyTorch's, then chainrule's...), the best step of
each round and the median over rounds: what each library computes, little of
what the machine is doing besides. Any workload with ``chainrule_eager`` and
``pytorch`` contenders works (W2, W7, W9).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import import_torch  # noqa: E402

MODULES = {"W2": "w2_mlp", "W7": "w7_cnn", "W9": "w9_cifar_cnn"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=sorted(MODULES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps per contender per round (the best counts)")
    args = parser.parse_args(argv)
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        print("note: set OPENBLAS_NUM_THREADS=1 (NumPy's BLAS reads it at start-up) to compare one thread each")
    module = importlib.import_module("workloads." + MODULES[args.workload])
    import_torch(1)
    steps = {"chainrule": module.chainrule_eager(), "pytorch": module.pytorch()}
    best: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():
        step(), step()  # warm-up
    gc.disable()
    try:
        for _ in range(args.rounds):
            for name, step in steps.items():
                times = []
                for _ in range(args.steps):
                    t0 = time.process_time()
                    step()
                    times.append(time.process_time() - t0)
                best[name].append(min(times))
            gc.collect()
    finally:
        gc.enable()
    ours, theirs = (statistics.median(best[name]) for name in ("chainrule", "pytorch"))
    ratios = sorted(a / b for a, b in zip(best["chainrule"], best["pytorch"]))
    print(
        f"{args.workload}: chainrule {ours * 1e3:.2f} ms, pytorch {theirs * 1e3:.2f} ms (one thread, CPU time); "
        f"ratio {ours / theirs:.3f} (rounds {ratios[0]:.3f}-{ratios[-1]:.3f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
