"""A program's text as blocks ``(text, node, names read)`` (see ``writer.py``), and the
passes over them once written: one-use temporaries fused into the line that reads them,
big arrays deleted after their last use."""

from __future__ import annotations

import re

_TEMP = re.compile(r"\b(?:v\d+|p\d+|_q\d+_\d+|_\d+_b?in\d+)\b")  # the program's own variables


_ASSIGNED = re.compile(r"(v\d+|_q\d+_\d+|_\d+_b?in\d+) = ([^\n]+)")


def uses(blocks: list) -> dict[str, int]:
    """How often each of the program's own variables appears in the blocks' text."""
    counts: dict[str, int] = {}
    for text, _, _ in blocks:
        for name in _TEMP.findall(text):
            counts[name] = counts.get(name, 0) + 1
    return counts


def fuse(blocks: list, counts: dict) -> list:
    """One-line blocks ``t = expr`` whose ``t`` is read once, by the next one-line block,
    become ``(expr)`` there: ``v4 = v2 + c`` then ``v5 = tanh(v4)`` is ``v5 = tanh((v2 + c))``.
    The same operations in the same order (the parentheses keep them), fewer lines to
    compile and fewer names to store and load when it runs."""
    out: list = []
    depth = 0  # how many lines the last block already holds (Python's parser caps nesting)
    for block in blocks:
        if out and depth < 8 and out[-1][0][:1] in "v_" and "\n" not in out[-1][0]:
            text, node, reads = block
            m = _ASSIGNED.fullmatch(out[-1][0])
            if m and "\n" not in text and counts.get(m.group(1)) == 2:
                use = next((u for u in _TEMP.finditer(text) if u.group() == m.group(1)), None)
                if use is not None:
                    fused = f"{text[: use.start()]}({m.group(2)}){text[use.end() :]}"
                    out[-1] = (fused, node, (set(reads) - {m.group(1)}) | set(out[-1][2]))
                    depth += 1
                    continue
        out.append(block)
        depth = 0
    return out


def with_deletions(blocks: list, big: set[str]) -> list:
    """The blocks, with ``del name`` after the last block that reads each of the ``big`` arrays."""
    if not big:
        return blocks
    last: dict[str, int] = {}
    for k, (_, _, reads) in enumerate(blocks):
        for name in reads:
            if name in big:
                last[name] = k
    ends: dict[int, list[str]] = {}
    for name, k in last.items():
        if k < len(blocks) - 1:
            ends.setdefault(k, []).append(name)
    out = []
    for k, block in enumerate(blocks):
        out.append(block)
        if k in ends:
            out.append((f"del {', '.join(sorted(ends[k]))}", None, set()))
    return out
