"""The program editor: type ``name = expression`` lines and see every shape as you type (issue 8).

:class:`ProgramEditor` is the widget (signals ``program_changed``, ``missing_inputs_changed``,
``run_requested``); :func:`live_check` is what one check yields, without Qt;
:class:`ProgramHighlighter` and :class:`ShapeGutter` are its parts.
"""

from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)

# isort: split

from .check import Annotation, LiveCheck, live_check
from .editor import ProgramEditor, ProgramTextEdit
from .highlighter import ProgramHighlighter
from .shape_gutter import ShapeGutter

__all__ = ["Annotation", "LiveCheck", "ProgramEditor", "ProgramHighlighter", "ProgramTextEdit", "ShapeGutter",
           "live_check"]
