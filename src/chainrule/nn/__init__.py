"""``chainrule.nn``: layers and models, PyTorch style.

    model = cr.nn.Sequential(cr.nn.Linear(64, 128), cr.nn.ReLU(), cr.nn.Linear(128, 10))
    model = cr.nn.MLP([64, 128, 10])                      # the same
    logits = model(X)                                     # a node; cr.cross_entropy(logits, y).backward()
    model.parameters(); model.state_dict(); model.eval()

Parameters are ``chainrule.Variable`` nodes; ``manual_seed`` fixes their
initial values and dropout masks.
"""
from . import functional, init
from .containers import MLP, Sequential
from .conv import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, Conv1d, Conv2d, MaxPool1d,
                   MaxPool2d)
from .init import manual_seed
from .layers import (GELU, BatchNorm1d, BatchNorm2d, Dropout, Embedding, Flatten, Identity, LayerNorm, LeakyReLU,
                     Linear, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh)
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d",
    "BatchNorm2d", "Conv1d", "Conv2d", "CrossEntropyLoss",
    "Dropout", "Embedding", "Flatten", "GELU", "Identity", "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax",
    "MLP", "MSELoss", "MaxPool1d", "MaxPool2d", "Module", "NLLLoss", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh",
    "functional", "init", "manual_seed",
]
