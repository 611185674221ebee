"""Evaluating a checked program's expressions with numpy, and operation calls with the engine.

An :class:`Evaluator` reads only the nodes of :mod:`.nodes` and the facts of an
:class:`~.shapes.Analysis`: names come from its environment (inputs, parameters, earlier lines),
calls from the built-in table or :func:`compute.run_op` — never from Python's namespace. Numbers
follow numpy: a Python number is "weak" (``0.5 * x`` keeps ``x``'s float32), arithmetic on numbers
alone is done in float64 (so ``9 ** 9 ** 9`` is inf, not a hang), and NaN/Inf propagate silently,
as in the engine. ``@`` between float arrays of one dtype, and every operation call, go through
``run_op`` so the numbers are the engine's (the same on a GPU as in a stream of the program).

A big line whose expression is element-wise (``scores / sqrt(d_k)``, ``relu(h @ W1 + c1)``) is
computed one block of its output at a time (:meth:`Evaluator.blocked_value`): its temporaries are
a few MiB instead of tensor-sized, and a progressive run's cancel stops it between two blocks
instead of waiting for the whole line (2.8 s for ``scores / sqrt(64)`` at 16 × 4096² here).
"""

from __future__ import annotations

import math

import numpy as np

from ..api import run_op, stream_op
from ..blocks import blocks, operand_key
from ..ops.row_stages import CHUNK_ELEMENTS, MIN_ELEMENTS
from ..progressive import CancelledRunError
from ..registry import get_spec
from .nodes import BinOp, Call, Const, Name, Node, Num, Transpose, Unary

_UFUNCS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "**": np.power}
#: Operators that have a registered operation, used for a whole line's stream (see .timeline).
ENGINE_OPS = {"@": "matmul", "+": "add", "*": "hadamard"}
#: A product inside a line (``relu(h @ W1 + c1)``) of at least this many flops is computed by the
#: engine's progressive panels when the evaluator can be stopped, so a cancel stops it within one
#: of its tasks (≤ ``products.TASK_FLOPS``) instead of waiting for the whole product (0.3–0.5 s
#: at 4096 × 1024 × 4096 here). Below it, one BLAS call is quicker to finish than to split.
STOPPABLE_MATMUL_FLOPS = 2 * 10**9


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def engine_operands(a, b) -> bool:
    """True when an operator on ``a`` and ``b`` gives the same numbers through the engine's
    operation as through numpy: both float arrays of one dtype (the engine casts otherwise)."""
    return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype.kind == "f"
            and a.dtype == b.dtype)


def as_operand(v, like):
    """A Python number as a 0-d array of ``like``'s dtype (what numpy's weak promotion computes with)."""
    if is_number(v) and isinstance(like, np.ndarray) and like.dtype.kind == "f":
        return np.asarray(v, dtype=like.dtype)
    return v


class Evaluator:
    """Values of a program's nodes over ``env`` (name → host array), for one :class:`Analysis`.

    ``dtype`` is the program's float dtype (for ``causal_mask`` and number-only lines);
    ``notices`` collects the engine's notices of operation calls, prefixed by their line.
    ``stop`` (a :class:`threading.Event`, set by a progressive run's cancel) makes big products
    inside a line stoppable (:data:`STOPPABLE_MATMUL_FLOPS`), and big element-wise lines between
    two blocks: they raise ``CancelledRunError``.
    """

    #: Whether :meth:`line_value` may compute a big element-wise line block by block.
    blocked = True

    def __init__(self, analysis, env: dict, dtype: np.dtype, stop=None):
        self.analysis = analysis
        self.env = env
        self.dtype = np.dtype(dtype)
        self.notices: list[str] = []
        self.line = ""
        self.stop = stop

    def line_value(self, line) -> np.ndarray:
        """The value of ``line``, owned by it: a fresh array, never a view of another tensor."""
        self.line = line.name
        shape = self.analysis.lines.get(line.name)
        if self.blocked and shape is not None and math.prod(shape) >= MIN_ELEMENTS and self._elementwise(line.expr):
            return self.blocked_value(line.expr, tuple(shape))
        return self.own(self.value(line.expr))

    def blocked_value(self, root: Node, shape: tuple) -> np.ndarray:
        """The value of the element-wise expression ``root`` (of ``shape``), one block of about
        :data:`CHUNK_ELEMENTS` elements at a time; the numbers are :meth:`value`'s.

        Every sub-expression that is not element-wise or not of the whole ``shape`` (a product,
        an operation call, ``K.T``, a bias that broadcasts) is computed whole first, as
        :meth:`value` computes it, and read block by block; the element-wise nodes of the whole
        shape are then applied to each block, the same numpy calls on the blocks of their
        operands. Raises ``CancelledRunError`` between two blocks once :attr:`stop` is set.
        """
        n = len(shape)
        with np.errstate(all="ignore"):
            whole: dict = {}
            self._whole_parts(root, shape, whole)
            out = None
            for key in blocks(shape, CHUNK_ELEMENTS):
                if self.stop is not None and self.stop.is_set():
                    raise CancelledRunError(f"line {self.line}: cancelled while its blocks were computed")

                def part(node, key=key):
                    if node in whole:
                        v = whole[node]
                        return v if is_number(v) or np.ndim(v) == 0 else v[operand_key(key, n, v.shape)]
                    return self._combine(node, part)

                v = part(root)
                if out is None:
                    out = np.empty(shape, np.asarray(v).dtype)
                out[key] = v
        return out

    def _elementwise(self, node: Node) -> bool:
        """True for an operator other than ``@``, a unary sign or an element-wise built-in call."""
        if isinstance(node, Unary) or isinstance(node, BinOp) and node.op != "@":
            return True
        built = self.analysis.builtins.get(node) if isinstance(node, Call) else None
        return built is not None and built[0].elementwise

    def _whole_parts(self, node: Node, shape: tuple, whole: dict) -> None:
        """Compute into ``whole`` (node → value) the parts of ``node`` that a block cannot be
        computed from: see :meth:`blocked_value`."""
        if self._elementwise(node) and tuple(self.analysis.shapes.get(node, ())) == shape:
            for child in self._operands(node):
                self._whole_parts(child, shape, whole)
        else:
            whole[node] = self._value(node)

    def _operands(self, node: Node) -> tuple:
        if isinstance(node, Unary):
            return (node.operand,)
        if isinstance(node, BinOp):
            return (node.left, node.right)
        return node.args[:self.analysis.builtins[node][0].tensors]

    def own(self, v) -> np.ndarray:
        if is_number(v) or np.ndim(v) == 0 and not isinstance(v, np.ndarray):
            return np.asarray(v, dtype=self.dtype)
        v = np.asarray(v)
        if v.base is not None or any(v is t for t in self.env.values()):
            v = v.copy()
        return v

    def value(self, node: Node):
        with np.errstate(all="ignore"):
            return self._value(node)

    def _value(self, node: Node):
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Name):
            return self.env[node.id]
        if isinstance(node, Const):  # pragma: no cover - the analysis refuses it
            raise TypeError("a literal is not a tensor")
        if isinstance(node, Transpose):
            return np.swapaxes(self._value(node.operand), -1, -2)
        if isinstance(node, (Unary, BinOp, Call)):
            return self._combine(node, self._value)
        raise TypeError(type(node).__name__)  # pragma: no cover

    def _combine(self, node: Node, value_of):
        """A sign, operator or call over its operands' values, as ``value_of(operand)`` gives them
        (the whole tensors, or one block of each: :meth:`blocked_value`)."""
        if isinstance(node, Unary):
            v = value_of(node.operand)
            if node.op == "+":
                return v
            return float(-np.float64(v)) if is_number(v) else np.negative(v)
        if isinstance(node, BinOp):
            return self.binop(node.op, value_of(node.left), value_of(node.right))
        return self.call(node, value_of)

    def binop(self, op: str, a, b):
        if is_number(a) and is_number(b):
            return float(_UFUNCS[op](np.float64(a), np.float64(b)))
        if op == "@":
            if engine_operands(a, b):
                return self.engine("matmul", {"A": a, "B": b}, {})
            return np.matmul(a, b)
        return _UFUNCS[op](a, b)

    def call(self, node: Call, value_of=None):
        built = self.analysis.builtins.get(node)
        if built is not None:
            fn, lits = built
            args = [(value_of or self._value)(a) for a in node.args[:fn.tensors]]
            out = self.builtin(fn, args, lits)
            if args and all(is_number(a) for a in args):
                # A number stays a number (weak in numpy's promotion); a tensor made of numbers
                # (``reshape(0, 1)``: its shape says so, for the dtype walk's 0-d stand-ins too) is
                # of the program's dtype.
                if tuple(self.analysis.shapes.get(node, ())) == ():
                    return float(out)
                return np.asarray(out, dtype=self.dtype)
            return out
        bound = self.analysis.calls[node]
        inputs = self.op_inputs(bound)
        return self.engine(bound.spec.name, inputs, bound.params)

    def builtin(self, fn, args: list, lits: dict):
        """Built-in function ``fn`` on ``args`` (values) and literal arguments ``lits``."""
        return fn.compute(args, lits, self.dtype)

    def op_inputs(self, bound) -> dict:
        """The values of an operation call's inputs; numbers as 0-d arrays of the program's dtype
        (the engine would otherwise read them as float64 and promote the whole call)."""
        out = {}
        for name, node in bound.inputs.items():
            v = self._value(node)
            out[name] = np.asarray(v, dtype=self.dtype) if is_number(v) else v
        return out

    def engine(self, op: str, inputs: dict, params: dict):
        if (op == "matmul" and self.stop is not None and min(inputs["A"].ndim, inputs["B"].ndim) >= 2
                and get_spec("matmul").flops({k: v.shape for k, v in inputs.items()}, {}) >= STOPPABLE_MATMUL_FLOPS):
            return self._stoppable_matmul(inputs)
        res = run_op(op, inputs, **params)
        self.notices.extend(f"{self.line}: {n}" for n in res.notices)
        return res["result"]

    def _stoppable_matmul(self, inputs: dict) -> np.ndarray:
        """The engine's product by its progressive panels (the numbers of a streamed matmul line),
        given up within one panel's k-block once ``stop`` is set (its workers read it)."""
        tl = stream_op("matmul", inputs, granularity="stage", progressive=True, stop=self.stop)
        if not tl.wait():  # False: its workers saw the stop flag (an error is raised by wait)
            tl.cancel()  # joins them
            raise CancelledRunError(f"line {self.line}: cancelled inside its product")
        self.notices.extend(f"{self.line}: {n}" for n in tl.notices)
        return tl.result()["result"]

