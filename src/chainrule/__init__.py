"""chainrule: automatic differentiation on computational graphs, grown from a lesson.

    import chainrule as cr
    x, y = cr.Placeholder(name="x"), cr.Placeholder(name="y")
    k, b = cr.Variable(0.36, name="k"), cr.Variable(0.37, name="b")
    loss = cr.MSE(y, cr.Sigmoid(cr.Linear(x, k, b)))
    graph = cr.Graph(loss)
    graph.forward({x: 3.0, y: 0.61}); graph.backward(); k.grad

This file assembles the layers (DESIGN.md): the engine, seeing the chain rule,
the training stack. ``__all__`` is the public face; internals stay reachable
through their modules.
"""

# The engine, the layer that shows the chain rule (``see.install()`` below attaches
# graph.explain/draw and the narrator to the engine) and the training stack.
from . import data, datasets, errors, nn, ops, optim, see
from ._version import __version__ as __version__
from .check import gradcheck, gradgradcheck
from .compile import CompiledGraph, compile  # noqa: A004 - cr.compile, as torch.compile; attaches Graph.compile
from .dtype import get_default_dtype, set_default_dtype
from .graph import Graph, backward, topological_sort
from .io import onnx
from .io.dlpack import from_dlpack
from .nn.init import manual_seed
from .node import Constant, Node, Placeholder, Variable, is_grad_enabled, no_grad, tensor
from .op import Op
from .ops import *  # noqa: F403 - the public operations, ops.__all__
from .see import Explanation, ModesExplanation, explain, narrate
from .see.explore import explore
from .serialize import load, save
from .train import Callback, EarlyStopping, History, evaluate, fit

# function transforms; ``grad`` is both torch.autograd.grad and jax.grad, told apart by its first argument
from .transforms import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp

see.install()
# ``cr.train`` would read as the training function (it is ``cr.fit``): the module stays
# importable as ``chainrule.train`` but is not an attribute of the package face.
del globals()["train"]  # bound by importing the submodule above

__all__ = [
    # the engine
    "CompiledGraph",
    "Constant",
    "Graph",
    "Node",
    "Op",
    "Placeholder",
    "Variable",
    "backward",
    "compile",
    "get_default_dtype",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "no_grad",
    "set_default_dtype",
    "tensor",
    "topological_sort",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "value_and_grad",
    "vjp",
    *ops.__all__,
    # seeing the chain rule
    "Explanation",
    "ModesExplanation",
    "explain",
    "explore",
    "narrate",
    # training
    "Callback",
    "EarlyStopping",
    "History",
    "evaluate",
    "fit",
    "load",
    "manual_seed",
    "save",
    # models in and out
    "from_dlpack",
    "onnx",
    # modules
    "data",
    "datasets",
    "errors",
    "nn",
    "optim",
]
