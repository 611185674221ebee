"""Layout reports: what each visible view of a canvas drew, measured from the paint itself.

Both canvases (:class:`~gui.canvas.canvas.OperationCanvas` and
:class:`~gui.canvas.program_canvas.ProgramCanvas`) answer ``layout_report()`` through
:func:`views_report`. Each view is painted offscreen first (``grab()``), so cell sizes and digit
heights are read from the transform and the font the numbers were just drawn with, never
predicted from a formula.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..heatmap import HeatmapView


def views_report(entries: Iterable[tuple[str, tuple[int, ...], HeatmapView]]) -> list[dict]:
    """One dict per visible view of ``entries`` ((tensor name, leading indices shown, view)).

    Keys: ``tensor``; ``lead`` (leading indices of the slice shown: the small multiple's, or the
    view's selector); ``shape`` ([rows, cols] of the slice as drawn, after any transpose);
    ``cell_px`` ([w, h] of one cell on screen); ``font_px`` (height of the digit "0" in the font
    the numbers were drawn with, 0 when none were); ``numbers`` (whether numbers were drawn).
    """
    out = []
    for tensor, lead, view in entries:
        if not view.isVisible() or view.width() <= 1 or view.height() <= 1:
            continue
        view.grab()  # paint now: the record below is what this paint drew
        drawn = view.drawn()
        cw, ch = drawn["cell_px"]
        rows, cols = view.slice_shape()
        out.append({
            "tensor": str(tensor),
            "lead": [int(i) for i in (tuple(lead) or view.lead())],
            "shape": [int(rows), int(cols)],
            "cell_px": [round(float(cw), 1), round(float(ch), 1)],
            "font_px": round(float(drawn["font_px"]), 1),
            "numbers": bool(drawn["numbers"]),
        })
    return out
