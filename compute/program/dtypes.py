"""The dtype of a checked program's nodes, found without computing the program.

A progressive program (:mod:`.progressive`) plans every line's steps before its inputs exist, and
whether a line such as ``s = a * b`` is the engine's ``hadamard`` (many steps) or one ``stage``
step depends on its operands' dtypes (:func:`.evaluate.engine_operands`). This walks the nodes as
:class:`~.evaluate.Evaluator` does, but on 0-d stand-ins: every tensor is a 0-d array of its dtype
and every number stays a Python number, so numpy's own promotion rules (NEP 50: 0-d arrays are
strong, Python numbers weak) give each node's dtype exactly as the real evaluation would.
"""

from __future__ import annotations

import numpy as np

from ..api import _compute_dtype
from ..registry import get_spec
from .evaluate import Evaluator, engine_operands, is_number
from .nodes import Node, Transpose

#: Built-ins that move or regroup elements without changing their dtype.
_SHAPE_FUNCTIONS = frozenset({"transpose", "reshape", "split_heads", "merge_heads", "expand_dims"})


def stand_in(dtype) -> np.ndarray:
    """The 0-d stand-in of a tensor of ``dtype`` (ones: no division by zero, no log of 0)."""
    return np.ones((), dtype=np.dtype(dtype))


class DtypeEvaluator(Evaluator):
    """Stand-in values (0-d arrays, or Python numbers) of a program's nodes, for one
    :class:`~.shapes.Analysis` over ``dtypes`` (name → dtype of the environment's tensors: the
    program's cast inputs and earlier lines); ``dtype`` is the program's float dtype. The walk is
    :class:`~.evaluate.Evaluator`'s; only what would compute on tensors is replaced."""

    blocked = False  # its stand-ins are 0-d: a line's blocks would be full-size arrays

    def __init__(self, analysis, dtypes: dict, dtype: np.dtype):
        super().__init__(analysis, {k: stand_in(v) for k, v in dtypes.items()}, dtype)

    def bind(self, name: str, value) -> None:
        """Line ``name`` now has ``value``'s dtype (a stand-in, as :meth:`value` returns)."""
        self.env[name] = stand_in(self.dtype) if is_number(value) else stand_in(np.asarray(value).dtype)

    def _value(self, node: Node):
        if isinstance(node, Transpose):  # a 0-d stand-in has no axes to swap; the dtype stays
            return self._value(node.operand)
        return super()._value(node)

    def binop(self, op: str, a, b):
        if op in ("@", "**") and not (is_number(a) and is_number(b)) and not (op == "@" and engine_operands(a, b)):
            # np.matmul takes no 0-d operands and integer stand-ins raised to a negative number
            # raise; numpy's promotion, which both follow, does neither.
            return stand_in(np.result_type(a, b))
        return super().binop(op, a, b)

    def builtin(self, fn, args: list, lits: dict):
        if fn.name == "causal_mask":  # its literal n may be big: the dtype is the program's
            return stand_in(self.dtype)
        if fn.name in _SHAPE_FUNCTIONS:
            return args[0] if not is_number(args[0]) else stand_in(self.dtype)
        return stand_in(np.asarray(fn.compute(args, lits, self.dtype)).dtype)

    def engine(self, op: str, inputs: dict, params: dict):
        """An operation's result: a stand-in of the dtype the engine computes in (no notices)."""
        return stand_in(_compute_dtype(get_spec(op), inputs))
