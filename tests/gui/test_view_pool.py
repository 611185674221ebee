"""Spare heatmap views are built one per event-loop turn and handed out configured."""

from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)
from opscope.gui.canvas.pool import ViewPool


def test_prewarm_builds_spares_in_turns_and_take_configures_them(qtbot):
    pool = ViewPool(target=3)
    pool.prewarm()
    assert pool.spares == 0  # nothing is built inside the call: the event loop builds them later
    qtbot.waitUntil(lambda: pool.spares == 3, timeout=5000)
    view = pool.take("scores", colorbar=True, labels=False, transpose=True)
    qtbot.addWidget(view)
    assert view.name == "scores" and view.transpose and not view.show_labels
    assert view._bar is not None  # grown on demand: spares are built without one
    view.set_tensor("scores", (3, 5), (0.0, 1.0))
    assert view.slice_shape() == (5, 3)
    qtbot.waitUntil(lambda: pool.spares == 3, timeout=5000)  # topped up again after a take
    for _ in range(5):  # more than the pool holds: new views are built on the spot
        qtbot.addWidget(pool.take("x", colorbar=False, labels=True, transpose=False))
