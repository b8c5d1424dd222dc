"""Containers: ``Sequential`` (layers applied in order), ``ModuleList`` and
``ModuleDict`` (modules held by position or by name, their parameters named
``"0.weight"`` or ``"encoder.weight"`` as in PyTorch), and ``MLP`` (a stack of
Linear layers with an activation between them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from ..errors import option_error
from .layers import ACTIVATIONS, Dropout, Linear
from .module import Module, check_option, is_probability


class Sequential(Module):
    """Apply modules (or any callables) in order: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 1))``.

    Its layers are named ``"0"``, ``"1"``, ... as in PyTorch, so state-dict
    keys read ``"0.weight"``; a dict of name -> module names them instead.
    """

    def __init__(self, *layers: Any) -> None:
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], dict):
            self._names, self._layers = [str(k) for k in layers[0]], list(layers[0].values())
        else:
            self._names, self._layers = [str(i) for i in range(len(layers))], list(layers)
        for name, layer in zip(self._names, self._layers):
            if not callable(layer):
                raise TypeError(f"Sequential: layer '{name}' is a {type(layer).__name__}, not a module or callable")

    def _child_items(self) -> Iterator[tuple[str, Any]]:
        yield from zip(self._names, self._layers)
        yield from super()._child_items()

    def forward(self, x: Any) -> Any:
        for layer in self._layers:
            x = layer(x)
        return x

    def append(self, layer: Any) -> Sequential:
        self._names.append(str(len(self._layers)))
        self._layers.append(layer)
        self._name_parameters()
        return self

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return Sequential(*self._layers[index])
        return self._layers[index]

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._layers)


def _module(owner: str, name: str, value: Any) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"{owner}: '{name}' is a {type(value).__name__}, not a Module")
    return value


class ModuleList(Module):
    """A list of modules: ``self.blocks = nn.ModuleList([Block() for _ in range(4)])``; index,
    iterate, ``append``/``extend``/``insert``. Its modules are named ``"0"``, ``"1"``, ...
    (renumbered when one is inserted or deleted, as in PyTorch). It has no forward."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        self._modules: list[Module] = []
        if modules is not None:
            self.extend(modules)

    def _child_items(self) -> Iterator[tuple[str, Any]]:
        yield from ((str(i), m) for i, m in enumerate(self._modules))
        yield from super()._child_items()

    def append(self, module: Module) -> ModuleList:
        self._modules.append(_module("ModuleList", str(len(self._modules)), module))
        self._name_parameters()
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        self._modules.insert(index, _module("ModuleList", str(index), module))
        self._name_parameters()

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return ModuleList(self._modules[index])
        return self._modules[index]

    def __setitem__(self, index: int, module: Module) -> None:
        self._modules[index] = _module("ModuleList", str(index), module)
        self._name_parameters()

    def __delitem__(self, index: int | slice) -> None:
        del self._modules[index]
        self._name_parameters()

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules)


class ModuleDict(Module):
    """A dict of modules by name: ``self.heads = nn.ModuleDict({"cls": Linear(8, 3), "box": Linear(8, 4)})``;
    their parameters are named ``"heads.cls.weight"``. Keeps insertion order; no forward."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        self._modules: dict[str, Module] = {}
        if modules is not None:
            self.update(modules)

    def _child_items(self) -> Iterator[tuple[str, Any]]:
        yield from self._modules.items()
        yield from super()._child_items()

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict: a key is a non-empty str without '.', got {key!r}")
        self._modules[key] = _module("ModuleDict", key, module)
        self._name_parameters()

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Any:
        return self._modules.keys()

    def values(self) -> Any:
        return self._modules.values()

    def items(self) -> Any:
        return self._modules.items()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        for key, module in modules.items() if isinstance(modules, Mapping) else modules:
            self[key] = module

    def pop(self, key: str) -> Module:
        return self._modules.pop(key)

    def clear(self) -> None:
        self._modules.clear()


def _activation(activation: str | type[Module] | Callable[[], Any]) -> Callable[[], Any]:
    if isinstance(activation, str):
        try:
            return ACTIVATIONS[activation.lower()]
        except KeyError:
            raise option_error(
                "MLP", "activation", activation, f"is not one of {', '.join(sorted(ACTIVATIONS))}"
            ) from None
    return activation


class MLP(Sequential):
    """A multi-layer perceptron: ``MLP([64, 128, 10])`` is Linear(64, 128), ReLU, Linear(128, 10).

    ``activation`` is a name (``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"gelu"``,
    ``"leaky_relu"``) or a module class; ``dropout`` > 0 adds Dropout after each
    hidden activation. The last layer has no activation (it returns logits).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | type[Module] | Callable[[], Any] = "relu",
        dropout: float = 0.0,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        if len(sizes) < 2:
            raise option_error("MLP", "sizes", list(sizes), "needs at least an input and an output size")
        check_option("MLP", "dropout", dropout, is_probability(dropout), "is not a probability in [0, 1]")
        make = _activation(activation)
        layers: list[Any] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out, bias=bias, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(make())
                if dropout > 0:
                    layers.append(Dropout(dropout))
        super().__init__(*layers)
        self.sizes = list(sizes)
