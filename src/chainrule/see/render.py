"""An ``Explanation`` written out as text, in English or Chinese.

A path of scalars gets the lesson's four rows: the symbols, the local
derivatives as formulas, their numbers, the product. A path of tensors is a
chain of vector-Jacobian products: one row per step (what reaches each node,
its shape, the step's formula in terms of g, the gradient from the step
above), then the whole path as one formula and its value. Notes on counts,
ties, kinks and broadcast sums follow the path that uses them; NaN and
infinity flags come before the result. Summaries stay short: at most
``explanation.GROUPS`` groups, the rest in one line.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import symbols as s
from .flags import words
from .phrases import describe_value, say
from .values import display_width, shape_text

INDENT = "    "


def render(e: Any, lang: str) -> str:
    """The text of explanation ``e`` in ``lang``."""
    out, wrt = e.output.name, e.wrt
    if e.symbolic:
        return _render_symbols(e, lang)
    result = f"∂{out}/∂{wrt} = {describe_value(e.gradient, lang)}"
    if e.element is not None:
        result = f"∂{out}/∂{wrt} = " + say(
            "explain.element_of",
            lang,
            value=describe_value(e.gradient, lang),
            index=str(e.element),
            out=out,
            wrt=e.node.name,
        )
    flags = [words(flag, lang) for flag in e.flags]
    if e.node is e.output:
        return say("explain.self", lang, out=out) + "\n\n" + result
    if e.n_paths == 0:
        return "\n\n".join([say("explain.none", lang, out=out, wrt=wrt), *flags])
    if e.summarised:
        blocks = [
            say("explain.summary", lang, out=out, wrt=wrt, count=e.n_paths, limit=e.max_paths)
            + "\n"
            + "\n".join(_group_lines(e, lang))
        ]
    else:
        key = "explain.one_path" if e.n_paths == 1 else "explain.paths"
        blocks = [say(key, lang, out=out, wrt=wrt, count=e.n_paths)]
        if e.element is not None:
            blocks.append(say("explain.element", lang))
        blocks += [_render_path(i, path, lang) for i, path in enumerate(e.paths, start=1)]
        notes = _note_lines([f for path in e.paths for f in path.factors], lang)
        if notes:
            blocks.append("\n".join(notes))
        if len(e.paths) > 1:
            blocks.append(_render_sum(e.paths, e.gradient, lang))
    return "\n\n".join(blocks + flags + [result])


def _render_path(index: int, path: Any, lang: str) -> str:
    head = say("explain.path", lang, index=index)
    rows = [_after(head, " · ".join(f.symbol for f in path.factors))]
    if all(f.value is not None for f in path.factors):
        column = display_width(head) + (0 if head.endswith("：") else 1)  # where the symbols start
        rows += _scalar_rows(path, " " * max(column - 2, 1))
    else:
        rows += _tensor_rows(path, lang)
    return "\n".join(rows)


def _scalar_rows(path: Any, pad: str) -> list[str]:
    """The lesson's rows: formulas, numbers, product."""
    factors = path.factors
    rows = []
    if any(f.form is not None and f.form.known for f in factors):
        forms = [f.form if f.form is not None else s.unknown(f.symbol) for f in factors]
        rows.append(pad + "= " + s.chain(forms).text)
    rows.append(pad + "= " + s.chain([s.number(f.value) for f in factors]).text)
    rows.append(pad + "= " + describe_value(path.contribution))
    return rows


def _tensor_rows(path: Any, lang: str) -> list[str]:
    """One row per vector-Jacobian product, then the path as one formula and its value."""
    rows = [INDENT[:2] + say("explain.steps", lang)]
    names = [f"{f.input.name} {shape_text(f.in_shape)}" for f in path.factors]
    width = max(display_width(n) for n in names)
    for factor, label in zip(path.factors, names):
        step = factor.local or factor.symbol
        rows.append(f"{INDENT}→ {label}{' ' * (width - display_width(label))}  {step}")
    if path.formula is not None and len(path.factors) > 1:
        rows.append(INDENT[:2] + _after(say("explain.formula", lang), path.formula.text))
    rows.append(INDENT[:2] + "= " + describe_value(path.contribution, lang))
    return rows


def _note_lines(factors: Any, lang: str) -> list[str]:
    seen: list[tuple] = []
    for f in factors:
        for key, fields in f.notes:
            if (key, fields) not in seen:
                seen.append((key, fields))
    return ["· " + say(key, lang, **fields) for key, fields in seen]


def _render_sum(paths: Any, gradient: Any, lang: str) -> str:
    head = say("explain.sum", lang, count=len(paths))
    if all(p.value is not None for p in paths):
        terms = s.number(paths[0].contribution)
        for p in paths[1:]:  # a negative term is subtracted: 1.5 - 0.25, not 1.5 + (-0.25)
            value = np.asarray(p.contribution)
            terms = s.sub(terms, s.number(-value)) if value < 0 else s.add(terms, s.number(value))
        return _after(head, f"{terms.text} = {describe_value(gradient, lang)}")
    return _after(head, describe_value(gradient, lang))


def _after(head: str, text: str) -> str:
    """``head text``; no space after a Chinese full-width colon."""
    return head + text if head.endswith("：") else f"{head} {text}"


def _group_lines(e: Any, lang: str) -> list[str]:
    """One line per group; the last may stand for all the smaller ones."""
    lines = []
    for g in e.groups:
        value = "…" if g.contribution is None else describe_value(g.contribution, lang)
        if g.op is None:
            lines.append(
                INDENT + say("explain.more_groups", lang, count=g.edges, wrt=e.wrt, paths=g.count, value=value)
            )
        else:
            lines.append(INDENT + say("explain.group", lang, symbol=g.symbol, count=g.count, value=value))
    return lines


def _render_symbols(e: Any, lang: str) -> str:
    """The symbols stage: each path as a product of symbols, and the sum over the paths."""
    out, wrt = e.output.name, e.wrt
    if e.node is e.output:
        return say("explain.self", lang, out=out)
    if e.n_paths == 0:
        return say("explain.none", lang, out=out, wrt=wrt)
    blocks = [say("explain.symbols_only", lang)]
    if e.summarised:
        blocks.append(
            say("explain.summary", lang, out=out, wrt=wrt, count=e.n_paths, limit=e.max_paths)
            + "\n"
            + "\n".join(_group_lines(e, lang))
        )
        return "\n\n".join(blocks)
    key = "explain.one_path" if e.n_paths == 1 else "explain.paths"
    blocks.append(say(key, lang, out=out, wrt=wrt, count=e.n_paths))
    products = [" · ".join(f.symbol for f in p.factors) for p in e.paths]
    blocks.append(
        "\n".join(_after(say("explain.path", lang, index=i), text) for i, text in enumerate(products, start=1))
    )
    blocks.append(say("explain.symbolic_sum", lang, out=out, wrt=wrt, terms=" + ".join(products)))
    return "\n\n".join(blocks)
