"""Every operation: a small class with forward and vjp side by side, plus its
lower-case function. Functions accept ndarrays (and return ndarrays: the fast
path backward uses) or nodes (and return nodes)."""
from .allocation import keep_freed_memory as _keep_freed_memory
from .activations import (GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh, gelu,
                          leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, tanh)
from .arithmetic import Abs, Add, Div, Mul, Neg, Pow, Sub, abs, add, div, mul, neg, pow, sub
from .avgpool import (AdaptiveAvgPool1D, AdaptiveAvgPool2D, AvgPool1D, AvgPool2D, adaptive_avg_pool1d,
                      adaptive_avg_pool2d, avg_pool1d, avg_pool2d)
from .columns import Col2Im, Im2Col, col2im, im2col
from .conv import Conv1D, Conv2D, ConvInputGrad, ConvWeightGrad, conv1d, conv2d
from .elementwise import (Cast, Clip, Compare, Cos, Exp, Log, Maximum, Minimum, Sign, Sin, Sqrt, Where, astype,
                          clip, compare, cos, exp, log, maximum, minimum, sign, sin, sqrt, where)
from .indexing import Concat, GetItem, Pad, ScatterAdd, Stack, concat, getitem, pad, scatter_add, stack
from .linalg import Linear, MatMul, linear, matmul
from .losses import (MSE, BCEWithLogits, BinaryCrossEntropy, CrossEntropy, Loss, NLLLoss,
                     binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse, nll_loss)
from .operators import install as _install_operators
from .pool import MaxPool1D, MaxPool2D, MaxPoolIndices, PoolGather, PoolScatter, max_pool1d, max_pool2d
from .reduce import Max, Mean, Min, Sum, Var, max, mean, min, sum, var
from .shape import (BroadcastTo, ExpandDims, Reshape, Squeeze, SumToShape, SwapAxes, Transpose, broadcast_to,
                    expand, expand_dims, permute, reshape, squeeze, sum_to_shape, swapaxes, transpose, unsqueeze)

_install_operators()
_keep_freed_memory()  # eager steps reuse freed memory instead of faulting it in again (allocation.py)

# The public operations (star-exported by ``chainrule``): what a user calls and the node
# classes those calls build. The rest (im2col, scatter_add, sum_to_shape, Cast, GetItem...)
# are machinery the vjps use: reachable here, not part of ``cr``'s face.
__all__ = [
    # arithmetic and elementwise
    "Abs", "Add", "Clip", "Cos", "Div", "Exp", "Log", "Maximum", "Minimum", "Mul", "Neg", "Pow", "Sign", "Sin",
    "Sqrt", "Sub", "Where",
    "abs", "add", "astype", "clip", "cos", "div", "exp", "log", "maximum", "minimum", "mul", "neg", "pow", "sign",
    "sin", "sqrt", "sub", "where",
    # activations
    "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Softplus", "Tanh",
    "gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "softmax", "softplus", "tanh",
    # linear algebra, reductions, shapes, indexing
    "Linear", "MatMul", "linear", "matmul",
    "Max", "Mean", "Min", "Sum", "Var", "max", "mean", "min", "sum", "var",
    "BroadcastTo", "Reshape", "Squeeze", "SwapAxes", "Transpose",
    "broadcast_to", "expand", "expand_dims", "permute", "reshape", "squeeze", "swapaxes", "transpose", "unsqueeze",
    "Concat", "Pad", "Stack", "concat", "getitem", "pad", "stack",
    # losses
    "BCEWithLogits", "BinaryCrossEntropy", "CrossEntropy", "Loss", "MSE", "NLLLoss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "mse", "nll_loss",
    # convolution and pooling
    "AdaptiveAvgPool1D", "AdaptiveAvgPool2D", "AvgPool1D", "AvgPool2D", "Conv1D", "Conv2D", "MaxPool1D", "MaxPool2D",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "conv1d", "conv2d", "max_pool1d",
    "max_pool2d",
]
