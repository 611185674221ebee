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


# --- shapes of inputs a program names but nobody gave -----------------------------------------------
#: Names that read as scalars (a head size, a temperature): guessed as () before any tensor shape.
SCALAR_NAMES = ("d_k", "d_head", "d_model", "d", "dk", "scale", "eps", "temperature", "tau", "alpha", "beta",
                "n", "h", "lr", "gamma_scalar")


#: At most this many analyses when inferring shapes (a short program needs a handful; the editor
#: calls this on the GUI thread).
MAX_INFER_TRIALS = 200


class _Hole(Exception):
    """The analysis reached a name whose shape is to be inferred (``node``)."""

    def __init__(self, node: Name):
        super().__init__(node.id)
        self.node = node


class _Inferer(_Analyzer):
    """An analysis that stops at the first use of a name in ``missing`` (a :class:`_Hole`), with
    every shape met before it recorded, so the use's context can say what the name must be."""

    def __init__(self, program: Program, inputs: Mapping[str, tuple], missing: set[str]):
        super().__init__(program, inputs)
        self.missing = missing

    def name(self, node: Name) -> tuple[int, ...]:
        if node.id in self.missing and node.id not in self.env:
            raise _Hole(node)
        return super().name(node)


def _parents(program: Program) -> dict:
    out = {}
    stack = [ln.expr for ln in program.lines]
    while stack:
        n = stack.pop()
        if isinstance(n, BinOp):
            kids = (n.left, n.right)
        elif isinstance(n, (Unary, Transpose)):
            kids = (n.operand,)
        elif isinstance(n, Call):
            kids = tuple(n.args) + tuple(k.value for k in n.keywords)
        else:
            kids = ()
        for k in kids:
            out[k] = n
        stack.extend(kids)
    return out


def _sibling_shape(az: _Inferer, node: Node):
    """The shape of ``node`` where it can be found now (None: it needs another unknown name)."""
    if node in az.a.shapes:
        return az.a.shapes[node]
    try:
        return az.shape(node)
    except (_Hole, OpScopeError):
        return None


def _candidates(az: _Inferer, parents: dict, hole: Name, default: tuple, known_dims: list) -> list[tuple]:
    """Shapes for ``hole`` that its use allows, the likeliest first."""
    out: list[tuple] = []

    def add(*shapes):
        for s in shapes:
            s = tuple(int(n) for n in s)
            if s not in out and all(n > 0 for n in s):
                out.append(s)

    if hole.id in SCALAR_NAMES:
        add(())
    child: Node = hole
    parent = parents.get(hole)
    while isinstance(parent, (Unary, Transpose)) or (isinstance(parent, Call) and parent.func in FUNCTIONS
                                                      and FUNCTIONS[parent.func].tensors == 1):
        if isinstance(parent, Transpose):
            break
        child, parent = parent, parents.get(parent)  # exp(x), -x: the same shape as x's use
    transposed = isinstance(parent, Transpose)
    if transposed:
        child, parent = parent, parents.get(parent)
    if isinstance(parent, BinOp):
        other = parent.right if child is parent.left else parent.left
        so = None if isinstance(other, Num) else _sibling_shape(az, other)  # a number says nothing
        if so is not None and parent.op == "@" and so:
            # A weight (W…) is one matrix for the whole batch; anything else (K, V) is batched
            # like its partner. Its free size: the partner's own first (K.T of Q: as many keys as
            # queries), then the contracted one, then the other sizes the program uses.
            batch = so[:-2] if hole.id[:1] not in "Ww" else ()
            if child is parent.right:  # (…, m, k) @ B: B is (…, k, n)
                k = so[-1]
                m = so[-2] if len(so) >= 2 else k
                sizes = [m, k] if transposed else [k, m]
                shapes = [(k, n) for n in dict.fromkeys([*sizes, *known_dims])]
            else:  # A @ (…, k, n): A is (…, m, k)
                k = so[-2] if len(so) >= 2 else so[-1]
                n = so[-1]
                sizes = [n, k] if transposed else [k, n]
                shapes = [(m, k) for m in dict.fromkeys([*sizes, *known_dims])]
            shapes = [sh[::-1] if transposed else sh for sh in shapes]
            add(*[batch + sh for sh in shapes], *shapes, (k,))
        elif so is not None:
            row = so[-1:] if so else ()
            # A bias (b…, c…) added to a (…, n) tensor is one row of n; anything else its partner's shape.
            if parent.op in "+-" and hole.id[:1] in "bc":
                add(row, so, ())
            else:
                add(so, row, ())
    elif isinstance(parent, Call):
        others = [a for a in parent.args if a is not child]
        is_op = parent.func not in FUNCTIONS  # an operation's extra inputs (γ, β, biases) are rows
        for a in others:
            so = _sibling_shape(az, a)
            if so is not None:
                if is_op and so and hole.id[:1] in "Ww":  # a weight of a projection: d × d
                    add((so[-1], so[-1]))
                add(*((so[-1:], so) if is_op and so else (so, so[-1:] if so else ())))
                if len(so) >= 2:
                    add(so[:-2] + (so[-1], so[-2]))
    add(default)
    for s in dict.fromkeys(tuple(v) for v in az.a.inputs.values()):
        add(s)
    return out


def infer_input_shapes(program: Program, shapes: Mapping[str, object], missing, *,
                       default: tuple[int, ...] = (4, 4)) -> dict[str, tuple[int, ...]]:
    """Shapes for the inputs ``missing`` that ``program`` reads but nobody gave, from what the
    program's other shapes (``shapes``: name → shape) force on them: the inner dimension of a
    matmul (``Q @ W`` with Q (4, 3) → W (3, n), n chosen so later lines check: 3, else 4, else
    another size the program uses), broadcasting with the other operand (a bias ``b…``/``c…`` of a
    (4, 8) sum: (8,), anything else (4, 8)), the other arguments of a call (``layernorm(x, g, b)``), and names that read
    as scalars (``d_k`` → ``()``). Each name is decided at its first use, trying its candidates
    in order, depth first, until the whole program checks (at most :data:`MAX_INFER_TRIALS`
    analyses; else the deepest partial answer); a name nothing decides gets ``default``. Never
    raises for the program's own errors: those are check_program's to say.
    """
    known = {str(k): as_shape(str(k), v) for k, v in shapes.items()}
    missing = [m for m in dict.fromkeys(missing) if m not in known]
    parents = _parents(program)
    known_dims = sorted({d for s in known.values() for d in s if d > 1})
    budget = [MAX_INFER_TRIALS]
    greedy: dict[str, tuple[int, ...]] = {}

    def solve(guessed: dict) -> dict | None:
        """Depth first over each next name's candidates: the first assignment the whole program
        checks with (None when none does within the budget); ``greedy`` keeps the deepest try."""
        left = set(missing) - set(guessed)
        if len(guessed) > len(greedy) or not greedy:
            greedy.clear()
            greedy.update(guessed)
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        az = _Inferer(program, {**known, **guessed}, left)
        try:
            az.run()
            return dict(guessed)  # checks, and nothing left reads a missing name
        except _Hole as hole:
            name, cands = hole.node.id, _candidates(az, parents, hole.node, default, known_dims)
        except OpScopeError:
            return None
        for c in cands:
            found = solve({**guessed, name: c})
            if found is not None:
                return found
        return None

    found = solve({})
    out = dict(found if found is not None else greedy)
    for m in missing:
        out.setdefault(m, tuple(default))
    return out
