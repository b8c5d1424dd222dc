"""W6, memory: peak traced memory of the W2 training step over 50 steps, against
hand-written NumPy (tracemalloc sees NumPy's buffers)."""

from __future__ import annotations

from harness import Workload
from workloads import w2_mlp


def workload(quick: bool) -> Workload:
    return Workload(
        "W6",
        "peak memory of the W2 step (tracemalloc)",
        {
            "numpy (by hand)": w2_mlp.hand_numpy,
            "chainrule eager": w2_mlp.chainrule_eager,
            "chainrule Graph": w2_mlp.chainrule_graph,
            "chainrule compiled": lambda: w2_mlp.chainrule_graph(compiled=True),
        },
        unit="memory",
    )
