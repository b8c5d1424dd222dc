"""``cr.explore(loss)``: click through the chain rule in a browser, offline.

    cr.explore(loss).save("lesson.html")      # one self-contained file
    cr.explore(loss)                          # in Jupyter: the same page, inline

The page shows the graph laid out in topological order with every node's
value and gradient; clicking a node explains ∂output/∂node (its formula, its
local derivatives, every path from the output down to it with the product
along each path and their sum, lit up in the graph); Next / Back / Play /
Reset (and the arrow keys) step the forward pass node by node and the
backward pass edge by edge; buttons switch English / Chinese and few digits /
full precision; a tensor's gradient table lets you follow one element.

Every number is computed here by the engine (``page_data.py``) and embedded
as JSON; the page's scripts (``explorer/*.js``, hand-written, no library)
only display them. Scripts, styles and data are inlined: the file makes no
network request, and fonts are the reader's own.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import Any

from ..backprop import backpropagate, seed_gradient
from ..errors import GradientError, describe
from ..graph import Graph
from .page_data import page_data
from .phrases import PHRASES, check_lang

SCRIPTS = ("text.js", "graph.js", "chain.js", "panel.js", "steps.js", "app.js")  # in load order
PAGE_PHRASES = ("page.", "forward.", "explain.", "value.", "note.", "word.")  # the sentences the page says
IFRAME_HEIGHT = 640  # pixels, for the inline view in Jupyter


class Explorer:
    """The explorer page for one graph: ``save(path)``, ``to_html()``, and inline in Jupyter."""

    def __init__(self, data: dict[str, Any], lang: str = "en") -> None:
        self.data = data  # everything the page shows, as JSON-ready Python (see page_data.py)
        self.lang = check_lang(lang)

    def to_html(self) -> str:
        """The whole page as one string: HTML, CSS, scripts and data inlined."""
        template = _asset("page.html")
        payload = {**self.data, "lang": self.lang, "phrases": _page_phrases()}
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        out = self.data["nodes"][self.data["output"]]["name"]
        parts = {
            "{{lang}}": "zh-CN" if self.lang == "zh" else "en",
            "{{title}}": html.escape(PHRASES["page.title"][self.lang].format(out=out)),
            "{{style}}": _asset("explorer.css"),
            "{{data}}": data.replace("<", "\\u003c"),  # inside JSON strings only: nothing can close the <script>
            "{{script}}": _script_safe("\n".join(_asset(name) for name in SCRIPTS)),
        }
        for key, value in parts.items():
            template = template.replace(key, value, 1)
        return template

    def save(self, path: str | Path) -> str:
        """Write the page to ``path`` (UTF-8) and return the path."""
        page = self.to_html()
        Path(path).write_text(page, encoding="utf-8")
        return str(path)

    def _repr_html_(self) -> str:
        """Jupyter: the page in an iframe (``srcdoc``), so two explorers in one notebook
        never share scripts or styles, and nothing is fetched."""
        return (
            f'<iframe srcdoc="{html.escape(self.to_html(), quote=True)}" '
            f'style="width:100%;height:{IFRAME_HEIGHT}px;border:1px solid #ddd" '
            'sandbox="allow-scripts"></iframe>'
        )

    def __repr__(self) -> str:
        nodes = self.data["nodes"]
        return f"<Explorer of {nodes[self.data['output']]['name']}: {len(nodes)} nodes>"


def explore(output_or_graph: Any, *, gradient: Any = None, lang: str = "en", use_dot: bool = True) -> Explorer:
    """The explorer page for a graph at its current values.

    ``output_or_graph``: an output node (its graph is found and sorted) or a
    ``Graph``. The gradients shown are ∂output/∂node from one backward pass
    computed here, without touching any ``.grad``. ``gradient`` seeds a
    non-scalar output, as in ``backward``. A model's parameters show their
    qualified names (``0.weight``), which ``nn.Module`` gives them. ``lang``:
    the page's first language ("en" or "zh"; it has a button for the other).
    ``use_dot``: lay the graph out with Graphviz's ``dot`` when
    installed (else, and with False, chainrule's own layered layout).
    """
    check_lang(lang)
    graph = output_or_graph if isinstance(output_or_graph, Graph) else Graph(output_or_graph)
    out = graph.outputs[0]
    if any(node.value is None for node in graph.order):
        missing = next(node for node in graph.order if node.value is None)
        raise GradientError(f"explore: node {describe(missing)} has no value yet; run forward first")
    seed = seed_gradient(out, gradient)
    grads = backpropagate(graph.order, [(out, seed)], keep="none", wanted=set(graph.order)) if out.requires_grad else {}
    return Explorer(page_data(graph, grads, use_dot=use_dot), lang)


def _asset(name: str) -> str:
    # one name per joinpath: Python 3.10's Traversable (a zipped install's zipfile.Path) takes no more
    return resources.files(__package__).joinpath("explorer").joinpath(name).read_text(encoding="utf-8")


def _page_phrases() -> dict[str, dict[str, str]]:
    return {key: forms for key, forms in PHRASES.items() if key.startswith(PAGE_PHRASES)}


def _script_safe(text: str) -> str:
    """Text to put inside a <script> element: no ``</`` that could close it early."""
    return text.replace("</", "<\\/")
