"""Every operation: a small class with forward and vjp side by side, plus its
lower-case function. Functions accept ndarrays (and return ndarrays: the fast
path backward uses) or nodes (and return nodes)."""
import types as _types

from .activations import (GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh, gelu,
                          leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, tanh)
from .arithmetic import Abs, Add, Div, Mul, Neg, Pow, Sub, abs, add, div, mul, neg, pow, sub
from .columns import Col2Im, Im2Col, col2im, im2col
from .conv import Conv1D, Conv2D, ConvInputGrad, ConvWeightGrad, conv1d, conv2d
from .elementwise import (Cast, Clip, Compare, Cos, Exp, Log, Maximum, Minimum, Sign, Sin, Sqrt, Where, astype,
                          clip, compare, cos, exp, log, maximum, minimum, sign, sin, sqrt, where)
from .indexing import Concat, GetItem, Pad, ScatterAdd, Stack, concat, getitem, pad, scatter_add, stack
from .linalg import Linear, MatMul, linear, matmul
from .losses import (MSE, BCEWithLogits, BinaryCrossEntropy, CrossEntropy, Loss, NLLLoss,
                     binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse, nll_loss)
from .operators import install as _install_operators
from .pool import (AdaptiveAvgPool1D, AdaptiveAvgPool2D, AvgPool1D, AvgPool2D, MaxPool1D, MaxPool2D, MaxPoolIndices,
                   PoolGather, PoolScatter, adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d,
                   max_pool1d, max_pool2d)
from .reduce import Max, Mean, Min, Sum, Var, max, mean, min, sum, var
from .shape import (BroadcastTo, ExpandDims, Reshape, Squeeze, SumToShape, SwapAxes, Transpose, broadcast_to,
                    expand, expand_dims, permute, reshape, squeeze, sum_to_shape, swapaxes, transpose, unsqueeze)

_install_operators()

# Everything imported above is public (cr.sigmoid, cr.Sigmoid, ...); the submodules are not.
__all__ = sorted(name for name, value in globals().items()
                 if not name.startswith("_") and not isinstance(value, _types.ModuleType))
