"""The catalogue of operations: what each one takes, what it outputs, and how it computes and streams.

An operation module builds one :class:`OpSpec` and passes it to :func:`register`; the public
:func:`operations` lists them in the order the picker shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
    """The spec of operation ``name``; an unknown name raises ``ValueError`` listing the valid ones."""
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        from .errors import ParamError

        raise ParamError(f"unknown operation {name!r}; valid: {', '.join(s.name for s in operations())}") from None
