"""The matrix editor: edit an N-d tensor like a spreadsheet (paste, fills, undo, slices).

:class:`MatrixEditor` is the widget; :class:`ArrayTableModel` the table model over one 2-D slice.
The paste rule is documented in :mod:`gui.editor.paste`.
"""

from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)

# isort: split

from .model import ArrayTableModel
from .widget import DTYPES, FILLS, MAX_ELEMENTS, MAX_NDIM, MAX_SIDE, MatrixEditor

__all__ = ["ArrayTableModel", "DTYPES", "FILLS", "MAX_ELEMENTS", "MAX_NDIM", "MAX_SIDE", "MatrixEditor"]
