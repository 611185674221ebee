"""Operation canvases: every tensor of a run as a heatmap, laid out like a blackboard.

``create_canvas(op_name)`` returns an :class:`OperationCanvas`; see :mod:`gui.canvas.canvas` for
its contract (``set_timeline``, thread-safe ``prepare_frame``, ``apply_frame``, ``show_step``,
``displayed``, ``current_index``, ``caption_changed``).
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from .canvas import DEFAULT_MAX_SHAPE, OperationCanvas
from .frame import Frame
from .geometry import GeometryView


def create_canvas(op_name: str, parent: QWidget | None = None) -> OperationCanvas:
    """The canvas for operation ``op_name`` (any name of ``compute.operations()``; others get the
    generic layout), or a :class:`~.program_canvas.ProgramCanvas` for ``"program"`` (a
    ``ProgramTimeline``'s ``op``). Views appear when a timeline is set."""
    if op_name == "program":
        from .program_canvas import ProgramCanvas  # imported here: it builds on this package's modules

        return ProgramCanvas(parent)
    return OperationCanvas(op_name, parent)


__all__ = ["DEFAULT_MAX_SHAPE", "Frame", "GeometryView", "OperationCanvas", "create_canvas"]
