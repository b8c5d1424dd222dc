"""W8, memory of real training loops: peak memory of three training steps, each case in a
fresh process, chainrule next to PyTorch.

Every contender builds its model and data, then the measurement starts: the
peak RSS (Linux's ``VmHWM``, reset through ``/proc/self/clear_refs``) and, for
chainrule, the peak of ``tracemalloc`` (NumPy reports its buffers there;
PyTorch does not, so its column is empty), both above the level reached once
the model and data were built. "retained" is what is still held after the
third step, with that step's ``loss`` still referenced (as a loop holds it
until the next iteration reassigns it).

The loops are written as users write them: ``loss`` (and the output) of the
previous step are still alive while the next forward runs, unless the case
says ``del loss``.

    python benchmarks/workloads/w8_memory.py CASE CONTENDER [--quick]   # one measurement, JSON
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tracemalloc

import numpy as np

STEPS = 3
SIZES = {  # full run / --quick (a smoke test: tiny shapes, same code)
    "mlp": {"full": dict(sizes=(1024, 2048, 2048, 10), batch=512), "quick": dict(sizes=(64, 128, 128, 10), batch=32)},
    "cnn": {"full": dict(batch=64), "quick": dict(batch=4)},
    "deep": {"full": dict(width=512, depth=8, batch=8192), "quick": dict(width=64, depth=8, batch=256)},
}


# ---------------------------------------------------------------- models, in both frameworks
def _mlp(nn, sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    return nn.Sequential(*layers)


def cnn(nn):
    """W9's CIFAR-sized CNN, built from ``nn`` (``cr.nn`` or ``torch.nn``: the same names)."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4096, 10),
    )


def _model_and_data(nn, case: str, size: dict, scale: int = 1):
    """The case's model and ``scale`` batches of data (float32 inputs, integer labels)."""
    rng = np.random.default_rng(0)
    if case == "mlp":
        model, shape, classes = _mlp(nn, size["sizes"]), (size["sizes"][0],), size["sizes"][-1]
    elif case == "cnn":
        model, shape, classes = cnn(nn), (3, 32, 32), 10
    else:
        model, shape, classes = _mlp(nn, (size["width"],) * (size["depth"] + 1)), (size["width"],), size["width"]
    n = size["batch"] * scale
    X = rng.standard_normal((n, *shape)).astype(np.float32)
    return model, X, rng.integers(0, classes, n)


# ---------------------------------------------------------------- contenders: build, then run(steps)
def chainrule_loop(case: str, size: dict, del_loss: bool = False, compile: bool = False):
    import chainrule as cr

    cr.nn.manual_seed(0)
    model, X, y = _model_and_data(cr.nn, case, size)
    opt = cr.optim.SGD(model.parameters(), lr=0.01)
    Xc, yc = cr.tensor(X), cr.tensor(y)
    forward = model.compile() if compile else model
    return _usual_loop(opt, lambda: cr.cross_entropy(forward(Xc), yc), del_loss)


def _usual_loop(opt, loss_of, del_loss: bool):
    """The loop users write, the same for both frameworks: the previous step's loss (and
    with it its graph) is alive while the next forward runs, unless it is deleted."""

    def run(steps):
        for _ in range(steps):
            opt.zero_grad()
            loss = loss_of()
            loss.backward()
            opt.step()
            if del_loss:
                del loss
        return None if del_loss else loss

    return run


def chainrule_fit(case: str, size: dict, compile: bool = False):
    import chainrule as cr

    cr.nn.manual_seed(0)
    model, X, y = _model_and_data(cr.nn, case, size, scale=STEPS)
    opt = cr.optim.SGD(model.parameters(), lr=0.01)

    def run(steps):
        cr.fit(
            model,
            cr.cross_entropy,
            opt,
            (X[: steps * size["batch"]], y[: steps * size["batch"]]),
            epochs=1,
            batch_size=size["batch"],
            shuffle=False,
            metrics=(),
            progress=False,
            compile=compile,
            threads=None,
        )

    return run


def chainrule_hand_loop(case: str, size: dict):
    """What fit does, written by hand over the same loader, deleting ``loss`` after each step."""
    import chainrule as cr

    cr.nn.manual_seed(0)
    model, X, y = _model_and_data(cr.nn, case, size, scale=STEPS)
    opt = cr.optim.SGD(model.parameters(), lr=0.01)

    def run(steps):
        for xb, yb in cr.data.DataLoader(
            (X[: steps * size["batch"]], y[: steps * size["batch"]]), batch_size=size["batch"]
        ):
            opt.zero_grad()
            loss = cr.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            del loss

    return run


def pytorch_loop(case: str, size: dict, del_loss: bool = False):
    import torch

    torch.set_num_threads(1)  # memory does not depend on threads; one keeps the runs alike
    torch.manual_seed(0)
    model, X, y = _model_and_data(torch.nn, case, size)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    return _usual_loop(opt, lambda: torch.nn.functional.cross_entropy(model(Xt), yt), del_loss)


CASES = {  # key: (title, {contender: (function, keyword arguments)})
    "mlp": (
        "MLP 1024-2048-2048-10, batch 512, SGD step",
        {
            "chainrule eager": (chainrule_loop, {}),
            "chainrule compiled": (chainrule_loop, {"compile": True}),
            "pytorch": (pytorch_loop, {}),
        },
    ),
    "cnn": (
        "CNN (64,3,32,32) conv-relu-pool ×2, Linear(4096,10), SGD step",
        {
            "chainrule eager": (chainrule_loop, {}),
            "chainrule compiled": (chainrule_loop, {"compile": True}),
            "pytorch": (pytorch_loop, {}),
        },
    ),
    "deep": (
        "8 × Linear(512), batch 8192, usual loop (loss held)",
        {
            "chainrule eager": (chainrule_loop, {}),
            "chainrule compiled": (chainrule_loop, {"compile": True}),
            "pytorch": (pytorch_loop, {}),
        },
    ),
    "deep-del": (
        "8 × Linear(512), batch 8192, with del loss",
        {"chainrule eager": (chainrule_loop, {"del_loss": True}), "pytorch": (pytorch_loop, {"del_loss": True})},
    ),
    "fit": (
        "8 × Linear(512), batch 8192: cr.fit vs a hand loop that deletes loss",
        {
            "chainrule fit": (chainrule_fit, {}),
            "chainrule fit compiled": (chainrule_fit, {"compile": True}),
            "chainrule hand loop": (chainrule_hand_loop, {}),
        },
    ),
}


def _model_case(case: str) -> str:
    return {"deep-del": "deep", "fit": "deep"}.get(case, case)


# ---------------------------------------------------------------- measuring, in the child process
def _status(field: str) -> int:
    """A field of /proc/self/status in bytes (VmRSS: resident now, VmHWM: its peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def measure(case: str, contender: str, quick: bool) -> dict:
    """Build the contender, then run STEPS steps and return its memory figures in bytes."""
    fn, kwargs = CASES[case][1][contender]
    run = fn(_model_case(case), SIZES[_model_case(case)]["quick" if quick else "full"], **kwargs)
    traced = "pytorch" not in contender
    gc.collect()
    if traced:
        tracemalloc.start()
    base_rss = _status("VmRSS")
    base_traced = tracemalloc.get_traced_memory()[0] if traced else 0
    _reset_peak_rss()
    held = run(STEPS)
    gc.collect()
    out = {"rss_peak": _status("VmHWM") - base_rss, "rss_retained": _status("VmRSS") - base_rss}
    if traced:
        current, peak = tracemalloc.get_traced_memory()
        out.update(traced_peak=peak - base_traced, traced_retained=current - base_traced)
    del held
    return out


def run_in_fresh_process(case: str, contender: str, quick: bool) -> dict:
    """``measure`` in a new Python process (so no earlier allocation shapes the heap)."""
    cmd = [sys.executable, os.path.abspath(__file__), case, contender] + (["--quick"] if quick else [])
    # glibc raises its mmap threshold each time a large block is freed, after which freed
    # blocks stay resident: peak RSS would then measure the allocator's history. A fixed
    # threshold returns every large block to the system when it is freed, for both frameworks.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        if "No module named 'torch'" in proc.stderr:
            raise ImportError("torch is needed", name="torch")
        raise RuntimeError(f"W8 {case} / {contender} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def workloads(quick: bool) -> list:
    """One workload per case. --quick (CI's smoke test) runs chainrule's contenders only, on tiny
    shapes: starting PyTorch in a fresh process per case would take most of its time."""
    from harness import Workload

    found = []
    for i, (case, (title, contenders)) in enumerate(CASES.items(), 1):
        names = [n for n in contenders if not (quick and n == "pytorch")]
        base = "pytorch" if "pytorch" in names else "chainrule hand loop" if case == "fit" else names[0]
        found.append(
            Workload(
                f"W8.{i}",
                title,
                {n: (lambda case=case, n=n: run_in_fresh_process(case, n, quick)) for n in names},
                unit="process",
                base=base,
            )
        )
    return found


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--quick"]
    print(json.dumps(measure(args[0], args[1], "--quick" in sys.argv)))
