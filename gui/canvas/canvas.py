"""OperationCanvas: every tensor of one run as heatmaps, laid out like a blackboard, step by step.

The main window drives it with four calls::

    canvas.set_timeline(tl)          # a new run: views for its tensors, levels from tl.levels
    frame = canvas.prepare_frame(n)  # any thread, no Qt: reads the timeline, returns a Frame
    canvas.apply_frame(frame)        # GUI thread, cheap: setImage and overlays only
    canvas.show_step(n)              # both at once, synchronously

What a view asks for (its lead slice, zoom box, ``max_shape``) lives in an immutable
:class:`~gui.canvas.frame.Snapshot` that the GUI thread replaces whole on every change, so a
worker preparing a frame always reads one consistent request.
"""

from __future__ import annotations

import dataclasses
import functools
import logging

import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ..heatmap import HeatmapView
from . import flow, layouts
from .board import Board, ViewSpec
from .frame import Frame, Snapshot, ViewEntry, prepare
from .pool import shared_pool
from .report import views_report
from .slices import onto_slice

log = logging.getLogger(__name__)

#: Views up to this many cells a side share one cell size (bigger ones fit their own view).
SMALL_SIDE = 16
#: Largest array a view receives per frame: bigger slices are block-reduced in the worker.
DEFAULT_MAX_SHAPE = (512, 512)
#: How much one zoom key press (or one Ctrl+wheel notch) zooms.
ZOOM_STEP = 1.25


def follow_levels(tl, entries: dict, views: dict) -> bool:
    """A progressive run's display levels widen as its panels land (a line not computed yet has
    (0, 1)): give each tensor view the levels ``tl`` has now. ``entries`` (key → ViewEntry) are
    replaced where they changed; True when any did (the frame on screen then needs recolouring).
    Levels of a finished run are fixed: nothing to do."""
    if not getattr(tl, "progressive", False):
        return False
    from .. import colormaps as cm  # noqa: PLC0415

    changed = False
    names = set(tl.tensor_names)
    for key, e in list(entries.items()):
        view = views.get(key)
        if e.source != "tensor" or e.tensor not in names or view is None:
            continue
        new = cm.display_levels(tl.levels[e.tensor])
        if new != tuple(e.levels):
            view.set_levels(new)
            entries[key] = dataclasses.replace(e, levels=view.levels())
            changed = True
    return changed


def use_board_palette(widget: QWidget) -> None:
    """Give ``widget`` the canvases' palette: a white board with dark text whatever the desktop
    theme. The views' titles and captions take their colour from it, so a dark theme never leaves
    them light on white."""
    pal = widget.palette()
    pal.setColor(QPalette.ColorRole.Window, QColor(255, 255, 255))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        pal.setColor(role, QColor(17, 17, 17))
    pal.setColor(QPalette.ColorRole.Base, QColor(255, 255, 255))
    pal.setColor(QPalette.ColorRole.Button, QColor(240, 240, 240))
    widget.setPalette(pal)
    widget.setAutoFillBackground(True)


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    """True when ``a`` and ``b`` are the same read-only memory seen the same way.

    Inputs come back from the timeline as fresh views of the same immutable buffer every frame;
    recognising them saves re-uploading images that did not change. The view keeps ``b`` alive, so
    its address cannot have been reused by another array.
    """
    if a is b:
        return True
    if a.flags.writeable or b.flags.writeable:
        return False
    return (a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


class OperationCanvas(QWidget):
    """The canvas of one operation (see the module docstring for the contract).

    Attributes
    ----------
    op_name : the operation this canvas was created for (a timeline of another op still works:
        its layout is chosen from ``tl.op``).
    max_shape : (rows, cols) above which a slice is block-reduced before it reaches a view.

    Signals
    -------
    caption_changed(str) : the caption of the step just applied.
    save_requested(str) : a view's "Save tensor…" was chosen (the view's key, see :attr:`views`).
    """

    caption_changed = Signal(str)
    save_requested = Signal(str)

    def __init__(self, op_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.op_name = op_name
        self.max_shape = DEFAULT_MAX_SHAPE
        #: Split a long chain of stages into pages whose numbers stay readable (flow layouts).
        self.paging = True
        self._tl = None
        self._index = -1
        self._snapshot = Snapshot()
        self._pool: dict[str, HeatmapView] = {}
        self._pool_flags: dict[str, tuple] = {}
        self._board: Board | None = None
        self._entries: dict[str, ViewEntry] = {}
        self._equalize_timer = QTimer(self)
        self._equalize_timer.setSingleShot(True)
        self._equalize_timer.setInterval(0)  # after the layouts have settled the new sizes
        self._equalize_timer.timeout.connect(self.equalize_cells)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        use_board_palette(self)
        self._install_zoom_keys()
        shared_pool().prewarm()

    # --- public API ----------------------------------------------------------------------------
    @property
    def timeline(self):
        """The timeline shown (None before :meth:`set_timeline`)."""
        return self._tl

    @property
    def current_index(self) -> int:
        """Index of the step shown now (-1 before any)."""
        return self._index

    @property
    def views(self) -> dict[str, HeatmapView]:
        """View key -> :class:`HeatmapView` (keys are tensor names, ``step:products``...)."""
        return dict(self._board.views) if self._board else {}

    def view(self, name: str) -> HeatmapView:
        """The view of tensor (or step strip) ``name``."""
        if self._board is None or name not in self._board.views:
            raise KeyError(f"no view named {name!r}; views: {', '.join(self.views) or 'none'}")
        return self._board.views[name]

    def set_timeline(self, tl, show_first: bool = True) -> None:
        """Show a new run: lay out views for its tensors with its fixed levels, then (unless
        ``show_first`` is False) show step 0 synchronously. A window that prepares frames in a
        worker passes False: preparing the first frame of a 4096² run takes a few hundred ms."""
        self._tl = tl
        self._index = -1
        self._rebuild(tl)
        if len(tl) and show_first:
            self.show_step(0)

    def prepare_frame(self, n: int) -> Frame:
        """The frame of step ``n`` (clamped): thread-safe, makes no Qt calls."""
        return prepare(self._snapshot, n)

    def apply_frame(self, frame: Frame) -> None:
        """Show ``frame`` (GUI thread). Frames of another run are ignored."""
        board = self._board
        if self._tl is None or board is None or frame.run_id != self._tl.run_id:
            return
        step = frame.step
        for key, view in board.views.items():
            a = frame.arrays.get(key)
            if a is None:
                continue
            spec = board.specs[key]
            lead = frame.leads.get(key, ())
            if lead != view.lead():
                view.set_lead(lead)
            box = frame.boxes.get(key)
            factor = frame.factors.get(key, (1, 1))
            if spec.source == "step" and a.shape != np.asarray(view.data()).shape and a.ndim == 1:
                view.set_tensor(spec.tensor, a.shape, self._entries[key].levels, title=view.title_override())
            old = view.data()
            if not (_same_array(a, old) and view.coverage_key() == (box, tuple(factor))):
                view.set_data(a, frame.quantized.get(key), box=box, factor=factor)
            regions = ()
            kind = ""
            if step is not None and spec.source == "tensor":
                regions = step.regions_of(spec.tensor)
                if spec.lead:
                    regions = onto_slice(regions, spec.lead)
                kinds = {r.kind for r in regions}
                kind = "write" if "write" in kinds else "read" if "read" in kinds else ""
            elif step is not None and spec.tensor in step.tensors:
                kind = "write"
            view.set_regions(tuple(regions))
            view.set_active(kind)
        self._index = frame.index
        # Also here, not only on resize: an offscreen renderer (export) paints right after posted
        # events, before any timer could fire. A no-op when the sizes did not change.
        self.equalize_cells()
        for hook in board.frame_hooks:
            hook(frame)
        self.caption_changed.emit(step.caption if step is not None else "")

    def show_step(self, n: int) -> None:
        """Show step ``n`` now: ``apply_frame(prepare_frame(n))``."""
        self.apply_frame(self.prepare_frame(n))

    def displayed(self, name: str) -> np.ndarray:
        """What the view of ``name`` shows now, in the tensor's orientation: the full tensor (or its
        lead slice, or its zoom box) at full resolution, or the block-reduced array of a big one;
        a tensor drawn as small multiples is stacked back whole. NaN marks elements not yet written."""
        board = self._board
        if board is not None and name not in board.views:
            tiles = [(spec.lead, board.views[k]) for k, spec in board.specs.items()
                     if spec.tensor == name and spec.lead and spec.source == "tensor"]
            if tiles:
                shape = tuple(self._tl.shape(name))
                slices = [np.asarray(v.data()) for _lead, v in sorted(tiles, key=lambda t: t[0])]
                return np.stack(slices).reshape(shape[:-2] + slices[0].shape)
        return self.view(name).data()

    def views_of(self, tensor: str) -> list[HeatmapView]:
        """Every view of ``tensor``: its small multiples in order, or its one view."""
        board = self._board
        if board is None:
            return []
        tiles = sorted(((spec.lead, board.views[k]) for k, spec in board.specs.items()
                        if spec.tensor == tensor and spec.source == "tensor"), key=lambda t: t[0])
        return [v for _lead, v in tiles]

    def flow_panels(self) -> list:
        """The flow panels of the board (:mod:`gui.canvas.flow`): pages of stages, sized to the canvas."""
        return list(self._board.flows) if self._board is not None else []

    def next_page(self) -> bool:
        """Show the next page of the step in play where it spreads over several (a step that
        writes Q, K and V at once, on a canvas too small for them together): True when a page
        changed, False when the step shows its last (the clicker then goes to the next step)."""
        return any(panel.next_page() for panel in self.flow_panels())

    def previous_page(self) -> bool:
        """Show the previous page of the step in play; False when it shows its first."""
        return any(panel.previous_page() for panel in self.flow_panels())

    # --- zoom ------------------------------------------------------------------------------------
    def _install_zoom_keys(self) -> None:
        """Ctrl+= / Ctrl++ zoom in, Ctrl+− zoom out, Ctrl+0 fits every view to its space again
        (the wheel already zooms a view under the mouse; a double click fits it)."""
        ctx = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys, slot in ((("Ctrl+=", "Ctrl++"), self.zoom_in), (("Ctrl+-",), self.zoom_out),
                           (("Ctrl+0",), self.fit_to_window)):
            for key in keys:
                sc = QShortcut(QKeySequence(key), self)
                sc.setContext(ctx)
                sc.activated.connect(slot)

    def zoom_in(self) -> None:
        """Zoom every visible view in by a quarter, about its centre."""
        self._zoom(1 / ZOOM_STEP)

    def zoom_out(self) -> None:
        """Zoom every visible view out by a quarter, about its centre."""
        self._zoom(ZOOM_STEP)

    def fit_to_window(self) -> None:
        """Every view shows its whole slice again, cells sized to the space (undoes any zoom)."""
        for view in self.views.values():
            view.reset_zoom()

    def _zoom(self, factor: float) -> None:
        for view in self.views.values():
            if view.isVisible():
                vb = view.view_box()
                vb.scaleBy((factor, factor))
                view._on_manual_range()

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt API
        # Ctrl+wheel over the canvas margins zooms every view (over a view, pyqtgraph zooms that one).
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self._zoom(1 / ZOOM_STEP if event.angleDelta().y() > 0 else ZOOM_STEP)
            event.accept()
            return
        super().wheelEvent(event)

    def layout_report(self) -> list[dict]:
        """One dict per visible view, measured from what it just drew (see
        :func:`gui.canvas.report.views_report`): tensor, lead, shape, cell_px, font_px, numbers."""
        board = self._board
        if board is None:
            return []
        return views_report((spec.tensor, spec.lead, board.views[key]) for key, spec in board.specs.items())

    # --- one cell size for small views ------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._equalize_timer.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._equalize_timer.start()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self._equalize_timer.start()
        return super().eventFilter(watched, event)

    def equalize_cells(self) -> None:
        """Give every small view (≤ 16 cells a side) the same cell size: the largest all of them can
        afford. On a blackboard A's rows then line up with the product's rows beside it and B's
        columns with the product's columns below it."""
        board = self._board
        if board is None:
            return
        # Step strips (products, running sums) are short by design: they keep their own size.
        small = [v for k, v in board.views.items()
                 if board.specs[k].source == "tensor" and k not in board.flow_keys and v.isVisible()
                 and max(v.slice_shape()) <= SMALL_SIDE]
        sizes = [px for px in (v.natural_cell_px() for v in small) if px is not None]
        if not sizes:
            return
        common = min(sizes)
        for v in small:
            v.set_cell_cap(common)

    # --- building -------------------------------------------------------------------------------
    def _obtain(self, spec: ViewSpec) -> HeatmapView:
        """A view for ``spec``, configured for the current timeline (shape, levels, slice, zoom).

        The widget of the same key is reused from the last run when its flags match: rebuilding a
        board on every edit then costs labels and a grid, not new graphics views.
        """
        flags = (spec.transpose, spec.colorbar, spec.labels)
        view = self._pool.get(spec.key)
        if view is None or self._pool_flags.get(spec.key) != flags:
            if view is not None:
                view.deleteLater()
            view = shared_pool().take(spec.tensor, colorbar=spec.colorbar, labels=spec.labels,
                                      transpose=spec.transpose)
            view.setMinimumSize(110, 100)
            view.lead_changed.connect(functools.partial(self._on_lead_changed, spec.key))
            view.view_box_changed.connect(functools.partial(self._on_box_changed, spec.key))
            view.save_requested.connect(lambda _name, key=spec.key: self.save_requested.emit(key))
            self._pool[spec.key] = view
            self._pool_flags[spec.key] = flags
        tl = self._tl
        if spec.source == "tensor" and spec.lead:
            # A small multiple: a 2-D view of one fixed slice, without a selector of its own.
            full = tuple(tl.shape(spec.tensor))
            shape = full[-2:]
            levels = tl.levels[spec.tensor]
            view.set_value_source(functools.partial(self._value_at_slice, spec.tensor, tuple(spec.lead)))
        elif spec.source == "tensor":
            shape = tuple(tl.shape(spec.tensor))
            levels = tl.levels[spec.tensor]
            view.set_value_source(functools.partial(self._value_at, spec.tensor))
        else:
            shape = tuple(spec.shape or ())
            levels = spec.levels or (0.0, 1.0)
            view.set_value_source(None)
        view.set_tensor(spec.tensor, shape, levels, title=spec.title, lead_names=spec.lead_names,
                        max_shape=self.max_shape)
        if spec.lead:
            self._entries[spec.key] = ViewEntry(key=spec.key, tensor=spec.tensor, source=spec.source, shape=full,
                                                lead=tuple(spec.lead), max_shape=tuple(self.max_shape),
                                                levels=view.levels(), follow=False)
            return view
        self._entries[spec.key] = ViewEntry(key=spec.key, tensor=spec.tensor, source=spec.source, shape=shape,
                                            lead=view.lead(), max_shape=tuple(self.max_shape),
                                            levels=view.levels(), follow=True)
        return view

    def _rebuild(self, tl) -> None:
        self._entries = {}
        board = Board(tl, self._obtain)
        board.digit_px = self._digit_target
        try:
            layouts.build(board)
        except Exception:  # noqa: BLE001 - an unexpected shape must not leave the canvas blank
            log.exception("layout for %s failed; using the generic layout", tl.op)
            board.widget.deleteLater()
            self._entries = {}
            board = Board(tl, self._obtain)
            layouts.layout_generic(board)
        board.finish()
        self._auto_link(board)
        groups = {k: i for i, keys in enumerate(board.links) for k in keys}
        self._entries = {k: dataclasses.replace(e, group=groups.get(k, -1))
                         for k, e in self._entries.items() if k in board.views}
        old = self._board
        if old is not None:
            self._layout.removeWidget(old.widget)
        self._layout.addWidget(board.widget, 1)
        for key in list(self._pool):
            if key not in board.views:
                self._pool.pop(key).deleteLater()
                self._pool_flags.pop(key, None)
        if old is not None:
            old.widget.hide()
            old.widget.deleteLater()  # reused views were re-parented into the new board already
        self._board = board
        for view in board.views.values():
            # Once placed (shown, resized) the views are measured again: the timer started here
            # fires while they are still hidden at their default size, and a cap from that
            # (X 191 px) left sum and result at 136 px beside X's 78 in one run in two.
            view.installEventFilter(self)
        self._publish()
        self._equalize_timer.start()

    @staticmethod
    def _auto_link(board: Board) -> None:
        """Link the slice selectors of views whose leading axes are the same (one batch for all)."""
        groups: dict[tuple, list[str]] = {}
        for key, spec in board.specs.items():
            if spec.source != "tensor" or spec.lead:
                continue
            shape = tuple(board.tl.shape(spec.tensor))
            if len(shape) > 2:
                groups.setdefault(shape[:-2], []).append(key)
        linked = {k for group in board.links for k in group}
        for keys in groups.values():
            keys = [k for k in keys if k not in linked]
            if len(keys) > 1:
                board.links.append(tuple(keys))

    def _digit_target(self, width: float, height: float) -> float:
        """Digit height flow pages are sized for: :func:`flow.digit_target`, or 0 (one page, however
        small its numbers) when :attr:`paging` is off."""
        # Sized by the canvas (what presentation mode leaves it), not by the panel inside it.
        w, h = (self.width(), self.height()) if self.width() > 1 else (width, height)
        return flow.digit_target(w, h) if self.paging else 0.0

    def _publish(self) -> None:
        tl = self._tl
        self._snapshot = Snapshot(tl, tl.run_id if tl is not None else 0, tuple(self._entries.values()))

    def refresh_levels(self) -> bool:
        """Follow a progressive run's widening levels (:func:`follow_levels`); True when a view's
        colours changed, so the next frame must be prepared again."""
        if self._board is None or not follow_levels(self._tl, self._entries, self._board.views):
            return False
        self._publish()
        return True

    def _value_at(self, name: str, index: tuple[int, ...]) -> float:
        """Full-precision value for the hover read-out, asked of the timeline (never recomputed)."""
        return self._tl.value_at(name, max(0, self._index), index)

    def _value_at_slice(self, name: str, lead: tuple[int, ...], index: tuple[int, ...]) -> float:
        """The hover read-out of a small multiple (``index`` within its slice ``lead``)."""
        return self._tl.value_at(name, max(0, self._index), tuple(lead) + tuple(index))

    def _refresh(self) -> None:
        if self._tl is not None and self._index >= 0:
            self.show_step(self._index)

    def _on_lead_changed(self, key: str, lead) -> None:
        """The user picked a slice: stop following the step there (and in linked views), re-show."""
        board = self._board
        if board is None or key not in self._entries:
            return
        keys = {key}
        for group in board.links:
            if key in group:
                keys.update(group)
        for k in keys:
            e = self._entries.get(k)
            if e is None:
                continue
            view = board.views[k]
            if k != key:
                view.set_lead(lead)
            self._entries[k] = dataclasses.replace(e, lead=view.lead(), follow=False)
        self._publish()
        self._refresh()

    def _on_box_changed(self, key: str, box) -> None:
        """A big view was zoomed: ask for its visible box at full (or better) resolution."""
        e = self._entries.get(key)
        if e is None:
            return
        self._entries[key] = dataclasses.replace(e, box=box)
        self._publish()
        self._refresh()

