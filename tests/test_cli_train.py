"""``chainrule train``: progress, final test metrics, --plot, --save / --load, regression, errors."""

import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import chainrule as cr
from chainrule.cli import main
from chainrule.cli.commands.train import build_model


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def metric(text, name):
    match = re.search(rf"test: .*{name} ([0-9.]+)", text)
    assert match is not None, f"no test {name}"
    return float(match.group(1))


def test_digits_mlp_trains_plots_saves_and_reloads(tmp_path, capsys):
    plot, weights = tmp_path / "loss.png", tmp_path / "model.npz"
    command = "train --dataset digits --model mlp --epochs 3 --optimizer adam --lr 0.002 --batch-size 64 --seed 0"
    assert main([*command.split(), "--plot", str(plot), "--save", str(weights)]) == 0
    out, err = capsys.readouterr()
    assert "digits: 1437 training and 360 test examples" in out and "Adam lr=0.002" in out
    assert err.count("epoch ") == 3 and "epoch 3/3" in err and "val_accuracy" in err
    accuracy = metric(out, "accuracy")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"wrote {plot}" in out
    # the saved weights, loaded by hand, give the printed accuracy (recomputed here)
    train, test = cr.datasets.load("digits", seed=0)
    model = build_model("mlp", train)
    cr.load(weights, into=model).eval()
    assert np.mean(model(test.X).value.argmax(axis=1) == test.y) == pytest.approx(accuracy, abs=1e-4)
    assert accuracy > 0.9
    # --load with --epochs 0 only evaluates
    assert main(["train", "--dataset", "digits", "--epochs", "0", "--load", str(weights), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert metric(out, "accuracy") == accuracy and err == ""


def test_diabetes_linear_is_regression(capsys):
    assert main(["train", "--dataset", "diabetes", "--model", "linear", "--seed", "7", "--no-progress"]) == 0
    out, _ = capsys.readouterr()
    assert "regression" in out and "SGD" in out and "accuracy" not in out
    printed = metric(out, "r2")
    assert printed >= 0.40


def test_cnn_and_other_datasets(capsys):
    assert main(["train", "--dataset", "digits", "--model", "cnn", "--epochs", "1", "--no-progress"]) == 0
    out, _ = capsys.readouterr()
    assert "model cnn" in out and metric(out, "accuracy") > 0.5
    assert main(["train", "--dataset", "iris", "--model", "linear", "--no-progress"]) == 0
    out, _ = capsys.readouterr()
    train, test = cr.datasets.load("iris")  # softmax regression: as good as scikit-learn's on this split
    assert metric(out, "accuracy") >= LogisticRegression().fit(train.X, train.y).score(test.X, test.y) - 1e-4


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--dataset", "mnist"], ["unknown dataset 'mnist'", "digits", "breast_cancer"]),
        (["--dataset", "iris", "--model", "cnn"], ["only available for 'digits'"]),
        (["--load", "/nonexistent/model.npz"], ["model.npz"]),
    ],
)
def test_errors_are_one_line_messages(argv, words, capsys):
    assert main(["train", *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule train: ") and err.count("\n") == 1
    for word in words:
        assert word in err


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--epochs", "-1"])
    assert info.value.code == 2 and "must be at least 0" in capsys.readouterr().err


def test_the_installed_command_runs():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chainrule",
            "train",
            "--dataset",
            "wine",
            "--model",
            "linear",
            "--epochs",
            "5",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "wine:" in result.stdout and "test: loss" in result.stdout
