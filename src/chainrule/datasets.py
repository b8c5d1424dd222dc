"""Real datasets that ship with scikit-learn (no download), split and standardised.

    train, test = cr.datasets.load("digits")            # (1437, 64) / (360, 64), labels 0-9
    train, test = cr.datasets.load("digits", image=True) # (N, 1, 8, 8) for Conv2d
    train, test = cr.datasets.load("diabetes")          # regression, y of shape (N, 1)

Classification targets are integer labels (N,) and the split is stratified;
regression targets are float columns (N, 1). Features are standardised with
statistics of the training split only (the digits' pixels with one mean and
std for all pixels, so images stay images and a pixel that is almost always
blank is not blown up); regression targets too, by default, with the
fitted ``Standardizer`` kept in ``train.info["target_scaler"]`` to undo it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import dtype as _dtype
from .data import Dataset, Standardizer, train_test_split
from .errors import DatasetError

__all__ = ["available", "load"]

# name -> (scikit-learn loader, task, description)
_DATASETS: dict[str, tuple[str, str, str]] = {
    "digits": ("load_digits", "classification", "8×8 images of handwritten digits, 1797 examples, 10 classes"),
    "iris": ("load_iris", "classification", "iris flowers, 150 examples, 4 features, 3 classes"),
    "wine": ("load_wine", "classification", "wine cultivars, 178 examples, 13 features, 3 classes"),
    "breast_cancer": (
        "load_breast_cancer",
        "classification",
        "breast tumours (malignant/benign), 569 examples, 30 features, 2 classes",
    ),
    "diabetes": ("load_diabetes", "regression", "diabetes progression, 442 examples, 10 features"),
}


def available() -> dict[str, str]:
    """The bundled datasets: name -> one-line description."""
    return {name: desc for name, (_, _, desc) in _DATASETS.items()}


def _sklearn_loader(name: str) -> Callable[[], Any]:
    try:
        import sklearn.datasets
    except ImportError:
        raise ImportError(
            "chainrule.datasets needs scikit-learn for its bundled data: "
            "pip install scikit-learn (or pip install 'chainrule[datasets]')"
        ) from None
    return getattr(sklearn.datasets, _DATASETS[name][0])


def load(
    name: str,
    seed: int = 0,
    test_size: float = 0.2,
    image: bool = False,
    standardize: bool = True,
    standardize_target: bool = True,
    dtype: Any = None,
) -> tuple[Dataset, Dataset]:
    """``(train, test)`` Datasets of the bundled dataset ``name``.

    seed: the split's random seed. test_size: the test fraction.
    image: digits only, as (N, 1, 8, 8) NCHW images for convolutions.
    standardize: features to zero mean, unit variance (fitted on train).
    standardize_target: the same for regression targets.
    dtype: the feature dtype (default: chainrule's default float dtype).
    """
    key = name.lower().replace("-", "_")
    if key not in _DATASETS:
        names = ", ".join(f"{n} ({d})" for n, d in available().items())
        raise DatasetError(f"unknown dataset {name!r}; available: {names}")
    if image and key != "digits":
        raise DatasetError(f"image=True is only available for 'digits' (8×8 images), not {name!r}")
    bunch = _sklearn_loader(key)()
    task = _DATASETS[key][1]
    dt = np.dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
    X = bunch.data.astype(dt)
    if image:
        X = X.reshape(-1, 1, 8, 8)
    if task == "classification":
        y = bunch.target.astype(np.int64)
        info = dict(num_classes=int(y.max()) + 1, class_names=[str(c) for c in bunch.target_names])
    else:
        y = bunch.target.astype(dt).reshape(-1, 1)
        info = {}
    full = Dataset(
        X, y, name=key, task=task, feature_names=[str(f) for f in getattr(bunch, "feature_names", [])], **info
    )
    train, test = train_test_split(
        full, test_size=test_size, seed=seed, stratify=y if task == "classification" else None
    )
    if standardize:
        scaler = Standardizer(axis=None if key == "digits" else 0).fit(train.X)  # pixels share one scale
        train.X, test.X = scaler.transform(train.X), scaler.transform(test.X)
        train.info["scaler"] = test.info["scaler"] = scaler
    if standardize_target and task == "regression":
        target_scaler = Standardizer().fit(train.y)
        train.y, test.y = target_scaler.transform(train.y), target_scaler.transform(test.y)
        train.info["target_scaler"] = test.info["target_scaler"] = target_scaler
    return train, test
