"""``Module``: the base of every layer, like ``torch.nn.Module``.

A module's parameters are the ``Variable`` nodes it holds, found by walking
its attributes: directly, inside other modules, and inside lists, tuples and
dicts (so ``self.blocks = [Linear(4, 4), Linear(4, 2)]`` just works).
Attributes whose names start with ``_`` are private and not walked. Buffers
(state that is saved but not trained, such as BatchNorm's running
statistics) are ndarray attributes registered with ``register_buffer``.

Names follow PyTorch (``"0.weight"``, ``"encoder.layers.1.bias"``), so a
``state_dict`` can be compared with, or loaded from, a PyTorch model's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import numpy as np

from .. import dtype as _dtype
from ..errors import StateDictError, option_error
from ..node import Node, Variable
from .compiled import CompiledModule
from .deferred import checked


class Module:
    """Base class of layers and models: subclasses set attributes in ``__init__``
    (calling ``super().__init__()``) and compute in ``forward``."""

    training: bool = True

    def __init__(self) -> None:
        self.training = True
        self._buffers: list[str] = []

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else (value,)
        if any(isinstance(item, (Module, Variable)) for item in items):
            self._name_parameters()

    def _name_parameters(self) -> None:
        """Give every parameter its qualified name (``0.weight``, ``fc1.bias``), so that graphs,
        ``explain`` and error messages say which layer it belongs to. Run whenever a module or
        parameter is attached; a module attached to a bigger one is renamed from there."""
        for name, param in self.named_parameters():
            param.name = name

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``forward`` on the inputs after ``check_input`` and, for a module with parameters of
        its own, with floating inputs cast to their dtype: a float32 layer fed NumPy's default
        float64 data computes in float32 (as Keras layers do). On a value-less node
        (define-then-run) both happen when the graph runs."""
        dtype = self.own_dtype()
        checks = type(self).check_input is not Module.check_input
        if dtype is not None or checks:
            args = tuple(
                checked(a, partial(self.check_input, position=i) if checks else None, dtype)
                if isinstance(a, (Node, np.ndarray))
                else a
                for i, a in enumerate(args)
            )
            if dtype is not None:
                kwargs = {
                    k: checked(v, None, dtype) if isinstance(v, (Node, np.ndarray)) else v for k, v in kwargs.items()
                }
        return self.forward(*args, **kwargs)

    def check_input(self, value: np.ndarray, position: int) -> None:
        """Check the value of positional input ``position`` (raise ShapeError naming the layer);
        called when it has one: at once eagerly, when the graph runs define-then-run."""

    def own_dtype(self) -> np.dtype | None:
        """The floating dtype of this module's own parameters (not its submodules'), or None."""
        for value in vars(self).values():
            if isinstance(value, Variable):
                dt = value.value.dtype
                if dt.kind == "f":
                    return dt
        return None

    def register_parameter(self, name: str, param: Variable | None) -> None:
        """Set attribute ``name`` to ``param`` (a Variable or Parameter, or None for an absent one)."""
        if param is not None and not isinstance(param, Variable):
            raise TypeError(
                f"{type(self).__name__}.register_parameter: '{name}' must be a Variable or "
                f"Parameter, got {type(param).__name__}"
            )
        setattr(self, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        """Set attribute ``name`` to a submodule (``register_module`` in PyTorch too)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.add_module: '{name}' must be a Module, got {type(module).__name__}")
        setattr(self, name, module)

    register_module = add_module

    # ------------------------------------------------------------ discovery
    def register_buffer(self, name: str, value: Any) -> None:
        """Keep ``value`` (an array) as attribute ``name``, saved in the state dict but not trained."""
        if "_buffers" not in vars(self):
            self._buffers = []
        if name not in self._buffers:
            self._buffers.append(name)
        setattr(self, name, np.asarray(value))

    def _child_items(self) -> Iterator[tuple[str, Any]]:
        """(name, value) of every public attribute; containers override the naming."""
        for name, value in vars(self).items():
            if not name.startswith("_") and name not in getattr(self, "_buffers", ()):
                yield name, value

    def _entries(self, prefix: str = "") -> Iterator[tuple[str, str, Any, Any]]:
        """Walk parameters and buffers: (kind, full name, owner module, Variable or buffer name)."""
        for name, value in self._child_items():
            yield from _walk(prefix + name, value)
        for name in getattr(self, "_buffers", ()):
            yield "buffer", prefix + name, self, name

    def named_parameters(self) -> list[tuple[str, Variable]]:
        """(dotted name, Variable) for every parameter, each once even if shared."""
        seen: set[int] = set()
        out = []
        for kind, name, _, param in self._entries():
            if kind == "param" and id(param) not in seen:
                seen.add(id(param))
                out.append((name, param))
        return out

    def parameters(self) -> list[Variable]:
        """Every trainable Variable (pass these to an optimizer)."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> list[tuple[str, np.ndarray]]:
        return [(name, getattr(owner, attr)) for kind, name, owner, attr in self._entries() if kind == "buffer"]

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every module inside it, depth first, with dotted names."""
        yield prefix, self
        for name, module in self.named_children():
            yield from module.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> list[Module]:
        return [m for _, m in self.named_modules()]

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The modules directly inside this one, with their names."""
        for name, value in self._child_items():
            for path, item in _items(name, value):
                if isinstance(item, Module):
                    yield path, item

    def children(self) -> list[Module]:
        return [m for _, m in self.named_children()]

    def num_parameters(self) -> int:
        """How many numbers training can change."""
        return sum(p.size for p in self.parameters())

    # ------------------------------------------------------------ modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch statistics); returns self."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off, running statistics); returns self."""
        return self.train(False)

    def traces_alike(self) -> bool:
        """Whether every call of this module (in its current mode) runs the same operations
        with the same constants, so that one traced call stands for all (what ``compile``
        needs). Layers that draw random numbers or update statistics while training say no."""
        return True

    def compile(self) -> Any:
        """This module compiled (see ``cr.compile``): call it as the module; one compiled
        program per input signature (batch shape and dtype). While a submodule's
        ``traces_alike()`` is False (Dropout or batch norm in training mode) calls run
        the module itself, uncompiled (said once)."""
        return CompiledModule(self)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (see ``zero_grads``)."""
        zero_grads(self.parameters(), set_to_none)

    def to(self, dtype: Any) -> Module:
        """Convert every floating parameter and buffer to ``dtype`` (e.g. ``"float64"``); returns self."""
        dt = np.dtype(dtype)
        for kind, _, owner, item in self._entries():
            if kind == "param":
                item.value = item.value.astype(dt)
                item.grad = None
            elif getattr(owner, item).dtype.kind == "f":
                setattr(owner, item, getattr(owner, item).astype(dt))
        return self

    def double(self) -> Module:
        """``to("float64")``, as ``torch.nn.Module.double()``."""
        return self.to(np.float64)

    def float(self) -> Module:
        """``to("float32")``, as ``torch.nn.Module.float()``."""
        return self.to(np.float32)

    def half(self) -> Module:
        """``to("float16")``, as ``torch.nn.Module.half()``."""
        return self.to(np.float16)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Whether every parameter takes a gradient (False freezes them: backward leaves their
        ``.grad`` alone and optimizers skip them), as in PyTorch; returns self."""
        for param in self.parameters():
            param.requires_grad = bool(requires_grad)
        return self

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """``fn(module)`` for every submodule, children before their parent (PyTorch's order:
        ``model.apply(init_weights)``); returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer value, by dotted name."""
        state: dict[str, np.ndarray] = {}
        for kind, name, owner, item in self._entries():
            if name not in state:
                state[name] = np.array(item.value if kind == "param" else getattr(owner, item))
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
        """Set parameters and buffers from ``state``; returns (missing, unexpected) keys.

        Every key is checked before anything is assigned: mis-shaped values,
        and (when ``strict``) missing or unexpected keys, raise a
        StateDictError naming them all, and the module is left unchanged.
        """
        entries: dict[str, tuple[str, Any, Any]] = {}
        for kind, name, owner, item in self._entries():
            entries.setdefault(name, (kind, owner, item))
        missing = [k for k in entries if k not in state]
        unexpected = [k for k in state if k not in entries]
        problems, ready = [], {}
        for key, (kind, owner, item) in entries.items():
            if key not in state:
                continue
            current = item.value if kind == "param" else getattr(owner, item)
            given = np.asarray(state[key])
            if given.dtype.kind not in "biuf":  # numbers only, cast as torch's copy_ does
                problems.append(f"'{key}' holds {given.dtype}, not real numbers")
                continue
            try:
                value = np.array(given, dtype=current.dtype)
            except (TypeError, ValueError) as exc:
                problems.append(f"'{key}' cannot become {current.dtype}: {exc}")
                continue
            if value.shape != current.shape:
                problems.append(f"'{key}' has shape {value.shape}, the model expects {current.shape}")
            ready[key] = value
        if strict:
            problems += [f"missing key '{k}'" for k in missing] + [f"unexpected key '{k}'" for k in unexpected]
        if problems:
            raise StateDictError(f"cannot load state dict into {type(self).__name__}: " + "; ".join(problems))
        for key, value in ready.items():
            kind, owner, item = entries[key]
            if kind == "param":
                item.value = value
                item.grad = None
            elif getattr(owner, item).shape == value.shape and getattr(owner, item).flags.writeable:
                getattr(owner, item)[...] = value  # in place: a graph built earlier reads the buffer it holds
            else:
                setattr(owner, item, value)
        return missing, unexpected

    # ------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The arguments shown in ``repr``, e.g. ``in_features=64, out_features=10``."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(m).replace("\n", "\n  ") for name, m in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


def _items(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    """Look inside lists, tuples and dicts: (dotted path, item) for every non-container item."""
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _items(f"{path}.{i}", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _items(f"{path}.{key}", item)
    else:
        yield path, value


def _walk(path: str, value: Any) -> Iterator[tuple[str, str, Any, Any]]:
    for name, item in _items(path, value):
        if isinstance(item, Variable):
            yield "param", name, None, item
        elif isinstance(item, Module):
            yield from item._entries(name + ".")


def zero_grads(params: Any, set_to_none: bool = True) -> None:
    """Set each parameter's ``.grad`` to None, or (``set_to_none=False``, as in PyTorch) to
    zeros where it has one."""
    for p in params:
        if set_to_none:
            p.grad = None
        elif p.grad is not None:
            p.grad = np.zeros_like(np.asarray(p.value))


def check_option(owner: str, option: str, value: Any, ok: bool, allowed: str) -> None:
    """Unless ``ok``, raise ``OptionError``: ``Dropout: p=2 is not a probability in [0, 1]``.
    Every layer checks its options when it is built, not when it first computes."""
    if not ok:
        raise option_error(owner, option, value, allowed)


def is_size(value: Any) -> bool:
    """A positive int (a number of features, channels, embeddings)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and bool(value > 0)


def is_int(value: Any) -> bool:
    """An int (not a bool)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A real number (not a bool)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def is_probability(value: Any) -> bool:
    return isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and bool(0.0 <= value <= 1.0)


def float_array(data: Any, dtype: Any = None) -> np.ndarray:
    """``data`` as an array of ``dtype`` (the default float dtype when None)."""
    return np.asarray(data, dtype=_dtype.get_default_dtype() if dtype is None else dtype)
