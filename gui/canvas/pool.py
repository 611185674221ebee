"""Heatmap views built ahead of time, one per event-loop turn, so a new run never builds a board's
worth of graphics views in one block.

Building a :class:`~gui.heatmap.HeatmapView` costs about 20 ms (a pyqtgraph plot, axes and a colour
bar). A board of six views built when a run finishes stalls the event loop for over 100 ms, and
several times that on a loaded machine while the compute and frame workers hold both cores. The
pool spreads that work over idle turns of the event loop: :meth:`ViewPool.prewarm` schedules the
builds, :meth:`ViewPool.take` hands out a spare (or builds one when none is left).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from ..heatmap import HeatmapView

#: How many spare views the pool keeps: the largest boards (mha, attention) show about a dozen.
TARGET_SPARES = 12


class ViewPool(QObject):
    """Spare heatmap views, each with its colour bar built and hidden (built in idle turns, so a
    board that needs bars does not pay for them when a run lands)."""

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
        return len(self._spares) < self._target or any(not v.has_colorbar for v in self._spares)

    def prewarm(self) -> None:
        """Top the pool up to its target and give each spare its colour bar, one piece of work per
        turn of the event loop (a view ~27 ms, a bar ~36 ms: each turn stays short)."""
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
        bare = next((v for v in self._spares if not v.has_colorbar), None)
        if bare is not None:
            try:
                bare.prebuild_colorbar()
            except RuntimeError:  # its C++ side was deleted with a parent: drop it
                self._spares.remove(bare)
        elif len(self._spares) < self._target:
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
