"""Data: a ``Dataset`` of arrays, a ``DataLoader`` that batches it, a
``train_test_split`` and a ``Standardizer`` fitted on the training split only.

    train = cr.data.Dataset(X, y)
    for xb, yb in cr.data.DataLoader(train, batch_size=32, shuffle=True, seed=0): ...
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from . import dtype as _dtype
from .errors import DatasetError, ShapeError
from .nn import init

__all__ = ["DataLoader", "Dataset", "Standardizer", "as_loader", "train_test_split"]


class Dataset:
    """Features ``X`` and targets ``y`` (optional), row ``i`` being one example.

    Floating features become the default float dtype (float32) unless they
    already are floating arrays; integer targets stay integers (class labels).
    ``info`` holds anything else worth knowing (name, task, class names, the
    fitted standardizers).
    """

    def __init__(self, X: Any, y: Any = None, **info: Any) -> None:
        X = np.asarray(X)
        self.X = X if X.dtype.kind == "f" else X.astype(_dtype.get_default_dtype())
        self.y = None if y is None else np.asarray(y)
        if self.y is not None and len(self.y) != len(self.X):
            raise ShapeError(f"Dataset: X has {len(self.X)} rows but y has {len(self.y)}")
        self.info = info

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index: Any) -> tuple[np.ndarray, np.ndarray | None]:
        return self.X[index], None if self.y is None else self.y[index]

    def subset(self, indices: Any) -> Dataset:
        """The examples at ``indices``, as a new Dataset with the same info."""
        return Dataset(self.X[indices], None if self.y is None else self.y[indices], **self.info)

    @property
    def num_features(self) -> int:
        return int(np.prod(self.X.shape[1:]))

    @property
    def num_classes(self) -> int | None:
        """The number of classes for integer labels, else None."""
        if self.y is None or self.y.dtype.kind not in "iub":
            return None
        return int(self.info.get("num_classes", self.y.max() + 1))

    def __repr__(self) -> str:
        y = "no targets" if self.y is None else f"y {self.y.shape} {self.y.dtype}"
        name = f"'{self.info['name']}', " if "name" in self.info else ""
        return f"Dataset({name}{len(self)} examples, X {self.X.shape} {self.X.dtype}, {y})"


class DataLoader:
    """Batches ``(xb, yb)`` of a Dataset (or an ``(X, y)`` pair), like ``torch.utils.data.DataLoader``.

    ``shuffle`` draws a new order every epoch from a generator seeded by
    ``seed`` (so two loaders with the same seed give the same batches); with no
    ``seed``, the loader's generator is seeded from chainrule's own (the one
    ``cr.manual_seed`` reseeds), so a seeded script shuffles the same way every run,
    as ``torch.manual_seed`` makes PyTorch's loaders do;
    ``drop_last`` drops a final batch smaller than ``batch_size``.
    """

    def __init__(
        self, data: Any, batch_size: int = 32, shuffle: bool = False, seed: int | None = None, drop_last: bool = False
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        self.dataset = data if isinstance(data, Dataset) else Dataset(*_pair(data))
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.rng = np.random.default_rng(init.generator().integers(2**63) if seed is None else seed)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        n = len(self.dataset)
        order = self.rng.permutation(n) if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            if order is None:
                yield self.dataset[start : start + self.batch_size]
            else:
                yield self.dataset[order[start : start + self.batch_size]]


def _pair(data: Any) -> tuple[Any, Any]:
    if isinstance(data, Dataset):
        return data.X, data.y
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return data[0], data[1]
    raise DatasetError(f"expected a Dataset, an (X, y) pair or a DataLoader, got {type(data).__name__}")


def as_loader(data: Any, batch_size: int = 32, shuffle: bool = False, seed: int | None = None) -> Any:
    """A DataLoader for a Dataset or an (X, y) pair; a loader (anything else iterable
    that yields (xb, yb) pairs) is returned as it is."""
    if isinstance(data, (Dataset, tuple, list)):
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle, seed=seed)
    if hasattr(data, "__iter__"):
        return data
    raise DatasetError(f"expected a Dataset, an (X, y) pair or a DataLoader, got {type(data).__name__}")


def train_test_split(
    *arrays: Any, test_size: float = 0.2, seed: int | None = 0, shuffle: bool = True, stratify: Any = None
) -> list[Any]:
    """Split arrays (or one Dataset) into train and test parts, like scikit-learn's:
    ``X_train, X_test, y_train, y_test = train_test_split(X, y)``;
    ``train, test = train_test_split(dataset)``.

    ``test_size`` is a fraction or a count; ``stratify`` (labels, or True for a
    Dataset's own labels) keeps each class's share equal in both parts.
    """
    if not arrays:
        raise ValueError("train_test_split needs at least one array")
    n = len(arrays[0])
    for a in arrays[1:]:
        if len(a) != n:
            raise ShapeError(f"train_test_split: arrays have different lengths {[len(a) for a in arrays]}")
    n_test = math.ceil(test_size * n) if isinstance(test_size, float) else int(test_size)  # as scikit-learn
    if not 0 < n_test < n:
        raise ValueError(f"train_test_split: test_size {test_size} leaves no examples for one side of {n}")
    rng = np.random.default_rng(seed)
    if stratify is True and isinstance(arrays[0], Dataset):
        stratify = arrays[0].y
    if stratify is not None:
        test_idx = _stratified_test(np.asarray(stratify), n_test, rng)
    else:
        order = rng.permutation(n) if shuffle else np.arange(n)
        test_idx = order[n - n_test :]
    is_test = np.zeros(n, dtype=bool)
    is_test[test_idx] = True
    train_idx = np.flatnonzero(~is_test)
    if shuffle:
        train_idx, test_idx = rng.permutation(train_idx), rng.permutation(np.sort(test_idx))
    out: list[Any] = []
    for a in arrays:
        if isinstance(a, Dataset):
            out += [a.subset(train_idx), a.subset(test_idx)]
        else:
            a = np.asarray(a)
            out += [a[train_idx], a[test_idx]]
    return out


def _stratified_test(labels: np.ndarray, n_test: int, rng: np.random.Generator) -> np.ndarray:
    """Test indices with each class's share of ``n_test`` proportional to its size."""
    _, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse)
    share = counts * n_test / len(labels)
    take = np.floor(share).astype(int)
    for i in np.argsort(-(share - take))[: n_test - take.sum()]:  # largest remainders get the rest
        take[i] += 1
    picked = [rng.permutation(np.flatnonzero(inverse == c))[:k] for c, k in enumerate(take)]
    return np.concatenate(picked)


class Standardizer:
    """(x - mean) / std, fitted on training data only, then applied to any split.

    ``axis=0`` (default) standardises each feature; ``axis=None`` uses one mean
    and one std for everything (images). Constant features get std 1.
    """

    def __init__(self, axis: int | Sequence[int] | None = 0) -> None:
        self.axis = axis if axis is None or isinstance(axis, int) else tuple(axis)
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, X: Any) -> Standardizer:
        X = np.asarray(X)
        dt = X.dtype if X.dtype.kind == "f" else _dtype.get_default_dtype()
        X64 = X.astype(np.float64)
        self.mean = X64.mean(axis=self.axis, keepdims=True).astype(dt)
        std = X64.std(axis=self.axis, keepdims=True)
        self.std = np.where(std > 0, std, 1.0).astype(dt)
        return self

    def _fitted(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mean is None or self.std is None:
            raise ValueError("Standardizer: call fit() on the training data first")
        return self.mean, self.std

    def transform(self, X: Any) -> np.ndarray:
        mean, std = self._fitted()
        X = np.asarray(X)
        if self.axis is not None and X.shape[1:] != mean.shape[1:]:
            raise ShapeError(f"Standardizer was fitted on rows of shape {mean.shape[1:]}, got {X.shape[1:]}")
        return ((X.astype(mean.dtype, copy=False) - mean) / std).astype(mean.dtype, copy=False)

    def fit_transform(self, X: Any) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        mean, std = self._fitted()
        return np.asarray(Z) * std + mean
