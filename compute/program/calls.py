"""How a call's arguments bind to a registered operation's inputs and parameters.

Positional arguments are the operation's inputs in declared order, except that optional inputs
declared before its last required one are keyword-only (the first input excepted): so
``mha(X, W_q, W_k, W_v, W_o, num_heads=2)`` binds X and the four weights, and cross-attention
names its sources, ``mha(query=x, key=m, value=m, W_q=…, …)``. Keywords are parameters, or inputs
by name; a name that is both (``mask`` of attention) is the parameter when its value is a literal
(``mask="causal"``) and the input when it is a tensor expression (``mask=M``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ParamError
from ..registry import OpSpec
from .nodes import Call, Const, Node, Num


@dataclass(frozen=True)
class BoundCall:
    """A call of a registered operation: ``inputs`` (input name → argument node, declared order),
    ``params`` as written (literal values) and ``norm``, the params its ``check`` normalized."""

    spec: OpSpec
    inputs: dict
    params: dict
    norm: dict


def positional_inputs(spec: OpSpec) -> tuple[str, ...]:
    """The inputs that positional arguments fill, in order (see the module docstring)."""
    names = spec.input_names
    optional = {i.name for i in spec.inputs if i.optional}
    required_at = [i for i, n in enumerate(names) if n not in optional]
    last = required_at[-1] if required_at else -1
    return tuple(n for i, n in enumerate(names) if i == 0 or n not in optional or i > last)


def signature(spec: OpSpec) -> str:
    """``"mha(X, W_q, W_k, W_v, W_o, b_q, …; query=, key=, value=, num_heads=2, mask=None)"``, for messages."""
    pos = positional_inputs(spec)
    kw = [f"{n}=" for n in spec.input_names if n not in pos]
    kw += [f"{p.name}={p.default!r}" for p in spec.params if p.name not in pos]
    return f"{spec.name}({', '.join(pos)}{'; ' if kw else ''}{', '.join(kw)})"


def literal_value(node: Node):
    """The Python value of a literal node, or raise ``TypeError`` when ``node`` is not a literal."""
    if isinstance(node, (Num, Const)):
        return node.value
    raise TypeError("not a literal")


def bind(spec: OpSpec, call: Call) -> tuple[dict, dict]:
    """``(inputs, params)`` of ``call``: input name → node, param name → literal value.

    Raises ``ParamError`` (a plain message; the caller adds the place) for too many arguments, an
    unknown or repeated keyword, a parameter given an expression, or a missing required input.
    """
    pos = positional_inputs(spec)
    if len(call.args) > len(pos):
        raise ParamError(f"{spec.name} takes at most {len(pos)} positional input(s), {len(call.args)} given: "
                         f"{signature(spec)}")
    inputs = dict(zip(pos, call.args))
    params: dict = {}
    param_names = {p.name for p in spec.params}
    for kw in call.keywords:
        is_literal = isinstance(kw.value, (Num, Const))
        if kw.name in param_names and (is_literal or kw.name not in spec.input_names):
            if not is_literal:
                raise ParamError(f"{spec.name}: the parameter {kw.name} must be a literal (a number, a string, "
                                 f"None, True/False or a tuple of ints), not an expression")
            params[kw.name] = kw.value.value
        elif kw.name in spec.input_names:
            if kw.name in inputs:
                raise ParamError(f"{spec.name}: input {kw.name} is given twice (by position and by keyword)")
            inputs[kw.name] = kw.value
        else:
            raise ParamError(f"{spec.name}: unknown keyword {kw.name!r}; {signature(spec)}")
    missing = [n for n in spec.required_inputs if n not in inputs]
    if missing:
        raise ParamError(f"{spec.name}: missing input(s) {', '.join(missing)}; {signature(spec)}")
    order = {n: i for i, n in enumerate(spec.input_names)}
    return dict(sorted(inputs.items(), key=lambda kv: order[kv[0]])), params
