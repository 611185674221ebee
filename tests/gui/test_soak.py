"""Many signals and frames in one process (ARCHITECTURE.md §0).

PySide6 6.12.0 on CPython 3.11 drops a reference to ``True`` on every ``Signal.emit()`` and to
``None`` on every Python ``paint`` override; the interpreter aborts (``Fatal Python error:
bool_dealloc``) after a few hundred emits or about a thousand painted frames. Short pytest-qt tests
never get there, so this one does, in a subprocess: a crash there fails the test instead of taking
the whole test session down. It asserts that the process survives, not on reference counts (which
legitimately change).
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import os
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from opscope import gui
    import numpy as np
    from opscope import compute
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QApplication
    from opscope.gui.canvas import create_canvas

    from opscope.gui.heatmap import CellLayer

    app = QApplication([])
    paints = [0]
    _paint = CellLayer.paint

    def counting_paint(self, painter, option, widget=None):
        paints[0] += 1
        return _paint(self, painter, option, widget)

    CellLayer.paint = counting_paint

    class Emitter(QObject):
        fired = Signal(bool)

    emitter = Emitter()
    got = []
    emitter.fired.connect(got.append)
    for i in range(5000):
        emitter.fired.emit(i % 2 == 0)
    assert len(got) == 5000, len(got)

    a = np.arange(9.0).reshape(3, 3) - 4
    tl = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="kblock", kblock=1)
    canvas = create_canvas("matmul")
    captions = []
    canvas.caption_changed.connect(captions.append)
    canvas.set_timeline(tl)
    canvas.resize(560, 360)
    canvas.show()
    app.processEvents()
    for i in range(1500):  # 1.5× the ~1000 painted frames that aborted 6.12.0
        canvas.show_step(i % len(tl))
        app.processEvents()  # scene updates are queued: this is where the views really paint
        canvas.repaint()
    assert len(captions) >= 1500, len(captions)
    assert canvas.current_index == 1499 % len(tl)
    np.testing.assert_allclose(canvas.displayed("result"), tl.tensor_at("result", canvas.current_index))
    assert paints[0] >= 1500, paints[0]  # the frames were really painted, not just queued
    print("SOAK-OK", len(got), len(captions), paints[0])
""")


def test_thousands_of_signals_and_frames_do_not_crash_the_interpreter():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get(
        "PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=str(ROOT), env=env, capture_output=True, text=True,
                          timeout=240)
    tail = (proc.stdout + proc.stderr)[-3000:]
    assert proc.returncode == 0, f"soak subprocess exited with {proc.returncode}:\n{tail}"
    assert "SOAK-OK 5000" in proc.stdout, tail
