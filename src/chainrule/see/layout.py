"""Where each node of a graph goes on a page: boxes and edge curves, in pixels.

The explorer draws its graph itself (plain SVG written by a small script), so
it needs positions, computed here in Python and embedded in the page:

- with Graphviz's ``dot`` (when installed): ``dot -Tplain`` lays the graph
  out left to right (inputs on the left, the output on the right) and gives
  every edge as cubic Bézier control points;
- without it, or if ``dot`` fails: a layered layout of our own. Each op goes
  one column right of its deepest input (its longest path from the leaves,
  found in one pass over the topological order); each leaf sits just left of
  its first consumer; within a column nodes are ordered by the mean row of
  their inputs, which keeps most edges short and uncrossed.

Both return the same thing: a ``Layout`` of boxes (centre x, y, width,
height; y grows downwards, as in SVG) and, per edge, its Bézier control points.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from ..node import Node

DPI = 72.0  # Graphviz works in inches; the page in CSS pixels (72 per inch in dot's output)
MARGIN = 24.0
RANK_GAP, ROW_GAP = 64.0, 22.0  # the fallback layout's spacing between columns and rows
ARROW = 9.0  # the page draws an arrowhead of this length after each curve's end
DOT_TIMEOUT = 30.0  # seconds; a slower dot falls back to the layered layout

Box = tuple[float, float, float, float]  # centre x, centre y, width, height
Curve = list[tuple[float, float]]  # cubic Bézier pieces (3k+1 points), from the input towards the consumer


@dataclass
class Layout:
    boxes: list[Box]  # one per node, in the order given
    curves: list[Curve]  # one per edge, in the order given
    width: float
    height: float
    engine: str  # "dot" or "layered"


def layout(
    order: Sequence[Node], edges: Sequence[tuple[int, int]], sizes: Sequence[tuple[float, float]], use_dot: bool = True
) -> Layout:
    """Positions for the nodes ``order`` (topological) of the given pixel ``sizes``
    and the ``edges`` (input index, consumer index), with ``dot`` when it is installed."""
    if use_dot and shutil.which("dot"):
        try:
            return dot_layout(edges, sizes)
        except (OSError, ValueError, subprocess.SubprocessError):
            pass  # a dot that crashes or times out: the layered layout still draws the graph
    return layered_layout(order, edges, sizes)


# ---------------------------------------------------------------- Graphviz
def dot_layout(edges: Sequence[tuple[int, int]], sizes: Sequence[tuple[float, float]]) -> Layout:
    """Run ``dot -Tplain`` and read its boxes and splines (ValueError if the output is unreadable)."""
    lines = [
        "digraph g {",
        "  rankdir=LR; nodesep=0.3; ranksep=0.6; splines=spline;",
        '  node [shape=box, fixedsize=true, label=""];',
    ]
    lines += [f"  n{i} [width={w / DPI:.3f}, height={h / DPI:.3f}];" for i, (w, h) in enumerate(sizes)]
    lines += [f"  n{src} -> n{dst};" for src, dst in edges]
    lines.append("}")
    done = subprocess.run(
        [shutil.which("dot") or "dot", "-Tplain"],
        input="\n".join(lines).encode(),
        capture_output=True,
        timeout=DOT_TIMEOUT,
        check=True,
    )
    return _read_plain(done.stdout.decode(), edges, len(sizes))


def _read_plain(text: str, edges: Sequence[tuple[int, int]], count: int) -> Layout:
    """Parse ``-Tplain``: ``graph scale w h``, ``node name x y w h ...``, ``edge tail head n x1 y1 ...``.

    Plain output has y pointing up; the page's points down. Two edges between
    the same pair of nodes (``x*x``) come out in the order they went in.
    """
    height = 0.0
    width = 0.0
    boxes: list[Box | None] = [None] * count
    found: dict[tuple[int, int], list[Curve]] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "graph":
            width, height = float(parts[2]) * DPI, float(parts[3]) * DPI
        elif parts[0] == "node":
            x, y, w, h = (float(v) * DPI for v in parts[2:6])
            boxes[int(parts[1][1:])] = (x + MARGIN, height - y + MARGIN, w, h)
        elif parts[0] == "edge":
            n = int(parts[3])
            points = [
                (float(parts[4 + 2 * j]) * DPI + MARGIN, height - float(parts[5 + 2 * j]) * DPI + MARGIN)
                for j in range(n)
            ]
            found.setdefault((int(parts[1][1:]), int(parts[2][1:])), []).append(points)
    if any(box is None for box in boxes):
        raise ValueError("dot left a node out of its layout")
    curves = []
    for src, dst in edges:
        queue = found.get((src, dst))
        if not queue:
            raise ValueError("dot left an edge out of its layout")
        curves.append(_spline(queue.pop(0)))
    return Layout([b for b in boxes if b is not None], curves, width + 2 * MARGIN, height + 2 * MARGIN, "dot")


def _spline(points: Curve) -> Curve:
    """dot's spline: a chain of cubic Bézier pieces (3k+1 points), drawn as it is. It stops where
    dot puts the arrowhead, which the page draws from there on."""
    if len(points) < 4 or (len(points) - 1) % 3:
        return [points[0], points[0], points[-1], points[-1]]
    return points


# ---------------------------------------------------------------- our own layers
def layered_layout(
    order: Sequence[Node], edges: Sequence[tuple[int, int]], sizes: Sequence[tuple[float, float]]
) -> Layout:
    """Columns by longest path, rows by the mean row of each node's inputs (see the module docstring)."""
    columns = _columns(order, edges)
    inputs_of: list[list[int]] = [[] for _ in order]
    for src, dst in edges:
        inputs_of[dst].append(src)
    n_cols = max(columns, default=0) + 1
    members: list[list[int]] = [[] for _ in range(n_cols)]
    row: dict[int, float] = {}
    for i in sorted(range(len(order)), key=lambda j: (columns[j], j)):
        members[columns[i]].append(i)
    for col in members:
        col.sort(key=lambda j: sum(row.get(s, 0.0) for s in inputs_of[j]) / max(len(inputs_of[j]), 1))
        for r, j in enumerate(col):
            row[j] = float(r)
    col_width = [max((sizes[j][0] for j in col), default=0.0) for col in members]
    x_left = [MARGIN + sum(col_width[:c]) + RANK_GAP * c for c in range(n_cols)]
    boxes: list[Box] = [(0.0, 0.0, 0.0, 0.0)] * len(order)
    height = 0.0
    for c, col in enumerate(members):
        y = MARGIN
        for j in col:
            w, h = sizes[j]
            boxes[j] = (x_left[c] + col_width[c] / 2, y + h / 2, w, h)
            y += h + ROW_GAP
        height = max(height, y)
    curves = [_bezier(boxes[src], boxes[dst]) for src, dst in edges]
    width = x_left[-1] + col_width[-1] + MARGIN if n_cols else 2 * MARGIN
    return Layout(boxes, curves, width, height + MARGIN, "layered")


def _columns(order: Sequence[Node], edges: Sequence[tuple[int, int]]) -> list[int]:
    """Ops one column right of their deepest input; leaves one column left of their first consumer."""
    inputs_of: list[list[int]] = [[] for _ in order]
    consumers: list[list[int]] = [[] for _ in order]
    for src, dst in edges:
        inputs_of[dst].append(src)
        consumers[src].append(dst)
    column = [0] * len(order)
    for i in range(len(order)):  # topological: inputs already placed
        if inputs_of[i]:
            column[i] = 1 + max(column[s] for s in inputs_of[i])
    for i in range(len(order)):
        if not inputs_of[i] and consumers[i]:
            column[i] = max(min(column[c] for c in consumers[i]) - 1, 0)
    return column


def _bezier(a: Box, b: Box) -> Curve:
    """From the right side of box ``a`` to the left side of box ``b``, leaving and arriving horizontally."""
    x0, y0 = a[0] + a[2] / 2, a[1]
    x1, y1 = b[0] - b[2] / 2 - ARROW, b[1]
    bend = max((x1 - x0) / 2, 20.0)
    return [(x0, y0), (x0 + bend, y0), (x1 - bend, y1), (x1, y1)]
