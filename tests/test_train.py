"""The quality bars of issue 5 on real data, and fit / evaluate / History / callbacks.

Accuracies and R² are recomputed here with NumPy and scikit-learn from the
model's predictions, not taken from chainrule's own metrics. BLAS runs one
thread (threadpoolctl, which scikit-learn brings): these models are small,
and on a busy two-core machine a second BLAS thread only makes them wait.
"""

import io
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from threadpoolctl import threadpool_limits

import chainrule as cr
from chainrule import nn, optim


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def predict(model, X):
    model.eval()
    with cr.no_grad():
        return np.asarray(model(X).value)


def timed_fit(*args, **kwargs):
    start = time.perf_counter()
    history = cr.fit(*args, **kwargs)
    return history, time.perf_counter() - start


@pytest.fixture(scope="module")
def digits():
    return cr.datasets.load("digits")


@pytest.fixture(scope="module")
def mlp_run(digits):
    train, test = digits
    nn.manual_seed(0)
    model = nn.MLP([64, 1024, 10], dropout=0.5)
    opt = optim.AdamW(model.parameters(), lr=2e-3)
    history, seconds = timed_fit(
        model,
        cr.cross_entropy,
        opt,
        train,
        epochs=30,
        val_data=test,
        batch_size=64,
        progress=False,
        scheduler=optim.CosineAnnealingLR(opt, 30),
    )
    return model, history, seconds


def test_digits_mlp_reaches_97_percent_in_under_a_minute(mlp_run, digits):
    model, history, seconds = mlp_run
    test = digits[1]
    accuracy = np.mean(predict(model, test.X).argmax(axis=1) == test.y)
    print(f"digits MLP: test accuracy {accuracy:.4f}, trained in {seconds:.1f}s")
    assert accuracy >= 0.97 and seconds < 60
    assert history["val_accuracy"][-1] == pytest.approx(accuracy)


def test_digits_cnn_reaches_98_percent_in_under_a_minute():
    train, test = cr.datasets.load("digits", image=True)
    nn.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(64 * 2 * 2, 10),
    )
    opt = optim.AdamW(model.parameters(), lr=2e-3)
    _, seconds = timed_fit(
        model,
        cr.cross_entropy,
        opt,
        train,
        epochs=20,
        batch_size=32,
        progress=False,
        scheduler=optim.CosineAnnealingLR(opt, 20),
    )
    accuracy = np.mean(predict(model, test.X).argmax(axis=1) == test.y)
    print(f"digits CNN: test accuracy {accuracy:.4f}, trained in {seconds:.1f}s")
    assert accuracy >= 0.98 and seconds < 60


@pytest.mark.parametrize("seed", [7, 0, 3])
def test_diabetes_linear_sgd_matches_least_squares(seed):
    """R² >= 0.40 on split 7, where ordinary least squares gets 0.48 (the issue's 0.45-0.50); on every
    split SGD comes within 0.02 of least squares (splits of 89 test examples vary: OLS gets 0.35 on split 0)."""
    train, test = cr.datasets.load("diabetes", seed=seed)
    nn.manual_seed(0)
    model = nn.Linear(10, 1)
    cr.fit(
        model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01), train, epochs=100, metrics=("r2",), progress=False
    )
    r2 = r2_score(test.y, predict(model, test.X))
    ols = LinearRegression().fit(train.X, train.y).score(test.X, test.y)
    print(f"diabetes split {seed}: SGD R² {r2:.4f}, least squares {ols:.4f}")
    assert r2 >= ols - 0.02
    if seed == 7:
        assert r2 >= 0.40


def test_breast_cancer_logistic_regression():
    train, test = cr.datasets.load("breast_cancer")
    nn.manual_seed(0)
    model = nn.Linear(30, 1)
    cr.fit(model, nn.BCEWithLogitsLoss(), optim.SGD(model.parameters(), lr=0.1), train, epochs=30, progress=False)
    accuracy = np.mean((predict(model, test.X)[:, 0] > 0) == test.y)
    print(f"breast_cancer logistic regression: test accuracy {accuracy:.4f}")
    assert accuracy >= 0.95
    assert cr.evaluate(model, test)["accuracy"] == pytest.approx(accuracy)  # one logit column: logit > 0


def test_the_lessons_scalar_model_learns():
    """The lesson's graph (Linear -> Sigmoid -> MSE on its numbers) and its next step: gradient descent."""
    cr.set_default_dtype("float64")
    x, y = cr.Placeholder(name="x"), cr.Placeholder(name="y")
    k, b = cr.Variable(0.35915077292816744, name="k"), cr.Variable(0.3737660632429008, name="b")
    loss = cr.MSE(y, cr.Sigmoid(cr.Linear(x, k, b, name="linear"), name="sigmoid"), name="loss")
    graph = cr.Graph(loss)
    first = graph.forward({x: 3.0, y: 0.6087876106387002})
    assert first == pytest.approx(0.04056126022042443, rel=1e-12)
    for _ in range(200):
        graph.forward({x: 3.0, y: 0.6087876106387002})
        graph.backward()
        for v in (k, b):
            v.value = v.value - 0.5 * v.grad
    final = graph.forward({x: 3.0, y: 0.6087876106387002})
    sigmoid = 1 / (1 + np.exp(-(k.value * 3.0 + b.value)))  # recomputed by hand
    assert final == pytest.approx((0.6087876106387002 - sigmoid) ** 2) and final < 1e-4


def test_fit_accepts_a_dataset_a_pair_or_a_loader(digits):
    train = digits[0].subset(np.arange(300))
    runs = []
    for data in (train, (train.X, train.y), cr.data.DataLoader(train, batch_size=32, shuffle=True, seed=0)):
        nn.manual_seed(1)
        model = nn.MLP([64, 16, 10])
        history = cr.fit(model, cr.cross_entropy, optim.SGD(model.parameters(), lr=0.1), data, epochs=2, progress=False)
        runs.append(history["loss"])
    assert runs[0] == runs[1] == runs[2]  # same seed, same batches, same numbers


def test_history_evaluate_and_plot(mlp_run, digits, tmp_path):
    model, history, _ = mlp_run
    test = digits[1]
    assert len(history) == 30 and history.epochs == list(range(1, 31))
    d = history.to_dict()
    assert set(d) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 30 for v in d.values())
    assert d["loss"][-1] < d["loss"][0] / 10
    assert d["lr"][0] == pytest.approx(2e-3) and d["lr"][-1] < 1e-5  # cosine schedule, stepped per epoch
    scores = cr.evaluate(model, test)
    logits = torch.tensor(predict(model, test.X).astype(np.float64))
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor(test.y)).item()
    assert scores["loss"] == pytest.approx(expected, rel=1e-4)
    assert scores["accuracy"] == pytest.approx(np.mean(logits.numpy().argmax(1) == test.y))
    assert cr.evaluate(model, (test.X, test.y), metrics=()) == {"loss": pytest.approx(scores["loss"])}
    png = history.plot(str(tmp_path / "loss.png"))
    data = Path(png).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    import matplotlib.image

    assert matplotlib.image.imread(png).shape[1] > 2 * matplotlib.image.imread(png).shape[0]  # two panels


def test_evaluate_infers_the_loss_and_restores_training_mode():
    X = np.random.default_rng(0).standard_normal((40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5))
    model.train()
    scores = cr.evaluate(model, (X, y))  # labels and two logits: cross-entropy
    logits = predict(model, X).astype(np.float64)
    expected = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(y)).item()
    assert scores["loss"] == pytest.approx(expected, rel=1e-5)
    model.train()
    cr.evaluate(model, (X, y))
    assert model.training and model[1].training
    regression = nn.Linear(3, 1)
    target = X[:, :1] * 2
    r = cr.evaluate(regression, (X, target), metrics=("r2", "mae"))
    out = predict(regression, X)
    assert r["loss"] == pytest.approx(np.mean((out - target) ** 2), rel=1e-5)
    assert r["r2"] == pytest.approx(r2_score(target, out), rel=1e-5)
    with pytest.raises(cr.errors.ShapeError, match="r2"):
        cr.evaluate(regression, (X, target))  # accuracy of a regression


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5)).astype(np.float32)
    y = (X @ rng.standard_normal((5, 1))).astype(np.float32)
    X_val, y_val = X[:20] + 3.0, -y[:20]  # validation disagrees with training: it gets worse
    nn.manual_seed(0)
    model = nn.Linear(5, 1)
    stop = cr.EarlyStopping(patience=2)
    history = cr.fit(
        model,
        cr.mse,
        optim.SGD(model.parameters(), lr=0.05),
        (X, y),
        epochs=50,
        val_data=(X_val, y_val),
        metrics=(),
        callbacks=[stop],
        progress=False,
    )
    assert len(history) < 50 and stop.stopped_epoch == len(history)
    best = int(np.argmin(history["val_loss"]))
    assert len(history) == best + 1 + 2  # patience epochs after the best one
    restored = np.mean((predict(model, X_val) - y_val) ** 2)
    assert restored == pytest.approx(history["val_loss"][best], rel=1e-5)
    with pytest.raises(KeyError, match="val_data"):
        cr.fit(
            model,
            cr.mse,
            optim.SGD(model.parameters(), lr=0.05),
            (X, y),
            epochs=1,
            metrics=(),
            callbacks=[cr.EarlyStopping()],
            progress=False,
        )


def test_progress_bar_on_a_terminal_lines_in_logs_nothing_when_off(monkeypatch, capsys):
    X, y = np.ones((10, 2), np.float32), np.zeros(10, np.int64)

    def run(progress):
        model = nn.Linear(2, 2)
        cr.fit(
            model,
            cr.cross_entropy,
            optim.SGD(model.parameters(), lr=0.1),
            (X, y),
            epochs=2,
            batch_size=4,
            progress=progress,
        )

    run(False)
    assert capsys.readouterr() == ("", "")
    run(True)  # pytest's stderr is not a terminal: one plain line per epoch
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "epoch 2/2  loss" in err and "accuracy" in err and "\r" not in err

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    run(True)
    bar = terminal.getvalue()
    assert "epoch 1/2" in bar and "3/3" in bar and "\r" in bar and "loss=" in bar  # tqdm, 3 batches


def test_fit_schedulers_and_custom_metrics():
    X = np.random.default_rng(0).standard_normal((16, 2)).astype(np.float32)
    y = X.sum(axis=1, keepdims=True)
    model = nn.Linear(2, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)

    def worst(outputs, targets):
        return float(np.max(np.abs(outputs - targets)))

    history = cr.fit(
        model,
        cr.mse,
        opt,
        (X, y),
        epochs=4,
        metrics=(worst, "mse"),
        progress=False,
        scheduler=optim.StepLR(opt, step_size=2, gamma=0.5),
    )
    assert history["lr"] == [0.1, 0.1, 0.05, 0.05]
    assert set(history.history) == {"loss", "worst", "mse", "lr"}
    assert history["mse"][0] == pytest.approx(history["loss"][0], rel=1e-5)
    assert model.bias is not None
    model.bias.value[:] = 0  # zero inputs and targets: the loss stays 0, a plateau
    plateau_opt = optim.SGD(model.parameters(), lr=0.1)
    cr.fit(
        model,
        cr.mse,
        plateau_opt,
        (X * 0, y * 0),
        epochs=3,
        metrics=(),
        progress=False,
        scheduler=optim.ReduceLROnPlateau(plateau_opt, patience=0, factor=0.5),
    )
    assert plateau_opt.lr == pytest.approx(0.025)  # no improvement after epochs 2 and 3


def test_float64_data_does_not_turn_a_float32_model_into_float64():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 4)), rng.standard_normal((32, 1))  # float64, as NumPy makes them
    model = nn.Linear(4, 1)
    seen = []

    def loss_fn(out, target):
        seen.append((out.dtype, target.dtype))
        return cr.mse(out, target)

    history = cr.fit(
        model, loss_fn, optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2, metrics=("r2",), progress=False
    )
    assert set(seen) == {(np.dtype(np.float32), np.dtype(np.float32))} and len(history) == 2
    assert all(p.value.dtype == np.float32 for p in model.parameters())
    assert cr.evaluate(model, (X, y), metrics=())["loss"] == pytest.approx(history["loss"][-1], rel=0.5)


def test_the_design_contract_snippet(digits):
    """DESIGN.md's training example, as written there."""
    model = cr.nn.Sequential(cr.nn.Linear(64, 128), cr.nn.ReLU(), cr.nn.Linear(128, 10))
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    train, test = digits
    history = cr.fit(model, cr.cross_entropy, opt, train, epochs=20, val_data=test, progress=False)
    scores = cr.evaluate(model, test)
    assert set(scores) == {"loss", "accuracy"} and scores["accuracy"] > 0.95
    assert history["val_accuracy"][-1] == pytest.approx(scores["accuracy"])
