"""The nn pieces PyTorch users reach for, against torch.nn: Parameter, ModuleList, ModuleDict,
Identity, Flatten/Unflatten, the functional forms (torch.nn.functional, values and gradients
under a random upstream gradient), cr.manual_seed, and options checked when a layer is built."""

import ast
import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

from oracle import Fixed, check_op

RNG = np.random.default_rng(0)


def build(module, lib, array):
    """Parameters as Parameter attributes, a ModuleList and a ModuleDict, in ``lib`` (nn or torch.nn)."""
    module.scale = lib.Parameter(array(np.linspace(0.5, 1.5, 4)))
    module.blocks = lib.ModuleList([lib.Linear(4, 4), lib.Linear(4, 4)])
    module.heads = lib.ModuleDict({"cls": lib.Linear(4, 3), "box": lib.Linear(4, 2)})


def scaled_forward(module, x):
    h = x * module.scale
    for block in module.blocks:
        h = block(h)
    return module.heads["cls"](h), module.heads["box"](h)


class Scaled(nn.Module):
    forward = scaled_forward
    scale: nn.Parameter  # set by build()
    blocks: nn.ModuleList
    heads: nn.ModuleDict

    def __init__(self):
        super().__init__()
        build(self, nn, np.asarray)


class TorchScaled(torch.nn.Module):
    forward = scaled_forward

    def __init__(self):
        super().__init__()
        build(self, torch.nn, torch.tensor)


def test_parameter_modulelist_moduledict_name_and_train_like_torch():
    torch.manual_seed(0)
    tmodel = TorchScaled().double()
    model = Scaled()
    model.to("float64")
    assert isinstance(model.scale, nn.Parameter) and isinstance(model.scale, cr.Variable)
    assert isinstance(model.blocks[0].weight, nn.Parameter)
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in tmodel.named_parameters()]
    assert list(model.state_dict()) == list(tmodel.state_dict())
    model.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
    x = RNG.standard_normal((5, 4))
    (a, b), (ta, tb) = model(x), tmodel(torch.tensor(x))
    up_a, up_b = RNG.standard_normal(a.shape), RNG.standard_normal(b.shape)
    (cr.sum(a * up_a) + cr.sum(b * up_b)).backward()
    ((ta * torch.tensor(up_a)).sum() + (tb * torch.tensor(up_b)).sum()).backward()
    np.testing.assert_allclose(a.value, ta.detach().numpy(), rtol=1e-10)
    tparams = dict(tmodel.named_parameters())
    for name, p in model.named_parameters():
        t_grad = tparams[name].grad
        assert t_grad is not None
        np.testing.assert_allclose(p.grad, t_grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
    assert [n for n, _ in model.named_modules()] == [n for n, _ in tmodel.named_modules()]
    assert [n for n, _ in model.named_children()] == [n for n, _ in tmodel.named_children()]


def test_modulelist_and_moduledict_edits_rename_like_torch():
    torch.manual_seed(0)
    ours = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 3)])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 3)])
    for lst, lib in ((ours, nn), (theirs, torch.nn)):
        lst.insert(0, lib.Linear(3, 2))
        lst.append(lib.Identity())
        lst.extend([lib.Linear(3, 1)])
        del lst[1]
        lst[0] = lib.Linear(3, 2, bias=False)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(ours) == len(theirs) == 4 and isinstance(ours[-2], nn.Identity)
    assert list(ours[1:].state_dict()) == list(theirs[1:].state_dict())
    # (name, module) pairs here, a dict for torch (whose stubs take only a mapping)
    d, td = nn.ModuleDict([("a", nn.Linear(2, 2))]), torch.nn.ModuleDict({"a": torch.nn.Linear(2, 2)})
    for dd, lib in ((d, nn), (td, torch.nn)):
        dd["b"] = lib.Linear(2, 1)
        dd.update({"c": lib.Linear(1, 1)})
        dd.pop("a")
    assert list(d.state_dict()) == list(td.state_dict()) and list(d.keys()) == list(td.keys())
    assert "b" in d and "a" not in d
    with pytest.raises(TypeError, match="not a Module"):
        nn.ModuleList([np.ones(2)])  # type: ignore[list-item]  # the wrong type under test
    with pytest.raises(KeyError, match="'a.b'"):
        d["a.b"] = nn.Identity()
    with pytest.raises(NotImplementedError):
        ours(np.ones(2))


def test_parameter_takes_torchs_arguments():
    p = nn.Parameter(np.arange(3.0))
    assert p.requires_grad and p.dtype == np.float64  # floating data keeps its dtype
    assert nn.Parameter(np.arange(3)).dtype == np.float32  # integers become the default float
    assert not nn.Parameter(np.ones(2), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    v = cr.Variable(np.ones(2))
    assert nn.Parameter(v).value is v.value
    model = nn.Module()
    model.register_parameter("w", nn.Parameter(np.ones(2)))
    model.add_module("lin", nn.Linear(2, 1))
    assert [n for n, _ in model.named_parameters()] == ["w", "lin.weight", "lin.bias"]
    with pytest.raises(TypeError, match="Variable or Parameter"):
        model.register_parameter("x", np.ones(2))  # type: ignore[arg-type]  # the wrong type under test


@pytest.mark.parametrize(
    "make, tmake, shape",
    [
        (lambda: nn.Flatten(), lambda: torch.nn.Flatten(), (2, 3, 4, 5)),
        (lambda: nn.Flatten(0, 2), lambda: torch.nn.Flatten(0, 2), (2, 3, 4, 5)),
        (lambda: nn.Flatten(-3, -2), lambda: torch.nn.Flatten(-3, -2), (2, 3, 4, 5)),
        (lambda: nn.Flatten(1, 1), lambda: torch.nn.Flatten(1, 1), (2, 3)),
        (lambda: nn.Unflatten(1, (3, 4)), lambda: torch.nn.Unflatten(1, (3, 4)), (2, 12, 5)),
        (lambda: nn.Unflatten(-1, (2, -1)), lambda: torch.nn.Unflatten(-1, (2, -1)), (3, 8)),
        (lambda: nn.Identity(54, unused="x"), lambda: torch.nn.Identity(54, unused="x"), (3, 2)),
    ],
)
def test_shape_layers_match_torch(make, tmake, shape):
    layer, tlayer = make(), tmake()
    check_op(layer, tlayer, [shape])
    check_op(layer, tlayer, [shape], dtype=np.float32)


def test_shape_layer_errors():
    with pytest.raises(cr.errors.ShapeError, match=r"sizes \(3, 5\) do not multiply to 12"):
        nn.Unflatten(1, (3, 5))(np.ones((2, 12)))
    with pytest.raises(cr.errors.ShapeError, match="out of range"):
        nn.Flatten(2)(np.ones((2, 3)))
    with pytest.raises(cr.errors.ShapeError, match=r"end_dim=-4\) of shape \(2, 3, 4\): dimension -4 is out of range"):
        nn.Flatten(0, -4)(np.ones((2, 3, 4)))
    with pytest.raises(
        cr.errors.ShapeError, match=r"start_dim=-1, end_dim=0\) of shape \(2, 3, 4\): start_dim comes after"
    ):
        nn.Flatten(-1, 0)(np.ones((2, 3, 4)))
    with pytest.raises(cr.errors.OptionError, match="unflattened_size"):
        nn.Unflatten(0, (-1, -1))
    with pytest.raises(cr.errors.OptionError, match="start_dim"):
        nn.Flatten(1.5)  # type: ignore[arg-type]  # the wrong type under test


FUNCTIONAL = [
    ("relu", F.relu, TF.relu, [(3, 4)]),
    ("tanh", F.tanh, torch.tanh, [(3, 4)]),
    ("sigmoid", F.sigmoid, torch.sigmoid, [(3, 4)]),
    ("softplus", F.softplus, TF.softplus, [(3, 4)]),
    ("softplus beta", lambda x: F.softplus(x, 2.0, 1.0), lambda x: TF.softplus(x, 2.0, 1.0), [(3, 4)]),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), [(3, 4)]),
    ("gelu", F.gelu, TF.gelu, [(3, 4)]),
    ("gelu tanh", lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh"), [(3, 4)]),
    ("softmax", lambda x: F.softmax(x, dim=0), lambda x: TF.softmax(x, dim=0), [(3, 4)]),
    ("log_softmax", lambda x: F.log_softmax(x, dim=-1), lambda x: TF.log_softmax(x, dim=-1), [(2, 3, 4)]),
    ("linear", F.linear, TF.linear, [(5, 4), (3, 4), (3,)]),
    ("linear no bias", F.linear, TF.linear, [(2, 5, 4), (3, 4)]),
    (
        "layer_norm",
        lambda x, w, b: F.layer_norm(x, (3, 4), w, b),
        lambda x, w, b: TF.layer_norm(x, (3, 4), w, b),
        [(2, 3, 4), (3, 4), (3, 4)],
    ),
    (
        "batch_norm train",
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
        [(4, 3, 5), (3,), (3,)],
    ),
    (
        "batch_norm eval",
        lambda x, w, b: F.batch_norm(x, np.full(3, 0.5, x.dtype), np.full(3, 2.0, x.dtype), w, b),
        lambda x, w, b: TF.batch_norm(
            x, torch.full((3,), 0.5, dtype=x.dtype), torch.full((3,), 2.0, dtype=x.dtype), w, b
        ),
        [(4, 3, 2, 2), (3,), (3,)],
    ),
    (
        "embedding",
        lambda i, w: F.embedding(i, w),
        lambda i, w: TF.embedding(i, w),
        [Fixed(np.array([[1, 3, 3], [0, 4, 1]])), (5, 2)],
    ),
    ("mse_loss", F.mse_loss, TF.mse_loss, [(3, 4), (3, 4)]),
    (
        "mse_loss sum",
        lambda a, b: F.mse_loss(a, b, reduction="sum"),
        lambda a, b: TF.mse_loss(a, b, reduction="sum"),
        [(3, 4), (3, 4)],
    ),
    ("cross_entropy", F.cross_entropy, TF.cross_entropy, [(5, 3), Fixed(np.array([0, 2, 1, 1, 0]))]),
    (
        "cross_entropy none",
        lambda a, b: F.cross_entropy(a, b, reduction="none"),
        lambda a, b: TF.cross_entropy(a, b, reduction="none"),
        [(5, 3), Fixed(np.array([0, 2, 1, 1, 0]))],
    ),
    ("nll_loss", F.nll_loss, TF.nll_loss, [(5, 3), Fixed(np.array([0, 2, 1, 1, 0]))]),
    (
        "binary_cross_entropy",
        F.binary_cross_entropy,
        TF.binary_cross_entropy,
        [(6,), Fixed(np.array([0.0, 1.0, 1.0, 0.0, 0.5, 1.0]))],
    ),
    (
        "binary_cross_entropy_with_logits",
        F.binary_cross_entropy_with_logits,
        TF.binary_cross_entropy_with_logits,
        [(6,), Fixed(np.array([0.0, 1.0, 1.0, 0.0, 0.5, 1.0]))],
    ),
    (
        "conv2d",
        lambda x, w: F.conv2d(x, w, padding=1),
        lambda x, w: TF.conv2d(x, w, padding=1),
        [(2, 3, 5, 5), (4, 3, 3, 3)],
    ),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [(2, 3, 4, 4)]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2), [(2, 3, 4, 4)]),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, fn, tfn, args", FUNCTIONAL, ids=[c[0] for c in FUNCTIONAL])
def test_functional_matches_torch(name, fn, tfn, args, dtype):
    low = 0.05 if name == "binary_cross_entropy" else None
    check_op(fn, tfn, args, dtype=dtype, low=low, high=0.95 if low else None)


def test_functional_dropout_is_inverted_dropout_with_a_fresh_mask():
    x = cr.Variable(np.ones((200, 50)))
    assert F.dropout(x, 0.3, training=False) is x and F.dropout(x, 0.0) is x
    cr.manual_seed(0)
    a = F.dropout(x, 0.25)
    b = F.dropout(x, 0.25)
    assert not np.array_equal(a.value, b.value)
    kept = a.value != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(a.value[kept], 1 / 0.75)
    a.backward(np.ones(a.shape))
    np.testing.assert_allclose(x.grad, kept / 0.75)
    np.testing.assert_array_equal(F.dropout(x, 1.0).value, 0)
    with pytest.raises(cr.errors.OptionError, match="dropout: p=1.5"):
        F.dropout(x, 1.5)


def test_manual_seed_at_the_top_level_is_nn_manual_seed():
    assert "manual_seed" in cr.__all__ and cr.manual_seed is nn.manual_seed
    cr.manual_seed(7)
    a, mask_a = nn.Linear(4, 3).weight.value, nn.Dropout(0.5)(np.ones((4, 4), np.float32))
    nn.manual_seed(7)
    b, mask_b = nn.Linear(4, 3).weight.value, nn.Dropout(0.5)(np.ones((4, 4), np.float32))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(mask_a, mask_b)


@pytest.mark.parametrize(
    "make, option",
    [
        (lambda: nn.Linear(0, 3), "in_features"),
        (lambda: nn.Embedding(3, -1), "embedding_dim"),
        (lambda: nn.LayerNorm(4, eps=0), "eps"),
        (lambda: nn.LayerNorm((4, 0)), "normalized_shape"),
        (lambda: nn.BatchNorm1d(3, momentum=2.0), "momentum"),
        (lambda: nn.GELU(approximate="erf"), "approximate"),
        (lambda: nn.LeakyReLU(negative_slope="0.1"), "negative_slope"),  # type: ignore[arg-type]  # the wrong type under test
        (lambda: nn.Softmax(dim=1.0), "dim"),  # type: ignore[arg-type]  # the wrong type under test
        (lambda: nn.Dropout(-0.1), "p"),
        (lambda: nn.MLP([4, 3], dropout=2), "dropout"),
        (lambda: nn.MLP([4], dropout=0.1), "sizes"),
        (lambda: nn.CrossEntropyLoss(reduction="avg"), "reduction"),
        (lambda: nn.MSELoss(reduction=None), "reduction"),  # type: ignore[arg-type]  # the wrong type under test
    ],
)
def test_layer_options_are_checked_when_built(make, option):
    with pytest.raises(cr.errors.OptionError, match=rf": {option}="):
        make()


def readme_section(name):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    return text[text.index(f"<!-- section: {name} -->") : text.index(f"<!-- /section: {name} -->")]


def run_statements(source, namespace):
    """Run ``source`` statement by statement; one whose comment names an error must raise it, with
    that message. Returns what it printed."""
    lines, out = source.splitlines(), io.StringIO()
    with contextlib.redirect_stdout(out):
        for statement in ast.parse(source).body:
            code = compile(ast.Module([statement], []), "README", "exec")
            error = re.match(r"(\w+Error): (.*)$", lines[statement.end_lineno - 1].partition("# ")[2])
            if error is None:
                exec(code, namespace)
                continue
            with pytest.raises(Exception) as info:
                exec(code, namespace)
            assert (type(info.value).__name__, str(info.value)) == error.groups()
    return out.getvalue()


def test_the_readme_layers_and_optimizers_section_runs_as_shown():
    text = readme_section("nn-optim")
    code = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    shown = re.findall(r"^```text\n(.*?)^```", text, flags=re.S | re.M)
    assert len(code) == len(shown) == 2
    namespace: dict = {}
    for source, output in zip(code, shown):
        assert run_statements(source, namespace) == output


def test_module_dtype_freeze_and_apply_helpers_work_as_in_torch():
    """double()/float()/half(), requires_grad_(False) to freeze, and apply(fn) children first."""
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.ReLU(), cr.nn.Sequential(cr.nn.Linear(4, 2)))
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Sequential(torch.nn.Linear(4, 2)))
    assert model.double() is model and all(p.dtype == np.float64 for p in model.parameters())
    assert model.half() is model and all(p.dtype == np.float16 for p in model.parameters())
    assert model.float() is model and all(p.dtype == np.float32 for p in model.parameters())
    seen: list[str] = []
    tseen: list[str] = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    tmodel.apply(lambda m: tseen.append(type(m).__name__))
    assert seen == tseen  # children before their parent, in PyTorch's order
    first = model[0]
    first.requires_grad_(False)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    frozen = first.weight.value.copy()
    x = cr.tensor(np.ones((5, 3), np.float32))
    cr.sum(model(x)).backward()
    opt.step()
    assert first.weight.grad is None and np.array_equal(first.weight.value, frozen)
    assert model[2][0].weight.grad is not None
    assert model.requires_grad_() is model and first.weight.requires_grad
