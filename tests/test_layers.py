"""The layers of DESIGN.md, checked on the source: every import (at module level and
inside functions) runs downward or within a layer, and no modules import each other
in a loop. A new module must be placed in ``LAYERS`` first."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import chainrule

PACKAGE = Path(chainrule.__file__).parent
ORDER = ["engine", "see", "train", "face"]
# module (dotted, relative to chainrule; a package name covers everything inside it) -> layer
LAYERS = {
    "_version": "engine",
    "errors": "engine",
    "dtype": "engine",
    "broadcast": "engine",
    "hooks": "engine",
    "grad_mode": "engine",
    "backprop": "engine",
    "memory": "engine",
    "release": "engine",
    "arraylike": "engine",
    "node": "engine",
    "op": "engine",
    "ops": "engine",
    "graph": "engine",
    "check": "engine",
    "compile": "engine",
    "transforms": "engine",
    "transform_io": "engine",
    "forward_mode": "engine",
    "see": "see",
    "train": "train",
    "callbacks": "train",
    "nn": "train",
    "optim": "train",
    "data": "train",
    "datasets": "train",
    "metrics": "train",
    "serialize": "train",
    "io": "train",
    "blas": "train",
    "cli": "face",
    "__main__": "face",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        layer = LAYERS.get(".".join(parts[:i]))
        if layer is not None:
            return layer
    return None


def is_module(dotted: str) -> bool:
    base = PACKAGE.joinpath(*dotted.split(".")) if dotted else PACKAGE
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports(path: Path, source: str | None = None, runtime: bool = False) -> list[tuple[int, str]]:
    """(line, module) for every import of a chainrule module in ``path`` (or in ``source``, as its text);
    ``runtime``: leave out imports under ``if TYPE_CHECKING:`` (only type checkers run them)."""
    here = module_name(path).split(".") if module_name(path) else []
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for stmt in block.body
        for n in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if runtime and id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name[len("chainrule.") :]) for a in node.names if a.name.startswith("chainrule.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("chainrule"):
                target = node.module[len("chainrule.") :] if node.module != "chainrule" else ""
            else:
                continue
            for alias in node.names:  # `from . import hooks` imports a module; `from .node import Node` a name
                sub = f"{target}.{alias.name}" if target else alias.name
                found.append((node.lineno, sub if is_module(sub) else target))
    return found


SOURCES = [p for p in sorted(PACKAGE.rglob("*.py")) if p != PACKAGE / "__init__.py"]


def upward_imports(path: Path, source: str | None = None) -> list[str]:
    """What is wrong with ``path``'s imports: one message per import that runs upward."""
    here = module_name(path)
    mine = layer_of(here)
    if mine is None:
        return [f"{here} is in no layer: add it to LAYERS (and to DESIGN.md's table)"]
    problems = []
    for line, target in imports(path, source):
        theirs = layer_of(target) if target else "face"  # the package face: chainrule/__init__.py
        if theirs is None:
            problems.append(f"{path.name}:{line} imports {target}, which is in no layer")
        elif ORDER.index(theirs) > ORDER.index(mine):
            problems.append(
                f"{path.relative_to(PACKAGE)}:{line} imports chainrule.{target or '(the package face)'}: "
                f"the {mine} layer must not import from the {theirs} layer above it"
            )
    return problems


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_downward(path):
    assert upward_imports(path) == []


def test_no_import_cycles():
    graph = {module_name(p): {t for _, t in imports(p, runtime=True) if t != module_name(p)} for p in SOURCES}
    state: dict[str, int] = {}

    def visit(start: str) -> list[str] | None:
        stack = [(start, iter(sorted(graph.get(start, ()))))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            for child in children:
                if state.get(child) == 1:
                    return path[path.index(child) :] + [child]
                if child not in state:
                    state[child] = 1
                    stack.append((child, iter(sorted(graph.get(child, ())))))
                    path.append(child)
                    break
            else:
                state[node] = 2
                stack.pop()
                path.pop()
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            assert cycle is None, "modules import each other in a loop: " + " → ".join(cycle)


def test_the_checker_sees_an_upward_import():
    """The check itself can fail: an engine module importing the teaching layer inside a
    function is caught, with the file, the line and both layers."""
    path = PACKAGE / "graph.py"
    source = path.read_text(encoding="utf-8") + "\n\ndef _bad():\n    from .see import explain\n"
    (problem,) = upward_imports(path, source)
    assert f"graph.py:{source.count(chr(10))}" in problem
    assert "the engine layer must not import from the see layer" in problem
