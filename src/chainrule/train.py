"""The training loop: ``fit`` with a progress bar, and ``evaluate`` (``History`` and the
callbacks it reports to: ``callbacks.py``).

    history = cr.fit(model, cr.cross_entropy, opt, train, epochs=20, val_data=test)
    cr.evaluate(model, test)              # {"loss": 0.08, "accuracy": 0.975}
    history.plot("loss.png")

Each step is the lesson's loop: forward, loss, backward, one optimizer step.
"""

from __future__ import annotations

import sys
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .blas import BlasThreads
from .callbacks import Callback, EarlyStopping, History
from .data import as_loader
from .metrics import get_metric
from .nn.compiled import compilable_batch, compiled_step
from .nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .node import no_grad, value_of

__all__ = ["Callback", "EarlyStopping", "History", "evaluate", "fit"]

_loss_of_model: weakref.WeakKeyDictionary[Any, Callable] = weakref.WeakKeyDictionary()


def _default_loss(outputs: np.ndarray, targets: np.ndarray) -> Callable[[Any, Any], Any]:
    """Cross-entropy for class labels (binary with logits for one output column), else MSE."""
    if np.asarray(targets).dtype.kind in "iub":
        return BCEWithLogitsLoss() if outputs.ndim < 2 or outputs.shape[1] == 1 else CrossEntropyLoss()
    return MSELoss()


def _show_bar(progress: bool) -> bool:
    return bool(progress) and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


def _summary(epoch: int, epochs: int, logs: dict[str, float], seconds: float) -> str:
    parts = [f"{k} {v:.4f}" for k, v in logs.items() if k != "lr"]
    return f"epoch {epoch}/{epochs}  " + "  ".join(parts) + f"  ({seconds:.2f}s)"


def _model_dtype(model: Any) -> np.dtype | None:
    """The float dtype of the model's parameters (None for a model without any)."""
    for p in getattr(model, "parameters", lambda: [])():
        if p.value.dtype.kind == "f":
            return p.value.dtype
    return None


def _as_model_dtype(batch: Any, dtype: np.dtype | None) -> Any:
    """Floating arrays in the model's dtype, so float64 data never turns a float32 model's
    graph into float64 (class labels and nodes are left as they are)."""
    if dtype is not None and isinstance(batch, np.ndarray) and batch.dtype.kind == "f" and batch.dtype != dtype:
        return batch.astype(dtype)
    return batch


def _run_epoch(
    model: Any,
    loss_fn: Callable,
    batches: Iterable,
    optimizer: Any = None,
    bar: Any = None,
    keep_outputs: bool = True,
    step: Any = None,
    threads: Any = None,
) -> tuple[float, list, list]:
    """One pass over ``batches``: train when an optimizer is given, else just evaluate.
    Returns the example-weighted mean loss and the outputs and targets seen (only when
    ``keep_outputs``: the metrics need them). ``step``: a compiled training step to use
    instead of the eager one; ``threads``: the BLAS thread policy, told each batch's time.

    Each batch's graph is dropped before the next forward starts, so a step never holds
    two graphs; backward has released what the graph no longer needed by then."""
    total, count, outputs, targets = 0.0, 0, [], []
    dtype = _model_dtype(model)
    for xb, yb in batches:
        start = time.perf_counter()
        xb, yb = _as_model_dtype(xb, dtype), _as_model_dtype(yb, dtype)
        if optimizer is not None:
            optimizer.zero_grad()
        if step is not None and compilable_batch(xb, yb):
            loss_value, out_value = step(xb, yb)
        else:
            # the output is held (its value kept through backward) only when the metrics need it
            out = model(xb) if keep_outputs else None
            loss = loss_fn(out if keep_outputs else model(xb), yb)
            if optimizer is not None:
                loss.backward()
            loss_value, out_value = value_of(loss), value_of(out) if keep_outputs else None
            del out, loss  # the graph goes now, not when the next batch's forward replaces it
        if optimizer is not None:
            optimizer.step()
        n = len(xb)
        total += float(loss_value) * n
        count += n
        if keep_outputs:
            outputs.append(np.asarray(out_value))
            targets.append(np.asarray(yb))
        del loss_value, out_value
        if threads is not None:
            threads.timed(time.perf_counter() - start)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
    if count == 0:
        raise ValueError("the data yielded no batches (empty dataset, or drop_last with too few examples)")
    return total / count, outputs, targets


def _metric_logs(
    metrics: Sequence[Any], outputs: list[np.ndarray], targets: list[np.ndarray], prefix: str = ""
) -> dict[str, float]:
    if not metrics:
        return {}
    o, t = np.concatenate(outputs), np.concatenate(targets)
    return {prefix + name: fn(o, t) for name, fn in map(get_metric, metrics)}


def evaluate(
    model: Any,
    data: Any,
    metrics: Sequence[Any] = ("accuracy",),
    loss_fn: Callable | None = None,
    batch_size: int = 256,
) -> dict[str, float]:
    """The loss and ``metrics`` of ``model`` on ``data`` (a Dataset, an (X, y) pair or a loader),
    in eval mode with no gradients: ``{"loss": ..., "accuracy": ...}``.

    Without ``loss_fn``, the one ``fit`` last used for this model, or else
    cross-entropy for class labels and MSE for float targets.
    """
    batches = as_loader(data, batch_size=batch_size)
    was_training = getattr(model, "training", None)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad():
            if loss_fn is None:
                loss_fn = _loss_of_model.get(model) if _is_weakrefable(model) else None
            if loss_fn is None:
                xb, yb = next(iter(batches))
                loss_fn = _default_loss(np.asarray(value_of(model(_as_model_dtype(xb, _model_dtype(model))))), yb)
            loss, outputs, targets = _run_epoch(model, loss_fn, batches, keep_outputs=bool(metrics))
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    return {"loss": loss, **_metric_logs(metrics, outputs, targets)}


def _is_weakrefable(obj: Any) -> bool:
    try:
        weakref.ref(obj)
        return True
    except TypeError:
        return False


def fit(
    model: Any,
    loss_fn: Callable[[Any, Any], Any],
    optimizer: Any,
    train_data: Any,
    epochs: int = 10,
    val_data: Any = None,
    metrics: Sequence[Any] = ("accuracy",),
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int | None = 0,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
    scheduler: Any = None,
    compile: bool = False,
    threads: Any = "auto",
) -> History:  # noqa: A002
    """Train ``model`` for ``epochs`` passes over ``train_data``; returns a ``History``.

    train_data / val_data: a Dataset, an (X, y) pair, or a loader yielding
    (xb, yb) batches (then ``batch_size``, ``shuffle`` and ``seed`` are its own).
    Floating batches are cast to the dtype of the model's parameters.
    metrics: names (``"accuracy"``, ``"r2"``, ``"mse"``, ``"mae"``) or functions.
    progress: a tqdm bar per epoch on a terminal; one summary line per epoch
    when stderr is not a terminal (CI logs); nothing with ``progress=False``.
    callbacks: e.g. ``EarlyStopping()``. scheduler: stepped after each epoch
    (``ReduceLROnPlateau`` gets the validation loss, or the training loss).
    compile: compiled training steps (one program per batch shape; the same parameters,
    bit for bit). threads: BLAS threads for the steps: ``"auto"`` times batches with
    BLAS's own count and with one and keeps the faster (``blas.py``), an int sets it,
    None leaves BLAS alone. Ctrl-C stops at a batch boundary and returns the history.
    """
    loader = as_loader(train_data, batch_size=batch_size, shuffle=shuffle, seed=seed)
    if _is_weakrefable(model):
        _loss_of_model[model] = loss_fn
    history, bar_on = History(), _show_bar(progress)
    step = compiled_step(model, loss_fn) if compile else None
    pool = BlasThreads(threads)
    with _training(model, optimizer, callbacks, pool, history):
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            if hasattr(model, "train"):
                model.train()
            bar = _progress_bar(epoch, epochs, loader) if bar_on else None
            try:
                loss, outputs, targets = _run_epoch(model, loss_fn, loader, optimizer, bar, bool(metrics), step, pool)
            except KeyboardInterrupt:
                _say_interrupted(epoch, len(history), bar)
                break
            logs = {"loss": loss, **_metric_logs(metrics, outputs, targets)}
            if val_data is not None:
                logs.update(_validation_logs(model, val_data, metrics, loss_fn, batch_size))
            logs["lr"] = getattr(optimizer, "lr", float("nan"))
            history.append(epoch, logs)
            _report(bar, progress, epoch, epochs, logs, time.perf_counter() - start)
            _step_scheduler(scheduler, logs)
            if any([bool(cb.on_epoch_end(epoch, logs)) for cb in callbacks]):
                break
    return history


@contextmanager
def _training(
    model: Any, optimizer: Any, callbacks: Sequence[Callback], pool: BlasThreads, history: History
) -> Iterator[None]:
    """Around ``fit``'s epochs: the callbacks' ``on_train_begin`` first; at the end, however it
    ends, BLAS's own thread count back (the one chosen kept in ``history``), ``on_train_end``."""
    for cb in callbacks:
        cb.on_train_begin(model, optimizer)
    try:
        yield
    finally:
        pool.close()
        history.blas_threads = pool.chosen
        for cb in callbacks:
            cb.on_train_end()


def _validation_logs(model: Any, data: Any, metrics: Sequence[Any], loss_fn: Callable, batch_size: int) -> dict:
    """``val_loss`` and a ``val_`` entry per metric, on the held-out data."""
    scores = evaluate(model, data, metrics, loss_fn, batch_size=max(batch_size, 256))
    return {f"val_{k}": v for k, v in scores.items()}


def _report(bar: Any, progress: bool, epoch: int, epochs: int, logs: dict[str, float], seconds: float) -> None:
    """An epoch's logs on its progress bar (then closed), or on a line of their own."""
    if bar is not None:
        bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items() if k != "lr"})
        bar.close()
    elif progress:
        print(_summary(epoch, epochs, logs, seconds), file=sys.stderr, flush=True)


def _say_interrupted(epoch: int, finished: int, bar: Any) -> None:
    """Ctrl-C in ``fit``: the batch in progress did not step (or stepped whole), so stop here."""
    if bar is not None:
        bar.close()
    print(
        f"fit: interrupted in epoch {epoch}; stopped at a batch boundary with the parameters of the last "
        f"finished step; returning the history of {finished} finished epoch{'s' if finished != 1 else ''}",
        file=sys.stderr,
        flush=True,
    )


def _step_scheduler(scheduler: Any, logs: dict[str, float]) -> None:
    if scheduler is None:
        return
    if hasattr(scheduler, "is_better"):  # ReduceLROnPlateau watches a metric
        scheduler.step(logs.get("val_loss", logs["loss"]))
    else:
        scheduler.step()


def _progress_bar(epoch: int, epochs: int, loader: Any) -> Any:
    from tqdm import tqdm

    total = len(loader) if hasattr(loader, "__len__") else None
    return tqdm(
        total=total, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=True, file=sys.stderr, dynamic_ncols=True
    )
