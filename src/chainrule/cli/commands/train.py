"""``chainrule train``: train a model on a bundled dataset and report its test metrics.

    chainrule train --dataset digits --model mlp --epochs 30 --plot loss.png --save model.npz
    chainrule train --model cnn --save model.safetensors --export model.onnx     # for PyTorch, onnxruntime
    chainrule train --dataset digits --model cnn
    chainrule train --dataset diabetes --model linear          # regression: test R²

Models: ``linear`` (softmax or linear regression), ``mlp`` (one wide hidden
layer with dropout), ``cnn`` (digits only: two Conv2d + BatchNorm + max-pool
blocks). Each has tuned defaults for epochs, optimizer and learning rate;
the flags override them. ``--load`` starts from saved weights (with
``--epochs 0`` it only evaluates them).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ... import datasets, nn, optim
from ...errors import ChainruleError
from ...io import onnx
from ...see import plots
from ...serialize import load, save
from ...train import evaluate, fit
from . import in_range

OPTIMIZERS = {
    "sgd": optim.SGD,
    "adam": optim.Adam,
    "adamw": optim.AdamW,
    "rmsprop": optim.RMSprop,
    "adagrad": optim.Adagrad,
}
# (model, task) -> default epochs, optimizer, learning rate, batch size
DEFAULTS = {
    ("linear", "regression"): (100, "sgd", 0.01, 32),
    ("linear", "classification"): (100, "adam", 0.05, 32),
    ("mlp", "regression"): (100, "adam", 1e-3, 32),
    ("mlp", "classification"): (30, "adamw", 2e-3, 64),
    ("cnn", "classification"): (20, "adamw", 2e-3, 32),
}


def build_model(kind: str, data: Any, hidden: int = 1024) -> nn.Module:
    """The model ``kind`` for a training Dataset ``data``: its input and output sizes come from the data."""
    outputs = data.num_classes or data.y.shape[1]
    if kind == "linear":
        return nn.Linear(data.num_features, outputs)
    if kind == "mlp":
        return nn.MLP([data.num_features, hidden, outputs], dropout=0.5)
    if kind == "cnn":
        if data.X.ndim != 4:
            raise ValueError("the cnn model needs images: use --dataset digits")
        c = data.X.shape[1]
        return nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(64 * (data.X.shape[2] // 4) ** 2, outputs),
        )
    raise ValueError(f"unknown model {kind!r}; choose linear, mlp or cnn")


def register(subparsers: Any) -> None:
    """Add the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="train a model on a bundled dataset (digits, diabetes, iris, wine, breast_cancer)",
        description="Train a model on a dataset bundled with scikit-learn, print its progress and its "
        "test metrics; optionally plot the loss curves and save the weights.",
    )
    parser.add_argument(
        "--dataset", default="digits", help="digits, diabetes, iris, wine or breast_cancer (default digits)"
    )
    parser.add_argument("--model", default="mlp", choices=["linear", "mlp", "cnn"], help="default mlp")
    parser.add_argument(
        "--epochs", type=in_range(int, 0, 100_000), help="passes over the training data (0: only evaluate)"
    )
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), help="default: per model")
    parser.add_argument("--lr", type=in_range(float, 0, 1e6, low_open=True), help="learning rate (default: per model)")
    parser.add_argument("--batch-size", type=in_range(int, 1, 10_000_000), help="examples per step")
    parser.add_argument(
        "--hidden", type=in_range(int, 1, 1_000_000), default=1024, help="mlp hidden units (default 1024)"
    )
    parser.add_argument(
        "--seed", type=in_range(int, 0, 2**32 - 1), default=0, help="seed of the split, the weights and the shuffling"
    )
    parser.add_argument("--plot", metavar="FILE", help="write the loss and metric curves to FILE (.png, .svg, .pdf...)")
    parser.add_argument(
        "--save",
        metavar="FILE",
        help="save the trained weights (cr.save) to this file: .npz, or .safetensors (readable by PyTorch)",
    )
    parser.add_argument("--load", metavar="FILE", help="start from these saved weights (.npz or .safetensors)")
    parser.add_argument(
        "--export",
        metavar="ONNX",
        help="export the trained model to this ONNX file (cr.onnx.export; needs pip install 'chainrule[onnx]')",
    )
    parser.add_argument("--no-progress", action="store_true", help="print only the final metrics")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train and report; returns the exit code (0, or 2 with a one-line message on stderr)."""
    try:
        return _train(args)
    except (ChainruleError, ValueError, ImportError, OSError) as exc:
        print(f"chainrule train: {exc}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace) -> int:
    if args.plot:
        plots.check_format(args.plot)  # a picture name matplotlib cannot write fails now, not after training
    train, test = datasets.load(args.dataset, seed=args.seed, image=args.model == "cnn")
    task = train.info["task"]
    if (args.model, task) not in DEFAULTS:
        raise ValueError(f"the {args.model} model is for images; use --dataset digits")
    epochs, opt_name, lr, batch_size = DEFAULTS[(args.model, task)]
    epochs = epochs if args.epochs is None else args.epochs
    opt_name, lr = args.optimizer or opt_name, lr if args.lr is None else args.lr
    batch_size = batch_size if args.batch_size is None else args.batch_size
    nn.manual_seed(args.seed)
    model = build_model(args.model, train, args.hidden)
    if args.load:
        load(args.load, into=model)
    optimizer = OPTIMIZERS[opt_name](model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()
    metrics = ("accuracy",) if task == "classification" else ("r2",)
    print(
        f"{train.info['name']}: {len(train)} training and {len(test)} test examples, {task}; "
        f"model {args.model} ({model.num_parameters():,} parameters); "
        f"{type(optimizer).__name__} lr={lr:g}, batch size {batch_size}, "
        f"{epochs} epoch{'' if epochs == 1 else 's'}",
        flush=True,
    )
    start = time.perf_counter()
    if epochs:
        history = fit(
            model,
            loss_fn,
            optimizer,
            train,
            epochs=epochs,
            val_data=test,
            metrics=metrics,
            batch_size=batch_size,
            seed=args.seed,
            progress=not args.no_progress,
            scheduler=optim.CosineAnnealingLR(optimizer, epochs),
        )
        if args.plot:
            history.plot(args.plot, title=f"{train.info['name']} {args.model}", held_out="test")
            print(f"wrote {args.plot}")
    seconds = time.perf_counter() - start
    scores = evaluate(model, test, metrics=metrics, loss_fn=loss_fn)
    print("test: " + "  ".join(f"{k} {v:.4f}" for k, v in scores.items()) + f"  (trained in {seconds:.1f}s)")
    if args.save:
        save(model, args.save)
        print(f"wrote {args.save}")
    if args.export:
        # two examples fix the other shapes (a batch of one looks like any size-1 axis); the batch stays dynamic
        onnx.export(model, test.X[:2], args.export)
        print(f"wrote {args.export}")
    return 0
