"""Datasets, batching, splitting, standardisation and the bundled scikit-learn datasets."""

import math
import sys

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

import chainrule as cr
from chainrule.data import DataLoader, Dataset, Standardizer, train_test_split

X = np.arange(50, dtype=np.float64).reshape(25, 2)
Y = np.arange(25) % 3


def test_dataset_rows_dtypes_and_errors():
    ds = Dataset(np.arange(6).reshape(3, 2), [0, 1, 1])
    assert ds.y is not None
    assert len(ds) == 3 and ds.X.dtype == np.float32 and ds.y.dtype.kind == "i"  # int features become float32
    assert Dataset(X, Y).X.dtype == np.float64  # float arrays keep their precision
    xb, yb = ds[1:]
    assert yb is not None
    assert xb.shape == (2, 2) and yb.tolist() == [1, 1]
    assert ds.num_features == 2 and ds.num_classes == 2
    with pytest.raises(cr.errors.ShapeError, match="3 rows.*2"):
        Dataset(np.zeros((3, 2)), [1, 2])


@pytest.mark.parametrize(
    "batch_size, drop_last, sizes", [(10, False, [10, 10, 5]), (10, True, [10, 10]), (25, False, [25]), (40, True, [])]
)
def test_loader_batches_in_order(batch_size, drop_last, sizes):
    loader = DataLoader(Dataset(X, Y), batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert [len(xb) for xb, _ in batches] == sizes and len(loader) == len(sizes)
    if sizes and not drop_last:
        np.testing.assert_array_equal(np.concatenate([xb for xb, _ in batches]), X)
        np.testing.assert_array_equal(np.concatenate([yb for _, yb in batches]), Y)


def test_shuffle_is_seeded_new_each_epoch_and_covers_every_example_once():
    loader = DataLoader((X, Y), batch_size=7, shuffle=True, seed=3)
    epoch1, epoch2 = [np.concatenate([xb for xb, _ in loader]) for _ in range(2)]
    for epoch in (epoch1, epoch2):
        assert sorted(epoch[:, 0].tolist()) == X[:, 0].tolist()
    assert not np.array_equal(epoch1, epoch2) and not np.array_equal(epoch1, X)
    again = DataLoader((X, Y), batch_size=7, shuffle=True, seed=3)
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in again]), epoch1)
    for xb, yb in DataLoader((X, Y), batch_size=4, shuffle=True, seed=0):  # rows stay paired with targets
        np.testing.assert_array_equal(xb[:, 0] / 2 % 3, yb)


def test_unseeded_shuffle_follows_manual_seed_as_torch_does():
    def orders(seed):
        cr.manual_seed(seed)
        return [np.concatenate([yb for _, yb in DataLoader((X, Y), batch_size=7, shuffle=True)]) for _ in range(2)]

    first, again, other = orders(5), orders(5), orders(6)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_loader_argument_errors():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader((X, Y), batch_size=0)
    with pytest.raises(cr.errors.DatasetError, match="str"):
        DataLoader("data")


def test_train_test_split_like_sklearn():
    X_tr, X_te, y_tr, _ = train_test_split(X, Y, test_size=0.2, seed=0)
    assert len(X_tr) == 20 and len(X_te) == 5
    rows = sorted(np.concatenate([X_tr, X_te])[:, 0].tolist())
    assert rows == X[:, 0].tolist()  # disjoint and complete
    np.testing.assert_array_equal(X_tr[:, 0] / 2 % 3, y_tr)
    X_tr2, *_ = train_test_split(X, Y, test_size=0.2, seed=0)
    np.testing.assert_array_equal(X_tr, X_tr2)
    train, test = train_test_split(Dataset(X, Y), test_size=5, seed=1)
    assert isinstance(train, Dataset) and len(test) == 5
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(X, test_size=1.0)
    with pytest.raises(cr.errors.ShapeError, match=r"\[25, 3\]"):
        train_test_split(X, Y[:3])


def test_stratified_split_keeps_class_shares():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    _, y_test = train_test_split(y, test_size=0.2, seed=0, stratify=y)
    assert np.bincount(y_test).tolist() == [12, 6, 2]


def test_standardizer_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    train, test = rng.normal(5, 3, (100, 4)), rng.normal(-2, 1, (20, 4))
    train[:, 3] = 7.0  # a constant feature: std 1, not a division by zero
    scaler = Standardizer().fit(train)
    reference = StandardScaler().fit(train)
    np.testing.assert_allclose(scaler.transform(test), reference.transform(test), rtol=1e-6)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(test)), test, rtol=1e-6)
    whole = Standardizer(axis=None).fit(train)
    assert whole.mean is not None
    assert whole.mean.shape == (1, 1) and whole.mean.item() == pytest.approx(train.mean())
    assert scaler.transform(train.astype(np.float32)).dtype == np.float64  # fitted dtype
    with pytest.raises(cr.errors.ShapeError, match=r"\(4,\).*\(3,\)"):
        scaler.transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="fit"):
        Standardizer().transform(test)


@pytest.mark.parametrize(
    "name, n, features, classes",
    [("digits", 1797, 64, 10), ("iris", 150, 4, 3), ("wine", 178, 13, 3), ("breast_cancer", 569, 30, 2)],
)
def test_bundled_classification_datasets(name, n, features, classes):
    train, test = cr.datasets.load(name)
    assert len(train) + len(test) == n and len(test) == math.ceil(0.2 * n)  # as scikit-learn rounds
    assert train.y is not None and test.y is not None
    assert train.X.shape[1:] == (features,) and train.X.dtype == np.float32 and train.y.dtype == np.int64
    assert train.num_classes == classes and train.info["task"] == "classification"
    if name != "digits":  # each feature standardised on the training split
        np.testing.assert_allclose(train.X.mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(train.X.std(axis=0), 1, atol=1e-3)
    share_train, share_test = np.bincount(train.y) / len(train), np.bincount(test.y) / len(test)
    np.testing.assert_allclose(share_train, share_test, atol=0.03)  # stratified
    again, _ = cr.datasets.load(name)
    np.testing.assert_array_equal(again.X, train.X)
    other, _ = cr.datasets.load(name, seed=1)
    assert other.y is not None
    assert not np.array_equal(other.y, train.y)


def test_digits_as_images_share_one_scale():
    train, test = cr.datasets.load("digits", image=True)
    flat, _ = cr.datasets.load("digits")
    assert train.X.shape == (1437, 1, 8, 8) and test.X.shape == (360, 1, 8, 8)
    np.testing.assert_array_equal(train.X.reshape(len(train), -1), flat.X)
    assert train.X.mean() == pytest.approx(0, abs=1e-5) and train.X.std() == pytest.approx(1, abs=1e-4)
    assert train.info["scaler"].mean.size == 1


def test_diabetes_is_a_standardised_regression_column():
    train, test = cr.datasets.load("diabetes")
    assert train.y is not None and test.y is not None
    assert train.X.shape == (353, 10) and test.y.shape == (89, 1) and train.y.dtype == np.float32
    assert train.info["task"] == "regression" and train.num_classes is None
    assert train.y.mean() == pytest.approx(0, abs=1e-5)
    scaler = train.info["target_scaler"]
    original = scaler.inverse_transform(train.y)
    assert 25 <= original.min() and original.max() <= 346  # the dataset's range of disease progression
    raw, _ = cr.datasets.load("diabetes", standardize_target=False, dtype="float64")
    assert raw.y is not None
    assert raw.X.dtype == np.float64 and raw.y.max() > 100


def test_unknown_dataset_lists_the_available_ones():
    with pytest.raises(cr.errors.DatasetError) as info:
        cr.datasets.load("mnist")
    for name in ("digits", "diabetes", "iris", "wine", "breast_cancer"):
        assert name in str(info.value)
    with pytest.raises(cr.errors.DatasetError, match="only.*digits"):
        cr.datasets.load("iris", image=True)


def test_missing_scikit_learn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        cr.datasets.load("iris")
