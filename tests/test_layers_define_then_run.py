"""Every layer define-then-run: built on a value-less Placeholder, then run by cr.Graph, it gives
the same values and gradients as eagerly (and as torch.nn given the same weights), on batches
of different sizes; checks that need values happen when values exist, with the same errors."""

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

RNG = np.random.default_rng(0)


def load_torch(module, tmodule):
    module.to("float64")
    module.load_state_dict({k: v.detach().numpy() for k, v in tmodule.double().state_dict().items()})


def eager(module, x, up, seed):
    """Output, input gradient (None for integer input) and parameter gradients, eagerly.
    ``up``: the upstream gradient, or a function making one for the output's shape."""
    module.zero_grad()
    cr.manual_seed(seed)
    node = cr.Variable(x) if x.dtype.kind == "f" else cr.Constant(x)
    out = module(node)
    cr.sum(out * (up(out.shape) if callable(up) else up)).backward()
    return out.value, node.grad, {n: p.grad for n, p in module.named_parameters()}


class Deferred:
    """The module built once on placeholders; ``run`` feeds a batch and runs the graph."""

    def __init__(self, module, integer=False):
        self.module = module
        self.x = cr.Placeholder(name="x", requires_grad=not integer)
        self.up = cr.Placeholder(name="up", requires_grad=False)
        self.out = module(self.x)
        assert self.out.value is None  # nothing computed yet
        self.graph = cr.Graph(cr.sum(self.out * self.up))

    def run(self, x, up, seed):
        cr.manual_seed(seed)
        self.graph.forward({self.x: x, self.up: up})
        self.graph.backward()
        grad = self.x.grad if self.x.requires_grad else None
        return self.out.value, grad, {n: p.grad for n, p in self.module.named_parameters()}


def torch_run(tmodule, x, up):
    tx = torch.tensor(x, requires_grad=x.dtype.kind == "f")
    tout = tmodule(tx)
    (tout * torch.tensor(up)).sum().backward()
    grads = {n: p.grad.numpy() for n, p in tmodule.named_parameters()}
    tmodule.zero_grad()
    return tout.detach().numpy(), None if tx.grad is None else tx.grad.numpy(), grads


def assert_results(a, b, exact, what):
    check = (
        np.testing.assert_array_equal
        if exact
        else (lambda u, v, err_msg: np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-12, err_msg=err_msg))
    )
    check(a[0], b[0], err_msg=f"{what}: output")
    if b[1] is not None:
        check(a[1], b[1], err_msg=f"{what}: input gradient")
    assert sorted(a[2]) == sorted(b[2])
    for name in b[2]:
        check(a[2][name], b[2][name], err_msg=f"{what}: gradient of {name}")


LAYERS = {
    "Linear": (lambda: nn.Linear(4, 3), lambda: torch.nn.Linear(4, 3), lambda n: (n, 4)),
    "Linear 3-D": (lambda: nn.Linear(4, 3), lambda: torch.nn.Linear(4, 3), lambda n: (n, 2, 4)),
    "LayerNorm": (lambda: nn.LayerNorm((2, 4)), lambda: torch.nn.LayerNorm((2, 4)), lambda n: (n, 3, 2, 4)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(3), lambda: torch.nn.BatchNorm1d(3), lambda n: (n + 1, 3)),
    "BatchNorm1d 3-D": (lambda: nn.BatchNorm1d(3), lambda: torch.nn.BatchNorm1d(3), lambda n: (n, 3, 4)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(2), lambda: torch.nn.BatchNorm2d(2), lambda n: (n, 2, 3, 3)),
    "Embedding": (lambda: nn.Embedding(6, 3), lambda: torch.nn.Embedding(6, 3), lambda n: (n, 5)),
    "Flatten": (lambda: nn.Flatten(), lambda: torch.nn.Flatten(), lambda n: (n, 2, 3)),
    "Unflatten": (lambda: nn.Unflatten(1, (2, -1)), lambda: torch.nn.Unflatten(1, (2, -1)), lambda n: (n, 6)),
    "Identity": (lambda: nn.Identity(), lambda: torch.nn.Identity(), lambda n: (n, 3)),
    "ReLU": (lambda: nn.ReLU(), lambda: torch.nn.ReLU(), lambda n: (n, 3)),
    "GELU": (lambda: nn.GELU(), lambda: torch.nn.GELU(), lambda n: (n, 3)),
    "GELU tanh": (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh"), lambda n: (n, 3)),
    "LogSoftmax": (lambda: nn.LogSoftmax(1), lambda: torch.nn.LogSoftmax(1), lambda n: (n, 3)),
    "MLP": (
        lambda: nn.MLP([4, 5, 2], activation="tanh"),
        lambda: torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)),
        lambda n: (n, 4),
    ),
    "LayerNorm MLP": (
        lambda: nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.ReLU(), nn.Linear(6, 2)),
        lambda: torch.nn.Sequential(
            torch.nn.Linear(4, 6), torch.nn.LayerNorm(6), torch.nn.ReLU(), torch.nn.Linear(6, 2)
        ),
        lambda n: (n, 4),
    ),
}


def data(shape, integer):
    return RNG.integers(0, 6, size=shape) if integer else RNG.standard_normal(shape) * 2 + 0.5


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_layer_define_then_run_equals_eager_and_torch(kind, train):
    make, tmake, shape = LAYERS[kind]
    torch.manual_seed(0)
    tmodule = tmake()
    with torch.no_grad():  # non-trivial affine parameters and running statistics
        for name, p in tmodule.named_parameters():
            if "weight" in name and p.ndim == 1:
                p.uniform_(0.5, 1.5)
        for name, tbuf in tmodule.named_buffers():
            if name.endswith("running_var"):
                tbuf.uniform_(0.5, 2.0)
    module_e, module_g = make(), make()
    load_torch(module_e, tmodule), load_torch(module_g, tmodule)
    for m in (module_e, module_g, tmodule):
        m.train(train)
    integer = kind == "Embedding"
    deferred = Deferred(module_g, integer)
    for step, n in enumerate((4, 2, 5)):  # a different batch size on every run
        x = data(shape(n), integer)
        ups: list[np.ndarray] = []
        results_e = eager(
            module_e, x, lambda shape, ups=ups: ups.append(RNG.standard_normal(shape)) or ups[0], seed=step
        )
        up = ups[0]
        results_g = deferred.run(x, up, seed=step)
        assert_results(results_g, results_e, exact=True, what=f"{kind} run {step}: graph vs eager")
        assert_results(results_e, torch_run(tmodule, x, up), exact=False, what=f"{kind} run {step}: torch")
        for (name, b), (_, tb) in zip(module_g.named_buffers(), tmodule.named_buffers()):
            np.testing.assert_allclose(b, tb.numpy(), rtol=1e-10, err_msg=name)
            np.testing.assert_array_equal(b, dict(module_e.named_buffers())[name], err_msg=name)


def test_dropout_define_then_run_draws_a_fresh_mask_each_run_like_eager():
    layer = nn.Dropout(0.5)
    deferred = Deferred(layer)
    x, up = RNG.standard_normal((6, 5)), RNG.standard_normal((6, 5))
    masks = []
    for seed in (0, 1):
        graph_result = deferred.run(x, up, seed)
        assert_results(graph_result, eager(layer, x, up, seed), exact=True, what="dropout")
        masks.append(graph_result[0] != 0)
        np.testing.assert_allclose(graph_result[1], masks[-1] * 2.0 * up)
    assert not np.array_equal(*masks)
    layer.eval()
    assert Deferred(layer).out is not None and nn.Dropout(0.5).eval()(deferred.x) is deferred.x


WEIGHT = cr.Variable(np.ones((5, 3)))
CHECKS = [
    (
        "layer_norm",
        lambda v: F.layer_norm(v, (3,)),
        np.ones((4, 2)),
        r"layer_norm over \(3,\): input shape \(4, 2\) does not end with it",
    ),
    (
        "batch_norm",
        lambda v: F.batch_norm(v, np.zeros(3), np.ones(3), training=True),
        np.ones((4, 2)),
        r"batch_norm expects \(N, C, \.\.\.\) input with at least 2 axes and 3 channels on axis 1, got shape \(4, 2\)",
    ),
    (
        "batch_norm of one",
        lambda v: F.batch_norm(v, np.zeros(3), np.ones(3), training=True),
        np.ones((1, 3)),
        "more than one value per channel",
    ),
    (
        "embedding",
        lambda i: F.embedding(i, WEIGHT),
        np.array([0, 7]),
        r"embedding indices must lie in \[0, 5\), got 0\.\.7",
    ),
    (
        "Linear",
        nn.Linear(3, 2),
        np.ones((4, 2)),
        r"Linear\(3, 2\) got input of shape \(4, 2\): its last axis must be 3",
    ),
    (
        "BatchNorm1d",
        nn.BatchNorm1d(3),
        np.ones((4, 2)),
        r"BatchNorm1d\(3\) expects .* 2 or 3 axes and 3 channels on axis 1, got shape \(4, 2\)",
    ),
    ("LayerNorm", nn.LayerNorm(3), np.ones(2), r"input shape \(2,\) does not end with it"),
    ("Unflatten", nn.Unflatten(1, (2, 2)), np.ones((3, 5)), r"sizes \(2, 2\) do not multiply to 5"),
]


@pytest.mark.parametrize("name, build, bad, message", CHECKS, ids=[c[0] for c in CHECKS])
def test_checks_wait_for_values_and_say_the_same_either_way(name, build, bad, message):
    x = cr.Placeholder(name="x", requires_grad=bad.dtype.kind == "f")
    node = build(x)
    assert node.value is None  # built on a placeholder: nothing to check yet
    with pytest.raises(cr.errors.ShapeError, match=message):
        build(bad)
    with pytest.raises(cr.errors.ShapeError, match=message):
        cr.Graph(node).forward({x: bad})


def test_indices_fed_to_a_differentiable_placeholder_stay_integers():
    i = cr.Placeholder(name="i")
    np.testing.assert_array_equal(cr.Graph(F.embedding(i, WEIGHT)).forward({i: np.array([1, 2])}), np.ones((2, 3)))
    with pytest.raises(cr.errors.ShapeError, match="embedding needs integer indices, got dtype float64"):
        cr.Graph(F.embedding(i, WEIGHT)).forward({i: np.array([1.0, 2.0])})


def test_an_eval_graph_built_before_loading_a_state_dict_uses_the_loaded_statistics():
    torch.manual_seed(0)
    tbn = torch.nn.BatchNorm1d(3).double()
    with torch.no_grad():
        assert tbn.running_mean is not None and tbn.running_var is not None
        tbn.running_mean.uniform_(-1, 1)
        tbn.running_var.uniform_(0.5, 2)
    bn = nn.BatchNorm1d(3).to("float64").eval()
    x = cr.Placeholder(name="x")
    graph = cr.Graph(bn(x))
    bn.load_state_dict({k: v.numpy() for k, v in tbn.state_dict().items()})
    data = RNG.standard_normal((4, 3))
    np.testing.assert_allclose(graph.forward({x: data}), tbn.eval()(torch.tensor(data)).detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "loss, tloss, head",
    [
        (nn.MSELoss(), torch.nn.MSELoss(), lambda z: z),
        (nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), lambda z: z),
        (nn.BCELoss(), torch.nn.BCELoss(), lambda z: z.sigmoid()),
    ],
)
def test_an_n_target_for_a_one_column_output_is_fitted_define_then_run_as_eagerly(loss, tloss, head):
    """The loss layers reshape an (N,) target to an (N, 1) output and cast integer targets: in a
    Graph (any batch size, compiled too) as eagerly. Before, a Graph compared every output with
    every target (MSE) or raised (binary cross-entropy)."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((6, 3)).astype(np.float32), np.arange(6) % 2
    model = nn.Linear(3, 1)
    tmodel = torch.nn.Linear(3, 1)
    tmodel.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    x, y = cr.Placeholder(name="x"), cr.Placeholder(name="y")
    graph = cr.Graph(loss(head(model(x)), y))
    fast = graph.compile()
    for n in (6, 4):
        tmodel.zero_grad()
        want = tloss(head(tmodel(torch.tensor(X[:n]))), torch.tensor(Y[:n], dtype=torch.float32)[:, None])
        want.backward()
        assert tmodel.weight.grad is not None
        for run in (graph, fast):
            value = run.forward({x: X[:n], y: Y[:n]})
            run.backward()
            assert np.asarray(value).dtype == np.float32
            np.testing.assert_allclose(value, want.item(), rtol=1e-5)
            np.testing.assert_allclose(model.weight.grad, tmodel.weight.grad.numpy(), rtol=1e-4, atol=1e-6)
    with pytest.raises(cr.errors.ShapeError, match=r"output shape \(6, 1\) and target shape \(6, 2\)"):
        graph.forward({x: X, y: np.zeros((6, 2))})
