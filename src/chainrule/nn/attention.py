"""``MultiheadAttention``, as ``torch.nn.MultiheadAttention``: the same arguments, the
same parameter names (so a state dict loads across), the same outputs and gradients.

    attn = cr.nn.MultiheadAttention(embed_dim=16, num_heads=4, batch_first=True)
    out, weights = attn(x, x, x, key_padding_mask=pad)     # self-attention, (N, L, 16), (N, L, L)

For each head h: softmax(Q_h K_hᵀ / √d + mask) V_h, with Q = query·W_qᵀ + b_q
(and K, V alike) and d = embed_dim / num_heads; the heads are concatenated and
projected by ``out_proj``. Written with matmul, softmax and reshapes only, so
every gradient (and second derivative) comes from those ops.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ShapeError, option_error
from ..node import Node, value_of
from ..ops import getitem, matmul, mean, squeeze, swapaxes, unsqueeze
from . import functional as F
from . import init
from .deferred import additive_mask, checked, flatten, unflatten
from .layers import Linear
from .module import Module, check_option, float_array, is_probability, is_size
from .parameter import Parameter


def _batched(value: np.ndarray) -> None:
    if value.ndim != 3:
        raise ShapeError(
            f"MultiheadAttention built on a placeholder expects batched 3-D input, got shape "
            f"{value.shape} (feed (N, L, E), or build on a value to use unbatched (L, E) input)"
        )


class MultiheadAttention(Module):
    """Attention from ``num_heads`` heads of size embed_dim / num_heads (``torch.nn.MultiheadAttention``).

    Inputs (L, N, E) or, with ``batch_first``, (N, L, E), or unbatched (L, E);
    ``kdim``/``vdim``: the sizes of key and value features when they differ
    from ``embed_dim``. ``forward(query, key, value, key_padding_mask=None,
    need_weights=True, attn_mask=None, average_attn_weights=True, is_causal=False)``
    returns (output, attention weights averaged over heads, or per head, or
    None). Masks are boolean (True: may not attend) or float (added to the
    scores): ``key_padding_mask`` (N, S), ``attn_mask`` (L, S) or (N·num_heads, L, S).
    ``dropout`` applies to the attention weights while training.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        owner = "MultiheadAttention"
        for option, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            check_option(owner, option, value, is_size(value), "is not a positive int")
        check_option(
            owner, "num_heads", num_heads, embed_dim % num_heads == 0, f"does not divide embed_dim={embed_dim}"
        )
        check_option(owner, "dropout", dropout, is_probability(dropout), "is not a probability in [0, 1]")
        for option, dim in (("kdim", kdim), ("vdim", vdim)):
            check_option(owner, option, dim, dim is None or is_size(dim), "is not None or a positive int")
        for option, flag in (("add_bias_kv", add_bias_kv), ("add_zero_attn", add_zero_attn)):
            check_option(owner, option, flag, not flag, "is not supported (only False)")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.kdim, self.vdim = kdim or embed_dim, vdim or embed_dim
        self.dropout, self.batch_first = dropout, bool(batch_first)
        e = embed_dim
        if self.kdim == e and self.vdim == e:  # PyTorch's layout and names: one packed projection
            self.in_proj_weight = Parameter(init.xavier_uniform((3 * e, e), dtype=dtype), name="in_proj_weight")
        else:
            self.q_proj_weight = Parameter(init.xavier_uniform((e, e), dtype=dtype), name="q_proj_weight")
            self.k_proj_weight = Parameter(init.xavier_uniform((e, self.kdim), dtype=dtype), name="k_proj_weight")
            self.v_proj_weight = Parameter(init.xavier_uniform((e, self.vdim), dtype=dtype), name="v_proj_weight")
        self.in_proj_bias = Parameter(float_array(np.zeros(3 * e), dtype), name="in_proj_bias") if bias else None
        self.out_proj = Linear(e, e, bias=bias, dtype=dtype)
        if self.out_proj.bias is not None:  # (bias=True)
            self.out_proj.bias.value = np.zeros_like(self.out_proj.bias.value)

    def check_input(self, value: np.ndarray, position: int) -> None:
        if position > 2:
            return
        name, size = [("query", self.embed_dim), ("key", self.kdim), ("value", self.vdim)][position]
        if value.ndim not in (2, 3) or value.shape[-1] != size:
            raise ShapeError(
                f"MultiheadAttention({self.embed_dim}, {self.num_heads}): {name} must have 2 or 3 axes "
                f"and {size} features on the last, got shape {value.shape}"
            )

    def _project(self, x: Any, which: int) -> Any:
        """Input ``which`` (0 query, 1 key, 2 value) projected and split into heads: (N, H, L, d)."""
        e = self.embed_dim
        if hasattr(self, "in_proj_weight"):
            weight = getitem(self.in_proj_weight, slice(which * e, (which + 1) * e))
        else:
            weight = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[which]
        bias = None if self.in_proj_bias is None else getitem(self.in_proj_bias, slice(which * e, (which + 1) * e))
        return swapaxes(unflatten(F.linear(x, weight, bias), -1, (self.num_heads, self.head_dim)), -2, -3)

    def forward(
        self,
        query: Any,
        key: Any,
        value: Any,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple:
        if is_causal and attn_mask is None:
            raise option_error(
                "MultiheadAttention", "is_causal", is_causal, "is a hint that needs attn_mask (the causal mask itself)"
            )
        q_value = value_of(query)
        unbatched = q_value is not None and np.ndim(q_value) == 2
        if q_value is None:
            query, key, value = (checked(t, _batched) if isinstance(t, Node) else t for t in (query, key, value))
        if unbatched:
            query, key, value = (unsqueeze(t, 0) for t in (query, key, value))
        elif not self.batch_first:
            query, key, value = (swapaxes(t, 0, 1) for t in (query, key, value))
        q, k, v = self._project(query, 0), self._project(key, 1), self._project(value, 2)
        scores = matmul(q * (1.0 / math.sqrt(self.head_dim)), swapaxes(k, -1, -2))  # (N, H, L, S)
        dtype = self.out_proj.weight.dtype
        if attn_mask is not None:
            scores = scores + additive_mask(attn_mask, dtype, heads=self.num_heads)
        if key_padding_mask is not None:
            scores = scores + additive_mask(key_padding_mask, dtype, key_padding=True)
        weights = F.dropout(F.softmax(scores, dim=-1), self.dropout, self.training)
        out = self.out_proj(flatten(swapaxes(matmul(weights, v), -2, -3), -2, -1))  # heads side by side
        if unbatched:
            out, weights = squeeze(out, 0), squeeze(weights, 0)
        elif not self.batch_first:
            out = swapaxes(out, 0, 1)
        if not need_weights:
            return out, None
        return out, mean(weights, axis=-3) if average_attn_weights else weights

    def traces_alike(self) -> bool:
        return not self.training or self.dropout == 0  # a new random mask on every training call

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"batch_first={self.batch_first}"
        )
