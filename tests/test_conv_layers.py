"""cr.nn convolution and pooling layers against torch.nn with the same weights (values, input and
parameter gradients), built in define-then-run graphs, their initialisation, reprs and option errors."""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from test_nn import RNG, compare, same_weights

from oracle import raises_naming

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

LAYERS = [
    (lambda m: m.Conv1d(3, 4, 3), (2, 3, 9)),
    (lambda m: m.Conv1d(4, 6, 4, stride=2, padding=1, dilation=2, groups=2, bias=False), (2, 4, 12)),
    (lambda m: m.Conv1d(2, 4, 3, padding="same"), (2, 7)),
    (lambda m: m.Conv2d(3, 4, 3, padding=1), (2, 3, 6, 5)),
    (lambda m: m.Conv2d(4, 8, (3, 2), stride=(2, 1), padding="valid", dilation=(1, 2), groups=4), (2, 4, 7, 6)),
    (lambda m: m.Conv2d(3, 3, 3, padding="same", groups=3), (3, 5, 5)),  # depthwise, unbatched
    (lambda m: m.MaxPool1d(3, 2, 1, ceil_mode=True), (2, 3, 8)),
    (lambda m: m.MaxPool2d(2), (2, 3, 6, 6)),
    (lambda m: m.MaxPool2d(3, 2, 1, dilation=1, ceil_mode=True), (3, 7, 7)),
    (lambda m: m.AvgPool1d(3, 2, 1, count_include_pad=False), (2, 3, 8)),
    (lambda m: m.AvgPool2d(3, 1, 1), (1, 2, 5, 5)),
    (lambda m: m.AvgPool2d(3, 2, 1, ceil_mode=True, divisor_override=4), (2, 2, 6, 6)),
    (lambda m: m.AdaptiveAvgPool1d(3), (2, 3, 7)),
    (lambda m: m.AdaptiveAvgPool2d((2, None)), (2, 3, 5, 4)),
    (lambda m: m.AdaptiveAvgPool2d(1), (3, 5, 4)),
]


@pytest.mark.parametrize("make, shape", LAYERS)
def test_layer_matches_torch(make, shape):
    torch.manual_seed(0)
    compare(make(nn), make(torch.nn), RNG.standard_normal(shape))


@pytest.mark.parametrize("make, shape", LAYERS)
def test_layer_in_a_define_then_run_graph(make, shape):
    """Built on a placeholder with no value, run by Graph with two different batches."""
    torch.manual_seed(0)
    layer, tlayer = make(nn), make(torch.nn).double()
    same_weights(layer, tlayer)
    x = cr.Placeholder(name="x")
    graph = cr.Graph(cr.sum(layer(x) ** 2))
    for batch in (shape, shape[:-1] + (shape[-1] + 2,)):
        data = RNG.standard_normal(batch)
        tx = torch.tensor(data, requires_grad=True)
        (tlayer(tx) ** 2).sum().backward()
        np.testing.assert_allclose(graph.forward({x: data}), (tlayer(tx) ** 2).sum().item(), rtol=1e-10)
        graph.backward()
        assert tx.grad is not None
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_reprs_read_like_torch():
    assert repr(nn.Conv2d(3, 8, 3, padding=1)) == "Conv2d(3, 8, kernel_size=(3, 3), stride=1, padding=1)"
    assert (
        repr(nn.Conv1d(4, 4, 3, groups=4, bias=False)) == "Conv1d(4, 4, kernel_size=3, stride=1, groups=4, bias=False)"
    )
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AdaptiveAvgPool2d(1)) == "AdaptiveAvgPool2d(output_size=1)"


@pytest.mark.parametrize(
    "make, option",
    [
        (lambda: nn.Conv2d(3, 8, 3, stride=0), "stride=0"),
        (lambda: nn.Conv2d(3, 8, 0), "kernel_size=0"),
        (lambda: nn.Conv2d(3, 8, 3, groups=2), "in_channels=3"),
        (lambda: nn.Conv2d(4, 6, 3, groups=4), "out_channels=6"),
        (lambda: nn.Conv2d(3, 8, 3, padding="same", stride=2), "padding='same'"),
        (lambda: nn.Conv2d(3, 8, 3, padding_mode="reflect"), "padding_mode='reflect'"),
        (lambda: nn.Conv1d(3, 8, (3, 3)), "kernel_size=(3, 3)"),
        (lambda: nn.MaxPool2d(2, padding=2), "padding=2"),
        (lambda: nn.MaxPool1d(2, dilation=0), "dilation=0"),
        (lambda: nn.AvgPool2d(2, divisor_override=0), "divisor_override=0"),
        (lambda: nn.AvgPool1d(2, ceil_mode="no"), "ceil_mode='no'"),  # type: ignore[arg-type]  # the wrong type under test
        (lambda: nn.AdaptiveAvgPool2d((0, 1)), "output_size=(0, 1)"),
    ],
)
def test_bad_options_raise_when_the_layer_is_built(make, option):
    raises_naming(cr.errors.OptionError, make, f"{option} is not")


def test_wrong_input_names_the_layer():
    with pytest.raises(cr.errors.ShapeError, match=r"Conv2d\(3, 8\).*C = 3.*\(2, 4, 5, 5\)"):
        nn.Conv2d(3, 8, 3)(np.ones((2, 4, 5, 5)))
    with pytest.raises(cr.errors.ShapeError, match=r"Conv1d\(3, 8\).*\(2, 3, 5, 5\)"):
        nn.Conv1d(3, 8, 3)(np.ones((2, 3, 5, 5)))
