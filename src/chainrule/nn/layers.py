"""The everyday layers: Linear, Identity, Flatten and Unflatten, Dropout, Embedding,
activations (convolution and pooling: ``conv.py``). Each holds its parameters as ``Parameter``
attributes, checks its options when built and its input when that has a value,
and computes with the functional forms (so it works eagerly and define-then-run)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ShapeError
from . import functional as F
from . import init
from .deferred import flatten, unflatten
from .module import Module, check_option, is_int, is_number, is_probability, is_size
from .parameter import Parameter


# ---------------------------------------------------------------- dense
class Linear(Module):
    """y = x Wᵀ + b with W of shape (out_features, in_features), as ``torch.nn.Linear``;
    W and b start U(-1/√in, 1/√in) (PyTorch's Kaiming-uniform default)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        for option, value in (("in_features", in_features), ("out_features", out_features)):
            check_option("Linear", option, value, is_size(value), "is not a positive int")
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(
            init.kaiming_uniform((out_features, in_features), in_features, dtype=dtype), name="weight"
        )
        self.bias = (
            Parameter(init.fan_in_uniform((out_features,), in_features, dtype=dtype), name="bias") if bias else None
        )

    def check_input(self, value: np.ndarray, position: int) -> None:
        if value.shape[-1:] != (self.in_features,):
            raise ShapeError(
                f"Linear({self.in_features}, {self.out_features}) got input of shape {value.shape}: "
                f"its last axis must be {self.in_features}"
            )

    def forward(self, x: Any) -> Any:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input (any arguments given when it is built are ignored, as in PyTorch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Merge axes ``start_dim``..``end_dim`` into one (default: all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        for option, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            check_option("Flatten", option, value, is_int(value), "is not an int")
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Any) -> Any:
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size`` (one entry may be -1), as ``torch.nn.Unflatten``."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        check_option("Unflatten", "dim", dim, is_int(dim), "is not an int")
        sizes = tuple(unflattened_size) if isinstance(unflattened_size, (list, tuple)) else ()
        check_option(
            "Unflatten",
            "unflattened_size",
            unflattened_size,
            len(sizes) > 0 and all(is_int(s) and (s >= 0 or s == -1) for s in sizes) and sizes.count(-1) <= 1,
            "is not a tuple of sizes >= 0 (one of them may be -1)",
        )
        self.dim, self.unflattened_size = dim, sizes

    def forward(self, x: Any) -> Any:
        return unflatten(x, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(Module):
    """Zero elements with probability ``p`` while training (scaling the rest by 1/(1-p)), with a
    fresh mask on every forward pass; the identity in eval mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        check_option("Dropout", "p", p, is_probability(p), "is not a probability in [0, 1]")
        self.p = p

    def forward(self, x: Any) -> Any:
        return F.dropout(x, self.p, self.training)

    def traces_alike(self) -> bool:
        return not self.training or self.p == 0  # a new random mask on every training call

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Embedding(Module):
    """A lookup table: integer indices of any shape -> rows of ``weight`` (num, dim), N(0, 1) at start."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype: Any = None) -> None:
        super().__init__()
        for option, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            check_option("Embedding", option, value, is_size(value), "is not a positive int")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(init.normal((num_embeddings, embedding_dim), dtype=dtype), name="weight")

    def forward(self, indices: Any) -> Any:
        return F.embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


# ---------------------------------------------------------------- activations
class _Activation(Module):
    """A parameter-free elementwise layer applying ``fn``."""

    fn: Callable[[Any], Any] = staticmethod(lambda x: x)

    def forward(self, x: Any) -> Any:
        return type(self).fn(x)


class ReLU(_Activation):
    """max(x, 0)."""

    fn = staticmethod(F.relu)


class Tanh(_Activation):
    """tanh x."""

    fn = staticmethod(F.tanh)


class Sigmoid(_Activation):
    """1 / (1 + e⁻ˣ)."""

    fn = staticmethod(F.sigmoid)


class GELU(Module):
    """GELU, x·Φ(x); ``approximate="tanh"`` for the tanh approximation (``torch.nn.GELU``)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        check_option(
            "GELU",
            "approximate",
            approximate,
            approximate in F.GELU_FORMS,
            "is not one of " + ", ".join(map(repr, F.GELU_FORMS)),
        )
        self.approximate = approximate

    def forward(self, x: Any) -> Any:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class LeakyReLU(Module):
    """x for x > 0, else negative_slope·x."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        check_option("LeakyReLU", "negative_slope", negative_slope, is_number(negative_slope), "is not a real number")
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Any:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softmax(Module):
    """Softmax along ``dim`` (PyTorch's argument name)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        check_option(type(self).__name__, "dim", dim, is_int(dim), "is not an int")
        self.dim = dim

    def forward(self, x: Any) -> Any:
        return F.softmax(x, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log softmax along ``dim`` (pair it with ``nll_loss``)."""

    def forward(self, x: Any) -> Any:
        return F.log_softmax(x, dim=self.dim)


ACTIVATIONS: dict[str, type[Module]] = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "gelu": GELU,
    "leaky_relu": LeakyReLU,
    "identity": Identity,
}
