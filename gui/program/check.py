"""One live check of a program's text: what the editor shows for it, computed without Qt.

:func:`live_check` asks :func:`compute.check_program`'s pieces (``parse_program`` and ``analyze``)
for every line's shape and, when the text fails, turns the error into what an editor draws: the
rows that still have shapes (the lines before the failure), the failing row, the character span to
underline and a message. Nothing here computes on tensors; it only reads shapes.

Measured on the 10-line transformer block (projections, ``split_heads``, ``attention``,
``merge_heads``, two ``layernorm`` and a feed-forward): parse plus analysis plus sub-expressions
take about 0.7 ms, so the editor checks on the GUI thread after a short debounce; the debounce
grows with the time a check took (:attr:`LiveCheck.elapsed`), which keeps pasted long texts from
ever stalling typing.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph, like every gui module)

# isort: split

from opscope.compute.errors import OpScopeError
from opscope.compute.numbers import fmt_shape
from opscope.compute.program import analyze, known_functions, parse_program


@dataclass(frozen=True)
class Annotation:
    """What one text row shows at its right: ``→ (2, 4, 4)``, or a failure mark."""

    row: int
    name: str
    text: str
    failed: bool = False


@dataclass
class LiveCheck:
    """The outcome of checking one text over some input shapes.

    Attributes
    ----------
    text : the text checked.
    ok : the text parses and every line's shape is known.
    lines : line name → shape for the lines that checked (all of them when ``ok``; with ``"result"``).
    annotations : row (0-based) → :class:`Annotation` for the rows that start a line.
    error : the OpScope error of the first failure, or None.
    message : the text to show under the editor (the error's message, or a summary when ``ok``).
    span : ``(row, col, end_row, end_col)`` of the failing sub-expression (0-based rows, character
        columns, end exclusive), or None.
    missing : names the program reads that are not inputs (None when the text does not parse, so
        a half-typed line does not change what was reported).
    subexpressions : ``(span, text, shape)`` for hover, as :meth:`Analysis.subexpressions` gives.
    elapsed : seconds the check took.
    """

    text: str
    ok: bool = False
    lines: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    error: OpScopeError | None = None
    message: str = ""
    span: tuple | None = None
    missing: tuple | None = None
    subexpressions: list = field(default_factory=list)
    elapsed: float = 0.0

    def shape_at(self, row: int, col: int):
        """The innermost sub-expression covering character ``col`` of ``row`` (both 0-based).

        Returns
        -------
        tuple or None
            ``(text, shape)`` of the smallest tensor-valued sub-expression there, or None.
        """
        best = None
        for sp, text, shape in self.subexpressions:
            start, end = (sp.lineno - 1, sp.col), (sp.end_lineno - 1, sp.end_col)
            if start <= (row, col) < end:
                # subexpressions() lists outer before inner, so the last cover is the innermost
                best = (text, shape)
        return best


def arrow(shape) -> str:
    """``(2, 4, 4)`` → ``"→ (2, 4, 4)"``; a scalar reads as ``"→ scalar"``, which beginners parse faster."""
    return "→ scalar" if tuple(shape) == () else f"→ {fmt_shape(shape)}"


def live_check(text: str, shapes: Mapping[str, tuple]) -> LiveCheck:
    """Check ``text`` over input ``shapes`` (name → shape; ``()`` for a scalar like ``d_k``).

    Never raises for anything the user types: every OpScope error becomes the result's ``error``.
    """
    t0 = time.perf_counter()
    out = LiveCheck(text)
    if text.strip():
        _check(out, text, dict(shapes))
    out.elapsed = time.perf_counter() - t0
    return out


def _check(out: LiveCheck, text: str, shapes: dict) -> None:
    try:
        program = parse_program(text)
    except OpScopeError as exc:
        _fail(out, exc, text, shapes, program=None)
        return
    out.missing = tuple(n for n in program.free_names if n not in shapes)
    try:
        analysis = analyze(program, shapes)
    except OpScopeError as exc:
        _fail(out, exc, text, shapes, program)
        return
    out.ok = True
    out.lines = dict(analysis.lines)
    out.subexpressions = analysis.subexpressions()
    for line in program.lines:
        row = line.span.lineno - 1
        out.annotations[row] = Annotation(row, line.name, arrow(analysis.lines[line.name]))
    n = len(program.lines)
    out.message = f"{n} line{'s' if n != 1 else ''} · result {arrow(analysis.lines['result'])}"


def _fail(out: LiveCheck, exc: OpScopeError, text: str, shapes: dict, program) -> None:
    out.error = exc
    rows = text.split("\n")
    lineno = getattr(exc, "lineno", None)
    if lineno is not None:
        row = min(max(lineno - 1, 0), len(rows) - 1)
        end_row = min(max((getattr(exc, "end_lineno", None) or lineno) - 1, row), len(rows) - 1)
        col = max(getattr(exc, "col", None) or 0, 0)
        end_col = getattr(exc, "end_col", None)
        end_col = col + 1 if end_col is None else end_col
        out.span = (row, col, end_row, end_col)
    out.message = _message(exc, out.missing, shapes, program)
    # The failing statement's first row: the lines above it still have shapes worth showing.
    fail_row = out.span[0] if out.span else None
    if program is not None and fail_row is not None:
        for line in program.lines:
            if line.span.lineno - 1 <= fail_row <= line.span.end_lineno - 1:
                fail_row = line.span.lineno - 1
                out.annotations[fail_row] = Annotation(fail_row, line.name, "✗", failed=True)
                break
    if fail_row is None or fail_row == 0:
        return
    _partial(out, "\n".join(rows[:fail_row]), shapes)


def _partial(out: LiveCheck, prefix: str, shapes: dict) -> None:
    """Shapes and hover for the complete lines above a failure (the prefix checks on its own)."""
    if not prefix.strip():
        return
    try:
        analysis = analyze(parse_program(prefix), shapes)
    except OpScopeError:
        return  # the prefix ends inside an unfinished statement: nothing reliable to show above it
    out.lines = {k: v for k, v in analysis.lines.items() if k != "result"}
    out.subexpressions = analysis.subexpressions()
    for line in analysis.program.lines:
        row = line.span.lineno - 1
        if row not in out.annotations:
            out.annotations[row] = Annotation(row, line.name, arrow(analysis.lines[line.name]))


def _message(exc: OpScopeError, missing, shapes: dict, program) -> str:
    """The error's own message, except for a name that is not an input yet.

    compute's unknown-name message lists every known function (right for a script, a wall of
    text under an editor); here the user needs which names to add, or which name they meant.
    """
    snippet = getattr(exc, "snippet", None)
    if missing and snippet in missing:
        lines = program.line_names if program is not None else ()
        close = difflib.get_close_matches(snippet, [*shapes, *lines, *known_functions()], n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        names = ", ".join(missing)
        verb = "is not an input" if len(missing) == 1 else "are not inputs"
        return (f"line {exc.lineno}, column {exc.col + 1}: {names} {verb} yet: add "
                f"{'it' if len(missing) == 1 else 'them'} to see the shapes from here on.{hint}")
    return str(exc)
