"""Shape inference for a whole program before anything runs: every line's and sub-expression's shape.

:func:`analyze` walks the lines in order over the input shapes and records the shape of every
node, the binding of every operation call and the literal arguments of every built-in call, so
that running, streaming and an editor's hover read one analysis. Operators follow numpy
(broadcasting for ``+ - * / **``, ``matmul``'s rule for ``@``); operation calls go through the
operation's own ``spec.check`` so each rule and message lives in one place. A failure is a
``ShapeError`` or ``ParamError`` naming the line, the column, the sub-expression text, both shapes
and the rule, e.g. ``Q @ K: Q (4, 3) @ K (4, 3): the last axis of Q (3) must equal the
second-to-last axis of K (4). … Did you mean K.T?``; the shapes of the lines before it are on the
error as ``partial``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, OpScopeError, ParamError, ShapeError
from ..numbers import fmt_shape
from ..registry import get_spec
from ..shapes import broadcast_shapes
from .calls import BoundCall, bind, literal_value
from .functions import FUNCTIONS, Function
from .nodes import BinOp, Call, Const, Name, Node, Num, Program, Transpose, Unary, located, short
from .parse import RESULT, known_functions


@dataclass
class Analysis:
    """What a program's shapes are, for given input shapes.

    Attributes
    ----------
    program : the parsed program.
    inputs : input name → shape (inputs and scalar parameters the program reads).
    lines : line name → shape, in program order, plus ``"result"`` (the last line's).
    shapes : node → shape for every tensor-valued node.
    calls : op-call node → :class:`~.calls.BoundCall`.
    builtins : built-in call node → (:class:`~.functions.Function`, literal arguments).
    """

    program: Program
    inputs: dict
    lines: dict = field(default_factory=dict)
    shapes: dict = field(default_factory=dict)
    calls: dict = field(default_factory=dict)
    builtins: dict = field(default_factory=dict)

    def subexpressions(self) -> list[tuple]:
        """``(span, text, shape)`` of every tensor-valued node, in text order (for hover read-outs)."""
        out = [(n.span, self.program.source(n.span), s) for n, s in self.shapes.items()]
        return sorted(out, key=lambda t: (t[0].lineno, t[0].col, -t[0].end_lineno, -t[0].end_col))


def as_shape(name: str, value) -> tuple[int, ...]:
    """A shape from what a caller gives: a tuple/list of ints, an array (its shape) or a number (``()``)."""
    if isinstance(value, (bool, int, float, np.number)):
        return ()
    if hasattr(value, "shape") and not isinstance(value, (tuple, list)):
        return tuple(int(n) for n in value.shape)
    try:
        shape = tuple(int(n) for n in value)
    except (TypeError, ValueError):
        raise InputError(f"the shape of {name} must be a tuple of ints, not {value!r}") from None
    if any(n < 0 for n in shape):
        raise InputError(f"the shape of {name} {shape} has a negative size")
    return shape


class _Analyzer:
    def __init__(self, program: Program, inputs: Mapping[str, tuple]):
        self.p = program
        self.a = Analysis(program, dict(inputs))
        self.env: dict[str, tuple] = dict(inputs)
        self.line = None
        self.later = {line.name: line for line in program.lines}

    def text(self, node: Node) -> str:
        return self.p.source(node.span)

    def fail(self, cls, node: Node, message: str, snippet: bool = True, cause=None):
        err = located(cls, message, node.span, self.text(node) if snippet else None,
                      self.line.name if self.line else None, cause)
        err.snippet = self.text(node)  # also where the message already starts with it
        return err

    def run(self) -> Analysis:
        for line in self.p.lines:
            self.line = line
            if line.name in self.a.inputs:
                raise located(ParamError, f"{line.name} is an input; a line cannot redefine it — give the line "
                                          f"another name", line.span, None, line.name)
            shape = self.shape(line.expr)
            self.env[line.name] = shape
            self.a.lines[line.name] = shape
        self.a.lines[RESULT] = self.a.lines[self.p.result_name]
        return self.a

    def shape(self, node: Node) -> tuple[int, ...]:
        s = self._shape(node)
        self.a.shapes[node] = s
        return s

    def _shape(self, node: Node) -> tuple[int, ...]:
        if isinstance(node, Num):
            return ()
        if isinstance(node, Const):
            raise self.fail(ParamError, node, f"{type(node.value).__name__} {node.value!r} is not a tensor; strings, "
                                              f"None, True/False and tuples go in keyword or shape/axes arguments",
                            snippet=False)
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, Unary):
            return self.shape(node.operand)
        if isinstance(node, Transpose):
            s = self.shape(node.operand)
            if len(s) < 2:
                x = short(self.text(node.operand))
                raise self.fail(ShapeError, node, f"{x} {fmt_shape(s)} has {len(s)} axis/axes, but .T swaps the last "
                                                  f"two. For a vector, reshape({x}, (1, -1)) makes it a row.")
            return s[:-2] + (s[-1], s[-2])
        if isinstance(node, BinOp):
            return self.binop(node)
        if isinstance(node, Call):
            return self.call(node)
        raise self.fail(ParamError, node, f"{type(node).__name__} is not an expression")  # pragma: no cover

    def name(self, node: Name) -> tuple[int, ...]:
        if node.id in self.env:
            return self.env[node.id]
        later = self.later.get(node.id)
        if later is not None:
            raise self.fail(ParamError, node, f"{node.id} is used before line {later.span.lineno} defines it")
        inputs = ", ".join(self.a.inputs) or "none"
        lines = ", ".join(n for n in self.env if n not in self.a.inputs) or "none yet"
        raise self.fail(ParamError, node, f"unknown name {node.id!r}. Inputs: {inputs}. Lines: {lines}. "
                                          f"Functions: {', '.join(known_functions())}", snippet=False)

    def binop(self, node: BinOp) -> tuple[int, ...]:
        sa, sb = self.shape(node.left), self.shape(node.right)
        la, lb = short(self.text(node.left), 24), short(self.text(node.right), 24)
        if node.op != "@":
            try:
                return broadcast_shapes(short(self.text(node)), sa, sb, la, lb)
            except ShapeError as exc:
                raise self.fail(ShapeError, node, str(exc), snippet=False) from None
        return self.matmul(node, sa, sb, la, lb)

    def matmul(self, node: BinOp, sa, sb, la, lb) -> tuple[int, ...]:
        head = f"{la} {fmt_shape(sa)} @ {lb} {fmt_shape(sb)}: "
        if not sa or not sb:
            which = la if not sa else lb
            raise self.fail(ShapeError, node, head + f"{which} is a scalar; @ needs at least one axis on each side. "
                                                     f"Use * to scale by a number.")
        ka = sa[-1]
        kb = sb[-2] if len(sb) >= 2 else sb[-1]
        if ka != kb:
            where = "second-to-last axis" if len(sb) >= 2 else "length"
            hint = ""
            if len(sb) >= 2 and sb[-1] == ka:
                hint = f" Did you mean {_t(lb)}?"
            elif len(sa) >= 2 and sa[-2] == kb:
                hint = f" Did you mean {_t(la)}?"
            raise self.fail(ShapeError, node, head + f"the last axis of {la} ({ka}) must equal the {where} of {lb} "
                                                     f"({kb}). Rule: (…, m, k) @ (…, k, n) → (…, m, n).{hint}")
        try:
            batch = broadcast_shapes(short(self.text(node)), sa[:-2], sb[:-2], f"{la} batch", f"{lb} batch")
        except ShapeError as exc:
            msg = str(exc).replace("do not broadcast", "have batch axes that do not broadcast")
            raise self.fail(ShapeError, node, msg, snippet=False) from None
        return batch + ((sa[-2],) if len(sa) >= 2 else ()) + ((sb[-1],) if len(sb) >= 2 else ())

    def call(self, node: Call) -> tuple[int, ...]:
        fn = FUNCTIONS.get(node.func)
        if fn is not None:
            return self.builtin(node, fn)
        spec = get_spec(node.func)
        try:
            inputs, params = bind(spec, node)
        except ParamError as exc:
            raise self.fail(ParamError, node, str(exc)) from None
        shapes = {k: self.shape(v) for k, v in inputs.items()}
        full = {p.name: p.default for p in spec.params}
        full.update(params)
        try:
            norm = spec.check(shapes, full)
            from .opshapes import result_shape

            out = result_shape(spec, shapes, norm)
        except (ShapeError, ParamError, InputError) as exc:
            named = [f"{k} = {short(self.text(v), 24)}" for k, v in inputs.items() if self.text(v) != k]
            where = f" [{', '.join(named)}]" if named else ""
            raise self.fail(type(exc), node, f"{exc}{where}") from None
        self.a.calls[node] = BoundCall(spec, inputs, params, norm)
        return out

    def builtin(self, node: Call, fn: Function) -> tuple[int, ...]:
        args = node.args
        if len(args) < fn.tensors:
            raise self.fail(ParamError, node, f"{fn.name} needs {fn.tensors} tensor argument(s): {fn.signature}")
        extra = args[fn.tensors:]
        if len(extra) > len(fn.literals):
            raise self.fail(ParamError, node, f"{fn.name} takes {fn.tensors + len(fn.literals)} argument(s): "
                                              f"{fn.signature}")
        lits: dict = {}
        for name, arg in zip(fn.literals, extra):
            lits[name] = arg
        for kw in node.keywords:
            if kw.name not in fn.literals:
                raise self.fail(ParamError, node, f"{fn.name} has no keyword {kw.name!r}: {fn.signature}")
            if kw.name in lits:
                raise self.fail(ParamError, node, f"{fn.name}: {kw.name} is given twice")
            lits[kw.name] = kw.value
        missing = [n for n in fn.literals[:fn.required] if n not in lits]
        if missing:
            raise self.fail(ParamError, node, f"{fn.name} needs {', '.join(missing)}: {fn.signature}")
        values = {}
        for name, arg in lits.items():
            try:
                values[name] = literal_value(arg)
            except TypeError:
                raise self.fail(ParamError, arg, f"{fn.name}: {name} must be written as a literal, "
                                                 f"e.g. {fn.signature}") from None
        for name in fn.literals:
            values.setdefault(name, None)
        shapes = [self.shape(a) for a in args[:fn.tensors]]
        try:
            if fn.check_literals is not None:
                values = fn.check_literals(values)
            out = fn.shape(shapes, values)
        except (ShapeError, ParamError) as exc:
            msg = str(exc)
            if fn.tensors:  # the rules say "x"; the message names the argument as written
                x = short(self.text(args[0]), 24)
                msg = (x + msg[1:] if msg.startswith("x (") else msg).replace(" x (", f" {x} (")
            raise self.fail(type(exc), node, msg) from None
        self.a.builtins[node] = (fn, values)
        return tuple(int(n) for n in out)


def _t(text: str) -> str:
    return f"{text}.T" if text.replace("_", "").isalnum() else f"({text}).T"


def analyze(program: Program, shapes: Mapping[str, object]) -> Analysis:
    """The :class:`Analysis` of ``program`` for input ``shapes`` (name → shape, array or number)."""
    if not isinstance(shapes, Mapping):
        raise InputError("shapes must be a dict of name -> shape (e.g. {'Q': (4, 3)})")
    given = {str(k): as_shape(str(k), v) for k, v in shapes.items()}
    if RESULT in given:
        raise InputError("'result' is the name of the program's result; an input cannot be called that")
    az = _Analyzer(program, given)
    try:
        return az.run()
    except OpScopeError as exc:
        exc.partial = dict(az.a.lines)
        raise
    except RecursionError:
        raise ParamError("the program is nested too deeply to check") from None
