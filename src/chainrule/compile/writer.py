"""``Writer``: the program for one graph and one set of example values, written as text
(see ``program.py`` for what it contains, ``inline.py`` for each op's code in it)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np

from ..broadcast import accurate_sum, fit_gradient, unbroadcast
from ..dtype import reconcile
from ..errors import StaleProgram as Stale
from ..node import Constant
from ..op import Op
from . import inline
from .blocks import fuse, uses, with_deletions
from .fit import Fitting, fitting
from .program import (
    Program,
    big,
    fingerprint,
    info,
    lesson_forward,
    lesson_vjp,
    natural,
    needed,
    option_key,
    own,
    program_ids,
    pruned,
    seed_of,
)


class Writer:
    """Writes the program for one graph and one set of example values (see the module docstring).

    order: the graph's topological order; feeds: the leaves fed on every run (the
    forward's arguments); wrt: the nodes whose gradients backward returns (or,
    with ``commit``, stores); values: every node's value on the example run;
    folded: ops computed once, now; calls: ops to call rather than inline.
    """

    def __init__(
        self,
        order: Sequence[Any],
        outputs: Sequence[Any],
        feeds: Sequence[Any],
        wrt: Sequence[Any],
        values: dict,
        folded: set,
        calls: set,
        commit: bool = True,
    ) -> None:
        self.order, self.outputs, self.feeds, self.wrt = order, outputs, feeds, wrt
        self.values, self.folded, self.calls, self.commit = values, folded, calls, commit
        self.ns: dict[str, Any] = {
            "Stale": Stale,
            "_ndarray": np.ndarray,
            "_unbroadcast": unbroadcast,
            "own": own,
            "_copy": np.array,
        }
        self.names: dict[int, str] = {}  # id(object) -> its name in the namespace
        self.var: dict[Any, str] = {}  # node -> the name of its value (a local, or a namespace constant)
        self.blocks: list = []  # (text, node, names read) of the function being written
        self.alias: dict[str, str] = {}  # a vjp result that is one of its arguments -> that argument
        self.casts: dict[Any, list] = {}  # node -> [(input position, dtype)] that reconcile converts
        self.keys: dict[Any, Any] = {}
        self._globals: dict[int, dict] = {}  # id(template) -> its globals' names here
        self.need = needed(order, wrt)
        self.track = any(big(v) for v in values.values())  # big arrays: delete each after its last use
        self.big: set[str] = set()

    # ------------------------------------------------------------ the program
    def write(self) -> Program:
        forward = self._forward()
        backward = self._backward()
        used = set(_VALUE_NAMES.findall("\n".join(text for text, _, _ in backward)))
        saved = sorted(used & {v for v in self.var.values() if v[0] in "pv"}, key=natural)
        tuple_of = lambda names: "(" + "".join(n + ", " for n in names) + ")"  # noqa: E731
        last = ""
        if self.commit:  # a compiled graph writes the fed and the output values (after every op succeeded)
            last = "if _commit:\n" + "".join(
                f"    {self.bind(n, 'n')}.value = {self.var[n]}\n" for n in [*self.feeds, *self.outputs]
            )
        outs = tuple_of(self.var[o] for o in self.outputs)
        forward.append((last + f"return {outs}, {tuple_of(saved)}", None, set(saved) | set(self.var.values())))
        counts = uses(forward + backward)
        forward, backward = fuse(forward, counts), fuse(backward, counts)
        params = "".join(self.var[f] + ", " for f in self.feeds)
        blocks = [(f"def forward({params}_commit=True):", None, set())] + with_deletions(forward, self.big)
        blocks += [
            ("def backward(_g, _box, _commit=True):", None, set()),
            (f"{tuple_of(saved)} = _box.pop()" if saved else "_box.pop()", None, set()),
        ]
        blocks += with_deletions(backward, self.big)
        out, line_nodes = [], {}
        for text, node, _ in blocks:
            for line in text.split("\n"):
                out.append(line if line.startswith("def ") else "    " + line)
                if node is not None:
                    line_nodes[len(out)] = node
        program = Program(
            "\n".join(out) + "\n", self.ns, line_nodes, f"<chainrule compiled {next(program_ids)}>", len(self.outputs)
        )
        program.example_seed = seed_of(self.values[self.outputs[0]])
        return program

    # ------------------------------------------------------------ forward
    def _forward(self) -> list:
        self.blocks = []
        for k, leaf in enumerate(self.feeds):
            self.var[leaf] = f"p{k}"
            self._guard(f"p{k}", self.values[leaf], leaf)
        for i, node in enumerate(self.order):
            if node in self.var:
                continue
            value = self.values[node]
            if isinstance(node, Constant) or node in self.folded:
                self.var[node] = self.bind(value, "k")
                continue
            name = self.var[node] = f"v{i}"
            if not node.inputs:  # a Variable (or any leaf that is not fed): read on every run
                self.block(f"{name} = {self.bind(node, 'n')}.value", node)
                self._guard(name, value, node)
            else:
                self._forward_op(i, node, name)
        if self.track:
            self.big = {v for n, v in self.var.items() if v[0] in "pv" and big(self.values[n])}
        return self.blocks

    def _guard(self, name: str, value: Any, node: Any) -> None:
        """Raise Stale unless ``name`` has the example's type (and shape and dtype)."""
        if type(value) is np.ndarray:
            test = (
                f"{name}.__class__ is not _ndarray or {name}.shape != {value.shape!r} or "
                f"{name}.dtype is not {self.bind(value.dtype, 'dt')}"
            )
        else:
            test = f"{name}.__class__ is not {self.bind(type(value), 'type')}"
        self.block(f"if {test}: raise Stale", node, {name})

    def _forward_op(self, i: int, node: Any, name: str) -> None:
        prefix = f"_{i}_"
        args, examples = self._inputs(node, prefix)
        if not isinstance(node, Op):  # a learner's node, written the lesson's way: run it as written
            self.block(
                f"{name} = {self.bind(lesson_forward, 'lesson_forward')}({self.bind(node, 'op')}, "
                f"({''.join(a + ', ' for a in args)}))",
                node,
                set(args),
            )
            return
        self.body(type(node)._math, node, node, args, examples, [name], None, prefix, self._key(node, examples))
        if name in self.alias:  # the op returns its input itself: the same object, the same name
            self.var[node] = self.alias.pop(name)

    def _key(self, node: Any, examples: Sequence[Any]) -> tuple:
        key = self.keys.get(node)
        if key is None:
            key = self.keys[node] = option_key(node)
        return (key, tuple(map(info, examples)))

    def _inputs(self, node: Any, prefix: str) -> tuple[list, list]:
        """The op's input names and example values, in the dtypes it computes in
        (``reconcile`` decided on the examples, as the engine decides it on every call)."""
        names = [self.var[i] for i in node.inputs]
        examples = [self.values[i] for i in node.inputs]
        if node.dtypes is None:
            return names, examples
        casts = self.casts.get(node)
        if casts is None:
            done = reconcile(examples, node.dtypes, node.dtype_keep)
            casts = self.casts[node] = [
                (k, after.dtype) for k, (before, after) in enumerate(zip(examples, done)) if after is not before
            ]
        for k, dtype in casts:
            new = f"{prefix}in{k}"
            self.block(f"{new} = {names[k]}.astype({self.bind(dtype, 'dt')})", node, {names[k]})
            names[k], examples[k] = new, examples[k].astype(dtype)
        return names, examples

    # ------------------------------------------------------------ backward
    def _backward(self) -> list:
        self.blocks = []
        root = self.outputs[0]
        grad = {root: "_g"}  # node -> name of its gradient so far
        example = {root: seed_of(self.values[root])}
        owned: dict[Any, bool] = {root: False}
        final: dict[Any, str] = {}
        wanted, need = set(self.wrt), self.need
        self.reference: dict = {}  # node asked for -> the fingerprint of its gradient on the example
        arrays: dict = {}  # node asked for -> whether its gradient is an array
        taken = {id(v) for v in self.values.values()}
        for i in range(len(self.order) - 1, -1, -1):
            node = self.order[i]
            g = grad.get(node)
            if g is None:
                continue
            if node in wanted:
                final[node] = g
                self.reference[node] = fingerprint(example[node])  # all the self-check needs of it
                arrays[node] = isinstance(example[node], np.ndarray)
            if not need[node] or not any(need[inp] for inp in node.inputs):  # a leaf, or no gradient flows
                example.pop(node)
                continue
            parts = self._vjp(i, node, g, example.pop(node))
            for k, (inp, (name, part)) in enumerate(zip(node.inputs, parts)):
                if name is None:
                    continue
                name, part = self._fit(name, f"_q{i}_{k}", part, self.values[inp], node)
                if inp not in grad:
                    grad[inp], example[inp] = name, part
                    owned[inp] = (
                        isinstance(part, np.ndarray)
                        and part.base is None
                        and part.flags.writeable
                        and id(part) not in taken
                        and sum(p is part for _, p in parts) == 1
                    )
                elif owned[inp]:  # the program's own array: add in place (same sum, no new array)
                    self.block(f"{grad[inp]} += {name}", node, {grad[inp], name})
                    example[inp] = example[inp] + part
                else:
                    self.block(f"{grad[inp]} = {grad[inp]} + {name}", node, {grad[inp], name})
                    example[inp] = example[inp] + part
                    owned[inp] = isinstance(example[inp], np.ndarray)
                taken.add(id(part))
        if self.track:
            self.big |= {name for n, name in grad.items() if big(example.get(n))}
        returns = [final.get(w, "None") for w in self.wrt]
        text = "return (" + "".join(r + ", " for r in returns) + ")"
        if self.commit:  # the self-check asks for the gradients instead (_commit=False)
            text = (
                "if _commit:\n"
                + "".join("    " + line + "\n" for line in self._store(returns, arrays))
                + "    return None\n"
                + text
            )
        self.block(text, None, set(returns))
        return self.blocks

    def _store(self, returns: list[str], arrays: dict) -> list:
        """Each asked-for gradient into its node's ``.grad`` (replacing it), in an array the
        node owns, as the engine stores a leaf's gradient: never a view, never shared."""
        lines, seen = [], set()
        for node, name in zip(self.wrt, returns):
            value = name
            if name != "None" and arrays.get(node) and not node.inputs:
                value = f"_copy({name})" if name in seen else f"own({name})"
            seen.add(name)
            lines.append(f"{self.bind(node, 'n')}.grad = {value}")
        return lines

    def _vjp(self, i: int, node: Any, g: str, g_example: Any) -> list:
        """Emit node's vjp; returns (result name or None, example part) per input."""
        prefix = f"_{i}_"
        obj = pruned(node, self.need)
        args, examples = self._inputs(node, prefix + "b")
        wants = [f"_q{i}_{k}" if self.need[inp] else None for k, inp in enumerate(node.inputs)]
        out = self.var[node]
        if not isinstance(node, Op):
            reference = lesson_vjp(node, g_example, self.values[node], examples)
            self.block(
                f"{prefix}parts = {self.bind(lesson_vjp, 'lesson_vjp')}({self.bind(node, 'op')}, {g}, "
                f"{out}, ({''.join(a + ', ' for a in args)}))\n"
                + "".join(f"{w} = {prefix}parts[{k}]\n" for k, w in enumerate(wants) if w).rstrip("\n"),
                node,
                {g, out, *args},
            )
            return [(w, p) if w and p is not None else (None, None) for w, p in zip(wants, reference)]
        all_examples = [g_example, self.values[node], *examples]
        reference = obj.vjp(*all_examples)
        key = (option_key(obj) if obj is not node else self._key(node, ())[0], tuple(map(info, all_examples)))
        present = self.body(
            type(node).vjp, obj, node, [g, out, *args], all_examples, wants, len(node.inputs), prefix, key
        )
        alias = self.alias
        return [
            (alias.pop(w, w), p) if w and has and p is not None else (None, None)
            for w, has, p in zip(wants, present, reference)
        ]

    def _fit(self, name: str, target: str, part: Any, value: Any, node: Any) -> tuple[str, Any]:
        """Sum ``part`` (named ``name``, maybe another variable's) down to the input's shape and
        cast it to its dtype, as the engine does, into ``target``: ``fit_gradient``'s own code,
        specialised to the example's shapes and dtypes (nothing at all where they match)."""
        shape, dtype = getattr(value, "shape", ()), getattr(value, "dtype", None)
        if getattr(part, "shape", ()) == shape and (dtype is None or part.dtype == dtype):
            return name, part
        plan = fitting(part, value)
        if plan is not None:  # decided now for these shapes: one reduction, a reshape or cast if needed
            self.block(self._fit_text(name, target, plan), node, {name})
            return target, plan.apply(part)
        key = ("fit", info(part), info(value))
        t = inline.template(_fitted, None, [part, value], None, key)
        if t is None or t.reads - {0}:  # it would need the input's value at run time: call it
            like = np.broadcast_to(np.zeros((), dtype), shape) if dtype is not None else value  # shape and dtype
            self.block(
                f"{target} = {self.bind(fit_gradient, 'fit_gradient')}({name}, {self.bind(like, 'like')})", node, {name}
            )
        else:
            self.block(inline.instantiate(t, [name, "_"], "", [target], f"_{target}_", self._named(t)), node, {name})
        return target, fit_gradient(part, value)

    def _fit_text(self, name: str, target: str, plan: Fitting) -> str:
        np_ = self.bind(np, "np")
        if plan.pairwise:
            text = f"{target} = {self.bind(accurate_sum, 'accurate_sum')}({name}, {plan.axes!r}, {plan.keepdims})"
        else:
            text = f"{target} = {np_}.add.reduce({name}, axis={plan.axes!r}, keepdims={plan.keepdims})"
        if plan.shape is not None:
            text += f"\n{target} = {np_}.reshape({target}, {plan.shape!r})"
        if plan.dtype is not None:
            text += f"\n{target} = {target}.astype({self.bind(plan.dtype, 'dt')})"
        return text

    # ------------------------------------------------------------ pieces
    def bind(self, obj: Any, hint: str = "c") -> str:
        """A name for ``obj`` in the program's namespace."""
        name = self.names.get(id(obj))
        if name is None:
            name = self.names[id(obj)] = f"_{_NOT_NAME.sub('_', hint)}_{len(self.names)}"
            self.ns[name] = obj
        return name

    def block(self, text: str, node: Any, reads: AbstractSet[str] = frozenset()) -> None:
        self.blocks.append((text, node, reads))

    def _named(self, t: Any) -> dict:
        """The names of a template's globals in this program."""
        named = self._globals.get(id(t))
        if named is None:
            named = self._globals[id(t)] = {key: self.bind(t.globals_used[key[1:]], key[1:]) for key in t.global_keys}
        return named

    def body(
        self,
        fn: Any,
        obj: Any,
        node: Any,
        args: list[str],
        examples: list,
        results: list,
        count: int | None,
        prefix: str,
        key: tuple,
    ) -> list[bool]:
        """The op's own code for ``fn`` inlined (or a call); returns which results it computes."""
        wanted = None if count is None else tuple(r is not None for r in results)
        t = None if node in self.calls else inline.template(fn, obj, examples, count, key, wanted)
        if t is None:
            call = f"{self.bind(fn, 'f')}({self.bind(obj, 'op')}, {', '.join(args)})"
            if count is None:
                self.block(f"{results[0]} = {call}", node, set(args))
                return [True]
            picks = "".join(f"\n{r} = {prefix}parts[{k}]" for k, r in enumerate(results) if r is not None)
            self.block(f"{prefix}parts = {call}{picks}\n{prefix}parts = None", node, set(args))
            return [r is not None for r in results]
        for k, j in t.aliases.items():  # a result that is an argument: name it, write nothing
            if results[k] is not None:
                self.alias[results[k]] = args[j]
        text = inline.instantiate(
            t, args, self.bind(obj, "op") if t.uses_self else "", [r or "_" for r in results], prefix, self._named(t)
        )
        if text.strip():
            if self.track and t.locals and any(big(e) for e in examples):
                text += "\n" + " = ".join(prefix + name for name in t.locals) + " = None"  # the op's temporaries
            self.block(text, node, {args[k] for k in t.reads} if self.track else frozenset())
        return list(t.parts)


def _fitted(self: Any, part: Any, value: Any) -> Any:
    """The engine's fitting of a gradient to its input, as a body to copy in (``Writer._fit``)."""
    return fit_gradient(part, value)


_VALUE_NAMES = re.compile(r"\b[pv]\d+\b")


_NOT_NAME = re.compile(r"[^0-9A-Za-z_]")
