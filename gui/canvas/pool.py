"""Heatmap views built ahead of time, one per event-loop turn, so a new run never builds a board's
worth of graphics views in one block.

Building a :class:`~gui.heatmap.HeatmapView` costs about 20–27 ms (a pyqtgraph plot and its axes;
its colour key is built on demand, in well under a millisecond). A board of six views built when a
run finishes stalls the event loop for over 100 ms, and several times that on a loaded machine
while the compute and frame workers hold both cores. The pool spreads that work over idle turns
of the event loop: :meth:`ViewPool.prewarm` schedules the builds, :meth:`ViewPool.take` hands out
a spare (or builds one when none is left).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from ..heatmap import HeatmapView

#: How many spare views the pool keeps: the largest boards (mha, attention) show about a dozen.
TARGET_SPARES = 12


class ViewPool(QObject):
    """Spare heatmap views, built in idle turns of the event loop."""

    def __init__(self, target: int = TARGET_SPARES):
        super().__init__()
        self._spares: list[HeatmapView] = []
        self._target = int(target)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._build_one)

    @property
    def spares(self) -> int:
        """How many views are ready."""
        return len(self._spares)

    def _unfinished(self) -> bool:
        return len(self._spares) < self._target

    def prewarm(self) -> None:
        """Top the pool up to its target, one view per turn of the event loop (each turn stays
        short)."""
        if self._unfinished() and not self._timer.isActive():
            self._timer.start()

    def take(self, name: str, *, colorbar: bool, labels: bool, transpose: bool) -> HeatmapView:
        """A view configured with these flags: a spare when one is ready, else a new one."""
        view = None
        while self._spares and view is None:
            view = self._spares.pop()
            try:
                view.objectName()
            except RuntimeError:  # its C++ side was deleted with a parent: never hand that out
                view = None
        self.prewarm()  # replace what was taken, in later turns
        if view is None:
            return HeatmapView(name, colorbar=colorbar, labels=labels, transpose=transpose)
        view.configure(colorbar=colorbar, labels=labels, transpose=transpose)
        view.name = name
        return view

    def _build_one(self) -> None:
        if len(self._spares) < self._target:
            self._spares.append(HeatmapView("", colorbar=False))
        if self._unfinished():
            self._timer.start()


_shared: ViewPool | None = None


def shared_pool() -> ViewPool:
    """The process's pool (created on first use, in the GUI thread)."""
    global _shared
    if _shared is None:
        _shared = ViewPool()
    return _shared
