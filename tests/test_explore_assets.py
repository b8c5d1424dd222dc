"""The explorer reads its page, style and scripts through importlib.resources' ``Traversable``
protocol as Python 3.10 defines it, so an install that is not a plain folder (a zip, whose
``zipfile.Path.joinpath`` takes one name in 3.10) finds them too."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

import chainrule as cr
import chainrule.see.explore as explore_module

from lesson_helpers import X, Y, build_lesson


class OneNameTraversable:
    """A package folder seen as Python 3.10's Traversable: ``joinpath`` takes a single name."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def joinpath(self, child: str) -> OneNameTraversable:
        return OneNameTraversable(self.path / child)

    def read_text(self, encoding: str | None = None) -> str:
        return self.path.read_text(encoding=encoding)


def test_the_page_loads_its_assets_one_name_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    graph, n = build_lesson()
    graph.forward({n["x"]: X, n["y"]: Y})
    folder = Path(explore_module.__file__).parent
    monkeypatch.setattr(resources, "files", lambda package: OneNameTraversable(folder))
    page = cr.explore(graph).to_html()
    assert page.startswith("<!DOCTYPE html>") and "// app.js:" in page
