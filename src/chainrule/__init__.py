"""chainrule: automatic differentiation on computational graphs, grown from a lesson.

    import chainrule as cr
    x, y = cr.Placeholder(name="x"), cr.Placeholder(name="y")
    k, b = cr.Variable(0.36, name="k"), cr.Variable(0.37, name="b")
    loss = cr.MSE(y, cr.Sigmoid(cr.Linear(x, k, b)))
    graph = cr.Graph(loss)
    graph.forward({x: 3.0, y: 0.61}); graph.backward(); k.grad
"""
# the engine, bottom up (DESIGN.md's layers)
from . import errors
from .dtype import get_default_dtype, set_default_dtype
from .node import Constant, Node, Placeholder, Variable, as_node, is_grad_enabled, no_grad, tensor
from .op import Op
from .ops import *  # noqa: F403 - every op class and function is public
from .graph import Graph, backward, grad, topological_sort
from .check import gradcheck, gradgradcheck
# seeing the chain rule
from .see.explain import explain
from .see.explore import explore
# the training stack
from . import data, datasets, metrics, nn, optim
from .serialize import load, save
from .training import Callback, EarlyStopping, History, evaluate, fit

__version__ = "0.1.0"
