"""``CompiledGraph``: a ``Graph`` run by compiled programs, one per input signature.

It keeps the programs ``program.py`` writes (keyed by the types, shapes and
dtypes of the fed and read values), feeds them, writes back what ``Graph``
writes, and turns their failures into the errors the uncompiled graph gives.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from ..backprop import check_differentiable, seed_gradient
from ..errors import CompileError, FeedError, GradientError, MissingFeedError, describe
from ..errors import StaleProgram as Stale
from ..graph import Graph
from ..node import Constant, Node, Placeholder, Variable
from ..op import Op
from .program import Program, fingerprint, info, lesson_forward
from .writer import Writer

MAX_PROGRAMS = 8  # programs kept per compiled graph (one per input signature), oldest dropped first


class CompiledGraph:
    """A ``Graph`` compiled to straight-line NumPy: ``forward(feed)``, ``backward()``,
    the same values and gradients as the graph it came from, bit for bit.

    ``wrt``: the nodes whose ``.grad`` backward writes (default: every leaf that
    requires grad; intermediate nodes may be asked for too). Only the gradients
    they need are computed. ``forward`` writes the fed placeholders' and the
    outputs' values; intermediate nodes keep theirs (``explain``/``draw`` re-run the
    source graph uncompiled with the last feed first). A feed with another type,
    shape or dtype gets its own program (written on first use, kept for later).
    """

    def __init__(
        self, graph: Graph, wrt: Sequence[Node] | None = None, feeds: Sequence[Node] | None = None, commit: bool = True
    ) -> None:
        self.graph, self.commit = graph, commit
        self.order, self.outputs = graph.order, graph.outputs
        leaves = [n for n in self.order if not n.inputs]
        self.feeds = (
            list(feeds) if feeds is not None else [n for n in leaves if not isinstance(n, (Variable, Constant))]
        )
        self.wrt = list(wrt) if wrt is not None else [n for n in leaves if n.requires_grad]
        members = set(self.order)
        for node in self.wrt:
            if node not in members:
                raise GradientError(f"compile: {describe(node)} is not part of this graph, so it has no gradient")
        self._folded = _constant_ops(self.order)
        self._programs: dict[tuple, Program] = {}
        self._program: Program | None = None
        self._saved: list | None = None
        self._values: list = []  # the last run's feed values (explain re-runs the graph with them)
        self._told: set = set()
        self._feed_count, self._single = len(self.feeds), len(self.outputs) == 1

    # ------------------------------------------------------------ running
    def forward(self, feed: dict | None = None) -> Any:
        """Feed the placeholders, run the compiled forward, return the output value (a tuple
        for several outputs). As with ``Graph``, a placeholder left out keeps its last
        value, and no value or gradient changes if the run fails."""
        program = self._program
        if program is not None and feed.__class__ is dict and len(feed) == self._feed_count:
            # the fast path: every placeholder fed by node, with the type, shape and dtype the
            # program was written for (its guards check; NumPy floats need no conversion then)
            try:
                values = [feed[node] for node in self.feeds]
            except KeyError:  # fed by name
                values = None
            if values is not None:
                self._saved = None  # the previous run's arrays go first: one run's worth in memory
                try:
                    outs, saved = program.forward(*values)
                except Stale:
                    pass
                except Exception as exc:  # noqa: BLE001 - re-raised naming the node
                    self._fail(exc, program, values)
                else:
                    self._saved, self._values = [saved], values
                    return outs[0] if self._single else outs
        values = self._feed_values(feed or {})
        self._saved = None
        outs, saved, program = self._run_forward(values)
        self._saved, self._program, self._values = [saved], program, values
        return outs[0] if self._single else outs

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Write ``.grad`` of every ``wrt`` node (replacing what was there, as ``Graph.backward``
        does; None where the output does not depend on it). The arrays the backward used
        are released as it goes, unless ``retain_graph=True`` keeps them for another backward."""
        saved, program = self._saved, self._program
        if saved is None or program is None:  # (a program is set whenever saved values are)
            raise GradientError(
                "compiled backward: run forward first (each forward serves one backward, "
                "or more with backward(retain_graph=True))"
            )
        seed = program.seed if gradient is None else None
        if seed is None:
            root = self.outputs[0]
            check_differentiable(root)
            seed = conform(program, seed_gradient(root, gradient))
        if retain_graph:
            saved = list(saved)
        else:
            self._saved = None
        try:
            program.backward(seed, saved)
        except Exception as exc:
            _note(exc, program, "backward")
            raise

    def __call__(self, feed: dict | None = None) -> Any:
        return self.forward(feed)

    @property
    def source(self) -> str:
        """The Python source of the program the last run used."""
        if self._program is None:
            raise RuntimeError("no program yet: a compiled graph writes its program on the first forward")
        return self._program.source

    @property
    def programs(self) -> int:
        """How many programs (one per input signature) this compiled graph holds."""
        return len(self._programs)

    # ------------------------------------------------------------ seeing: on the source graph
    def _sync(self) -> Graph:
        """The source graph, run uncompiled with the last feed (explain and drawing read node values)."""
        if self._values:
            self.graph.forward(dict(zip(self.feeds, self._values)))
            if self.outputs[0].requires_grad and np.size(self.outputs[0].value) == 1:
                self.graph.backward()
        return self.graph

    def explain(self, node: Node, **options: Any) -> Any:
        """The chain rule for ∂output/∂node, on the source graph (see ``Graph.explain``)."""
        return self._sync().explain(node, **options)

    def draw(self, path: str, **options: Any) -> str:
        return self._sync().draw(path, **options)

    def to_dot(self, **options: Any) -> str:
        return self._sync().to_dot(**options)

    def __repr__(self) -> str:
        return f"CompiledGraph({', '.join(repr(o) for o in self.outputs)}; {len(self.order)} nodes)"

    # ------------------------------------------------------------ the machinery
    def _feed_values(self, feed: dict) -> list:
        fed = {self.graph._feed_node(key): data for key, data in feed.items()}
        for node in fed:
            if node not in self._feed_set:
                raise FeedError(f"{describe(node)} is read by the compiled program, not fed")
        values = []
        for node in self.feeds:
            if node in fed:
                values.append(_convert(node, fed[node]))
            elif node.value is None:
                raise MissingFeedError(
                    f"placeholder '{node.name}' was not fed: pass it in the feed "
                    f"dictionary, e.g. compiled.forward({{{node.name}: value}})"
                )
            else:
                values.append(node.value)
        return values

    @property
    def _feed_set(self) -> set:
        return set(self.feeds)

    def _run_forward(self, values: list) -> tuple:
        program = self._program
        try:
            if program is None:
                raise Stale
            outs, saved = program.forward(*values)
        except Stale:
            program = self._program_for(values)
            try:
                outs, saved = program.forward(*values)
            except Exception as exc:  # noqa: BLE001 - re-raised with the failing node named
                self._fail(exc, program, values)
        except Exception as exc:  # noqa: BLE001
            self._fail(exc, program, values)
        self._program = program
        return outs, saved, program

    def _fail(self, exc: Exception, program: Program | None, values: list) -> NoReturn:
        """Raise the error the uncompiled graph raises for these values (it names the node),
        or ``exc`` with a note naming the node the program was running."""
        try:
            _evaluate(self.order, dict(zip(self.feeds, values)))
        except Exception as reference:  # noqa: BLE001 - the engine's own, named error
            raise reference from exc
        _note(exc, program, "forward")
        raise exc

    def _signature(self, values: list) -> tuple:
        reads = [
            n.value for n in self.order if not n.inputs and n not in self._feed_set and not isinstance(n, Constant)
        ]
        return tuple(info(v) for v in values) + tuple(info(v) for v in reads)

    def _program_for(self, values: list) -> Program:
        key = self._signature(values)
        program = self._programs.get(key)
        if program is None:
            program = self._write(values)
            seed = program.example_seed  # gradient=None: 1, a NumPy scalar (immutable) for a 0-d output
            program.seed = seed if isinstance(seed, np.generic) and self.outputs[0].requires_grad and self.wrt else None
            if len(self._programs) >= MAX_PROGRAMS:
                self._programs.pop(next(iter(self._programs)))
            self._programs[key] = program
        return program

    def release_values(self) -> None:
        """Forget the values the source graph's ops hold (a trace's, say): the programs do not
        need them, and explain and drawing re-run the graph with the last feed first."""
        for node in self.order:
            if node.inputs:
                node.value = None

    def _write(self, values: list) -> Program:
        """Write (and check) the program for these feed values. The cyclic garbage collector
        pauses meanwhile (and resumes as it was): writing makes millions of small objects,
        none of them cyclic garbage, and for a graph of 100,000 nodes it would otherwise
        walk them all again and again (more time than the writing itself)."""
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._write_now(values)
        finally:
            if was_enabled:
                gc.enable()

    def _write_now(self, values: list) -> Program:
        self._tell_fallbacks()
        # if an inlined body differs from the engine, every op is called instead
        for calls in (set(), {n for n in self.order if n.inputs}):
            program, outputs, reference = self._written(values, calls)
            if _agrees(program, values, outputs, reference, self.outputs[0], self.wrt):
                return program
        raise CompileError(
            "compile: the compiled program does not reproduce the graph's numbers exactly "
            "(please report this); use the Graph itself meanwhile"
        )

    def _written(self, values: list, calls: set) -> tuple:
        """A program for these values, the outputs' values and the gradients it must give (the
        rest of the example run goes before the program's self-check runs: less memory)."""
        example = _evaluate(self.order, dict(zip(self.feeds, values)))
        writer = Writer(self.order, self.outputs, self.feeds, self.wrt, example, self._folded, calls, self.commit)
        return writer.write(), [fingerprint(example[o]) for o in self.outputs], writer.reference

    def _tell_fallbacks(self) -> None:
        """Say once which nodes the program runs as written rather than compiled."""
        for node in self.order:
            if node.inputs and not isinstance(node, Op) and node not in self._told:
                self._told.add(node)
                warnings.warn(
                    f"compile: {describe(node)} is written the lesson's way (its forward() sets "
                    "self.value), so the compiled program runs it as written, through its input "
                    "nodes' values",
                    stacklevel=4,
                )


def conform(program: Program, g: Any) -> Any:
    """The upstream gradient as the type the program was written for (a NumPy scalar or a
    0-d array: the same number either way)."""
    if type(g) is not type(program.example_seed):
        g = np.asarray(g)[()] if isinstance(program.example_seed, np.generic) else np.asarray(g)
    return g


def _convert(node: Node, data: Any) -> Any:
    try:
        return node.convert(data) if isinstance(node, Placeholder) else data
    except (TypeError, ValueError) as exc:
        raise FeedError(f"placeholder '{node.name}' cannot take the fed value {data!r}: {exc}") from exc


def _constant_ops(order: Sequence[Node]) -> set:
    """Ops whose every input is a Constant or such an op: computed once, when compiling."""
    folded: set = set()
    for node in order:
        if node.inputs and isinstance(node, Op) and all(isinstance(i, Constant) or i in folded for i in node.inputs):
            folded.add(node)
    return folded


def _evaluate(order: Sequence[Node], fed: dict) -> dict:
    """Every node's value for this feed, computed by the engine's own ops (nothing is written)."""
    values: dict = {}
    for node in order:
        if node in fed:
            values[node] = fed[node]
        elif not node.inputs:
            values[node] = node.value
        elif isinstance(node, Op):
            values[node] = node._compute([values[i] for i in node.inputs])
        else:  # a learner's node reads its inputs' values
            saved = [(i, i.value) for i in node.inputs] + [(node, node.value)]
            try:
                values[node] = lesson_forward(node, tuple(values[i] for i in node.inputs))
            finally:
                for n, v in saved:
                    n.value = v
    return values


def _agrees(program: Program, values: list, outputs: list, reference: dict, root: Node, wrt: Sequence[Node]) -> bool:
    """The program's self-check: on the example it must give the engine's numbers exactly."""
    with np.errstate(all="ignore"):
        try:
            outs, box = program.forward(*values, _commit=False)
            if [fingerprint(o) for o in outs] != outputs:
                return False
            if not root.requires_grad or not wrt:
                return True
            box = [box]  # the backward pops the saved arrays and deletes each after its last use
            grads = program.backward(program.example_seed, box, _commit=False)
        except Exception:  # noqa: BLE001 - a program that fails where the engine does not is wrong
            return False
    return all(fingerprint(g) == reference.get(w) for g, w in zip(grads, wrt))


def _note(exc: Exception, program: Program | None, phase: str) -> None:
    node = program.node_at(exc.__traceback__) if program is not None else None
    if node is not None and hasattr(exc, "add_note"):
        exc.add_note(f"(in the compiled {phase} of {describe(node)})")
