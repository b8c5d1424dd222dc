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
    # ---- forward and backward mode side by side (modes.py: explain(..., mode="both"))
    "modes.title": {
        "en": "∂{out}/∂{wrt}, computed both ways on the same graph: forward mode carries derivatives up "
              "from {wrt}, backward mode carries them down from {out}.",
        "zh": "在同一张计算图上用两种方式求 ∂{out}/∂{wrt}：前向模式从 {wrt} 出发，把导数一层层往上传；"
              "反向模式从 {out} 出发，把导数一层层往下传。",
    },
    "modes.forward": {
        "en": "Forward mode (one pass per input): start from ∂{seed}/∂{seed} = 1, every other input 0, and go "
              "up in topological order; each node multiplies its inputs' derivatives with respect to {seed} "
              "by its local derivatives and adds them up.",
        "zh": "前向模式（每个输入各走一遍）：从 ∂{seed}/∂{seed} = 1 出发，其他输入都取 0，按拓扑排序往上走；"
              "每个节点把各个输入对 {seed} 的导数乘上自己的局部导数，再加起来。",
    },
    "modes.backward": {
        "en": "Backward mode (one pass per output): start from ∂{top}/∂{top} = 1 and go down in reverse "
              "topological order; each node multiplies the derivative of {top} with respect to itself by its "
              "local derivatives and sends the products to its inputs, which add up what they receive.",
        "zh": "反向模式（每个输出各走一遍）：从 ∂{top}/∂{top} = 1 出发，按拓扑排序倒过来往下走；"
              "每个节点把 {top} 对自己的导数乘上局部导数，传给各个输入，输入节点把收到的结果加起来。",
    },
    "modes.seed_tensor": {
        "en": "∂{name}/∂{seed}: 1 at {index}, 0 everywhere else",
        "zh": "∂{name}/∂{seed}：在 {index} 处为 1，其余都是 0",
    },
    "modes.forward_pass": {
        "en": "Multiplications in this pass: {mults}. It gives the derivative of every node with respect to "
              "{seed}; every other input (every element of a tensor) needs a pass of its own.",
        "zh": "这一遍做了 {mults} 次乘法，得到了每个节点对 {seed} 的导数；"
              "其他每个输入（张量则是每个元素）都还得各自再走一遍。",
    },
    "modes.backward_pass": {
        "en": "Multiplications in this pass: {mults}. It gives the derivative of {top} with respect to every "
              "node at once, the inputs {inputs} included.",
        "zh": "这一遍做了 {mults} 次乘法，一次就得到了 {top} 对每个节点的导数，输入 {inputs} 也都在内。",
    },
    "modes.same": {
        "en": "Both give ∂{top}/∂{seed} = {value}.",
        "zh": "两种方式算出的是同一个数：∂{top}/∂{seed} = {value}。",
    },
    "modes.same_rounded": {
        "en": "Both give ∂{top}/∂{seed}: {forward} forward, {backward} backward, equal up to rounding "
              "(the same products, multiplied in another order).",
        "zh": "两种方式算的是同一个导数 ∂{top}/∂{seed}：前向得 {forward}，反向得 {backward}，"
              "只差一点舍入误差（乘的是同样几个数，只是先后顺序不同）。",
    },
    "modes.cost": {
        "en": "What it takes to get every derivative of {out} with respect to every input:",
        "zh": "要算出 {out} 对每个输入的全部导数，需要：",
    },
    "modes.cost_forward": {
        "en": "forward mode, one pass per input element ({ends}): passes {passes}, multiplications {mults}",
        "zh": "前向模式，每个输入元素走一遍（{ends}）：共 {passes} 遍，{mults} 次乘法",
    },
    "modes.cost_backward": {
        "en": "backward mode, one pass per output element ({ends}): passes {passes}, multiplications {mults}",
        "zh": "反向模式，每个输出元素走一遍（{ends}）：共 {passes} 遍，{mults} 次乘法",
    },
    "modes.why_backward": {
        "en": "Backward mode needs fewer passes because the output has fewer elements than the inputs. That is "
              "why backpropagation runs backward: a loss is one number that depends on every parameter of a "
              "model, so one backward pass gives the whole gradient, where forward mode would need one pass "
              "per parameter.",
        "zh": "反向模式走的遍数更少，因为输出的元素比输入少。这就是反向传播要倒着走的原因：损失只是一个数，"
              "却依赖于模型的每一个参数；倒着走一遍就能得到全部梯度，而前向模式得为每个参数各走一遍。",
    },
    "modes.why_forward": {
        "en": "Here forward mode needs no more passes than backward mode, because the inputs have no more "
              "elements than the output: forward mode pays off with few inputs and many outputs, backward mode "
              "(backpropagation) with one loss and many parameters.",
        "zh": "在这里，前向模式走的遍数不比反向模式多，因为输入的元素不比输出多：输入少、输出多时，前向模式划算；"
              "一个损失、很多参数时，反向模式（也就是反向传播）划算。",
    },
    "modes.multiplication": {
        "en": "(One multiplication: one local derivative times one derivative passed along; for tensors, one "
              "nonzero entry of an op's local Jacobian times one element.)",
        "zh": "（一次乘法：一个局部导数乘以一个传过来的导数；对张量而言，是算子局部雅可比矩阵中的"
              "一个非零元素乘以一个元素。）",
    },
    "modes.uncounted": {
        "en": "not counted (the local Jacobians have more than max_entries={limit} entries)",
        "zh": "未统计（局部雅可比矩阵的元素超过 max_entries={limit} 个）",
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
