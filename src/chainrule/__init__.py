"""chainrule: automatic differentiation on computational graphs, grown from a lesson.

    import chainrule as cr
    x, y = cr.Placeholder(name="x"), cr.Placeholder(name="y")
    k, b = cr.Variable(0.36, name="k"), cr.Variable(0.37, name="b")
    loss = cr.MSE(y, cr.Sigmoid(cr.Linear(x, k, b)))
    graph = cr.Graph(loss)
    graph.forward({x: 3.0, y: 0.61}); graph.backward(); k.grad
"""
from . import errors
from .check import gradcheck, gradgradcheck
from .dtype import get_default_dtype, set_default_dtype
from .explain import explain
from .graph import Graph, backward, grad, topological_sort
from .node import Constant, Node, Op, Placeholder, Variable, as_node, is_grad_enabled, no_grad, tensor
from .ops import *  # noqa: F401,F403 - every op class and function is public
from . import data, datasets, metrics, nn, optim  # noqa: E402 - the training stack sits above the ops
from .serialize import load, save  # noqa: E402
from .train import Callback, EarlyStopping, History, evaluate, fit  # noqa: E402

__version__ = "0.1.0"
