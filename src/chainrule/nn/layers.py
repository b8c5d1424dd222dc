"""The everyday layers: Linear, activations, Dropout, Flatten, Embedding,
BatchNorm and LayerNorm (convolution and pooling: ``conv.py``). Each holds its parameters as
``Variable`` attributes and computes with the functional forms."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..errors import ShapeError
from ..node import Variable
from ..ops import gelu, leaky_relu, log_softmax, relu, reshape, sigmoid, softmax, tanh
from . import functional as F
from . import init
from .module import Module, check_option, float_array, is_probability, is_size


# ---------------------------------------------------------------- dense
class Linear(Module):
    """y = x Wᵀ + b with W of shape (out_features, in_features), as ``torch.nn.Linear``;
    W and b start U(-1/√in, 1/√in) (PyTorch's Kaiming-uniform default)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        for option, value in (("in_features", in_features), ("out_features", out_features)):
            check_option("Linear", option, value, is_size(value), "is not a positive int")
        self.in_features, self.out_features = in_features, out_features
        self.weight = Variable(init.kaiming_uniform((out_features, in_features), in_features, dtype=dtype),
                               name="weight")
        self.bias = (Variable(init.fan_in_uniform((out_features,), in_features, dtype=dtype), name="bias")
                     if bias else None)

    def forward(self, x: Any) -> Any:
        if np.shape(x)[-1:] != (self.in_features,):
            raise ShapeError(f"Linear({self.in_features}, {self.out_features}) got input of shape {np.shape(x)}: "
                             f"its last axis must be {self.in_features}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input."""

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Merge axes ``start_dim``..``end_dim`` into one (default: all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Any) -> Any:
        shape = np.shape(x)
        start, end = self.start_dim % len(shape), self.end_dim % len(shape)
        return reshape(x, shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero elements with probability ``p`` while training (scaling the rest by 1/(1-p));
    the identity in eval mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        check_option("Dropout", "p", p, is_probability(p), "is not a probability in [0, 1]")
        self.p = p

    def forward(self, x: Any) -> Any:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Embedding(Module):
    """A lookup table: integer indices of any shape -> rows of ``weight`` (num, dim), N(0, 1) at start."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype: Any = None) -> None:
        super().__init__()
        for option, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            check_option("Embedding", option, value, is_size(value), "is not a positive int")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Variable(init.normal((num_embeddings, embedding_dim), dtype=dtype), name="weight")

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
    fn = staticmethod(relu)


class Tanh(_Activation):
    """tanh x."""
    fn = staticmethod(tanh)


class Sigmoid(_Activation):
    """1 / (1 + e⁻ˣ)."""
    fn = staticmethod(sigmoid)


class GELU(_Activation):
    """GELU, tanh approximation (matches ``torch.nn.GELU(approximate="tanh")``)."""
    fn = staticmethod(gelu)


class LeakyReLU(Module):
    """x for x > 0, else negative_slope·x."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        check_option("LeakyReLU", "negative_slope", negative_slope,
                     isinstance(negative_slope, (int, float)) and not isinstance(negative_slope, bool),
                     "is not a real number")
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Any:
        return leaky_relu(x, self.negative_slope)


class Softmax(Module):
    """Softmax along ``dim`` (PyTorch's argument name)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        check_option(type(self).__name__, "dim", dim, isinstance(dim, int) and not isinstance(dim, bool), "is not an int")
        self.dim = dim

    def forward(self, x: Any) -> Any:
        return softmax(x, axis=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log softmax along ``dim`` (pair it with ``nll_loss``)."""

    def forward(self, x: Any) -> Any:
        return log_softmax(x, axis=self.dim)


ACTIVATIONS: dict[str, type[Module]] = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "gelu": GELU,
                                        "leaky_relu": LeakyReLU, "identity": Identity}


# ---------------------------------------------------------------- normalisation
class _BatchNorm(Module):
    """Batch normalisation over channel axis 1; running statistics for eval mode."""

    dims: tuple[int, ...] = (2, 3)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        owner = type(self).__name__
        check_option(owner, "num_features", num_features, is_size(num_features), "is not a positive int")
        check_option(owner, "eps", eps, isinstance(eps, (int, float)) and eps > 0, "is not a number > 0")
        check_option(owner, "momentum", momentum, momentum is None or is_probability(momentum),
                     "is not a number in [0, 1]")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Variable(float_array(np.ones(num_features), dtype), name="weight") if affine else None
        self.bias = Variable(float_array(np.zeros(num_features), dtype), name="bias") if affine else None
        self.register_buffer("running_mean", float_array(np.zeros(num_features), dtype))
        self.register_buffer("running_var", float_array(np.ones(num_features), dtype))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x: Any) -> Any:
        if np.ndim(x) not in self.dims or np.shape(x)[1] != self.num_features:
            raise ShapeError(f"{type(self).__name__}({self.num_features}) expects input with "
                             f"{' or '.join(map(str, self.dims))} axes and {self.num_features} channels on axis 1, "
                             f"got shape {np.shape(x)}")
        if self.training:
            self.num_batches_tracked = np.array(self.num_batches_tracked + 1)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training,
                            self.momentum, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.weight is not None}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input (``torch.nn.BatchNorm1d``)."""
    dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input (``torch.nn.BatchNorm2d``)."""
    dims = (4,)


class LayerNorm(Module):
    """Normalise over the last axes ``normalized_shape``, then scale and shift (``torch.nn.LayerNorm``)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        check_option("LayerNorm", "normalized_shape", normalized_shape, all(map(is_size, shape)),
                     "is not a positive int or a tuple of them")
        check_option("LayerNorm", "eps", eps, isinstance(eps, (int, float)) and eps > 0, "is not a number > 0")
        self.normalized_shape, self.eps = shape, eps
        self.weight = Variable(float_array(np.ones(shape), dtype), name="weight") if elementwise_affine else None
        self.bias = Variable(float_array(np.zeros(shape), dtype), name="bias") if elementwise_affine else None

    def forward(self, x: Any) -> Any:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"
