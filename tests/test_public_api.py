"""The public face: ``chainrule.__all__`` is what the README documents, and nothing internal."""

import re
import types
from pathlib import Path

import chainrule as cr

ROOT = Path(__file__).resolve().parents[1]
INTERNAL = {
    "as_node",
    "im2col",
    "col2im",
    "scatter_add",
    "sum_to_shape",
    "Im2Col",
    "Col2Im",
    "SumToShape",
    "ScatterAdd",
    "GetItem",
    "Cast",
    "Compare",
    "compare",
    "backprop",
    "hooks",
    "node",
    "op",
    "graph",
    "chain",
    "phrases",
    "viz",
    "narration",
    "train",
    "cli",
    "expr",
    "see",
    "ops",
}


def documented_names() -> set[str]:
    """Every word inside `backticks` and every ``cr.name`` in the README and docs/."""
    texts = [ROOT.joinpath("README.md").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in ROOT.joinpath("docs").glob("*.md")]
    words: set[str] = set()
    for text in texts:
        blocks = re.findall(r"^```.*?^```", text, flags=re.S | re.M)  # code blocks, then inline code
        inline = re.findall(r"`([^`]+)`", re.sub(r"^```.*?^```", "", text, flags=re.S | re.M))
        for span in blocks + inline:
            words.update(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", span))
        words.update(re.findall(r"\bcr\.([A-Za-z_][A-Za-z_0-9]*)", text))
    return words


def test_every_public_name_is_documented():
    missing = sorted(set(cr.__all__) - documented_names())
    assert missing == [], f"public names the README does not mention: {missing}"


def test_no_internal_or_private_name_is_public():
    assert len(cr.__all__) == len(set(cr.__all__))
    assert not [n for n in cr.__all__ if n.startswith("_")]
    assert not set(cr.__all__) & INTERNAL
    assert all(hasattr(cr, name) for name in cr.__all__)


def test_star_import_gives_exactly_the_public_names():
    namespace: dict = {}
    exec("from chainrule import *", namespace)
    names = {n for n in namespace if n != "__builtins__"}
    assert names == set(cr.__all__)
    modules = {n for n in names if isinstance(namespace[n], types.ModuleType)}
    assert modules == {"data", "datasets", "errors", "nn", "optim"} | (modules & {"onnx"})


def test_fit_is_the_function_a_user_guesses():
    assert callable(cr.fit) and not isinstance(cr.fit, types.ModuleType)
    assert not isinstance(getattr(cr, "train", None), types.ModuleType)


def test_every_exception_class_lives_in_errors():
    import inspect

    import chainrule

    for path in Path(chainrule.__file__).parent.rglob("*.py"):
        if path.name == "errors.py":
            continue
        source = path.read_text(encoding="utf-8")
        defined = re.findall(r"^class (\w+)\(([^)]*)\)", source, flags=re.M)
        offenders = [name for name, bases in defined if re.search(r"Error|Exception|Warning|NotFound", bases)]
        assert offenders == [], f"{path.name} defines exception classes {offenders}: they belong in errors.py"
    assert inspect.getmodule(cr.errors.OptionError) is cr.errors
