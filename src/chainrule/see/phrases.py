"""Every sentence chainrule says about a graph, in English and Chinese, and how it writes values.

One table, ``PHRASES``, holds each sentence in both languages side by side, so a
sentence can never exist in one language only (a test checks that both forms
exist and take the same fields). ``say(key, lang, **fields)`` fills one in.

Numbers are written at full ``repr`` precision (``0.18583185743835806``, so the
lesson's digits appear exactly); tensors as their shape plus a short summary.
"""
from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np

LANGS = ("en", "zh")

PHRASES: dict[str, dict[str, str]] = {
    # ---- forward narration
    "forward.title": {
        "en": "Forward pass, in topological order (every node after its inputs):",
        "zh": "前向传播，按拓扑排序（每个节点都排在它的输入之后）：",
    },
    "forward.fed": {
        "en": "I am {name} ({kind}): I was fed {value}",
        "zh": "我是 {name}（{kind}），我已经被人类爸爸赋值为 {value}",
    },
    "forward.kept": {
        "en": "I am {name} ({kind}): nobody fed me this time, I keep {value}",
        "zh": "我是 {name}（{kind}），这次没有被赋值，沿用之前的 {value}",
    },
    "forward.variable": {
        "en": "I am {name} ({kind}): a trainable parameter, I hold {value}",
        "zh": "我是 {name}（{kind}），可训练的参数，我的值是 {value}",
    },
    "forward.constant": {
        "en": "I am {name} ({kind}): I always hold {value}",
        "zh": "我是 {name}（{kind}，常量），我的值永远是 {value}",
    },
    "forward.op": {
        "en": "I am {name} ({kind}): nobody fed me, I compute it myself: {name} = {formula} = {value}",
        "zh": "我是 {name}（{kind}），我没有人类爸爸，需要自己计算结果：{name} = {formula} = {value}",
    },
    # ---- backward narration
    "backward.title": {
        "en": "Backward pass, in reverse topological order: each node pushes its gradient to its inputs "
              "(chain rule: upstream gradient · local derivative):",
        "zh": "反向传播，按拓扑排序的逆序：每个节点把自己的梯度传给它的输入"
              "（链式法则：上游梯度 · 局部导数）：",
    },
    "backward.output": {
        "en": "I am {name} ({kind}), the output: ∂{out}/∂{name} = {value}",
        "zh": "我是 {name}（{kind}），输出节点：∂{out}/∂{name} = {value}",
    },
    "backward.received": {
        "en": "I am {name} ({kind}): I received ∂{out}/∂{name} = {value}",
        "zh": "我是 {name}（{kind}），我收到了 ∂{out}/∂{name} = {value}",
    },
    "backward.summed": {
        "en": " (the sum of the {count} gradients sent by the {count} places that use me)",
        "zh": "（使用我的 {count} 处各传来一个梯度，这是它们的和）",
    },
    "backward.send": {
        "en": "→ to {input}: {upstream} · {local} = {result}",
        "zh": "→ 传给 {input}：{upstream} · {local} = {result}",
    },
    "backward.send_tensor": {
        "en": "→ to {input}: the vjp of the {src} gradient through {local} gives {result}",
        "zh": "→ 传给 {input}：{src} 的梯度经过 {local} 的 vjp，得到 {result}",
    },
    "backward.no_grad_input": {
        "en": "→ {input} needs no gradient",
        "zh": "→ {input} 不需要梯度",
    },
    "backward.leaf": {
        "en": "I am {name} ({kind}): my gradient is ∂{out}/∂{name} = {value}",
        "zh": "我是 {name}（{kind}），我获取了我自己的梯度：∂{out}/∂{name} = {value}",
    },
    "backward.no_grad": {
        "en": "I am {name} ({kind}): I need no gradient",
        "zh": "我是 {name}（{kind}），我不需要梯度",
    },
    "backward.unreached": {
        "en": "I am {name} ({kind}): no gradient reached me (the output does not depend on me)",
        "zh": "我是 {name}（{kind}），没有梯度传到我这里（输出不依赖于我）",
    },
    # ---- explain
    "explain.one_path": {
        "en": "∂{out}/∂{wrt} by the chain rule: 1 path from {out} down to {wrt}; "
              "multiply the local derivatives along it.",
        "zh": "用链式法则求 ∂{out}/∂{wrt}：从 {out} 到 {wrt} 有 1 条路径；沿这条路径把局部导数相乘。",
    },
    "explain.paths": {
        "en": "∂{out}/∂{wrt} by the chain rule: {count} paths from {out} down to {wrt}; "
              "multiply the local derivatives along each path, then add the paths.",
        "zh": "用链式法则求 ∂{out}/∂{wrt}：从 {out} 到 {wrt} 共有 {count} 条路径；"
              "沿每条路径把局部导数相乘，再把各条路径相加。",
    },
    "explain.path": {
        "en": "path {index}:",
        "zh": "路径 {index}：",
    },
    "explain.sum": {
        "en": "sum of the {count} paths:",
        "zh": "{count} 条路径之和：",
    },
    "explain.self": {
        "en": "∂{out}/∂{out} = 1: the path of length zero.",
        "zh": "∂{out}/∂{out} = 1：长度为零的路径。",
    },
    "explain.none": {
        "en": "{out} does not depend on {wrt}: there is no path, so ∂{out}/∂{wrt} = 0.",
        "zh": "{out} 不依赖于 {wrt}：没有路径，所以 ∂{out}/∂{wrt} = 0。",
    },
    "explain.summary": {
        "en": "∂{out}/∂{wrt} by the chain rule: {count} paths from {out} down to {wrt}, more than "
              "max_paths={limit}, so they are not listed one by one. Grouped by their last step into {wrt} "
              "(backpropagation adds the paths up node by node):",
        "zh": "用链式法则求 ∂{out}/∂{wrt}：从 {out} 到 {wrt} 共有 {count} 条路径，超过 max_paths={limit}，"
              "不逐条列出。按进入 {wrt} 的最后一步分组（反向传播在每个节点上把路径加起来）：",
    },
    "explain.group": {
        "en": "via {symbol}: {count} paths, together {value}",
        "zh": "经过 {symbol}：{count} 条路径，合计 {value}",
    },
    "explain.step": {
        "en": "vjp {src}→{dst}",
        "zh": "vjp {src}→{dst}",
    },
    "explain.tensor_note": {
        "en": "(For tensors each step is a vector-Jacobian product (vjp): it turns the gradient of a node's "
              "output into the gradient of one input; the arrows show the shapes.)",
        "zh": "（对张量而言，每一步是一次向量-雅可比积 vjp：把节点输出的梯度变成某个输入的梯度；箭头两边是形状。）",
    },
    "explain.nothing": {
        "en": "{out} depends on nothing that requires a gradient: there is nothing to differentiate.",
        "zh": "{out} 不依赖任何需要梯度的节点：没有什么可以求导。",
    },
    # ---- how values are written
    "value.tensor": {
        "en": "a {shape} tensor: min {min}, mean {mean}, max {max}",
        "zh": "{shape} 张量：最小 {min}，平均 {mean}，最大 {max}",
    },
    "value.small": {
        "en": "a {shape} tensor {elements}",
        "zh": "{shape} 张量 {elements}",
    },
    "value.empty": {
        "en": "an empty {shape} tensor",
        "zh": "空的 {shape} 张量",
    },
    "value.none": {
        "en": "no value yet",
        "zh": "还没有值",
    },
    # ---- chainrule demo
    "demo.title": {
        "en": "chainrule demo: the lesson end to end, in float64",
        "zh": "chainrule 演示：把这节课从头到尾重放一遍（float64）",
    },
    "demo.build": {
        "en": "1. Build the lesson's graph: {formulas}",
        "zh": "1. 搭建课上的计算图：{formulas}",
    },
    "demo.order": {
        "en": "2. Topological order (every node after its inputs): {order}",
        "zh": "2. 拓扑排序（每个节点都排在它的输入之后）：{order}",
    },
    "demo.forward": {
        "en": "3. Forward pass with x = {x}, y = {y}",
        "zh": "3. 前向传播，x = {x}，y = {y}",
    },
    "demo.backward": {
        "en": "4. Backward pass",
        "zh": "4. 反向传播",
    },
    "demo.explain": {
        "en": "5. The chain rule, spelled out for ∂loss/∂k and ∂loss/∂b",
        "zh": "5. 把链式法则写出来：∂loss/∂k 和 ∂loss/∂b",
    },
    "demo.descent": {
        "en": "6. Gradient descent on k and b (the lesson's next step): {steps} steps of "
              "k ← k - {lr}·∂loss/∂k, b ← b - {lr}·∂loss/∂b",
        "zh": "6. 对 k 和 b 做梯度下降（这节课的下一步）：{steps} 步 "
              "k ← k - {lr}·∂loss/∂k，b ← b - {lr}·∂loss/∂b",
    },
    "demo.step": {
        "en": "step {step:>5}: loss = {loss}   k = {k}   b = {b}",
        "zh": "第 {step:>5} 步：loss = {loss}   k = {k}   b = {b}",
    },
    "demo.bar": {
        "en": "gradient descent",
        "zh": "梯度下降",
    },
    "demo.result": {
        "en": "after {steps} steps, loss: {start} → {end}",
        "zh": "{steps} 步之后，loss：{start} → {end}",
    },
    "demo.files": {
        "en": "7. Pictures, in {out}",
        "zh": "7. 图片，保存在 {out}",
    },
    "demo.wrote": {
        "en": "wrote {path}",
        "zh": "已写入 {path}",
    },
    "demo.no_plots": {
        "en": "7. No pictures (--no-plots).",
        "zh": "7. 不画图（--no-plots）。",
    },
    "demo.no_dot": {
        "en": "Graphviz's dot program was not found, so the graph is saved as DOT text in {path}. "
              "To get the picture, install Graphviz (apt-get install graphviz, brew install graphviz "
              "or conda install graphviz) and run: dot -Tsvg {path} -o graph.svg",
        "zh": "没有找到 Graphviz 的 dot 程序，所以计算图以 DOT 文本保存在 {path}。"
              "要得到图片，请安装 Graphviz（apt-get install graphviz、brew install graphviz "
              "或 conda install graphviz），然后运行：dot -Tsvg {path} -o graph.svg",
    },
    "demo.no_matplotlib": {
        "en": "matplotlib is not installed, so {path} was not written: pip install \"chainrule[viz]\"",
        "zh": "没有安装 matplotlib，所以没有写 {path}：pip install \"chainrule[viz]\"",
    },
    # ---- chainrule explain
    "cli.expression": {
        "en": "Expression: {expr}    with {bindings}",
        "zh": "表达式：{expr}    取值 {bindings}",
    },
    "cli.order": {
        "en": "Topological order: {order}",
        "zh": "拓扑排序：{order}",
    },
    # ---- the explorer page (see/explore.py): every word on it, in both languages
    "page.title": {
        "en": "chainrule explorer: ∂{out}/∂every node",
        "zh": "chainrule 探索器：∂{out}/∂每个节点",
    },
    "page.hint": {
        "en": "Click a node to see its chain rule. Step through the passes with the buttons or the ← → keys.",
        "zh": "点击一个节点，查看它的链式法则。用按钮或 ← → 键一步一步走完前向和反向传播。",
    },
    "page.forward": {"en": "Forward pass", "zh": "前向传播"},
    "page.backward": {"en": "Backward pass", "zh": "反向传播"},
    "page.next": {"en": "Next ▶", "zh": "下一步 ▶"},
    "page.back": {"en": "◀ Back", "zh": "◀ 上一步"},
    "page.play": {"en": "Play", "zh": "播放"},
    "page.pause": {"en": "Pause", "zh": "暂停"},
    "page.reset": {"en": "Reset", "zh": "重置"},
    "page.other_lang": {"en": "中文", "zh": "English"},
    "page.digits_full": {"en": "Full precision", "zh": "全精度"},
    "page.digits_short": {"en": "Few digits", "zh": "少量有效数字"},
    "page.value": {"en": "value", "zh": "值"},
    "page.grad": {"en": "grad", "zh": "梯度"},
    "page.step": {
        "en": "step {index} of {count}",
        "zh": "第 {index} 步，共 {count} 步",
    },
    "page.forward_start": {
        "en": "Press Next (or →): the nodes compute their values one by one, in topological order.",
        "zh": "按“下一步”（或 →）：节点按拓扑排序一个一个地计算自己的值。",
    },
    "page.backward_start": {
        "en": "Backward starts at the output: ∂{out}/∂{out} = 1. Press Next (or →) to send the gradient "
              "down one edge at a time.",
        "zh": "反向传播从输出开始：∂{out}/∂{out} = 1。按“下一步”（或 →），梯度每次沿一条边往回传。",
    },
    "page.back_step": {
        "en": "{op} → {input}: upstream ∂{out}/∂{op} × local ∂{op}/∂{input} = {upstream} × {local} = {result}",
        "zh": "{op} → {input}：上游梯度 ∂{out}/∂{op} × 局部导数 ∂{op}/∂{input} = {upstream} × {local} = {result}",
    },
    "page.back_step_tensor": {
        "en": "{op} → {input}: the vjp of the upstream gradient {upstream} through {local} gives {result}",
        "zh": "{op} → {input}：上游梯度 {upstream} 经过 {local} 的 vjp，得到 {result}",
    },
    "page.running": {
        "en": "∂{out}/∂{input} so far: {sum} (gradients arrived: {count} of {total})",
        "zh": "目前 ∂{out}/∂{input} = {sum}（已收到 {count}/{total} 个梯度）",
    },
    "page.kind": {"en": "kind", "zh": "类型"},
    "page.formula": {"en": "formula", "zh": "公式"},
    "page.gradient": {
        "en": "gradient ∂{out}/∂{name}",
        "zh": "梯度 ∂{out}/∂{name}",
    },
    "page.own_locals": {
        "en": "Its local derivatives, one per input (∂{name}/∂input):",
        "zh": "它的局部导数，每个输入一个（∂{name}/∂输入）：",
    },
    "page.arriving": {
        "en": "The gradient it receives along each edge from a node that uses it (upstream × local = sent):",
        "zh": "每个用到它的节点沿边传回的梯度（上游 × 局部导数 = 传回）：",
    },
    "page.no_grad": {
        "en": "{name} needs no gradient (nothing to train, nothing to explain).",
        "zh": "{name} 不需要梯度（不用训练，也没有要解释的）。",
    },
    "page.tensor": {"en": "a {shape} tensor", "zh": "{shape} 张量"},
    "page.first_entries": {
        "en": "(the first {rows} × {cols} entries)",
        "zh": "（只显示前 {rows} × {cols} 个元素）",
    },
    "page.pick": {
        "en": "Click an entry of the gradient table to follow that one element down its chain.",
        "zh": "点击梯度表中的一个元素，沿链式法则追踪这一个元素。",
    },
    "page.element": {
        "en": "One element: ∂{out}/∂{name}[{index}] = {value}. Each path's share of it:",
        "zh": "单个元素：∂{out}/∂{name}[{index}] = {value}。每条路径贡献的部分：",
    },
    "page.legend": {
        "en": "Red: the chain-rule paths from {out} down to the clicked node. Orange: the current step.",
        "zh": "红色：从 {out} 到所点节点的链式法则路径。橙色：当前这一步。",
    },
}


def check_lang(lang: str) -> str:
    """``lang`` itself, or a ValueError that lists the languages."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    return lang


def say(key: str, lang: str = "en", **fields: Any) -> str:
    """The sentence ``key`` in ``lang`` ("en" or "zh") with ``fields`` filled in."""
    return PHRASES[key][check_lang(lang)].format(**fields)


# ---------------------------------------------------------------- values
SMALL = 6  # tensors with at most this many elements are written out in full


def shape_text(shape: tuple) -> str:
    """``(3, 2)``; a scalar's shape is ``()``."""
    return str(tuple(int(d) for d in shape))


def number(value: Any) -> str:
    """One number at full precision: ``repr`` digits of its own dtype.

    NumPy's ``str`` of a float scalar is the shortest string that reads back to
    the same float *of that dtype* (so float32 0.1 is ``0.1``, not
    ``0.10000000149011612``, and float64 keeps all 17 digits when they matter).
    """
    arr = np.asarray(value)
    return str(arr.reshape(-1)[0]) if arr.size else "nan"


def describe_value(value: Any, lang: str = "en") -> str:
    """A scalar as its number; a tensor as shape plus elements or min/mean/max."""
    if value is None:
        return say("value.none", lang)
    arr = np.asarray(value)
    if arr.ndim == 0:
        return number(arr)
    shape = shape_text(arr.shape)
    if arr.size == 0:
        return say("value.empty", lang, shape=shape)
    if arr.size <= SMALL:
        # six significant digits, no column padding; bools and ints print as they are
        elements = np.array2string(arr, separator=", ", formatter={"float_kind": _six})
        return say("value.small", lang, shape=shape, elements=elements.replace("\n", ""))
    if arr.dtype.kind not in "fiub":
        return say("value.small", lang, shape=shape, elements=f"<{arr.dtype}>")
    values = arr.astype(np.float64, copy=False)
    return say("value.tensor", lang, shape=shape, min=_short(values.min()),
               mean=_short(values.mean()), max=_short(values.max()))


def display_width(text: str) -> int:
    """Columns on a terminal: CJK characters take two (so rows and rules line up)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _six(x: float) -> str:
    return f"{float(x):.6g}"


def _short(x: float) -> str:
    """Summary statistics need only 4 significant digits."""
    return f"{float(x):.4g}"
