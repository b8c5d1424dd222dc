"""What ``fit`` reports to and asks of: ``History`` (the per-epoch logs it returns) and
``Callback`` hooks, ``EarlyStopping`` among them (as in Keras, where History is one too)."""

from __future__ import annotations

from typing import Any


class History:
    """Per-epoch logs of a ``fit``: ``history["loss"]``, ``history["val_accuracy"]``, ..."""

    def __init__(self) -> None:
        self.epochs: list[int] = []
        self.history: dict[str, list[float]] = {}
        self.blas_threads: int | None = None  # the BLAS threads fit settled on (None: BLAS's own)

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
        self.model, self.wait = model, 0
        self.stopped_epoch: int | None = None
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, Any] | None = None

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
