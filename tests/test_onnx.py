"""cr.onnx.export: every exportable layer, the digits MLP and CNN, the lesson's Graph and the op table,
checked by onnx.checker and run by onnxruntime (on another batch size: the batch axis is dynamic)."""

import sys

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn, ops
from chainrule.cli import main
from chainrule.cli.commands.train import build_model
from chainrule.errors import ExportError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def run(path, feeds):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def exported(model, example, tmp_path, name="m.onnx"):
    path = cr.onnx.export(model, example, tmp_path / name)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == cr.onnx.OPSET
    used = {name for node in proto.graph.node for name in node.input}
    assert {i.name for i in proto.graph.initializer} <= used  # nothing onnxruntime would have to prune
    return path, proto


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def warmed(model, x):
    """BatchNorm running statistics away from 0 and 1: a few training-mode passes."""
    model.train()
    for i in range(3):
        model(x * (1 + i) + i)
    return model


LAYERS = {
    "Linear": (lambda: nn.Linear(5, 3), (5,)),
    "Linear no bias, 3-D input": (lambda: nn.Linear(5, 3, bias=False), (2, 5)),
    "Conv2d stride 2 padding 1": (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 7, 7)),
    "Conv2d 3x2 no bias": (lambda: nn.Conv2d(2, 4, (3, 2), bias=False), (2, 6, 5)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (2, 6, 6)),
    "MaxPool2d padding": (lambda: nn.MaxPool2d(3, stride=2, padding=1), (2, 7, 7)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (2, 6, 6)),
    "AvgPool2d padding": (lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 7, 7)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(5), (5,)),
    "BatchNorm1d 3-D": (lambda: nn.BatchNorm1d(5), (5, 6)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), (3, 4, 4)),
    "LayerNorm": (lambda: nn.LayerNorm(5), (5,)),
    "LayerNorm 2 axes": (lambda: nn.LayerNorm((3, 5)), (3, 5)),
    "Dropout": (lambda: nn.Dropout(0.5), (5,)),
    "Flatten": (lambda: nn.Flatten(), (2, 3, 3)),
    "Flatten from axis 2": (lambda: nn.Flatten(start_dim=2), (2, 3, 3)),
    "ReLU": (lambda: nn.ReLU(), (5,)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.1), (5,)),
    "Sigmoid": (lambda: nn.Sigmoid(), (5,)),
    "Tanh": (lambda: nn.Tanh(), (5,)),
    "GELU": (lambda: nn.GELU(), (5,)),
    "Softmax": (lambda: nn.Softmax(dim=1), (5, 2)),
    "LogSoftmax": (lambda: nn.LogSoftmax(), (5,)),
    "Identity": (lambda: nn.Identity(), (5,)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_layer_matches_onnxruntime(tmp_path, name):
    make, shape = LAYERS[name]
    nn.manual_seed(0)
    model = warmed(make(), rand(4, *shape, seed=1) * 3)
    path, _ = exported(model, rand(4, *shape, seed=2), tmp_path)
    assert model.training  # export traced in eval mode and restored the mode
    x = rand(9, *shape, seed=3) * 3  # another batch size
    (got,) = run(path, {"input": x})
    want = model.eval()(x)
    want = np.asarray(want.value if isinstance(want, cr.Node) else want)
    assert got.dtype == want.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_embedding_takes_integer_inputs(tmp_path):
    nn.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4), nn.Flatten(), nn.Linear(12, 2))
    path, proto = exported(model, np.array([[1, 2, 3]]), tmp_path)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    idx = np.random.default_rng(0).integers(0, 10, (5, 3))
    np.testing.assert_allclose(run(path, {"input": idx})[0], model(idx).value, atol=1e-5, rtol=0)


def test_export_does_not_touch_running_statistics(tmp_path):
    model = warmed(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)), rand(8, 3))
    before = model.state_dict()
    exported(model, rand(8, 3, seed=1) + 5, tmp_path)
    for key, value in model.state_dict().items():
        assert value.tobytes() == before[key].tobytes(), key


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.left, self.right = nn.Linear(3, 4), nn.Linear(2, 4)

    def forward(self, a, b):
        h = cr.relu(self.left(a)) + cr.tanh(self.right(b))
        return cr.softmax(h), cr.mean(h, axis=1)


def test_custom_module_with_two_inputs_and_outputs(tmp_path):
    nn.manual_seed(0)
    model = TwoInputs()
    path, proto = exported(model, (rand(2, 3), rand(2, 2)), tmp_path)
    assert [i.name for i in proto.graph.input] == ["input_0", "input_1"]
    assert [o.name for o in proto.graph.output] == ["output_0", "output_1"]
    assert {"left.weight", "left.bias", "right.weight", "right.bias"} <= {i.name for i in proto.graph.initializer}
    a, b = rand(6, 3, seed=4), rand(6, 2, seed=5)
    for got, want in zip(run(path, {"input_0": a, "input_1": b}), model(a, b)):
        np.testing.assert_allclose(got, want.value, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_digits_models(tmp_path, kind):
    train, test = cr.datasets.load("digits", image=kind == "cnn")
    nn.manual_seed(0)
    model = build_model(kind, train)  # the models of chainrule train --model mlp / cnn
    cr.fit(
        model,
        cr.cross_entropy,
        cr.optim.AdamW(model.parameters(), lr=2e-3),
        train,
        epochs=1,
        batch_size=64,
        progress=False,
    )
    path, _ = exported(model, test.X[:1], tmp_path)
    (logits,) = run(path, {"input": test.X})
    want = model.eval()(test.X).value
    np.testing.assert_allclose(logits, want, atol=1e-5, rtol=0)
    assert np.array_equal(logits.argmax(1), want.argmax(1))
    assert np.mean(logits.argmax(1) == test.y) == pytest.approx(cr.evaluate(model, test)["accuracy"])


def lesson():
    cr.set_default_dtype("float64")
    x, y = cr.Placeholder(name="x"), cr.Placeholder(name="y")
    k, b = cr.Variable(0.35915077292816744, name="k"), cr.Variable(0.3737660632429008, name="b")
    loss = cr.MSE(y, cr.Sigmoid(cr.Linear(x, k, b, name="linear"), name="sigmoid"), name="loss")
    return cr.Graph(loss), x, y


def test_the_lessons_graph_exports(tmp_path):
    graph, x, y = lesson()
    path, proto = exported(graph, {x: 3.0, y: 0.6087876106387002}, tmp_path)
    assert [i.name for i in proto.graph.input] == ["x", "y"] and [o.name for o in proto.graph.output] == ["loss"]
    initial = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    assert initial["k"] == 0.35915077292816744 and initial["b"] == 0.3737660632429008
    for xv, yv in [(3.0, 0.6087876106387002), (-1.5, 0.2)]:
        (got,) = run(path, {"x": np.array(xv), "y": np.array(yv)})
        assert got.dtype == np.float64
        assert got == pytest.approx(graph.forward({x: xv, y: yv}), rel=1e-15, abs=0)
    assert run(path, {"x": np.array(3.0), "y": np.array(0.6087876106387002)})[0] == pytest.approx(
        0.04056126022042443, rel=1e-15
    )  # the lesson's own number


def test_an_output_node_exports_with_its_last_values(tmp_path):
    graph, x, y = lesson()
    graph.forward({x: 1.0, y: 0.5})
    path, _ = exported(graph.output, None, tmp_path)
    assert run(path, {"x": np.array(1.0), "y": np.array(0.5)})[0] == pytest.approx(graph.output.value, rel=1e-15)


W = rand(4, 3, seed=7)
OPS = {
    "add sub mul div": lambda x, v: (x + 1.5) * v / 2 - x,
    "pow neg abs": lambda x, v: -(abs(x - 1) ** 3),
    "exp log sqrt": lambda x, v: cr.exp(x) + cr.log(x) * cr.sqrt(x),
    "sin cos sign": lambda x, v: cr.sin(x) * cr.cos(v) + cr.sign(x - 1),
    "maximum minimum": lambda x, v: cr.maximum(x, 1.0) + cr.minimum(x, v),
    "where compare": lambda x, v: cr.where(x > 1, x, -x) + cr.where(x <= v, np.float32(1), np.float32(0)),
    "compare cast": lambda x, v: (
        cr.astype(x == x, "float32")
        + cr.astype(x != v, "float32")
        + cr.astype(x >= 1, "float32")
        + cr.astype(x < 1, "float32")
    ),
    "clip": lambda x, v: cr.clip(x, 0.7, 1.5) + cr.clip(v, high=0.2),
    "activations": lambda x, v: cr.softplus(v) + cr.sigmoid(x) * cr.tanh(v) + cr.relu(v) + cr.leaky_relu(x - v, 0.3),
    "gelu softmax": lambda x, v: cr.gelu(v - x) + cr.softmax(x, axis=0) + cr.log_softmax(v * x),
    "matmul linear": lambda x, v: cr.matmul(x, cr.transpose(v)) + cr.linear(x, cr.transpose(v), 1.0),
    "reductions": lambda x, v: (
        cr.sum(x, axis=1)
        + cr.mean(v, axis=0, keepdims=True).reshape(-1)[:1]
        + cr.max(x)
        + cr.min(v, axis=-1)
        + cr.var(x, axis=1, ddof=1)
        + cr.var(v, axis=(0, 1))
    ),
    "reshape transpose": lambda x, v: cr.reshape(x, (3, 4)) + cr.transpose(v) + cr.swapaxes(v),
    "permute squeeze unsqueeze": lambda x, v: (
        cr.permute(cr.unsqueeze(x, 0), 2, 1, 0).squeeze(2) + cr.squeeze(cr.unsqueeze(v, 1)).T
    ),
    "broadcast expand": lambda x, v: cr.broadcast_to(x[:, :1], (4, 3)) + cr.expand(v[:1], -1, 3),
    "concat stack pad": lambda x, v: (
        cr.concat([x, v * 2], axis=1) + cr.stack([x, v], axis=-1).reshape(4, 6) + cr.pad(x, ((0, 0), (2, 1)), value=0.5)
    ),
    "basic indexing": lambda x, v: (
        x[1:3].sum() + x[:, 0].sum() + v[..., ::-1][-1] + x[::-2, 1:].sum(axis=0)[0] + x[-2, ::-1]
    ),
    "integer array index": lambda x, v: x[np.array([0, 2, 2])] + v[1:, :],
    "mse": lambda x, v: cr.mse(x, v) + cr.mse(x, v, reduction="sum") + cr.mse(x, v, reduction="none"),
}


@pytest.mark.parametrize("name", list(OPS))
def test_op_table_matches_onnxruntime(tmp_path, name):
    x = cr.Placeholder(name="x")
    v = cr.Variable(W, name="v")
    out = OPS[name](x, v)
    graph = cr.Graph(out)
    feed = np.random.default_rng(1).uniform(0.5, 2.0, (4, 3)).astype(np.float32)
    path, _ = exported(graph, {x: feed}, tmp_path)
    (got,) = run(path, {"x": feed})
    assert got.dtype == out.value.dtype == np.float32
    np.testing.assert_allclose(got, out.value, atol=1e-5, rtol=1e-6)


def test_gelu_exact_form_matches_pytorch(tmp_path):
    x = cr.Placeholder(name="x")
    out = cr.gelu(x)
    out.approximate = "none"  # the exact, erf form (an option of the op)
    feed = rand(5, 4) * 3
    path, _ = exported(cr.Graph(out), {x: feed}, tmp_path)
    want = torch.nn.functional.gelu(torch.from_numpy(feed), approximate="none").numpy()
    np.testing.assert_allclose(run(path, {"x": feed})[0], want, atol=1e-5, rtol=0)
    out.approximate = "sigmoid"
    with pytest.raises(ExportError, match="approximate='tanh' and 'none', not 'sigmoid'"):
        cr.onnx.export(cr.Graph(out), {x: feed}, tmp_path / "bad.onnx")


def test_an_op_without_mapping_is_named(tmp_path):
    x = cr.Placeholder(name="logits")
    loss = cr.cross_entropy(x, np.array([0, 1]))
    with pytest.raises(
        ExportError,
        match=r"no mapping for op CrossEntropy \('crossentropy_\d+'\); the ops that "
        r"export are .*Conv2D",
    ):
        cr.onnx.export(cr.Graph(loss), {x: rand(2, 3)}, tmp_path / "ce.onnx")
    assert not (tmp_path / "ce.onnx").exists()


def test_an_unhandled_option_value_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(ops.Conv2D, "padding_mode", "zeros", raising=False)  # an option added later
    x = cr.Placeholder(name="x")
    w = cr.Variable(rand(2, 1, 3, 3))
    plain = ops.Conv2D(x, w, stride=(1, 1), padding=(1, 1), padding_mode="zeros")  # the default: exports
    exported(cr.Graph(plain), {x: rand(1, 1, 5, 5)}, tmp_path)
    out = ops.Conv2D(x, w, stride=(1, 1), padding=(1, 1), padding_mode="reflect")
    with pytest.raises(ExportError, match=r"Conv2D \('.*'\) does not handle its option padding_mode='reflect'"):
        cr.onnx.export(cr.Graph(out), {x: rand(1, 1, 5, 5)}, tmp_path / "conv.onnx")


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="nn.Module, a Graph or a node"):
        cr.onnx.export(lambda x: x, rand(2), tmp_path / "f.onnx")
    with pytest.raises(ValueError, match="2 example inputs but 1 input names"):
        cr.onnx.export(TwoInputs(), (rand(2, 3), rand(2, 2)), tmp_path / "f.onnx", input_names=["a"])


def test_train_command_exports_the_cnn(tmp_path, capsys):
    onnx_path, weights = tmp_path / "cnn.onnx", tmp_path / "cnn.safetensors"
    pytest.importorskip("safetensors")
    assert (
        main("train --model cnn --epochs 1 --no-progress --save".split() + [str(weights), "--export", str(onnx_path)])
        == 0
    )
    assert f"wrote {onnx_path}" in capsys.readouterr().out
    train, test = cr.datasets.load("digits", image=True)
    model = cr.load(weights, into=build_model("cnn", train)).eval()
    (logits,) = run(onnx_path, {"input": test.X})
    np.testing.assert_allclose(logits, model(test.X).value, atol=1e-5, rtol=0)


def test_without_onnx_the_message_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[onnx\]'"):
        cr.onnx.export(nn.Linear(2, 2), rand(1, 2), tmp_path / "m.onnx")
    assert (
        main(
            "train --dataset iris --model linear --epochs 1 --no-progress --export".split() + [str(tmp_path / "m.onnx")]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "chainrule[onnx]" in err


class BatchStatistics(nn.Module):
    """Features against statistics over the batch: reductions over axis 0, broadcast back."""

    def forward(self, x):
        mean = cr.mean(x, axis=0, keepdims=True)
        return (x - mean) * cr.max(x, axis=0, keepdims=True), mean


@pytest.mark.parametrize("example_batch", [1, 3])
def test_reductions_over_the_batch_axis_stay_dynamic(tmp_path, example_batch):
    model = BatchStatistics()
    path, proto = exported(model, rand(example_batch, 4), tmp_path)
    dims = [[d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in proto.graph.output]
    assert dims == [["batch", 4], [1, 4]]  # the mean over the batch has one row, whatever the batch
    x = rand(6, 4, seed=1)
    for got, want in zip(run(path, {"input": x}), model(x)):
        np.testing.assert_allclose(got, np.asarray(want), atol=1e-6, rtol=0)
