"""Every operation: a small class with forward and vjp side by side, plus its
lower-case function. Functions accept ndarrays (and return ndarrays: the fast
path backward uses) or nodes (and return nodes)."""

from .activations import (
    ELU,
    GELU,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    Mish,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    log_softmax,
    mish,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from .allocation import keep_freed_memory as _keep_freed_memory
from .arithmetic import (
    Abs,
    Add,
    Div,
    FloorDivide,
    Mul,
    Neg,
    Pow,
    Remainder,
    Sub,
    abs,
    add,
    div,
    floor_divide,
    mul,
    neg,
    pow,
    remainder,
    sub,
)
from .avgpool import (
    AdaptiveAvgPool1D,
    AdaptiveAvgPool2D,
    AvgPool1D,
    AvgPool2D,
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
)
from .classification import CrossEntropy, NLLLoss, cross_entropy, nll_loss
from .columns import Col2Im as Col2Im
from .columns import Im2Col as Im2Col
from .columns import col2im as col2im
from .columns import im2col as im2col
from .contraction import Einsum, einsum, outer
from .conv import Conv1D, Conv2D, conv1d, conv2d
from .conv import ConvInputGrad as ConvInputGrad
from .conv import ConvWeightGrad as ConvWeightGrad
from .elementwise import Cast as Cast
from .elementwise import (
    Clip,
    Cos,
    Exp,
    Log,
    Maximum,
    Minimum,
    Sign,
    Sin,
    Sqrt,
    Where,
    astype,
    clip,
    cos,
    exp,
    log,
    maximum,
    minimum,
    sign,
    sin,
    sqrt,
    where,
)
from .elementwise import Compare as Compare
from .elementwise import compare as compare
from .indexing import Concat, Pad, Stack, concat, getitem, pad, stack
from .indexing import GetItem as GetItem
from .indexing import ScatterAdd as ScatterAdd
from .indexing import scatter_add as scatter_add
from .interop import install as _install_interop
from .linalg import Linear, MatMul, linear, matmul
from .losses import (
    MSE,
    BCEWithLogits,
    BinaryCrossEntropy,
    Loss,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    mse,
)
from .operators import install as _install_operators
from .pool import MaxPool1D, MaxPool2D, max_pool1d, max_pool2d
from .pool import MaxPoolIndices as MaxPoolIndices
from .pool import PoolGather as PoolGather
from .pool import PoolScatter as PoolScatter
from .reduce import ArgMax, ArgMin, CumSum, Max, Mean, Min, Prod, Sum, argmax, argmin, cumsum, max, mean, min, prod, sum
from .select import Gather, Tri, chunk, gather, masked_fill, split, take_along_axis, tril, triu
from .select import ScatterAlong as ScatterAlong
from .select import scatter_along as scatter_along
from .shape import (
    BroadcastTo,
    Flip,
    Reshape,
    Squeeze,
    SwapAxes,
    Transpose,
    broadcast_to,
    expand,
    expand_dims,
    flip,
    permute,
    reshape,
    squeeze,
    swapaxes,
    transpose,
    unsqueeze,
)
from .shape import ExpandDims as ExpandDims
from .shape import SumToShape as SumToShape
from .shape import sum_to_shape as sum_to_shape
from .special import Erf, Expm1, Log1p, erf, expm1, log1p
from .stats import LogSumExp, Norm, Std, Var, logsumexp, norm, std, var

_install_operators()
_install_interop()
_keep_freed_memory()  # eager steps reuse freed memory instead of faulting it in again (allocation.py)

# The public operations (star-exported by ``chainrule``): what a user calls and the node
# classes those calls build. The rest (im2col, scatter_add, sum_to_shape, Cast, GetItem...)
# are machinery the vjps use: reachable here, not part of ``cr``'s face.
__all__ = [
    # arithmetic and elementwise
    "Abs",
    "Add",
    "Clip",
    "Cos",
    "Div",
    "Erf",
    "Exp",
    "Expm1",
    "FloorDivide",
    "Log",
    "Log1p",
    "Maximum",
    "Minimum",
    "Mul",
    "Neg",
    "Pow",
    "Remainder",
    "Sign",
    "Sin",
    "Sqrt",
    "Sub",
    "Where",
    "abs",
    "add",
    "astype",
    "clip",
    "cos",
    "div",
    "erf",
    "exp",
    "expm1",
    "floor_divide",
    "log",
    "log1p",
    "maximum",
    "minimum",
    "mul",
    "neg",
    "pow",
    "remainder",
    "sign",
    "sin",
    "sqrt",
    "sub",
    "where",
    # activations
    "ELU",
    "GELU",
    "Hardtanh",
    "LeakyReLU",
    "LogSoftmax",
    "Mish",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "elu",
    "gelu",
    "hardtanh",
    "leaky_relu",
    "log_softmax",
    "mish",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
    # linear algebra
    "Einsum",
    "Linear",
    "MatMul",
    "einsum",
    "linear",
    "matmul",
    "outer",
    # reductions and statistics
    "ArgMax",
    "ArgMin",
    "CumSum",
    "LogSumExp",
    "Max",
    "Mean",
    "Min",
    "Norm",
    "Prod",
    "Std",
    "Sum",
    "Var",
    "argmax",
    "argmin",
    "cumsum",
    "logsumexp",
    "max",
    "mean",
    "min",
    "norm",
    "prod",
    "std",
    "sum",
    "var",
    # shapes
    "BroadcastTo",
    "Flip",
    "Reshape",
    "Squeeze",
    "SwapAxes",
    "Transpose",
    "broadcast_to",
    "expand",
    "expand_dims",
    "flip",
    "permute",
    "reshape",
    "squeeze",
    "swapaxes",
    "transpose",
    "unsqueeze",
    # indexing, selecting, assembling
    "Concat",
    "Gather",
    "Pad",
    "Stack",
    "Tri",
    "chunk",
    "concat",
    "gather",
    "getitem",
    "masked_fill",
    "pad",
    "split",
    "stack",
    "take_along_axis",
    "tril",
    "triu",
    # losses
    "BCEWithLogits",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "Loss",
    "MSE",
    "NLLLoss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "mse",
    "nll_loss",
    # convolution and pooling
    "AdaptiveAvgPool1D",
    "AdaptiveAvgPool2D",
    "AvgPool1D",
    "AvgPool2D",
    "Conv1D",
    "Conv2D",
    "MaxPool1D",
    "MaxPool2D",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "conv1d",
    "conv2d",
    "max_pool1d",
    "max_pool2d",
]
