"""``Optimizer``: what every optimizer shares, like ``torch.optim.Optimizer``.

Parameter groups (each with its own hyperparameters), per-parameter state, the
names of the parameters (``0.weight``), the finite-gradient check, and a step
that happens for every parameter or for none: every rule runs and every new
state is made first, then all are committed together (``commit.py``: in the
parameter's own array where no one else sees it), so an exception (or an
interrupt) in the middle of a step leaves every parameter and all the state as
they were. A subclass writes only its update rule, as a function from a
parameter's value, gradient and state to the new value (or a ``Descend``) and state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..errors import NonFiniteGradientError, ShapeError, StateDictError, option_error
from ..nn.module import zero_grads
from ..node import Variable
from .commit import Descend, interrupts_held, planned

# what a parameter group may hold besides the optimizer's hyperparameters
GROUP_KEYS = ("params", "param_names", "name")


def all_finite(g: np.ndarray) -> bool:
    """Whether every element of ``g`` is finite (the ufunc's own reduce: ``np.all``'s wrapper
    costs more than the test itself on a small gradient)."""
    return bool(np.logical_and.reduce(np.isfinite(g), axis=None))


def _grad_of(p: Variable, name: str) -> np.ndarray | None:
    g = p.grad
    if g is None:
        return None
    g = np.asarray(getattr(g, "value", g))
    if g.shape != np.shape(p.value):
        raise ShapeError(f"parameter '{name}' has shape {np.shape(p.value)} but its gradient has shape {g.shape}")
    return g.astype(np.asarray(p.value).dtype, copy=False)


def named_params(params: Any, owner: str) -> tuple[list[Variable], list[str] | None]:
    """The parameters of ``params`` (a Module, Variables, or ``(name, Variable)`` pairs as
    ``model.named_parameters()`` gives them) and their names, None when not given."""
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    if isinstance(params, Variable):
        raise TypeError(
            f"{owner}: params must be an iterable of Variables (e.g. model.parameters()), "
            f"got a single {type(params).__name__}"
        )
    items = list(params)
    names = None
    if items and all(isinstance(i, tuple) and len(i) == 2 and isinstance(i[0], str) for i in items):
        names, items = [n for n, _ in items], [p for _, p in items]
    for p in items:
        if not isinstance(p, Variable):
            raise TypeError(f"{owner} can only optimize Variables, got {type(p).__name__}")
    return items, names


class Optimizer:
    """Base class: parameter groups, per-parameter state, the finite-gradient check.

    ``params``: a Module, an iterable of Variables (``model.parameters()``) or
    of ``(name, Variable)`` pairs (``model.named_parameters()``), or of dicts
    ``{"params": [...], "lr": ...}`` (parameter groups with their own
    hyperparameters, as in PyTorch). Names, when known, are the ones errors use.
    """

    counters: tuple[str, ...] = ("step",)  # per-parameter state that is a number, not an array

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any], nonfinite: str = "raise") -> None:
        owner = type(self).__name__
        if nonfinite not in ("raise", "skip"):
            raise option_error(owner, "nonfinite", nonfinite, "is not one of 'raise', 'skip'")
        self.nonfinite = nonfinite
        self.skipped_steps = 0
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Variable, dict[str, Any]] = {}
        self._names: dict[Variable, str] = {}
        if hasattr(params, "named_parameters") or isinstance(params, Variable):
            groups: list[Any] = [{"params": params}]
        else:
            groups = list(params)
            if groups and not isinstance(groups[0], dict):
                groups = [{"params": groups}]
        if not groups:
            raise ValueError(f"{owner} got an empty parameter list")
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (the rest from the defaults)."""
        owner = type(self).__name__
        if not isinstance(group, dict):
            raise TypeError(f"{owner}: a parameter group is a dict, got {type(group).__name__}")
        unknown = sorted(set(group) - set(self.defaults) - set(GROUP_KEYS))
        if unknown:
            raise TypeError(
                f"{owner}: parameter group got unexpected option(s) {', '.join(map(repr, unknown))}; "
                f"its options are {', '.join(sorted(self.defaults))}"
            )
        params, names = named_params(group["params"], owner)
        if "param_names" in group:
            names = list(group["param_names"])
            if len(names) != len(params):
                raise ValueError(f"{owner}: {len(names)} param_names for {len(params)} parameters")
        taken = set(self.params)
        if any(p in taken for p in params) or len(set(params)) != len(params):
            raise ValueError(f"{owner}: a parameter appears more than once in the parameter groups")
        full = {**self.defaults, **group, "params": params}
        if names is not None:
            full["param_names"] = names
            self._names.update(zip(params, names))
        self.check(full)
        self.param_groups.append(full)

    def check(self, group: dict[str, Any]) -> None:
        """Validate a group's hyperparameters (PyTorch's rules; subclasses add theirs)."""
        self.at_least_zero(group, "lr")

    def at_least_zero(self, group: dict[str, Any], *options: str) -> None:
        for option in options:
            value = group[option]
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not value >= 0:
                raise option_error(type(self).__name__, option, value, "is not a number >= 0")

    @property
    def params(self) -> list[Variable]:
        return [p for group in self.param_groups for p in group["params"]]

    @property
    def lr(self) -> float:
        """The first group's learning rate."""
        return self.param_groups[0]["lr"]

    def name_of(self, p: Variable) -> str:
        """The parameter's qualified name (``0.weight``) if the optimizer was given names, else its own."""
        return self._names.get(p, p.name)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient: set ``.grad`` to None, or (``set_to_none=False``)
        to zeros where there was one."""
        zero_grads(self.params, set_to_none)

    # ------------------------------------------------------------ the step
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient. Returns ``closure()`` if given.

        All or nothing: a NaN or infinite gradient raises NonFiniteGradientError
        naming the parameters (or, with ``nonfinite="skip"``, counts the step in
        ``skipped_steps``), and any other exception while computing the new values
        leaves every parameter and all optimizer state unchanged.
        """
        loss = closure() if closure is not None else None
        work = [
            (group, p, g)
            for group in self.param_groups
            for p in group["params"]
            if (g := _grad_of(p, self.name_of(p))) is not None
        ]
        bad = [f"'{self.name_of(p)}' {np.shape(p.value)}" for _, p, g in work if not all_finite(g)]
        if bad:
            if self.nonfinite == "skip":
                self.skipped_steps += 1
                return loss
            raise NonFiniteGradientError(
                f"{type(self).__name__}.step: non-finite gradient in parameter(s) "
                f"{', '.join(bad)}; no parameter was changed"
            )
        updates: list[tuple[Variable, Any, dict[str, Any]]] = []
        buffers: dict[np.dtype, np.ndarray] = {}
        for group, p, g in work:
            value = np.asarray(p.value)
            new_value, new_state = self.update(value, -g if group.get("maximize") else g, self.state.get(p, {}), group)
            arrays = {k: v if k in self.counters else np.asarray(v, dtype=value.dtype) for k, v in new_state.items()}
            new_value = planned(p, value, new_value, buffers)
            if not isinstance(new_value, Descend):
                new_value = np.asarray(new_value, value.dtype)
            updates.append((p, new_value, arrays))
        self._commit(updates)
        return loss

    def _commit(self, updates: list[tuple[Variable, Any, dict[str, Any]]]) -> None:
        """Write every new value and state, with Ctrl-C held until the end (nothing here can
        fail otherwise: no allocation, no rule); should anything still fail, the values that
        were replaced (not written in place) and the state are put back."""
        old = [(p, p.value, self.state.get(p)) for p, _, _ in updates]
        with interrupts_held():
            try:
                for p, value, state in updates:
                    if isinstance(value, Descend):
                        value.write_into(p.value)
                    else:
                        p.value = value[()] if value.ndim == 0 and np.ndim(p.value) == 0 else value
                    self.state[p] = state
            except BaseException:
                for p, value, saved in old:
                    p.value = value
                    if saved is None:
                        self.state.pop(p, None)
                    else:
                        self.state[p] = saved
                raise

    def update(
        self, value: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> tuple[np.ndarray | Descend, dict[str, Any]]:
        """One step of the rule: (new value, new state) from the parameter's value, its gradient
        ``g`` (in the value's dtype) and its state. Must not modify ``value`` or ``state``. The new
        value may be a ``Descend(step, lr)`` (``value - lr·step``, written in place when safe)."""
        raise NotImplementedError

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`` as in PyTorch
        (parameters are numbered in order across groups; arrays are copies)."""
        index = {p: i for i, p in enumerate(self.params)}
        state = {
            index[p]: {k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in s.items()}
            for p, s in self.state.items()
            if p in index
        }
        groups = [
            {**{k: v for k, v in g.items() if k != "params"}, "params": [index[p] for p in g["params"]]}
            for g in self.param_groups
        ]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state (PyTorch's layout, so a ``torch.optim`` state dict
        converted to arrays loads too); checks every group, option and shape before changing anything."""
        owner = f"{type(self).__name__}.load_state_dict"
        groups = state_dict.get("param_groups", [])
        params = self.params
        sizes, saved = [len(g["params"]) for g in self.param_groups], [len(g.get("params", [])) for g in groups]
        if saved != sizes:
            raise StateDictError(f"{owner}: the saved groups hold {saved} parameters, this optimizer {sizes}")
        new_groups = []
        for group, entries in zip(self.param_groups, groups):
            new = {**group, **{k: self._restored(k, v) for k, v in entries.items() if k != "params"}}
            try:
                self.check(new)
            except ValueError as exc:
                raise StateDictError(f"{owner}: {exc}") from None
            new_groups.append(new)
        new_state = {}
        for key, entries in state_dict.get("state", {}).items():
            i = int(key)
            if not 0 <= i < len(params):
                raise StateDictError(f"{owner}: state for parameter {i}, but there are only {len(params)}")
            new_state[params[i]] = self._restored_state(params[i], i, entries, owner)
        for group, new in zip(self.param_groups, new_groups):
            group.update(new)
        self.state = new_state

    def _restored(self, key: str, value: Any) -> Any:
        """A saved hyperparameter as the optimizer keeps it (JSON and PyTorch give lists, tensors)."""
        if isinstance(self.defaults.get(key), tuple) and isinstance(value, (list, tuple)):
            return tuple(float(v) for v in value)
        return value

    def _restored_state(self, p: Variable, i: int, entries: dict[str, Any], owner: str) -> dict[str, Any]:
        restored: dict[str, Any] = {}
        shape, dtype = np.shape(p.value), np.asarray(p.value).dtype
        for name, value in entries.items():
            value = np.asarray(value)
            if name in self.counters and value.ndim == 0:
                number = value.item()
                restored[name] = int(number) if float(number).is_integer() else number
            elif value.shape != shape:
                raise StateDictError(
                    f"{owner}: state '{name}' of parameter {i} ('{self.name_of(p)}') has shape "
                    f"{value.shape}, the parameter {shape}"
                )
            else:
                restored[name] = value.astype(dtype)
        return restored

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v}" for k, v in self.param_groups[0].items() if k not in ("params", "param_names"))
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"
