"""NumPy functions on nodes: they build chainrule ops, or say which chainrule function to use.

``np.exp(node)``, ``np.sum(node, axis=1)``, ``np.concatenate([a, b])``,
``ndarray @ node`` ... go through NumPy's dispatch protocols
(``__array_ufunc__``, ``__array_function__``) to the chainrule op of the same
meaning, so the result is a node in the graph. A NumPy function chainrule has
no op for raises a ``TypeError`` naming what to use instead, when a node in
its arguments requires a gradient: it is never silently dropped. Functions
that only inspect (``np.shape``, ``np.isfinite``, ``np.allclose``), and any
function on nodes that require no gradient, run on the values.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ..node import Node
from . import activations as act
from . import arithmetic as ar
from . import contraction as es
from . import elementwise as el
from . import indexing as ix
from . import linalg as la
from . import reduce as rd
from . import select as sel
from . import shape as sh
from . import special as sp
from . import stats as st

UFUNCS: dict[Any, Callable[..., Any]] = {
    np.add: ar.add,
    np.subtract: ar.sub,
    np.multiply: ar.mul,
    np.divide: ar.div,
    np.floor_divide: ar.floor_divide,
    np.remainder: ar.remainder,
    np.power: ar.pow,
    np.negative: ar.neg,
    np.positive: lambda x: x,
    np.absolute: ar.abs,
    np.exp: el.exp,
    np.log: el.log,
    np.sqrt: el.sqrt,
    np.sin: el.sin,
    np.cos: el.cos,
    np.tanh: act.tanh,
    np.sign: el.sign,
    np.maximum: el.maximum,
    np.minimum: el.minimum,
    np.log1p: sp.log1p,
    np.expm1: sp.expm1,
    np.matmul: la.matmul,
    np.square: lambda x: x * x,
    np.less: lambda a, b: el.compare(a, b, "<"),
    np.less_equal: lambda a, b: el.compare(a, b, "<="),
    np.greater: lambda a, b: el.compare(a, b, ">"),
    np.greater_equal: lambda a, b: el.compare(a, b, ">="),
    np.equal: lambda a, b: el.compare(a, b, "=="),
    np.not_equal: lambda a, b: el.compare(a, b, "!="),
}

# NumPy function -> (chainrule function, NumPy's names of the arguments passed on positionally,
# NumPy's names passed on as keywords: a pair renames one to chainrule's keyword)
_REDUCE = (("a",), ("axis", "keepdims"))
FUNCTIONS: dict[Any, tuple] = {
    np.sum: (rd.sum, *_REDUCE),
    np.mean: (rd.mean, *_REDUCE),
    np.max: (rd.max, *_REDUCE),
    np.min: (rd.min, *_REDUCE),
    np.amax: (rd.max, *_REDUCE),
    np.amin: (rd.min, *_REDUCE),
    np.prod: (rd.prod, *_REDUCE),
    np.argmax: (rd.argmax, *_REDUCE),
    np.argmin: (rd.argmin, *_REDUCE),
    np.var: (st.var, ("a",), ("axis", "keepdims", "ddof")),
    np.std: (st.std, ("a",), ("axis", "keepdims", "ddof")),
    np.cumsum: (rd.cumsum, ("a", "axis"), ()),
    np.transpose: (sh.transpose, ("a",), ("axes",)),
    np.reshape: (sh.reshape, ("a", "shape"), ()),
    np.squeeze: (sh.squeeze, ("a",), ("axis",)),
    np.expand_dims: (sh.unsqueeze, ("a", "axis"), ()),
    np.swapaxes: (sh.swapaxes, ("a", "axis1", "axis2"), ()),
    np.broadcast_to: (sh.broadcast_to, ("array", "shape"), ()),
    np.flip: (sh.flip, ("m",), ("axis",)),
    np.concatenate: (ix.concat, ("arrays",), ("axis",)),
    np.stack: (ix.stack, ("arrays",), ("axis",)),
    np.where: (el.where, ("condition", "x", "y"), ()),
    np.outer: (es.outer, ("a", "b"), ()),
    np.tril: (sel.tril, ("m",), ("k",)),
    np.triu: (sel.triu, ("m",), ("k",)),
    np.take_along_axis: (sel.take_along_axis, ("arr", "indices", "axis"), ()),
    np.clip: (el.clip, ("a",), (("a_min", "low"), ("a_max", "high"))),
    np.einsum: (es.einsum, ("operands",), ()),
}
INSPECTING = {
    np.shape,
    np.ndim,
    np.size,
    np.allclose,
    np.isclose,
    np.array_equal,
    np.array_equiv,
    np.iscomplexobj,
    np.isrealobj,
    np.result_type,
    np.count_nonzero,
}
NAMES = {"cumsum": "cumsum", "amax": "max", "amin": "min", "concatenate": "concat", "expand_dims": "unsqueeze"}


def _values(x: Any) -> Any:
    if isinstance(x, Node):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_values(i) for i in x)
    return x


def _needs_grad(args: Any) -> bool:
    if isinstance(args, Node):
        return args.requires_grad
    if isinstance(args, (list, tuple)):
        return any(_needs_grad(a) for a in args)
    if isinstance(args, dict):
        return any(_needs_grad(a) for a in args.values())
    return False


def _refuse(name: str, why: str = "") -> TypeError:
    hint = f"use cr.{NAMES.get(name, name)}" if why == "" else why
    return TypeError(
        f"np.{name}() on a chainrule node would drop its gradient: {hint}, or call it on node.numpy() for a plain value"
    )


def array_ufunc(self: Node, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    """``np.exp(node)`` is ``cr.exp(node)``; ``ndarray + node`` is ``cr.add``."""
    fn = UFUNCS.get(ufunc)
    if fn is not None and method == "__call__" and not kwargs:
        return fn(*inputs)
    if not _needs_grad((inputs, kwargs)) or (ufunc.types and all(t[-1] == "?" for t in ufunc.types)):
        return getattr(ufunc, method)(*_values(inputs), **{k: _values(v) for k, v in kwargs.items()})
    if fn is not None:
        raise _refuse(
            f"{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"),
            f"use cr.{fn.__name__} without out=/where=/dtype="
            if method == "__call__"
            else "use a chainrule reduction (cr.sum, cr.max, cr.cumsum ...)",
        )
    raise _refuse(
        ufunc.__name__,
        f"chainrule has no '{ufunc.__name__}' op (build it from chainrule's functions, or write a cr.Op)",
    )


def array_function(self: Node, func: Any, types: tuple, args: tuple, kwargs: dict) -> Any:
    """``np.sum(node, axis=1)`` is ``cr.sum(node, axis=1)``, and so on (see ``FUNCTIONS``)."""
    entry = FUNCTIONS.get(func)
    if entry is not None:
        fn, positional, keywords = entry
        given = inspect.signature(func).bind(*args, **kwargs).arguments
        renames: dict[str, str] = dict(k if isinstance(k, tuple) else (k, k) for k in keywords)
        extra = [k for k, v in given.items() if k not in positional and k not in renames and v is not None]
        if not extra:
            values = [given[n] for n in positional if n in given]
            if func is np.einsum:
                values = list(values[0])
            return fn(*values, **{renames[k]: v for k, v in given.items() if k in renames})
        if _needs_grad((args, kwargs)):
            raise _refuse(func.__name__, f"use cr.{fn.__name__} (it takes no {', '.join(extra)})")
    elif func not in INSPECTING and _needs_grad((args, kwargs)):
        raise _refuse(
            func.__name__,
            f"chainrule has no '{func.__name__}' op (build it from chainrule's functions, or write a cr.Op)",
        )
    return func(*_values(args), **{k: _values(v) for k, v in kwargs.items()})


def install() -> None:
    """Give ``Node`` NumPy's dispatch hooks (idempotent; declared for type checkers in ``arraylike.py``)."""
    for name, hook in (("__array_ufunc__", array_ufunc), ("__array_function__", array_function)):
        setattr(Node, name, hook)
