"""The catalogue of operations: what each one takes, what it outputs, and how it computes and streams.

An operation module builds one :class:`OpSpec` and passes it to :func:`register`; the public
:func:`operations` lists them in the order the picker shows them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ParamError

GROUPS = ("Products", "Element-wise", "Reductions & norms", "Normalization", "Attention")
GRANULARITIES = ("element", "tile", "kblock", "stage")


@dataclass(frozen=True)
class Input:
    """One named tensor input. ``optional`` inputs may be left out (biases, a mask array)."""

    name: str
    doc: str = ""
    optional: bool = False


@dataclass(frozen=True)
class Param:
    """One keyword parameter.

    ``kind`` tells a GUI which widget to build: ``"int"``, ``"float"``, ``"bool"``, ``"axis"``
    (int, tuple of ints or None), ``"choice"`` (one of ``choices``), ``"mask"`` (None, ``"causal"``
    or key lengths) or ``"ord"``.
    """

    name: str
    kind: str
    default: Any = None
    doc: str = ""
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None

    def validate(self, op: str, value):
        """``value`` checked against this parameter's ``kind`` and normalized to plain Python.

        The one place where a keyword's *type* is checked, so no operation silently coerces
        (``bool('no')`` is True, ``int(2.5)`` is 2, ``True`` is the int 1). numpy scalars count
        as the Python type they stand for (``np.int64(2)``, ``np.bool_(True)``). The operation's
        own ``check`` then judges the value against the shapes (axis in range, heads dividing
        d_model...). ``None`` is accepted only where it is the default (it then means "default").

        Raises
        ------
        ParamError
            naming the operation, the parameter, what was given and what is valid.
        """
        if value is None:
            if self.default is None or self.kind in ("axis", "mask"):
                return None
            raise ParamError(f"{op}: {self.name} must be {self._valid()}, not None")
        kind = self.kind
        if kind == "int":
            v = as_int(value)
            if v is None:
                raise ParamError(f"{op}: {self.name} must be {self._valid()}, not {value!r}")
            self._check_range(op, v, value)
            return v
        if kind == "float":
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
                raise ParamError(f"{op}: {self.name} must be {self._valid()}, not {value!r}")
            v = float(value)
            if not math.isfinite(v):
                raise ParamError(f"{op}: {self.name} must be a finite number, not {value!r}")
            self._check_range(op, v, value)
            return v
        if kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise ParamError(f"{op}: {self.name} must be True or False, not {value!r}")
        if kind == "axis":
            if as_int(value) is not None:
                return as_int(value)
            if isinstance(value, (tuple, list)):
                axes = [as_int(a) for a in value]
                if all(a is not None for a in axes):
                    return tuple(axes)
            raise ParamError(f"{op}: {self.name} must be {self._valid()}, not {value!r}")
        if kind == "choice":
            for c in self.choices:
                if type(c) is type(value) and c == value:
                    return c
            raise ParamError(f"{op}: {self.name} must be {self._valid()}, not {value!r}")
        if kind == "ord":
            # The spellings of an ord (1, 2.0, "inf", np.inf, "fro") are the operation's to parse;
            # a bool is refused here because it would pass as the number 1.
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, numbers.Real, np.number)):
                raise ParamError(f"{op}: {self.name} must be {self._valid()}, not {value!r}")
            return value
        if kind == "mask":
            # None, a name or key lengths; the operation parses the spelling against the shapes.
            if isinstance(value, (bool, np.bool_, dict, set, bytes)):
                raise ParamError(f"{op}: {self.name} must be None, 'causal' or key lengths such as "
                                 f"'padding:3,2' or [3, 2]; not {value!r}")
            return value
        return value

    def _valid(self) -> str:
        """What this parameter accepts, in words for an error message."""
        kind = self.kind
        none = " or None" if self.default is None else ""
        if kind == "int":
            rng = ""
            if self.minimum is not None and self.maximum is not None:
                rng = f" in {int(self.minimum)}..{int(self.maximum)}"
            elif self.minimum is not None:
                rng = f" ≥ {int(self.minimum)}"
            return f"an int{rng}{none}"
        if kind == "float":
            rng = ""
            if self.minimum is not None and self.maximum is not None:
                rng = f" in [{self.minimum:g}, {self.maximum:g}]"
            elif self.minimum is not None:
                rng = f" ≥ {self.minimum:g}"
            return f"a number{rng}{none}"
        if kind == "bool":
            return "True or False"
        if kind == "axis":
            return "an int, a tuple of ints or None"
        if kind in ("choice", "ord"):
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return "a valid value"

    def _check_range(self, op: str, v, given) -> None:
        lo, hi = self.minimum, self.maximum
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ParamError(f"{op}: {self.name} must be {self._valid()}, not {given!r}")


def as_int(value) -> int | None:
    """``value`` as a Python int when it is an integer (int, numpy integer, 0-d integer array), else None.

    A bool is not an integer here (``True`` is not axis 1), nor is a float, even ``2.0``: numpy
    refuses ``axis=2.0`` too.
    """
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
        return int(value)
    return None


@dataclass(frozen=True)
class OpSpec:
    """Everything OpScope knows about one operation.

    ``check(shapes, params)`` raises :class:`~compute.errors.ShapeError` / ``ParamError`` and
    returns the normalized params; ``estimate(shapes, itemsize, params)`` gives bytes per
    intermediate for the budget; ``compute(xp, inputs, params)`` returns every named output;
    ``plan(run, granularity, options)`` returns the step plan; ``flops(shapes, params)`` counts
    floating-point operations; ``example()`` returns small default inputs for the window.
    """

    name: str
    group: str
    doc: str
    inputs: tuple[Input, ...]
    params: tuple[Param, ...]
    outputs: tuple[str, ...]
    granularities: tuple[str, ...]
    check: Callable[[Mapping[str, tuple], dict], dict]
    estimate: Callable[[Mapping[str, tuple], int, dict], dict]
    compute: Callable[[Any, Mapping[str, Any], dict], dict]
    plan: Callable[..., Any]
    flops: Callable[[Mapping[str, tuple], dict], int]
    example: Callable[[], dict]
    float_only: bool = True
    extra: dict = field(default_factory=dict)
    #: A row-wise pipeline's tensors in the order its stages compute them, input first and
    #: ``"result"`` last (softmax: X → shifted → exp → sum → result); () for other operations.
    #: Views draw such an operation as this chain, so a new pipeline needs no view of its own.
    pipeline: tuple[str, ...] = ()
    #: The two inputs of a contraction whose rows and columns a step reads (matmul: A's row and
    #: B's column), in that order; () for other operations.
    strip_roles: tuple[str, ...] = ()

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    @property
    def required_inputs(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs if not i.optional)

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def validate_params(self, params: Mapping[str, Any]) -> dict:
        """``params`` (name -> value) checked by each :class:`Param`'s kind, with the defaults filled in.

        Raises
        ------
        ParamError
            an unknown parameter, or a value not of its parameter's kind.
        """
        known = {p.name for p in self.params}
        bad = [k for k in params if k not in known]
        if bad:
            raise ParamError(f"{self.name}: unknown parameter(s) {', '.join(map(str, bad))}; "
                             f"valid: {', '.join(sorted(known)) or 'none'}")
        full = {}
        for p in self.params:
            full[p.name] = p.validate(self.name, params[p.name]) if p.name in params else p.default
        return full

    def describe(self) -> dict:
        """A plain dict (JSON-friendly) of the spec: name, group, doc, inputs, params, outputs."""
        return {
            "name": self.name,
            "group": self.group,
            "doc": self.doc,
            "inputs": [{"name": i.name, "doc": i.doc, "optional": i.optional} for i in self.inputs],
            "params": [
                {"name": p.name, "kind": p.kind, "default": p.default, "doc": p.doc, "choices": list(p.choices)}
                for p in self.params
            ],
            "outputs": list(self.outputs),
            "granularities": list(self.granularities),
        }


_REGISTRY: dict[str, OpSpec] = {}


def register(spec: OpSpec) -> OpSpec:
    """Add ``spec`` to the catalogue (a name may be registered once)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"operation {spec.name!r} registered twice")
    if spec.group not in GROUPS:
        raise ValueError(f"unknown group {spec.group!r}")
    if "result" not in spec.outputs:
        raise ValueError(f"{spec.name}: outputs must include 'result'")
    names = set(spec.input_names) | set(spec.outputs)
    for field_name in ("pipeline", "strip_roles"):
        unknown = [n for n in getattr(spec, field_name) if n not in names]
        if unknown:
            raise ValueError(f"{spec.name}: {field_name} names {', '.join(unknown)}, which are not its tensors")
    _REGISTRY[spec.name] = spec
    return spec


def _load_all() -> None:
    from . import ops  # noqa: F401  (importing registers every operation)


def operations() -> list[OpSpec]:
    """Every operation, grouped in picker order (Products, Element-wise, Reductions & norms, ...)."""
    _load_all()
    order = {g: i for i, g in enumerate(GROUPS)}
    return sorted(_REGISTRY.values(), key=lambda s: (order[s.group], s.extra.get("order", 0)))


def get_spec(name: str) -> OpSpec:
    """The spec of operation ``name``; an unknown name (or one that is not a string) raises
    :class:`~compute.errors.ParamError` (a ``ValueError``) listing the valid ones."""
    _load_all()
    if not isinstance(name, str):  # a list or None would raise TypeError (unhashable) below
        raise ParamError(f"the operation name must be a string, not {name!r}; "
                         f"valid: {', '.join(s.name for s in operations())}")
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ParamError(f"unknown operation {name!r}; valid: {', '.join(s.name for s in operations())}") from None
