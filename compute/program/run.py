"""``run_program``: a program's every line computed, after its shapes and memory are checked.

One preparation path (:func:`prepare_program`) serves running and streaming: parse, read the
inputs (without copying), infer every shape, check the memory of the whole program against the
budget, and only then cast the inputs to the program's dtype and compute.

Inputs and parameters. ``inputs`` maps names to arrays (or numbers); ``**params`` of
:func:`run_program` are more names of the same namespace, meant for scalars (``d_k=3``) so a
program's constants can be changed without editing its text; a name in both is an error.
The program's dtype is numpy's promotion of the float tensors (arrays with at least one axis;
float64 when there are none), like the engine's: integer tensors and every scalar (0-d array or
number) take that dtype, so ``d_k`` never promotes a float32 program; boolean tensors stay
boolean (masks, ``where`` conditions).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..backend import BackendInfo, backend_info, to_host
from ..budget import check_budget
from ..errors import InputError
from .evaluate import Evaluator
from .nodes import BinOp, Call, Node, Program, Transpose, Unary
from .parse import RESULT, parse_program
from .shapes import Analysis, analyze


class ProgramResult(dict):
    """Every line's value (host numpy arrays) by line name, plus ``"result"`` (the last line's), and
    what the run was: ``program``, ``lines`` (names in order), ``shapes``, ``dtype``, ``backend``,
    ``elapsed`` seconds and ``notices``."""

    program: Program
    lines: tuple[str, ...] = ()
    shapes: dict
    dtype: np.dtype
    backend: BackendInfo | None = None
    elapsed: float = 0.0
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """A checked program: its analysis, its inputs cast to ``dtype`` (host arrays), and the raw inputs."""

    program: Program
    analysis: Analysis
    inputs: dict
    dtype: np.dtype


def read_inputs(inputs: Mapping, params: Mapping) -> dict:
    """Inputs and parameters as one namespace of host arrays (numbers as 0-d arrays), not yet cast."""
    if not isinstance(inputs, Mapping):
        raise InputError("inputs must be a dict of name -> array (e.g. {'Q': q, 'K': k})")
    clash = [k for k in params if k in inputs]
    if clash:
        raise InputError(f"{', '.join(clash)}: given both as an input and as a parameter; give each name once")
    out = {}
    for name, value in list(inputs.items()) + list(params.items()):
        name = str(name)
        if name == RESULT:
            raise InputError("'result' is the name of the program's result; an input cannot be called that")
        try:
            a = np.asarray(to_host(value))
        except Exception as exc:  # noqa: BLE001 - anything numpy cannot read is bad input
            raise InputError(f"input {name} is not an array of numbers ({type(exc).__name__}: {exc})") from None
        if a.dtype.kind == "c":
            raise InputError(f"input {name} is complex ({a.dtype}); OpScope computes with real numbers only")
        if a.dtype.kind not in "biuf":
            raise InputError(f"input {name} has dtype {a.dtype}, not numbers; use float16/32/64, ints or bools")
        out[name] = a
    return out


def program_dtype(arrays: Mapping[str, np.ndarray]) -> np.dtype:
    """numpy's promotion of the float tensors (≥ 1 axis), else of any float, else float64."""
    floats = [a.dtype for a in arrays.values() if a.dtype.kind == "f" and a.ndim]
    if not floats:
        floats = [a.dtype for a in arrays.values() if a.dtype.kind == "f"]
    return np.result_type(*floats) if floats else np.dtype(np.float64)


def _nbytes(shape, itemsize: int) -> int:
    return math.prod(shape) * itemsize


def _temporaries(analysis: Analysis, node: Node, itemsize: int, root: bool = True) -> dict:
    """Bytes of the intermediates computing ``node`` allocates (the line's own value excluded)."""
    sizes: dict[str, int] = {}
    stack = [(node, root)]
    while stack:
        n, is_root = stack.pop()
        if isinstance(n, Call) and n in analysis.calls:
            b = analysis.calls[n]
            shapes = {k: analysis.shapes[v] for k, v in b.inputs.items()}
            for k, v in b.spec.estimate(shapes, itemsize, b.norm).items():
                sizes[f"{b.spec.name} {k}"] = sizes.get(f"{b.spec.name} {k}", 0) + int(v)
        elif isinstance(n, (BinOp, Unary, Call)) and not is_root and n in analysis.shapes:
            sizes["sub-expressions"] = sizes.get("sub-expressions", 0) + _nbytes(analysis.shapes[n], itemsize)
        if isinstance(n, BinOp):
            stack.extend(((n.left, False), (n.right, False)))
        elif isinstance(n, (Unary, Transpose)):
            stack.append((n.operand, False))
        elif isinstance(n, Call):
            stack.extend((a, False) for a in n.args)
            stack.extend((k.value, False) for k in n.keywords)
    return sizes


def program_sizes(analysis: Analysis, raw: Mapping[str, np.ndarray], dtype: np.dtype, keep_all: bool) -> dict:
    """Bytes the program will allocate, by item: cast copies of inputs, every line's value, and the
    intermediates of the lines — the largest line's (``keep_all`` False: they are freed line by
    line) or all of them (``keep_all`` True: a stream keeps every operation's tensors)."""
    item = dtype.itemsize
    sizes: dict[str, int] = {}
    cast = sum(a.size * item for a in raw.values() if a.dtype != bool and a.dtype != dtype)
    if cast:
        sizes["inputs cast to " + str(dtype)] = cast
    for line in analysis.program.lines:
        sizes[f"line {line.name}"] = _nbytes(analysis.lines[line.name], item)
    worst, worst_total = {}, -1
    for line in analysis.program.lines:
        temps = _temporaries(analysis, line.expr, item)
        if keep_all:
            for k, v in temps.items():
                sizes[f"{line.name}: {k}"] = v
        elif sum(temps.values()) > worst_total:
            worst, worst_total = {f"{line.name}: {k}": v for k, v in temps.items()}, sum(temps.values())
    sizes.update(worst)
    return sizes


def prepare_program(text: str, inputs: Mapping, params: Mapping, keep_all: bool = False) -> Prepared:
    """Parse, check shapes and the memory budget, then cast the inputs; nothing big is allocated
    before the budget has accepted the whole program."""
    program = parse_program(text)
    raw = read_inputs(inputs, params)
    analysis = analyze(program, {k: a.shape for k, a in raw.items()})
    dtype = program_dtype(raw)
    check_budget("program", program_sizes(analysis, raw, dtype, keep_all))
    cast = {k: (a if a.dtype == bool else a.astype(dtype, copy=False)) for k, a in raw.items()}
    return Prepared(program, analysis, cast, dtype)


def run_program(text: str, inputs: Mapping, **params) -> ProgramResult:
    """Compute every line of the program ``text`` on ``inputs`` (and scalar ``params``).

    Returns a :class:`ProgramResult`: line name → host array for every line, plus ``"result"``.

    Raises
    ------
    ParamError, ShapeError
        the text is outside the grammar, or shapes do not combine (at the failing sub-expression).
    InputError
        an input is not an array of real numbers.
    BudgetError
        the whole program would need more memory than the budget (checked before allocating).

    Examples
    --------
    >>> import numpy as np
    >>> from opscope import compute
    >>> out = compute.run_program("s = Q @ K.T / sqrt(d_k)\\nw = softmax(s)", {"Q": np.eye(2), "K": np.eye(2)}, d_k=2)
    >>> out["w"].shape
    (2, 2)
    """
    prep = prepare_program(text, inputs, params)
    t0 = time.perf_counter()
    env = dict(prep.inputs)
    ev = Evaluator(prep.analysis, env, prep.dtype)
    res = ProgramResult()
    for line in prep.program.lines:
        v = ev.line_value(line)
        env[line.name] = v
        res[line.name] = v
    res[RESULT] = env[prep.program.result_name]
    res.program, res.lines, res.dtype = prep.program, prep.program.line_names, prep.dtype
    res.shapes = dict(prep.analysis.lines)
    res.backend, res.elapsed, res.notices = backend_info(), time.perf_counter() - t0, tuple(ev.notices)
    return res


def program_flops(text: str, shapes: Mapping, **params) -> int:
    """Floating-point operations of the program ``text`` for input ``shapes`` (as
    :func:`check_program` takes them), from shapes alone: each operation call's own count, ``@``
    at 2·m·k·n, any other tensor-valued node one per element. The window streams a program
    progressively when this is large. Raises what :func:`check_program` raises."""
    if not isinstance(shapes, Mapping):
        raise InputError("shapes must be a dict of name -> shape (e.g. {'Q': (4, 3)})")
    given = dict(shapes)
    given.update({k: () for k in params})
    analysis = analyze(parse_program(text), given)
    total = 0
    for node, shape in analysis.shapes.items():
        if isinstance(node, Call) and node in analysis.calls:
            b = analysis.calls[node]
            total += int(b.spec.flops({k: analysis.shapes.get(v, ()) for k, v in b.inputs.items()}, b.norm))
        elif isinstance(node, BinOp) and node.op == "@":
            k = (analysis.shapes.get(node.left) or (1,))[-1]
            total += 2 * math.prod(shape) * int(k)
        elif isinstance(node, (BinOp, Unary, Call)):
            total += math.prod(shape)
    return total


def check_program(text: str, shapes: Mapping, **params) -> dict:
    """Every line's shape (and ``"result"``'s) for input ``shapes``, before anything runs.

    ``shapes`` maps input names to shapes (tuples, or arrays, or numbers for scalars); ``params``
    are scalar names as in :func:`run_program` (their values do not matter here). Raises the
    ``ShapeError``/``ParamError`` of the first failing sub-expression, located in the text
    (attributes ``lineno``, ``col``, ``end_lineno``, ``end_col``, ``snippet``, ``partial``).
    """
    if not isinstance(shapes, Mapping):
        raise InputError("shapes must be a dict of name -> shape (e.g. {'Q': (4, 3)})")
    given = dict(shapes)
    given.update({k: () for k in params})
    return dict(analyze(parse_program(text), given).lines)
