"""The strip at the right of the program editor that shows each line's shape, row by row.

A separate widget rather than text in the document: the shapes are not part of the program
(copying the text must not copy them), and a gutter keeps them right-aligned in one column however
long the lines are.
"""

from __future__ import annotations

from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)

# isort: split

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import QWidget

#: Colours of the gutter: a shape, a failing row's mark, the background and its separating line.
SHAPE_COLOUR = "#0550ae"
FAILED_COLOUR = "#cf222e"
BACKGROUND = "#f6f8fa"
BORDER = "#d0d7de"
#: Pixels between the separating line, the text and the right edge.
PADDING = 10


class ShapeGutter(QWidget):
    """Paints ``{row: Annotation}`` next to the rows of a :class:`QPlainTextEdit`.

    Parameters
    ----------
    edit : QPlainTextEdit
        The editor whose rows this gutter follows; it places and repaints the gutter.
    """

    def __init__(self, edit):
        super().__init__(edit)
        self.edit = edit
        self.annotations: dict = {}
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    def set_annotations(self, annotations: dict) -> None:
        """Show ``annotations`` (row → :class:`~.check.Annotation`) and repaint."""
        self.annotations = dict(annotations)
        self.update()

    def text_of(self, row: int) -> str:
        """What row ``row`` (0-based) shows, or ``""``."""
        a = self.annotations.get(row)
        return a.text if a is not None else ""

    def needed_width(self) -> int:
        """Pixels that fit the widest annotation (and room for a typical one, so typing a first
        line does not make the text reflow as its shape appears)."""
        fm = QFontMetrics(self.font())
        widest = max([fm.horizontalAdvance(a.text) for a in self.annotations.values()] +
                     [fm.horizontalAdvance("→ (2, 4, 4)")])
        return widest + 2 * PADDING

    def sizeHint(self) -> QSize:  # noqa: N802  (Qt override)
        return QSize(self.needed_width(), 0)

    def paintEvent(self, event) -> None:  # noqa: N802  (Qt override)
        p = QPainter(self)
        p.fillRect(event.rect(), QColor(BACKGROUND))
        p.setPen(QColor(BORDER))
        p.drawLine(0, 0, 0, self.height())
        edit = self.edit
        block = edit.firstVisibleBlock()
        offset = edit.contentOffset()
        fm = QFontMetrics(self.font())
        edit_fm = QFontMetrics(edit.font())
        while block.isValid():
            geo = edit.blockBoundingGeometry(block).translated(offset)
            if geo.top() > self.height():
                break
            a = self.annotations.get(block.blockNumber())
            if a is not None and block.isVisible():
                # On the block's first visual row, on the text's baseline: the gutter font is
                # smaller, so align baselines, not tops, or the shape looks as if it floats.
                top = round(geo.top()) + edit.document().documentMargin()
                baseline = top + edit_fm.ascent()
                rect = QRect(PADDING, round(baseline - fm.ascent()), self.width() - 2 * PADDING, fm.height())
                p.setPen(QColor(FAILED_COLOUR if a.failed else SHAPE_COLOUR))
                p.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, a.text)
            block = block.next()
        p.end()
