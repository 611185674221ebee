"""Program text → :class:`~.nodes.Program`, through a whitelist of Python's syntax; never evaluated.

``ast.parse(text, mode="exec")`` only builds a tree (it runs nothing); :func:`parse_program` then
walks it and accepts exactly: assignments ``name = expr`` (one plain name on the left), a bare
expression as the last line, names, numbers, ``+ - * / @ **``, unary ``-``/``+``, parentheses,
``.T``, calls of known functions by name with keywords, and literals (strings, None, True/False,
tuples/lists of ints) as call arguments. Anything else — imports, lambdas, other attributes,
subscripts, dunder names, comprehensions, other statements — is a :class:`ParamError` naming the
line, the column and the offending text. Whatever the text, only OpScope errors come out: a parser
that runs out of stack or memory on hostile nesting says so as a ``ParamError`` too.
"""

from __future__ import annotations

import ast
import functools
import warnings

from ..errors import ParamError
from ..registry import operations
from .functions import FUNCTIONS
from .nodes import BinOp, Call, Const, Keyword, Line, Name, Node, Num, Program, Span, Transpose, Unary, located

#: Longest program text accepted (characters): far beyond any lesson, short of a denial of service.
MAX_TEXT = 100_000
#: Deepest expression nesting accepted; keeps every later recursive walk far from Python's stack limit.
MAX_DEPTH = 100
#: The name of a bare last expression, and of the last line's value in every result.
RESULT = "result"

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.MatMult: "@", ast.Pow: "**"}
_OTHER_BINOPS = {ast.FloorDiv: "//", ast.Mod: "%", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
                 ast.BitXor: "^", ast.BitAnd: "&"}
_REFUSED = {
    "Subscript": "indexing and slicing (x[...]) are not supported; use transpose, reshape or split_heads",
    "Lambda": "lambda is not allowed", "Compare": "comparisons are not supported (use where with a mask input)",
    "BoolOp": "and / or are not supported", "IfExp": "conditional expressions (a if c else b) are not supported",
    "ListComp": "comprehensions are not allowed", "SetComp": "comprehensions are not allowed",
    "DictComp": "comprehensions are not allowed", "GeneratorExp": "generator expressions are not allowed",
    "Dict": "dicts are not supported", "Set": "sets are not supported", "JoinedStr": "f-strings are not allowed",
    "NamedExpr": "assignment expressions (:=) are not allowed", "Await": "await is not allowed",
    "Yield": "yield is not allowed", "YieldFrom": "yield is not allowed", "Starred": "*arguments are not allowed",
    "Slice": "slices are not supported",
}
_STATEMENTS = {
    "Import": "import is not allowed", "ImportFrom": "import is not allowed",
    "FunctionDef": "def is not allowed", "AsyncFunctionDef": "def is not allowed", "ClassDef": "class is not allowed",
    "Return": "return is not allowed", "Delete": "del is not allowed", "For": "loops are not allowed",
    "AsyncFor": "loops are not allowed", "While": "loops are not allowed", "If": "if is not allowed",
    "With": "with is not allowed", "AsyncWith": "with is not allowed", "Raise": "raise is not allowed",
    "Try": "try is not allowed", "Assert": "assert is not allowed", "Global": "global is not allowed",
    "Nonlocal": "nonlocal is not allowed", "Pass": "pass is not allowed", "Break": "break is not allowed",
    "Continue": "continue is not allowed", "Match": "match is not allowed",
}
GRAMMAR_HINT = "a program is lines of `name = expression` (numbers, names, + - * / @ **, .T, function calls)"


def known_functions() -> tuple[str, ...]:
    """Every name a program may call: the built-in functions, then the registered operations."""
    return tuple(FUNCTIONS) + tuple(s.name for s in operations() if s.name not in FUNCTIONS)


def is_dunder(name: str) -> bool:
    return name.startswith("__")


class _Converter:
    """One walk over ``ast`` producing our nodes; positions converted from UTF-8 bytes to characters."""

    def __init__(self, text: str):
        self.text = text
        self.rows = text.splitlines()
        self.functions = set(known_functions())

    def col(self, lineno: int, byte_col: int) -> int:
        if not 1 <= lineno <= len(self.rows):
            return byte_col
        row = self.rows[lineno - 1]
        if row.isascii():
            return byte_col
        return len(row.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    def span(self, node) -> Span:
        lineno = getattr(node, "lineno", 1) or 1
        end_lineno = getattr(node, "end_lineno", None) or lineno
        col = self.col(lineno, getattr(node, "col_offset", 0) or 0)
        end_col = getattr(node, "end_col_offset", None)
        end_col = self.col(end_lineno, end_col) if end_col is not None else col + 1
        return Span(lineno, col, end_lineno, end_col)

    def fail(self, node, message: str):
        sp = self.span(node)
        return located(ParamError, message, sp, _segment(self.text, sp))

    # --- expressions ----------------------------------------------------------------------------
    def expr(self, node, depth: int = 0) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nested more than {MAX_DEPTH} levels deep; split it into named lines")
        sp = self.span(node)
        if isinstance(node, ast.Constant):
            return self.constant(node, sp)
        if isinstance(node, ast.Name):
            if is_dunder(node.id):
                raise self.fail(node, f"names starting with __ are not allowed ({node.id})")
            return Name(sp, node.id)
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                sym = _OTHER_BINOPS.get(type(node.op), type(node.op).__name__)
                raise self.fail(node, f"operator {sym} is not supported (supported: + - * / @ **)")
            return BinOp(sp, op, self.expr(node.left, depth + 1), self.expr(node.right, depth + 1))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, (ast.USub, ast.UAdd)):
                sign = -1 if isinstance(node.op, ast.USub) else 1
                inner = node.operand
                if isinstance(inner, ast.Constant) and _is_number(inner.value):
                    return Num(sp, self.number(inner, sign * inner.value))
                return Unary(sp, "-" if sign < 0 else "+", self.expr(inner, depth + 1))
            word = {ast.Not: "not", ast.Invert: "~"}.get(type(node.op), type(node.op).__name__)
            raise self.fail(node, f"unary {word} is not supported (supported: -x, +x)")
        if isinstance(node, ast.Attribute):
            if node.attr == "T":
                return Transpose(sp, self.expr(node.value, depth + 1))
            raise self.fail(node, f"attribute .{node.attr} is not supported; the only attribute is .T "
                                  f"(swap the last two axes)")
        if isinstance(node, ast.Call):
            return self.call(node, sp, depth)
        if isinstance(node, (ast.Tuple, ast.List)):
            return Const(sp, self.int_tuple(node))
        name = type(node).__name__
        raise self.fail(node, _REFUSED.get(name, f"{name} is not supported here; {GRAMMAR_HINT}"))

    def number(self, node, value):
        if isinstance(value, complex):
            raise self.fail(node, "complex numbers are not supported; OpScope computes with real numbers")
        if isinstance(value, int) and abs(value) > 2 ** 1023:
            raise self.fail(node, "this number is too large for a float")
        return value

    def constant(self, node, sp: Span) -> Node:
        v = node.value
        if _is_number(v):
            return Num(sp, self.number(node, v))
        if isinstance(v, complex):
            self.number(node, v)
        if v is None or isinstance(v, (bool, str)):
            return Const(sp, v)
        raise self.fail(node, f"a {type(v).__name__} literal is not supported")

    def int_tuple(self, node) -> tuple[int, ...]:
        out = []
        for e in node.elts:
            sign = 1
            if isinstance(e, ast.UnaryOp) and isinstance(e.op, (ast.USub, ast.UAdd)):
                sign = -1 if isinstance(e.op, ast.USub) else 1
                e = e.operand
            if not (isinstance(e, ast.Constant) and isinstance(e.value, int) and not isinstance(e.value, bool)):
                raise self.fail(node, "a tuple or list may only hold integers (a shape or axes), like (2, -1)")
            if abs(e.value) > 2 ** 62:
                raise self.fail(node, "this integer is too large for a shape or an axis")
            out.append(sign * e.value)
        return tuple(out)

    def call(self, node: ast.Call, sp: Span, depth: int) -> Call:
        f = node.func
        if isinstance(f, ast.Attribute):
            raise self.fail(node, f"method calls (.{f.attr}(...)) are not supported; call functions by name, "
                                  f"e.g. softmax(x, axis=-1)")
        if not isinstance(f, ast.Name):
            raise self.fail(node, "only functions named directly can be called, e.g. exp(x)")
        if is_dunder(f.id):
            raise self.fail(f, f"names starting with __ are not allowed ({f.id})")
        if f.id not in self.functions:
            raise self.fail(f, f"unknown function {f.id!r}; known functions: {', '.join(known_functions())}")
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.fail(a, "*arguments are not allowed")
            args.append(self.expr(a, depth + 1))
        kws = []
        for k in node.keywords:
            if k.arg is None:
                raise self.fail(k.value, "**keywords are not allowed")
            if is_dunder(k.arg):
                raise self.fail(k.value, f"names starting with __ are not allowed ({k.arg})")
            kws.append(Keyword(k.arg, self.expr(k.value, depth + 1), self.span(k)))
        return Call(sp, f.id, tuple(args), tuple(kws))

    # --- statements -----------------------------------------------------------------------------
    def program(self, tree: ast.Module) -> Program:
        body = tree.body
        if not body:
            raise located(ParamError, f"the program is empty; {GRAMMAR_HINT}", None)
        lines: list[Line] = []
        defined: dict[str, int] = {}
        free: list[str] = []
        for i, stmt in enumerate(body):
            last = i == len(body) - 1
            sp = self.span(stmt)
            if isinstance(stmt, ast.Assign):
                if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                    raise self.fail(stmt, "assign to one plain name per line (name = expression)")
                name = stmt.targets[0].id
                if is_dunder(name):
                    raise self.fail(stmt.targets[0], f"names starting with __ are not allowed ({name})")
                if name in defined:
                    raise self.fail(stmt.targets[0], f"{name} is already defined on line {defined[name]}; each "
                                                     f"line defines a new tensor, so give this one another name")
                if name == RESULT and not last:
                    raise self.fail(stmt.targets[0], "the name 'result' is kept for the last line")
                expr = self.expr(stmt.value)
                lines.append(Line(name, expr, sp, i, True))
                defined[name] = sp.lineno
            elif isinstance(stmt, ast.Expr):
                if not last:
                    raise self.fail(stmt, "an expression without a name: only the last line may be one; "
                                          "write name = expression")
                lines.append(Line(RESULT, self.expr(stmt.value), sp, i, False))
            elif isinstance(stmt, ast.AugAssign):
                raise self.fail(stmt, "augmented assignment (+= …) is not allowed: each line defines a new tensor, "
                                      "e.g. x2 = x + 1")
            elif isinstance(stmt, ast.AnnAssign):
                raise self.fail(stmt, "annotations are not allowed; write name = expression")
            else:
                name = type(stmt).__name__
                raise self.fail(stmt, _STATEMENTS.get(name, f"{name} is not allowed") + f"; {GRAMMAR_HINT}")
        line_names = {line.name for line in lines}
        for line in lines:
            for n in walk_names(line.expr):
                if n.id not in line_names and n.id not in free:
                    free.append(n.id)
        return Program(self.text, tuple(lines), tuple(free))


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _segment(text: str, sp: Span) -> str:
    from .nodes import source_of

    return source_of(text, sp)


def walk_names(node: Node):
    """Every :class:`Name` under ``node``, left to right."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Name):
            yield n
        elif isinstance(n, BinOp):
            stack.extend((n.right, n.left))
        elif isinstance(n, (Unary, Transpose)):
            stack.append(n.operand)
        elif isinstance(n, Call):
            stack.extend(reversed([k.value for k in n.keywords]))
            stack.extend(reversed(n.args))


@functools.lru_cache(maxsize=128)
def parse_program(text: str) -> Program:
    """Parse ``text`` into a :class:`Program` (cached: a live editor re-parses the same text often).

    Raises
    ------
    ParamError
        for anything outside the grammar, with ``lineno``/``col`` attributes and the text that failed.
    """
    if not isinstance(text, str):
        raise ParamError(f"a program is text, not {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise ParamError(f"the program is {len(text)} characters long; at most {MAX_TEXT} are accepted")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes in strings warn; the grammar refuses them anyway
            tree = ast.parse(text, mode="exec")
    except SyntaxError as exc:
        lineno = exc.lineno or 1
        col = max(0, (exc.offset or 1) - 1)
        msg = (exc.msg or "invalid syntax").split(" (")[0]
        raise located(ParamError, f"{msg}; {GRAMMAR_HINT}", Span(lineno, col, lineno, col + 1)) from None
    except (RecursionError, MemoryError):
        raise ParamError(f"the program is nested too deeply to read (more than {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # e.g. a NUL character in the text
        raise ParamError(f"the program text cannot be read: {exc}") from None
    try:
        return _Converter(text).program(tree)
    except RecursionError:
        raise ParamError(f"the program is nested too deeply (more than {MAX_DEPTH} levels)") from None
