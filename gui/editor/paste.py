"""The editor's paste rule: where pasted text lands, and when it replaces the tensor instead.

Paste rule
----------
The clipboard text is parsed whole first (:func:`compute.text_parse.parse_matrix_text`); text that
does not parse changes nothing and the message names the bad row and column. Then:

1. **Replace the whole tensor** (it takes the pasted shape) when the user asked for it ("Paste
   replacing tensor", Ctrl+Shift+V, ``paste_text(text, replace=True)``), when the text is a
   literal of 3 or more dimensions, or when every cell of a tensor of at most 2 dimensions is
   selected (Ctrl+A) and the pasted block has another shape. The dtype is kept when every value
   fits it, else the tensor becomes float64 (with a notice).
2. **Otherwise write into the shown slice**, the block's top-left corner at the top-left selected
   cell (the current cell when nothing is selected): a single value pasted over several selected
   cells goes into each of them; a block that runs past the last row or column grows the tensor
   to fit (padding with zeros) and says so. The values must fit the dtype (no fractions into an
   int tensor): else nothing changes and the message names the cell.

Every accepted paste is one undo step.
"""

from __future__ import annotations

import numpy as np
from opscope.compute.budget import BudgetError
from opscope.compute.errors import InputError
from opscope.compute.fills import resize
from opscope.compute.numbers import fmt_shape
from opscope.compute.text_parse import TextParseError, fit_dtype, parse_matrix_text

from .commands import RegionCommand
from .model import as_table, index_text

__all__ = ["PasteRule"]


class PasteRule:
    """Mixin for :class:`~gui.editor.MatrixEditor`: :meth:`paste_text` and the writes it makes.

    Uses the host's selection helpers (``_selection_box``, ``_selected_count``, ``_anchor``,
    ``_whole_slice_selected``), its undo pushes and its messages.
    """

    def paste_text(self, text: str, replace: bool = False) -> bool:
        """Paste ``text`` as Ctrl+V (or "Paste replacing tensor" with ``replace=True``) would.

        Returns
        -------
        bool
            ``True`` when the tensor changed (one undo step); ``False`` when refused, with the
            reason in :attr:`message_changed`.
        """
        try:
            block = parse_matrix_text(text)
        except TextParseError as exc:
            self._refuse(f"Paste refused, nothing changed: {exc}")
            return False
        table = self._model.table()
        block2 = as_table(block)
        whole = self._whole_slice_selected()
        if replace or block.ndim > 2 or (self._array.ndim <= 2 and whole and block2.shape != table.shape):
            return self._paste_replace(block)
        try:
            values = fit_dtype(block2, self._array.dtype, "pasted text")
        except TextParseError as exc:
            self._refuse(
                f"Paste refused, nothing changed: {exc}. Change the dtype first, or use 'Paste replacing tensor'."
            )
            return False
        box = self._selection_box()
        if values.shape == (1, 1) and box is not None and self._selected_count() > 1:
            return self._write_selected(values[0, 0], f"Paste {self._name} into selection")
        r0, c0 = self._anchor()
        h, w = values.shape
        rows, cols = table.shape
        where = index_text(self._name, self._model.full_index(r0, c0))
        if r0 + h <= rows and c0 + w <= cols:
            self._push_region(r0, c0, values, f"Paste {h}×{w} at {where}")
            return True
        return self._paste_growing(values, r0, c0, where)

    def _paste_replace(self, block: np.ndarray) -> bool:
        problem = self._size_problem(block.shape, resizing=False)
        if problem:
            self._refuse(f"Paste refused, nothing changed: the pasted tensor's {problem}")
            return False
        notice = ""
        try:
            new = fit_dtype(block, self._array.dtype)
        except TextParseError as exc:
            new = block
            notice = f"{self._name} is now float64: the pasted values do not fit {self._array.dtype.name} ({exc})."
        self._push_replace(new, f"Paste replacing {self._name} by {fmt_shape(new.shape)}")
        self._notice(notice or f"{self._name} replaced by the pasted tensor {fmt_shape(new.shape)}.")
        return True

    def _paste_growing(self, values: np.ndarray, r0: int, c0: int, where: str) -> bool:
        a = self._array
        rows, cols = self._model.table().shape
        h, w = values.shape
        rows2, cols2 = max(rows, r0 + h), max(cols, c0 + w)
        if a.ndim >= 2:
            shape = a.shape[:-2] + (rows2, cols2)
        elif rows2 == 1:
            shape = (cols2,)
        else:
            shape = (rows2, cols2)  # a vector (or scalar) receiving several rows becomes a matrix
        problem = self._size_problem(shape)
        if problem:
            self._refuse(f"Paste refused, nothing changed: growing {self._name} to fit would give {problem}")
            return False
        try:
            base = a if a.ndim >= 2 else as_table(a)
            grown = resize(base, shape if a.ndim >= 2 else (rows2, cols2))
        except (InputError, BudgetError) as exc:
            self._refuse(f"Paste refused, nothing changed: {exc}")
            return False
        as_table(grown, self._lead)[r0:r0 + h, c0:c0 + w] = values
        new = grown.reshape(shape)
        self._push_replace(new, f"Paste {h}×{w} at {where}, growing {self._name} to {fmt_shape(shape)}")
        self._notice(f"{self._name} grew from {fmt_shape(a.shape)} to {fmt_shape(shape)} to fit the pasted {h}×{w} "
                     "block (new cells are 0). Ctrl+Z undoes.")
        return True

    def _write_selected(self, value, text: str) -> bool:
        box = self._selection_box()
        if box is None:
            return False
        r0, c0, r1, c1 = box
        old = self._model.table()[r0:r1, c0:c1].copy()
        new = old.copy()
        for rng in self._view.selectionModel().selection():
            new[rng.top() - r0: rng.bottom() + 1 - r0, rng.left() - c0: rng.right() + 1 - c0] = value
        self._push(RegionCommand(self, self._lead, r0, c0, old, new, text))
        return True
