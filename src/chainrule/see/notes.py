"""The notes under a formula, in English and Chinese: the counts and the special rules it uses.

A form (``forms_*.py``) adds a note with ``Edge.note(key, **fields)`` when the
formula writes a count (``n``) or when the op applies a special rule at the
current values (a tie, a kink, a zero it does not divide by); ``phrases.py``
takes these sentences into its one table, so ``say`` words them like any other.
"""

from __future__ import annotations

NOTES: dict[str, dict[str, str]] = {
    "note.count_elements": {
        "en": "{n} = {value}: the number of elements {op} averages over",
        "zh": "{n} = {value}：{op} 求平均的元素个数",
    },
    "note.count_examples": {
        "en": "{n} = {value}: the number of examples {op} averages over",
        "zh": "{n} = {value}：{op} 求平均的样本个数",
    },
    "note.spread": {
        "en": "{op} added up {count:element|elements} into each of its outputs, "
        "so g goes back to each of them unchanged",
        "zh": "{op} 把 {count} 个元素加成一个输出，所以 g 原样传回给其中每一个元素",
    },
    "note.tie": {
        "en": "a tie: {a} = {b} at {count:element|elements}; {op} splits the gradient there half and half (0.5 each)",
        "zh": "出现平局：有 {count} 个位置 {a} = {b}，{op} 在那里把梯度两边各分一半（各 0.5）",
    },
    "note.tie_reduce": {
        "en": "ties: several elements equal the {pick}; {op} splits the gradient evenly among them",
        "zh": "有多个元素同时等于 {pick}，{op} 把梯度在它们之间平均分配",
    },
    "note.kink_zero": {
        "en": "{x} = 0 at {count:element|elements}, where {op} has a kink: the derivative used there is {rule}",
        "zh": "{x} 有 {count} 个元素等于 0，{op} 在 0 处不可导：那里取的导数是 {rule}",
    },
    "note.pow_base": {
        "en": "{base} ≤ 0 at {count:element|elements}: {base}^b is not a smooth function of b there, "
        "so ∂/∂b is taken as 0",
        "zh": "{base} 有 {count} 个元素 ≤ 0：那里 {base}^b 不是 b 的光滑函数，所以 ∂/∂b 取 0",
    },
    "note.bce_clamp": {
        "en": "{p}·(1 - {p}) is at most 1e-12 somewhere: the denominator is taken as 1e-12 there",
        "zh": "{p}·(1 - {p}) 有的地方不超过 1e-12：分母在那里按 1e-12 计算",
    },
    "note.broadcast": {
        "en": "summed over {axes:en} back to {name}'s shape {shape}: {name} was broadcast to {full}, "
        "so each of its elements was used {count:time|times}",
        "zh": "沿{axes:zh}求和，回到 {name} 的形状 {shape}：{name} 被广播成 {full}，每个元素用了 {count} 次",
    },
    "note.end_of_range": {
        "en": "{x} sits on an end of [{low}, {high}] at {count:element|elements}: hardtanh's derivative there is 0 "
        "(PyTorch's rule)",
        "zh": "{x} 有 {count} 个元素正好落在区间 [{low}, {high}] 的端点上：hardtanh 在那里的导数取 0（PyTorch 的规则）",
    },
    "note.prod_zero": {
        "en": "{x} = 0 at {count:element|elements}: ∂{op}/∂{x} is the product of the other elements, so the "
        "formula puts 1 in place of each 0 ({x} + [{x} == 0]) rather than divide by 0, and keeps it only "
        "where no other element is 0",
        "zh": "{x} 有 {count} 个元素等于 0：∂{op}/∂{x} 是其余元素的乘积，所以公式把每个 0 换成 1"
        "（{x} + [{x} == 0]），而不去除以 0，并且只在其余元素都不为 0 的地方保留它",
    },
    "note.zero_scale": {
        "en": "{what} = 0 at {count:element|elements}: there the gradient through {op} is taken as 0, "
        "not 0/0 (PyTorch's rule)",
        "zh": "{what} 有 {count} 个元素等于 0：那里经过 {op} 的梯度取 0，而不是 0/0（PyTorch 的规则）",
    },
}
