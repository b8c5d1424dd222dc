"""Every sentence chainrule says about a graph, in English and Chinese.

One table, ``PHRASES``, holds each sentence in both languages side by side, so a
sentence can never exist in one language only (a test checks that both forms
exist and take the same fields). ``say(key, lang, **fields)`` fills one in;
counts are written with their noun (``{count:path|paths}`` gives ``1 path``,
``3 paths``; Chinese needs no plural). The Chinese is written as a Chinese
instructor says it, in the lesson's voice ("我是 x，我已经被人类爸爸赋值为 3"),
with Chinese punctuation inside Chinese sentences.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .notes import NOTES
from .values import Axes, Count, entries, is_finite, number, shape_text, short

LANGS = ("en", "zh")

PHRASES: dict[str, dict[str, str]] = {
    # ---- forward narration
    "forward.title": {
        "en": "Forward pass, in topological order (every node after its inputs):",
        "zh": "前向传播（按拓扑序，每个节点都排在它的输入之后）：",
    },
    "forward.fed": {
        "en": "I am {name} ({kind}): I was fed {value}",
        "zh": "我是 {name}（{kind}），我已经被人类爸爸赋值为 {value}",
    },
    "forward.kept": {
        "en": "I am {name} ({kind}): nobody fed me this time, I keep {value}",
        "zh": "我是 {name}（{kind}），这次没人给我赋值，我沿用上次的 {value}",
    },
    "forward.variable": {
        "en": "I am {name} ({kind}): a trainable parameter, I hold {value}",
        "zh": "我是 {name}（{kind}），我是可训练的参数，现在的值是 {value}",
    },
    "forward.constant": {
        "en": "I am {name} ({kind}): I always hold {value}",
        "zh": "我是 {name}（{kind}），我是常量，值一直是 {value}",
    },
    "forward.op": {
        "en": "I am {name} ({kind}): nobody fed me, I compute it myself: {name} = {formula} = {value}",
        "zh": "我是 {name}（{kind}），我没有人类爸爸，需要自己计算结果：{name} = {formula} = {value}",
    },
    "forward.unset": {"en": "I am {name} ({kind}): I have no value yet", "zh": "我是 {name}（{kind}），我还没有值"},
    # ---- backward narration
    "backward.title": {
        "en": "Backward pass (the topological order, reversed): each node multiplies the gradient it "
        "received by its local derivative and passes the result on to each of its inputs:",
        "zh": "反向传播（按拓扑序倒过来走）：每个节点把收到的梯度乘上局部导数，再传给各个输入节点。",
    },
    "backward.output": {
        "en": "I am {name} ({kind}), the output: ∂{out}/∂{name} = {value}",
        "zh": "我是 {name}（{kind}），我是输出节点：∂{out}/∂{name} = {value}",
    },
    "backward.received": {
        "en": "I am {name} ({kind}): I received ∂{out}/∂{name} = {value}",
        "zh": "我是 {name}（{kind}），我收到的梯度是 ∂{out}/∂{name} = {value}",
    },
    "backward.summed": {
        "en": " ({count} places use me; each sent a gradient back, and this is their sum)",
        "zh": "：有 {count} 处用到了我，各传回一个梯度，加起来就是它。",
    },
    "backward.send": {
        "en": "→ to {input}: {formula} = {numbers} = {result}",
        "zh": "→ 传给 {input}：{formula} = {numbers} = {result}",
    },
    "backward.send_scalar_g": {
        "en": "→ to {input}: the scalar gradient {g} times the local derivative {local} gives {result}",
        "zh": "→ 传给 {input}：标量梯度 {g} 乘上局部导数 {local}，得到{result}",
    },
    "backward.send_tensor": {
        "en": "→ to {input}: with g the {src} gradient I received, {local} gives {result}",
        "zh": "→ 传给 {input}：把收到的 {src} 梯度记作 g，代入 {local}，得到{result}",
    },
    "backward.no_grad_input": {"en": "→ {input} needs no gradient", "zh": "→ {input} 不需要梯度"},
    "backward.leaf": {
        "en": "I am {name} ({kind}): my gradient is ∂{out}/∂{name} = {value}",
        "zh": "我是 {name}（{kind}），我的梯度是 ∂{out}/∂{name} = {value}",
    },
    "backward.no_grad": {"en": "I am {name} ({kind}): I need no gradient", "zh": "我是 {name}（{kind}），我不需要梯度"},
    "backward.unreached": {
        "en": "I am {name} ({kind}): no gradient reached me (the output does not depend on me)",
        "zh": "我是 {name}（{kind}），没有梯度传到我这里（输出与我无关）",
    },
    # ---- explain
    "explain.one_path": {
        "en": "∂{out}/∂{wrt} by the chain rule: 1 path from {out} down to {wrt}; "
        "multiply the local derivatives along it.",
        "zh": "用链式法则求 ∂{out}/∂{wrt}：从 {out} 到 {wrt} 只有 1 条路径，把这条路径上的局部导数依次相乘。",
    },
    "explain.paths": {
        "en": "∂{out}/∂{wrt} by the chain rule: {count:path|paths} from {out} down to {wrt}; "
        "multiply the local derivatives along each path, then add the paths.",
        "zh": "用链式法则求 ∂{out}/∂{wrt}：从 {out} 到 {wrt} 共有 {count} 条路径，"
        "每条路径上的局部导数相乘，再把各条路径的结果相加。",
    },
    "explain.path": {"en": "path {index}:", "zh": "路径 {index}："},
    "explain.sum": {"en": "sum of the {count:path|paths}:", "zh": "{count} 条路径之和："},
    "explain.self": {"en": "∂{out}/∂{out} = 1: the path of length zero.", "zh": "∂{out}/∂{out} = 1：长度为零的路径。"},
    "explain.none": {
        "en": "{out} does not depend on {wrt}: there is no path, so ∂{out}/∂{wrt} = 0.",
        "zh": "{out} 与 {wrt} 无关：没有路径，所以 ∂{out}/∂{wrt} = 0。",
    },
    "explain.summary": {
        "en": "∂{out}/∂{wrt} by the chain rule: {count:path|paths} from {out} down to {wrt}, more than "
        "max_paths={limit}, so they are not listed one by one. Backpropagation adds them up node by "
        "node; here they are grouped by their last step into {wrt}:",
        "zh": "用链式法则求 ∂{out}/∂{wrt}：从 {out} 到 {wrt} 共有 {count} 条路径，超过 max_paths={limit}，"
        "不再逐条列出。反向传播在每个节点上把路径汇总；下面按进入 {wrt} 的最后一步分组：",
    },
    "explain.group": {
        "en": "via {symbol}: {count:path|paths}, together {value}",
        "zh": "经过 {symbol}：{count} 条路径，合计 {value}",
    },
    "explain.more_groups": {
        "en": "… and {count:more step|more steps} into {wrt} ({paths:path|paths}), together {value}",
        "zh": "……另有 {count} 条边进入 {wrt}（共 {paths} 条路径），合计 {value}",
    },
    "explain.steps": {
        "en": "step by step, each a vector-Jacobian product (g: the gradient arriving from the step above):",
        "zh": "逐步计算，每一步都是一次向量-雅可比积（g 表示从上一步传下来的梯度）：",
    },
    "explain.formula": {"en": "all in one:", "zh": "合起来："},
    "explain.element": {
        "en": "(One element at a time: every element of a tensor is a node of its own, and these are the "
        "chains through single elements, with the numbers of this element.)",
        "zh": "（一次看一个元素：张量的每个元素都可以看成一个单独的节点，"
        "下面是经过单个元素的链，用的都是这个元素的数值。）",
    },
    "explain.element_of": {
        "en": "{value}, element {index} of ∂{out}/∂{wrt}",
        "zh": "{value}，即 ∂{out}/∂{wrt} 在 {index} 处的元素",
    },
    "explain.nothing": {
        "en": "{out} depends on nothing that requires a gradient: there is nothing to differentiate.",
        "zh": "{out} 不依赖任何需要梯度的节点，没有可以求导的东西。",
    },
    "explain.symbols_only": {
        "en": "(No forward pass yet, so no numbers: the chain rule as symbols only, the lesson's slogans.)",
        "zh": "（还没有做前向传播，所以没有数值：先把链式法则的“口号”喊出来，只写符号。）",
    },
    "explain.symbolic_sum": {"en": "∂{out}/∂{wrt} = {terms}", "zh": "∂{out}/∂{wrt} = {terms}"},
    # ---- notes on what a formula uses: notes.py
    **NOTES,
    # ---- values that are not numbers
    "flag.value": {
        "en": "⚠ {name} = {value}: {kind} '{name}' made {what} out of finite inputs ({inputs})",
        "zh": "⚠ {name} = {value}：输入都是有限数（{inputs}），{kind} 节点 {name} 却得到了{what}",
    },
    "flag.gradient": {
        "en": "⚠ the gradient becomes {what} at the step {symbol}",
        "zh": "⚠ 梯度在 {symbol} 这一步变成了{what}",
    },
    "word.nan": {"en": "not a number (NaN)", "zh": "非数值（NaN）"},
    "word.inf": {"en": "an infinity", "zh": "无穷大"},
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
    "value.tensor": {"en": "a {shape} tensor {entries}", "zh": "形状为 {shape} 的张量 {entries}"},
    "value.range": {"en": " (min {min}, max {max})", "zh": "（最小值 {min}，最大值 {max}）"},
    "value.empty": {"en": "an empty {shape} tensor", "zh": "形状为 {shape} 的空张量"},
    "value.none": {"en": "no value yet", "zh": "还没有值"},
    # ---- the explorer page (see/explore.py): every word on it, in both languages
    "page.title": {"en": "chainrule explorer: ∂{out}/∂every node", "zh": "chainrule 探索器：∂{out}/∂每个节点"},
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
    "page.step": {"en": "step {index} of {count}", "zh": "第 {index} 步，共 {count} 步"},
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
    "page.gradient": {"en": "gradient ∂{out}/∂{name}", "zh": "梯度 ∂{out}/∂{name}"},
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
    "page.tensor": {"en": "a {shape} tensor", "zh": "形状为 {shape} 的张量"},
    "page.summary": {
        "en": "a {shape} tensor: min {min}, mean {mean}, max {max}",
        "zh": "形状为 {shape} 的张量：最小值 {min}，均值 {mean}，最大值 {max}",
    },
    "page.first_entries": {"en": "(the first {rows} × {cols} entries)", "zh": "（只显示前 {rows} × {cols} 个元素）"},
    "page.pick": {
        "en": "Click an entry of the gradient table to follow that one element down its chain.",
        "zh": "点击梯度表中的一个元素，沿链式法则追踪这一个元素。",
    },
    "page.element": {
        "en": "One element: ∂{out}/∂{name}[{index}] = {value}",
        "zh": "单个元素：∂{out}/∂{name}[{index}] = {value}",
    },
    "page.shares": {"en": "Each path's share of it:", "zh": "每条路径贡献的部分："},
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
    """The sentence ``key`` in ``lang`` ("en" or "zh") with ``fields`` filled in.

    Integer fields are counts (``{count:path|paths}``); tuples named ``axes`` are axes."""
    for name, value in fields.items():
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            fields[name] = Count(value)
        elif name == "axes":
            fields[name] = Axes(value)
    return PHRASES[key][check_lang(lang)].format(**fields)


def register(table: dict[str, dict[str, str]]) -> None:
    """Add sentences from another module (the demo, pictures, the command line) to the one table."""
    for key, forms in table.items():
        if key in PHRASES:
            raise KeyError(f"phrase {key!r} is defined twice")
        PHRASES[key] = forms


def describe_value(value: Any, lang: str = "en") -> str:
    """A scalar as its number at full precision; a tensor as its shape and leading entries."""
    if value is None:
        return say("value.none", lang)
    arr = np.asarray(value)
    if arr.ndim == 0:
        return number(arr)
    shape = shape_text(arr.shape)
    if arr.size == 0:
        return say("value.empty", lang, shape=shape)
    text, complete = entries(arr)
    described = say("value.tensor", lang, shape=shape, entries=text)
    if not complete and arr.dtype.kind in "fiu" and is_finite(arr):
        described += say("value.range", lang, min=short(arr.min(), 4), max=short(arr.max(), 4))
    return described
