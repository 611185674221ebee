"""A common mistake side by side with the right way: both programs, both values, the caption.

:class:`MistakeView` is a page of the window's canvas area. It shows one
:class:`compute.program.mistakes.Mistake`: the right program and the wrong one next to each other
(large monospace text), under each the compared line's tensor as heatmaps with numbers (one per 2-D
slice of a 3-D tensor, side by side), the cells that differ outlined in red on the wrong side, and
the caption of :func:`compute.program.mistakes.compare_mistake`. A wrong side that raises (a shape
error) shows its message in a red box instead of heatmaps.

Every number comes from ``compare_mistake``; it runs in a worker thread of the view, because even
the built-in mistakes take tens of milliseconds on a first run (imports, warm caches), and a new
mistake chosen while one is computed wins (stale results are dropped by a request counter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from opscope.compute.numbers import fmt_shape
from opscope.compute.program.mistakes import compare_mistake, get_mistake
from opscope.compute.timeline import finite_levels
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..heatmap import HeatmapView
from .workers import describe_error

#: Point size of the two program texts (read from the back of a lecture hall).
PROGRAM_PT = 17
#: Point size of the caption.
CAPTION_PT = 15

_ERROR_BOX = ("background: #fde8e8; color: #a10000; border: 3px solid #d40000; border-radius: 6px; "
              "padding: 14px; font-size: 16pt;")
_PROGRAM_BOX = (f"font-family: 'DejaVu Sans Mono', 'Menlo', 'Consolas', monospace; font-size: {PROGRAM_PT}pt; "
                "background: #f6f8fa; border: 1px solid #d5d9e0; border-radius: 4px; padding: 8px;")


@dataclass(frozen=True)
class _Cell:
    """One differing cell as a region :meth:`HeatmapView.set_regions` draws (kind ``differ``)."""

    tensor: str
    kind: str
    box: tuple[tuple[int, int], ...]


class _CompareWorker(QObject):
    """Runs :func:`compare_mistake` in the view's thread; answers with the request's token."""

    done = Signal(int, object)
    failed = Signal(int, str)

    @Slot(int, str)
    def compare(self, token: int, slug: str) -> None:
        """Compare mistake ``slug``; emit :attr:`done` (token, MistakeResult) or :attr:`failed`."""
        try:
            result = compare_mistake(get_mistake(slug))
        except Exception as exc:  # noqa: BLE001 - any failure is shown, never kills the thread
            self.failed.emit(token, describe_error(exc))
            return
        self.done.emit(token, result)


class MistakeView(QWidget):
    """One mistake and the right way, side by side on the same numbers.

    Signals
    -------
    ready(object)
        A :class:`MistakeResult` is on screen.
    """

    ready = Signal(object)
    _request = Signal(int, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("mistakeView")
        self._token = 0
        self._slug: str | None = None
        self._result = None
        self._error = ""
        self.side_views: dict[str, list[HeatmapView]] = {"right": [], "wrong": []}

        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 8, 12, 8)
        outer.setSpacing(8)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-size: 18pt; font-weight: bold; color: #111;")
        outer.addWidget(self.title)

        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(6)
        self.headings: dict[str, QLabel] = {}
        self.programs: dict[str, QLabel] = {}
        self._slices: dict[str, QHBoxLayout] = {}
        self.error_box = QLabel()
        self.error_box.setWordWrap(True)
        self.error_box.setStyleSheet(_ERROR_BOX)
        self.error_box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_box.hide()
        for col, (side, heading, colour) in enumerate((("right", "✓ The right way", "#1a7f37"),
                                                      ("wrong", "✗ The mistake", "#c00000"))):
            head = QLabel(heading)
            head.setStyleSheet(f"font-size: 16pt; font-weight: bold; color: {colour};")
            prog = QLabel()
            prog.setTextFormat(Qt.TextFormat.PlainText)
            prog.setStyleSheet(_PROGRAM_BOX)
            prog.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            prog.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            host = QWidget()
            slices = QHBoxLayout(host)
            slices.setContentsMargins(0, 0, 0, 0)
            slices.setSpacing(6)
            grid.addWidget(head, 0, col)
            grid.addWidget(prog, 1, col)
            grid.addWidget(host, 2, col)
            self.headings[side], self.programs[side], self._slices[side] = head, prog, slices
        self._slices["wrong"].addWidget(self.error_box)
        grid.setRowStretch(2, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        outer.addLayout(grid, 1)

        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setFrameShape(QFrame.Shape.NoFrame)
        self.caption.setStyleSheet(f"font-size: {CAPTION_PT}pt; color: #222; background: #fffdf5; "
                                   "border-top: 1px solid #d5d9e0; padding: 8px;")
        outer.addWidget(self.caption)

        self._worker = _CompareWorker()
        self._thread = QThread()
        self._thread.setObjectName("opscope-mistakes")
        self._worker.moveToThread(self._thread)
        self._request.connect(self._worker.compare)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self._thread.start()

    # ------------------------------------------------------------------------------------------
    def open(self, slug: str) -> None:
        """Show mistake ``slug``: its texts at once, its numbers when the worker has them.

        Raises
        ------
        compute.ParamError
            unknown slug (nothing changes).
        """
        m = get_mistake(slug)
        self._slug = slug
        self._token += 1
        self._result = None
        self._error = ""
        self.title.setText(m.title)
        self.title.setToolTip(m.source)
        self.programs["right"].setText(m.right.rstrip("\n"))
        self.programs["wrong"].setText(m.wrong.rstrip("\n"))
        self.caption.setText(m.summary + "  (computing…)")
        self._clear_slices()
        if self._thread.isRunning():
            self._request.emit(self._token, slug)

    @property
    def slug(self) -> str | None:
        """The mistake shown (None before the first)."""
        return self._slug

    @property
    def result(self):
        """The :class:`MistakeResult` on screen, or None while it is computed."""
        return self._result

    def is_ready(self) -> bool:
        """Whether the numbers of the current mistake are on screen (or its failure is)."""
        return self._result is not None or bool(self._error)

    def differ_cells(self) -> np.ndarray | None:
        """Boolean array of the cells outlined on the wrong side, in the compared tensor's shape
        (read back from the drawn regions, for tests); None when there is no wrong value."""
        r = self._result
        if r is None or r.wrong is None:
            return None
        out = np.zeros(r.wrong.shape, dtype=bool)
        for k, view in enumerate(self.side_views["wrong"]):
            for kind, rect in view.region_rects():
                if kind != "differ":
                    continue
                # A cell's rect is centred on (column, row): see gui.heatmap.
                i, j = int(round(rect.y() + 0.5)), int(round(rect.x() + 0.5))
                if out.ndim == 3:
                    out[k, i, j] = True
                else:
                    out[i, j] = True
        return out

    def stop(self) -> None:
        """Finish the worker thread (a compare in progress runs to its end)."""
        self._token += 1  # whatever arrives now is stale
        self._thread.quit()
        self._thread.wait(30000)

    # ------------------------------------------------------------------------------------------
    def _on_done(self, token: int, result) -> None:
        if token != self._token:
            return
        self._result = result
        self._show(result)
        self.ready.emit(result)

    def _on_failed(self, token: int, message: str) -> None:
        if token != self._token:
            return
        self._error = message
        self.caption.setText(message)

    def _clear_slices(self) -> None:
        for side, views in self.side_views.items():
            for view in views:
                self._slices[side].removeWidget(view)
                view.deleteLater()
            views.clear()
        self.error_box.hide()

    def _show(self, r) -> None:
        self._clear_slices()
        compare = r.mistake.compare
        # One colour scale for both sides: equal numbers get equal colours.
        arrays = [a for a in (r.right, r.wrong) if a is not None]
        bounds = [finite_levels(np, np.asarray(a)) for a in arrays]
        levels = (min(b[0] for b in bounds), max(b[1] for b in bounds))
        for side, values in (("right", r.right), ("wrong", r.wrong)):
            if values is None:
                continue
            a = np.asarray(values)
            slices = [a[k] for k in range(a.shape[0])] if a.ndim == 3 else [a]
            for k, s in enumerate(slices):
                name = f"{side}_{compare}_{k}"
                view = HeatmapView(name, colorbar=False)
                title = f"{compare}[{k}]  {fmt_shape(s.shape)}" if a.ndim == 3 else f"{compare}  {fmt_shape(a.shape)}"
                view.set_tensor(name, s.shape, levels, title=title)
                view.set_data(s)
                if side == "wrong" and r.differs is not None:
                    mask = r.differs[k] if a.ndim == 3 else r.differs
                    view.set_regions([_Cell(name, "differ", ((int(i), int(i) + 1), (int(j), int(j) + 1)))
                                      for i, j in np.argwhere(mask)])
                self._slices[side].addWidget(view, 1)
                self.side_views[side].append(view)
        if r.wrong is None:
            self.error_box.setText(r.error or "")
            self.error_box.show()
        self.caption.setText(r.caption)
