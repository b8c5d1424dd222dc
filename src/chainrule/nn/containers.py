"""Containers: ``Sequential`` (layers applied in order) and ``MLP`` (a stack of
Linear layers with an activation between them)."""
from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

from ..errors import option_error
from .layers import ACTIVATIONS, Dropout, Linear
from .module import Module


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

    def append(self, layer: Any) -> "Sequential":
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


def _activation(activation: str | type[Module] | Callable[[], Any]) -> Callable[[], Any]:
    if isinstance(activation, str):
        try:
            return ACTIVATIONS[activation.lower()]
        except KeyError:
            raise option_error("MLP", "activation", activation, f"is not one of {', '.join(sorted(ACTIVATIONS))}") \
                from None
    return activation


class MLP(Sequential):
    """A multi-layer perceptron: ``MLP([64, 128, 10])`` is Linear(64, 128), ReLU, Linear(128, 10).

    ``activation`` is a name (``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"gelu"``,
    ``"leaky_relu"``) or a module class; ``dropout`` > 0 adds Dropout after each
    hidden activation. The last layer has no activation (it returns logits).
    """

    def __init__(self, sizes: Sequence[int], activation: str | type[Module] | Callable[[], Any] = "relu",
                 dropout: float = 0.0, bias: bool = True, dtype: Any = None) -> None:
        if len(sizes) < 2:
            raise option_error("MLP", "sizes", list(sizes), "needs at least an input and an output size")
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
