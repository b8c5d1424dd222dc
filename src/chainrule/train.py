"""The training loop: ``fit`` with a progress bar, ``evaluate``, ``History`` and callbacks.

    history = cr.fit(model, cr.cross_entropy, opt, train, epochs=20, val_data=test)
    cr.evaluate(model, test)              # {"loss": 0.08, "accuracy": 0.975}
    history.plot("loss.png")

Each step is the lesson's loop: forward, loss, backward, one optimizer step.
"""

from __future__ import annotations

import sys
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .blas import BlasThreads
from .data import as_loader
from .metrics import get_metric
from .nn.compiled import compilable_batch, compiled_step
from .nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .node import no_grad, value_of

__all__ = ["Callback", "EarlyStopping", "History", "evaluate", "fit"]

_loss_of_model: weakref.WeakKeyDictionary[Any, Callable] = weakref.WeakKeyDictionary()


class History:
    """Per-epoch logs of a ``fit``: ``history["loss"]``, ``history["val_accuracy"]``, ..."""

    def __init__(self) -> None:
        self.epochs: list[int] = []
        self.history: dict[str, list[float]] = {}

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epochs.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epochs)

    def to_dict(self) -> dict[str, list]:
        """``{"epoch": [1, 2, ...], "loss": [...], "val_loss": [...], ...}`` (JSON-ready)."""
        return {"epoch": list(self.epochs), **{k: list(v) for k, v in self.history.items()}}

    def plot(self, path: str, title: str | None = None, held_out: str = "validation") -> str:
        """Write the curves to ``path`` in the format its name says (.png, .svg, .pdf, .jpg...):
        one panel for the loss and one per metric, training and held-out curves (``held_out``
        names that split in the legend: "test" when ``val_data`` was the test split)."""
        from .see import plots  # the teaching layer's plot helpers: ticks, log axes, formats

        plots.check_format(path)
        names = [k for k in self.history if not k.startswith("val_") and k not in ("lr", "time")]
        fig = plots.matplotlib_figure(4.2 * len(names), 3.4, dpi=100)
        for i, name in enumerate(names):
            ax = fig.add_subplot(1, len(names), i + 1)
            ax.plot(self.epochs, self.history[name], marker="o", markersize=3, label="training")
            if f"val_{name}" in self.history:
                ax.plot(self.epochs, self.history[f"val_{name}"], marker="o", markersize=3, label=held_out)
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.set_title(name if title is None or i else f"{title}: {name}")
            losses = [v for k, vs in self.history.items() if k.endswith("loss") for v in vs]
            if name == "loss" and losses and min(losses) > 0:
                plots.log_axis(ax, losses)
            plots.integer_ticks(ax)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        return plots.save(fig, path)

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"History({len(self)} epoch{'' if len(self) == 1 else 's'}; last: {last})"


class Callback:
    """Hooks into ``fit``. ``on_epoch_end`` may return True to stop training."""

    def on_train_begin(self, model: Any, optimizer: Any) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool | None:
        return None

    def on_train_end(self) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` (default ``"val_loss"``) has not improved by ``min_delta``
    for ``patience`` epochs; with ``restore_best_weights`` put back the best epoch's weights."""

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        if mode == "auto":
            mode = "max" if any(w in monitor for w in ("acc", "r2")) else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, abs(min_delta), mode
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, model: Any, optimizer: Any) -> None:
        self.model, self.wait, self.stopped_epoch = model, 0, None
        self.best, self.best_epoch, self.best_state = None, None, None

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool:
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r}, but the logs hold {sorted(logs)} "
                "(pass val_data to fit to get val_ metrics)"
            )
        value = logs[self.monitor]
        better = self.best is None or (
            value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        )
        if better:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights and hasattr(self.model, "state_dict"):
                self.best_state = self.model.state_dict()
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self) -> None:
        if self.restore_best_weights and self.best_state is not None:
            self.model.load_state_dict(self.best_state)


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
    for cb in callbacks:
        cb.on_train_begin(model, optimizer)
    try:
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
                scores = evaluate(model, val_data, metrics, loss_fn, batch_size=max(batch_size, 256))
                logs.update({f"val_{k}": v for k, v in scores.items()})
            logs["lr"] = getattr(optimizer, "lr", float("nan"))
            history.append(epoch, logs)
            if bar is not None:
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items() if k != "lr"})
                bar.close()
            elif progress:
                print(_summary(epoch, epochs, logs, time.perf_counter() - start), file=sys.stderr, flush=True)
            _step_scheduler(scheduler, logs)
            if any([bool(cb.on_epoch_end(epoch, logs)) for cb in callbacks]):
                break
    finally:
        pool.close()
        history.blas_threads = pool.chosen
        for cb in callbacks:
            cb.on_train_end()
    return history


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
