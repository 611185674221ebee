"""OpScope's view: Qt widgets that display and edit what :mod:`compute` computes.

Nothing here does tensor arithmetic or imports CuPy. PySide6 is imported before pyqtgraph so that
pyqtgraph binds to it even when PyQt6 is installed too (ARCHITECTURE.md §4).
"""

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import PySide6  # noqa: E402,F401,I001  (must precede pyqtgraph, so not sorted)
import pyqtgraph as pg  # noqa: E402

# Read by ImageItem.__init__: set once, before any image exists, so row 0 is a matrix's first row.
pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
