"""The program editor: an expression bar that grows into a few lines and shows shapes as you type.

:class:`ProgramEditor` is the widget a window embeds: a :class:`ProgramTextEdit` (the text, with
syntax colours, a shape per line in a right-hand gutter, a wavy underline under the failing
sub-expression and a shape tooltip on hover) above a message label (the error, or a summary).
It knows the input shapes it is given (:meth:`ProgramEditor.set_input_shapes`) and nothing else
about the window.

Signals
-------
program_changed(str)
    After the debounce, when the text parses and every shape checks and the text differs from the
    last text reported (a fact: the window may rebuild its plan).
missing_inputs_changed(list)
    The names the program reads that are not inputs, whenever that list changes (the window adds
    editor tabs for them). Not re-emitted while the text does not parse, so a half-typed name
    does not create and drop tabs.
run_requested(str)
    Ctrl+Enter: the user asks to run the text (checked or not; the window decides).
"""

from __future__ import annotations

import math

from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)

# isort: split

from opscope.compute.program.shapes import as_shape
from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QFontMetricsF, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QSizePolicy, QTextEdit, QToolTip, QVBoxLayout, QWidget

from .check import LiveCheck, arrow, live_check
from .highlighter import ProgramHighlighter
from .shape_gutter import ShapeGutter

#: The editor's font size (points): read from the back of a classroom, like the canvas captions.
FONT_POINTS = 16
#: Rows the editor grows to before it scrolls.
MAX_ROWS = 8
#: Milliseconds of quiet typing before a check; at least this, and more after a slow check.
DEBOUNCE_MS = 150
#: The debounce never exceeds this, however slow a check was.
MAX_DEBOUNCE_MS = 1500
#: Colours of the underline under a failure and of the message label's states.
ERROR_COLOUR = "#cf222e"
ERROR_WASH = "#ffebe9"
MESSAGE_STYLES = {
    "ok": "color: #57606a; padding: 4px 8px;",
    "error": "color: #82071e; background: #ffebe9; border: 1px solid #ff818266; border-left: 3px solid #cf222e; "
             "border-radius: 4px; padding: 6px 8px;",
    "empty": "color: #6e7781; padding: 4px 8px;",
}
PLACEHOLDER = "scores = Q @ K.T        one line per tensor · Ctrl+Enter runs"


def monospace(points: float) -> QFont:
    """The system's fixed-width font at ``points``."""
    f = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    f.setPointSizeF(points)
    f.setStyleHint(QFont.StyleHint.Monospace)
    return f


class ProgramTextEdit(QPlainTextEdit):
    """The text area: monospace, colours, a shape gutter, error underline, tooltips, Ctrl+Enter.

    It shows a :class:`~.check.LiveCheck` it is handed (:meth:`show_check`); checking is the
    :class:`ProgramEditor`'s job.
    """

    run_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFont(monospace(FONT_POINTS))
        self.setPlaceholderText(PLACEHOLDER)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        # Indentation is a syntax error in a program; Tab moves on to the next control instead.
        self.setTabChangesFocus(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setStyleSheet("QPlainTextEdit { background: #ffffff; color: #24292f; border: 1px solid #d0d7de; "
                           "border-radius: 4px; selection-background-color: #b6e3ff; selection-color: #24292f; }"
                           "QPlainTextEdit:focus { border: 1px solid #0969da; }")
        self.document().setDocumentMargin(6)  # breathing room: the default 4 px crowds a 16 pt font
        self.highlighter = ProgramHighlighter(self.document())
        self.gutter = ShapeGutter(self)
        self.gutter.setFont(monospace(FONT_POINTS - 3))
        self.check: LiveCheck = LiveCheck("")
        self.updateRequest.connect(self._on_update_request)
        self.blockCountChanged.connect(self.fit_height)
        self.document().documentLayout().documentSizeChanged.connect(self.fit_height)
        self._place_gutter()
        self.fit_height()

    # --- what it shows ----------------------------------------------------------------------------
    def show_check(self, check: LiveCheck) -> None:
        """Draw ``check``: the shapes in the gutter and the failing span underlined."""
        self.check = check
        self.gutter.set_annotations(check.annotations)
        self._place_gutter()
        self.setExtraSelections(self._underline(check) if check.span is not None else [])
        self.fit_height()  # a wider gutter may have re-wrapped the rows

    def _underline(self, check: LiveCheck) -> list:
        start, end = self.position_of(*check.span[:2]), self.position_of(*check.span[2:])
        if end <= start:
            # A point (a syntax error at the end of a row): mark the character before it, or the
            # one at it, so there is always something to see.
            row_start = self.document().findBlockByNumber(check.span[0]).position()
            start, end = (start - 1, start) if start > row_start else (start, start + 1)
        sel = QTextEdit.ExtraSelection()
        fmt = QTextCharFormat()
        fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        fmt.setUnderlineColor(QColor(ERROR_COLOUR))
        # A faint wash too: a 1-pixel wave under a short `Q @ K` is easy to miss at a glance.
        fmt.setBackground(QColor(ERROR_WASH))
        fmt.setProperty(QTextFormat.Property.FullWidthSelection, False)
        sel.format = fmt
        cursor = QTextCursor(self.document())
        last = max(0, self.document().characterCount() - 1)
        cursor.setPosition(min(start, last))
        cursor.setPosition(min(end, last), QTextCursor.MoveMode.KeepAnchor)
        sel.cursor = cursor
        return [sel]

    def underlined(self) -> str:
        """The text under the error underline, or ``""`` (what the user sees marked)."""
        sels = self.extraSelections()
        return sels[0].cursor.selectedText() if sels else ""

    # --- text positions ↔ program positions -------------------------------------------------------
    def position_of(self, row: int, col: int) -> int:
        """The document position of character ``col`` of ``row`` (compute counts characters, Qt
        counts UTF-16 units: they differ after an emoji or any other character beyond U+FFFF)."""
        block = self.document().findBlockByNumber(max(0, min(row, self.blockCount() - 1)))
        text = block.text()
        col = max(0, min(col, len(text)))
        return block.position() + len(text[:col].encode("utf-16-le")) // 2

    def row_col_of(self, position: int) -> tuple[int, int]:
        """The inverse of :meth:`position_of`: ``(row, character column)`` of a document position."""
        block = self.document().findBlock(position)
        units = position - block.position()
        text = block.text()
        col, seen = 0, 0
        while col < len(text) and seen < units:
            seen += 2 if ord(text[col]) > 0xFFFF else 1
            col += 1
        return block.blockNumber(), col

    def shape_at_position(self, position: int):
        """``(text, shape)`` of the innermost sub-expression at document ``position``, or None."""
        return self.check.shape_at(*self.row_col_of(position))

    def tooltip_at_position(self, position: int) -> str:
        """The hover text at ``position``: the error over the underline, else the sub-expression's shape."""
        row, col = self.row_col_of(position)
        sp = self.check.span
        if sp is not None and (sp[0], sp[1]) <= (row, col) < (sp[2], max(sp[3], sp[1] + 1)):
            return self.check.message
        found = self.check.shape_at(row, col)
        if found is None:
            return ""
        text, shape = found
        return f"{' '.join(text.split())}  {arrow(shape)}"

    def position_under(self, point) -> int | None:
        """The position of the character under viewport ``point``, or None past a row's end."""
        cursor = self.cursorForPosition(point)
        pos = cursor.position()
        # cursorForPosition gives the nearest gap between characters; the character under the
        # mouse is the one after the gap when the mouse is right of it, else the one before.
        if self.cursorRect(cursor).center().x() > point.x():
            pos -= 1
        block = cursor.block()
        if not block.position() <= pos < block.position() + block.length() - 1:
            return None
        return pos

    # --- Qt overrides ------------------------------------------------------------------------------
    def keyPressEvent(self, event) -> None:  # noqa: N802  (Qt override)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.run_requested.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def viewportEvent(self, event) -> bool:  # noqa: N802  (Qt override)
        if event.type() == QEvent.Type.ToolTip:
            pos = self.position_under(event.pos())
            tip = self.tooltip_at_position(pos) if pos is not None else ""
            if tip:
                QToolTip.showText(event.globalPos(), tip, self.viewport())
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().viewportEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802  (Qt override)
        super().resizeEvent(event)
        self._place_gutter()
        self.fit_height()  # a new width re-wraps the rows

    def sizeHint(self) -> QSize:  # noqa: N802  (Qt override)
        return QSize(520, self.height_for_rows(self.visual_rows()))

    # --- geometry ----------------------------------------------------------------------------------
    def visual_rows(self) -> int:
        """Rows on screen (wrapped rows count), at least one."""
        # QPlainTextDocumentLayout measures the document's height in rows, not pixels.
        rows = int(self.document().documentLayout().documentSize().height())
        return max(1, rows, self.blockCount() if rows == 0 else 1)

    def row_height(self) -> float:
        """Pixels per row as laid out (a text line rounds the font's fractional height up, so
        ``fontMetrics().lineSpacing()`` can be a pixel short per row)."""
        block = self.document().firstBlock()
        layout = block.layout()
        if layout is not None and layout.lineCount() > 0:
            return layout.lineAt(0).height()
        return math.ceil(QFontMetricsF(self.font()).lineSpacing())

    def height_for_rows(self, rows: int) -> int:
        """Pixels of height that show ``rows`` rows (capped at :data:`MAX_ROWS`) without scrolling."""
        rows = max(1, min(rows, MAX_ROWS))
        margins = self.contentsMargins()
        doc_margin = 2 * self.document().documentMargin()
        # +2: QPlainTextEdit shows a scroll bar unless the last row ends strictly inside the viewport
        return math.ceil(rows * self.row_height() + doc_margin + margins.top() + margins.bottom()) + 2

    def fit_height(self, *_) -> None:
        """Grow or shrink to the text's rows, up to :data:`MAX_ROWS`, then scroll."""
        h = self.height_for_rows(self.visual_rows())
        if h != self.height():
            self.setFixedHeight(h)

    def _place_gutter(self) -> None:
        width = self.gutter.needed_width()
        if self.viewportMargins().right() != width:
            self.setViewportMargins(0, 0, width, 0)
        vp = self.viewport().geometry()
        self.gutter.setGeometry(vp.right() + 1, vp.top(), width, vp.height())

    def _on_update_request(self, rect, dy) -> None:
        # The gutter scrolls with the text: repaint it whenever the viewport scrolls or repaints.
        if dy:
            self.gutter.scroll(0, dy)
        else:
            self.gutter.update(0, rect.y(), self.gutter.width(), rect.height())


class ProgramEditor(QWidget):
    """An expression bar that grows into a few lines of ``name = expression``, checked live.

    Parameters
    ----------
    text : str, optional
        The program to start with.
    input_shapes : dict, optional
        Input name → shape (``()`` for a scalar such as ``d_k``); see :meth:`set_input_shapes`.
    parent : QWidget, optional
    """

    program_changed = Signal(str)
    missing_inputs_changed = Signal(list)
    run_requested = Signal(str)

    def __init__(self, text: str = "", input_shapes: dict | None = None, parent=None):
        super().__init__(parent)
        self.input_shapes: dict = dict(input_shapes or {})
        self.edit = ProgramTextEdit(self)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        f = QFont(self.message.font())
        f.setPointSizeF(max(f.pointSizeF(), 12.0))
        self.message.setFont(f)
        self.message.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addWidget(self.edit)
        lay.addWidget(self.message)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.check: LiveCheck = LiveCheck("")
        self._reported_program: str | None = None
        self._reported_missing: list[str] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.check_now)
        self.edit.textChanged.connect(self._schedule)
        self.edit.run_requested.connect(self._on_run_requested)
        self.set_text(text)
        self.check_now()

    # --- public API -------------------------------------------------------------------------------
    def text(self) -> str:
        """The program's text."""
        return self.edit.toPlainText()

    def set_text(self, text: str) -> None:
        """Replace the text (undoable, like typing) and check it after the debounce."""
        if text == self.text():
            return
        cursor = QTextCursor(self.edit.document())
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)

    def set_input_shapes(self, shapes: dict) -> None:
        """The inputs the program may read: name → shape (``()`` for a scalar; an array or a
        number stands for its own shape); re-checks after the debounce."""
        self.input_shapes = {str(k): as_shape(str(k), v) for k, v in shapes.items()}
        self._schedule()

    def line_shapes(self) -> dict:
        """Line name → shape of the lines that checked (with ``"result"`` when all did)."""
        return dict(self.check.lines)

    def row_annotations(self) -> list[str]:
        """What the gutter shows on each text row (``""`` where nothing), top to bottom."""
        return [self.edit.gutter.text_of(r) for r in range(self.edit.blockCount())]

    def shape_at(self, position: int):
        """``(text, shape)`` of the innermost sub-expression at document ``position``, or None."""
        return self.edit.shape_at_position(position)

    def check_now(self) -> LiveCheck:
        """Check the text now (the debounce calls this), show the outcome and emit what changed."""
        self._timer.stop()
        text = self.text()
        check = live_check(text, self.input_shapes)
        self.check = check
        self.edit.show_check(check)
        self._show_message(check)
        # A slow check (a huge pasted text) waits longer before the next, so typing never stalls.
        self._timer.setInterval(min(MAX_DEBOUNCE_MS, max(DEBOUNCE_MS, int(check.elapsed * 3000))))
        if check.missing is not None and list(check.missing) != self._reported_missing:
            self._reported_missing = list(check.missing)
            self.missing_inputs_changed.emit(list(check.missing))
        if check.ok and text != self._reported_program:
            self._reported_program = text
            self.program_changed.emit(text)
        return check

    # --- internals --------------------------------------------------------------------------------
    def _schedule(self) -> None:
        self._timer.start()

    def _show_message(self, check: LiveCheck) -> None:
        state = "error" if check.error is not None else ("ok" if check.ok else "empty")
        text = check.message or ("Type a program: one `name = expression` per line; the last line is the result."
                                 if state == "empty" else "")
        self.message.setStyleSheet(f"QLabel {{ {MESSAGE_STYLES[state]} }}")
        self.message.setText(("⚠ " if state == "error" else "") + text)

    def _on_run_requested(self) -> None:
        if self._timer.isActive():
            self.check_now()  # the window then sees the shapes of the text it is asked to run
        self.run_requested.emit(self.text())
