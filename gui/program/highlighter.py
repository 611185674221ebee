"""Syntax colours for program text: names, line names, numbers, operators, functions, strings.

The palette is GitHub's light theme (readable on white, distinct for colour-blind users in
hue *and* weight: line names are bold, keywords and comments italic).
"""

from __future__ import annotations

import re

from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)

# isort: split

from opscope.compute.program import known_functions
from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat

#: Role → (colour, bold, italic).
PALETTE = {
    "name": ("#24292f", False, False),
    "line_name": ("#0550ae", True, False),
    "function": ("#8250df", False, False),
    "number": ("#116329", False, False),
    "operator": ("#953800", False, False),
    "string": ("#0a3069", False, False),
    "keyword": ("#57606a", False, True),
    "comment": ("#6e7781", False, True),
}

# One scanner, left to right, so a token is coloured once (a number inside a name, `e` in `1e-5`,
# `T` after a dot, a `#` inside a string are each read as what they are).
_TOKENS = re.compile(r"""
    (?P<comment>\#.*)
  | (?P<string>"[^"\n]*"?|'[^'\n]*'?)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<transpose>\.T\b)
  | (?P<word>[A-Za-z_]\w*)
  | (?P<operator>\*\*|[-+*/@=])
""", re.VERBOSE)
_LINE_NAME = re.compile(r"\s*([A-Za-z_]\w*)\s*=(?!=)")


def char_format(role: str) -> QTextCharFormat:
    """The :class:`QTextCharFormat` of a :data:`PALETTE` role."""
    colour, bold, italic = PALETTE[role]
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(colour))
    if bold:
        fmt.setFontWeight(QFont.Weight.DemiBold)
    fmt.setFontItalic(italic)
    return fmt


def tokens(row: str, functions: frozenset[str]):
    """``(start, length, role)`` for each coloured token of one text row.

    A word is a ``function`` when it is a known function, a ``keyword`` when it names a call's
    keyword argument (``axis=``), a ``line_name`` when it is what the row assigns, else a ``name``.
    """
    defined = _LINE_NAME.match(row)
    for m in _TOKENS.finditer(row):
        kind = m.lastgroup
        start, length = m.start(), m.end() - m.start()
        if kind == "transpose":
            kind = "operator"
        elif kind == "word":
            word = m.group()
            rest = row[m.end():].lstrip()
            if defined is not None and m.start() == defined.start(1):
                kind = "line_name"
            elif rest.startswith("=") and not rest.startswith("=="):
                kind = "keyword"
            elif word in functions:
                kind = "function"
            else:
                kind = "name"
        yield start, length, kind


class ProgramHighlighter(QSyntaxHighlighter):
    """Colours a program's text by :func:`tokens`, row by row.

    Parameters
    ----------
    document : QTextDocument
        The program editor's document.
    functions : iterable of str, optional
        Names coloured as functions; default compute's :func:`known_functions`.
    """

    def __init__(self, document, functions=None):
        super().__init__(document)
        self.functions = frozenset(known_functions() if functions is None else functions)
        self.formats = {role: char_format(role) for role in PALETTE}

    def highlightBlock(self, text: str) -> None:  # noqa: N802  (Qt override)
        for start, length, role in tokens(text, self.functions):
            self.setFormat(start, length, self.formats[role])
