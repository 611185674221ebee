"""A program line's captions in the program's own names: ``r1[0,3] = X[0,3] + a[0,3]``.

An operation's plan writes its captions with the operation's input names (``A``, ``B``, ``X``,
``Q``…) and ``result``; a program line runs that operation on its own arguments, so
:func:`line_labels` says what each of those names is called in the program (an argument that is a
name keeps it, ``K.T`` becomes ``Kᵀ``, any other sub-expression its text in parentheses, shortened
when long; ``result`` becomes the line's name) and :func:`relabel` rewrites a caption with them.

Why a rewrite of the text and not names passed into every plan: the captions are built by some
fifty formatting sites across the operations, and single-operation timelines must keep them as
they are. The rewrite is safe because it is token-exact: only a whole identifier equal to a label
key is replaced, never one preceded by a letter, digit, ``_`` or ``.`` (so ``1e-5``, ``2j``,
``w.K`` and ``Q_h`` stay), and numbers never contain a replaceable token. The two-line shape
alignment block (``  A: (2, 4, 4)``) is re-padded so its shapes stay right-aligned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .nodes import Call, Name, Transpose, short

#: An identifier not glued to a preceding identifier character, digit or ``.``.
_TOKEN = re.compile(r"(?<![\w.])[^\W\d]\w*")
#: One row of :func:`compute.shapes.aligned`'s block: two spaces, a name, ``": ("``.
_ALIGNED_ROW = re.compile(r"^  (\S.*?): (\(.*\))$")

#: The math symbols an operation's captions use for its input or result (``y = γ·norm + β``):
#: symbol → the input name (or ``"result"``) it stands for, so a line's caption renames it too.
SYMBOLS = {
    "softmax": {"x": "X"},
    "layernorm": {"x": "X", "y": "result", "γ": "gamma", "β": "beta"},
    "rmsnorm": {"x": "X", "y": "result", "γ": "gamma"},
}

#: Sub-expressions longer than this are shortened in captions.
LABEL_LIMIT = 24


def node_label(node, text: str) -> str:
    """How a caption names an operation argument ``node`` whose source is ``text``."""
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Transpose) and isinstance(node.operand, Name):
        return node.operand.id + "ᵀ"
    body = short(text, LABEL_LIMIT)
    return body if isinstance(node, Call) else f"({body})"


def line_labels(line: str, arg_labels: Mapping[str, str], op: str | None = None) -> dict[str, str]:
    """The renaming of one line running ``op``: operation input name → label (``arg_labels``),
    ``result`` → ``line``, and ``op``'s math :data:`SYMBOLS` → the label of what they stand for.

    Names that already read right (``W_q`` given ``W_q``) are left out."""
    names = {**arg_labels, "result": line}
    labels = {local: label for local, label in names.items() if label != local}
    for symbol, local in SYMBOLS.get(op, {}).items():
        if local in names:
            labels[symbol] = names[local]
    return labels


def relabel(caption: str, labels: Mapping[str, str]) -> str:
    """``caption`` with every whole-identifier occurrence of a key of ``labels`` replaced by its value."""
    if not labels:
        return caption
    text = _TOKEN.sub(lambda m: labels.get(m.group(0), m.group(0)), caption)
    return _realign(text) if "\n" in text else text


def _realign(text: str) -> str:
    """Pad the names of consecutive alignment rows to one width, so their shapes line up again."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and _ALIGNED_ROW.match(lines[j]):
            j += 1
        if j - i >= 2:
            rows = [_ALIGNED_ROW.match(s).groups() for s in lines[i:j]]
            width = max(len(name) for name, _shape in rows)
            lines[i:j] = [f"  {(name + ':').ljust(width + 1)} {shape}" for name, shape in rows]
        i = max(j, i + 1)
    return "\n".join(lines)
