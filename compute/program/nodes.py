"""The parsed form of a program: immutable expression nodes, lines, and errors located in the text.

A program's text never reaches Python's evaluator: :mod:`.parse` turns the whitelisted part of
Python's ``ast`` into these few node types, and everything downstream (shapes, evaluation,
timelines) reads only them. Nodes compare and hash by identity, so analyses key their per-node
facts (shape, bound operation call) on the node itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import OpScopeError


@dataclass(frozen=True)
class Span:
    """Where a node sits in the text: 1-based lines, 0-based character columns, end exclusive."""

    lineno: int
    col: int
    end_lineno: int
    end_col: int


@dataclass(frozen=True, eq=False)
class Node:
    """Base of every expression node; ``span`` locates it in the program's text."""

    span: Span


@dataclass(frozen=True, eq=False)
class Num(Node):
    """A number literal (a leading minus is folded in): ``3``, ``-1``, ``1e-5``."""

    value: int | float


@dataclass(frozen=True, eq=False)
class Const(Node):
    """A literal that is not a tensor: a string, None, True/False, or a tuple of ints.

    Only keyword values (``mask="causal"``) and literal arguments (``reshape(x, (2, 6))``) may be one.
    """

    value: object


@dataclass(frozen=True, eq=False)
class Name(Node):
    """A tensor named by an input, a parameter or an earlier line."""

    id: str


@dataclass(frozen=True, eq=False)
class BinOp(Node):
    """``left op right`` with ``op`` one of ``+ - * / @ **``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, eq=False)
class Unary(Node):
    """``-x`` or ``+x``."""

    op: str
    operand: Node


@dataclass(frozen=True, eq=False)
class Transpose(Node):
    """``x.T``: the last two axes swapped."""

    operand: Node


@dataclass(frozen=True, eq=False)
class Keyword:
    """One ``name=value`` argument of a call."""

    name: str
    value: Node
    span: Span


@dataclass(frozen=True, eq=False)
class Call(Node):
    """``func(args..., key=value...)``: a built-in function or a registered operation."""

    func: str
    args: tuple[Node, ...]
    keywords: tuple[Keyword, ...]


@dataclass(frozen=True, eq=False)
class Line:
    """One line ``name = expr`` (``named`` False for a bare last expression, named ``"result"``)."""

    name: str
    expr: Node
    span: Span
    index: int
    named: bool = True


@dataclass(frozen=True, eq=False)
class Program:
    """A parsed program: its text, its lines in order, and the names it reads from outside
    (inputs and parameters, in order of first use)."""

    text: str
    lines: tuple[Line, ...]
    free_names: tuple[str, ...]

    @property
    def line_names(self) -> tuple[str, ...]:
        return tuple(line.name for line in self.lines)

    @property
    def result_name(self) -> str:
        """The name of the last line (whose value is also ``"result"``)."""
        return self.lines[-1].name

    def source(self, span: Span) -> str:
        """The text of ``span`` (one line's worth per line, joined with newlines)."""
        return source_of(self.text, span)


def source_of(text: str, span: Span) -> str:
    rows = text.splitlines()
    if not rows or span.lineno < 1 or span.lineno > len(rows):
        return ""
    if span.lineno == span.end_lineno:
        return rows[span.lineno - 1][span.col:span.end_col]
    parts = [rows[span.lineno - 1][span.col:]]
    parts.extend(rows[span.lineno:span.end_lineno - 1])
    if span.end_lineno <= len(rows):
        parts.append(rows[span.end_lineno - 1][:span.end_col])
    return "\n".join(parts)


def short(text: str, limit: int = 48) -> str:
    """``text`` on one line, cut to ``limit`` characters (for messages)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def located(cls: type[OpScopeError], message: str, span: Span | None, snippet: str | None = None,
            line_name: str | None = None, cause: BaseException | None = None) -> OpScopeError:
    """An error of class ``cls`` whose message starts with its place (``line 2, column 7: ``) and,
    when given, the sub-expression text; the place is also kept as attributes (``lineno``, ``col``,
    ``end_lineno``, ``end_col``, ``snippet``, ``line_name``) for an editor to underline."""
    head = ""
    if span is not None:
        head = f"line {span.lineno}, column {span.col + 1}: "
    if snippet:
        head += f"{short(snippet)}: "
    err = cls(head + message)
    err.lineno = span.lineno if span else None
    err.col = span.col if span else None
    err.end_lineno = span.end_lineno if span else None
    err.end_col = span.end_col if span else None
    err.snippet = snippet
    err.line_name = line_name
    err.detail = message
    if cause is not None:
        err.__cause__ = cause
    return err
