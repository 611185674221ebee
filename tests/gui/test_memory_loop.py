"""Switching lessons for a long time keeps the window's widgets bounded (issue 10, flat memory).

``bench/lesson_loop_bench.py`` measures the resident memory of a 10-minute loop over every lesson;
these tests check the causes it found by counting objects, which is deterministic where RSS is not:
the same lessons opened again and again must leave the same widgets behind, whatever was opened
in between. Measured before the fix: every lesson switch left its input tabs' pages (a scroll area
with its scroll bars, viewport, page, doc label and "use" box) alive inside the Inputs panel,
about 800 widgets per pass over the lessons and +3.9 MiB/min.
"""

import gc
from collections import Counter

import pytest
from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)
from opscope.gui.canvas.pool import TARGET_SPARES, shared_pool
from opscope.gui.heatmap import HeatmapView
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication, QScrollArea

#: Lessons with different inputs panels (two plain inputs; optional inputs with "use" boxes;
#: a program's own inputs), and a common mistake (its own heatmaps, outside the canvas).
CYCLE = (("lesson", "matmul_2x2"), ("lesson", "attention_causal"), ("lesson", "layernorm_batch"),
         ("lesson", "attention_causal_program"), ("mistake", "mask_multiplied"))


def _settle(qtbot, w) -> None:
    """Wait until the item just opened is on screen, the view pool is full again, every deferred
    delete has run and cyclic garbage is collected (pyqtgraph's plots own parentless menus that
    live until the collector frees their plot)."""
    if w.is_mistake():
        qtbot.waitUntil(w.mistake_view.is_ready, timeout=20000)
    else:
        qtbot.waitUntil(lambda: w.is_idle() and not w._debounce.isActive(), timeout=20000)
    qtbot.waitUntil(lambda: shared_pool().spares >= TARGET_SPARES, timeout=20000)
    qtbot.wait(20)  # an event loop turn: deleteLater() is honoured there
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def _cycle(qtbot, w) -> None:
    for kind, slug in CYCLE:
        if kind == "lesson":
            w.open_lesson(slug, autoplay=False)
        else:
            w.open_mistake(slug)
        _settle(qtbot, w)


def _widget_counts() -> Counter:
    """Live widgets by class (the view pool full, so its spares count the same every time)."""
    return Counter(type(x).__name__ for x in QApplication.allWidgets())


@pytest.fixture
def window(make_window, qtbot):
    w = make_window(lesson="matmul_2x2", autoplay=False)
    _settle(qtbot, w)
    return w


def test_inputs_panel_keeps_one_page_per_tab(window, qtbot):
    panel = window.inputs_panel
    _cycle(qtbot, window)  # every lesson once: each of their pages was built and replaced
    window.open_lesson("attention_causal", autoplay=False)
    _settle(qtbot, window)
    # One scroll area (a tab's page) per input tab: the pages of earlier lessons are gone.
    assert len(panel.tabs.findChildren(QScrollArea)) == panel.tabs.count() == len(panel.names())


def test_twenty_switches_leave_the_same_widgets_as_four(window, qtbot):
    events = window.document.events
    _cycle(qtbot, window)  # warm-up: every kind of page, menu and canvas has been built once
    warm = _widget_counts()
    warm_subscribers = {n: len(getattr(events, n)) for n in events.NAMES}
    for _ in range(2):
        _cycle(qtbot, window)
    grown = {k: (warm.get(k, 0), n) for k, n in _widget_counts().items() if n > warm.get(k, 0)}
    assert not grown, f"widgets that grew over {2 * len(CYCLE)} more switches (before, after): {grown}"
    # Editors subscribe to the document; a deleted one must take its callbacks with it.
    assert {n: len(getattr(events, n)) for n in events.NAMES} == warm_subscribers
    # Heatmap views inside this window: the canvas's and the mistake's, no others (views of windows
    # other tests left for deleteLater are not this window's); parked spares stay within the pool's target.
    views = [v for v in QApplication.allWidgets() if isinstance(v, HeatmapView) and v.window() is window]
    shown = len(window.canvas.views) + sum(len(v) for v in window.mistake_view.side_views.values())
    assert len(views) == shown
    assert shared_pool().spares <= TARGET_SPARES
