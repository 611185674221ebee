"""How long the GUI thread is held when a big program run is first shown (issue 10).

    QT_QPA_PLATFORM=offscreen python bench/program_open_bench.py [--seq 4096] [--d-model 1024]
                                                                 [--heads 16] [--repeat 2]

The transformer block lesson's program at seq × d_model × heads float32, streamed progressively,
shown on a 1600×900 ProgramCanvas as the window shows a run: ``set_timeline(tl, show_first=False)``
(views, labels, the overview band) on the GUI thread, step 0's frame prepared on another thread
(the window's frame worker), then ``apply_frame`` on the GUI thread; the GUI thread's two parts
are timed. "cold": the band cache empty and nothing made ahead (the canvas searches the band
and the frame reduces the inputs itself); "made ahead": the band chosen and the inputs' display
frames reduced on another thread first, as the window's run worker does
(``program_layout.warm_band``, ``frame.warm_input_frames``). Prints both, wall and the GUI
thread's CPU time, the worker's time, and their ratios, in turns.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import main  # noqa: E402  (this checkout, run as the `opscope` package it installs as)

main.use_source_tree()

import numpy as np  # noqa: E402
from opscope import compute, gui  # noqa: E402, F401  (PySide6 before pyqtgraph)
from opscope.compute.program.lessons import get_program_lesson  # noqa: E402
from opscope.gui.canvas import program_layout as pl  # noqa: E402
from opscope.gui.canvas.frame import warm_input_frames  # noqa: E402
from opscope.gui.canvas.program_canvas import ProgramCanvas  # noqa: E402
from progressive_bench import _block_inputs  # noqa: E402  (bench/ is on sys.path)
from PySide6.QtWidgets import QApplication  # noqa: E402


def _spin(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()


def _worker_warm(tl, canvas) -> None:
    """What the window's run worker does before it hands a program run over (workers.py)."""
    pl.warm_band(tl, *canvas.band_hint())
    warm_input_frames(tl, canvas.max_shape)


def main_() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--d-model", type=int, default=1024)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    text = get_program_lesson("transformer_post_ln").text.replace("num_heads=2", f"num_heads={args.heads}")
    inputs = _block_inputs(np.random.default_rng(0), args.seq, args.d_model)
    canvas = ProgramCanvas()
    canvas.resize(1600, 900)
    canvas.show()
    _spin(app, 1.0)
    times: dict[str, list[float]] = {"cold": [], "warmed": [], "worker": [], "cold cpu": [], "warmed cpu": []}
    for _ in range(args.repeat):
        for warm in (False, True):
            pl._BANDS.clear()
            tl = compute.stream_program(text, inputs, progressive=True)
            if warm:
                t0 = time.perf_counter()
                worker = threading.Thread(target=_worker_warm, args=(tl, canvas))
                worker.start()
                worker.join()
                times["worker"].append(time.perf_counter() - t0)
            t0, c0 = time.perf_counter(), time.thread_time()
            canvas.set_timeline(tl, show_first=False)  # the window's frame worker prepares step 0
            wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
            frames = []
            frame_worker = threading.Thread(target=lambda out=frames: out.append(canvas.prepare_frame(0)))
            frame_worker.start()
            frame_worker.join()
            t0, c0 = time.perf_counter(), time.thread_time()
            canvas.apply_frame(frames[0])
            times["warmed" if warm else "cold"].append(wall + time.perf_counter() - t0)
            times["warmed cpu" if warm else "cold cpu"].append(cpu + time.thread_time() - c0)
            _spin(app, 0.5)
            tl.cancel()
            del tl
    canvas.set_timeline(compute.stream_program("y = x + 1", {"x": np.ones(2)}))
    canvas.deleteLater()
    app.processEvents()

    def rng(v):
        return f"{min(v):.3f}–{max(v):.3f}"

    print(f"transformer block seq {args.seq} × d_model {args.d_model} × {args.heads} heads, 1600×900 canvas")
    print(f"  GUI thread (set_timeline + apply_frame of step 0): cold {rng(times['cold'])} s, "
          f"made ahead {rng(times['warmed'])} s "
          f"(= {min(times['warmed']) / min(times['cold']):.2f}× cold, best of each)")
    print(f"  its CPU time (the GUI thread's own, which the progressive run's threads beside it do not "
          f"inflate): cold {rng(times['cold cpu'])} s, made ahead {rng(times['warmed cpu'])} s "
          f"(= {min(times['warmed cpu']) / min(times['cold cpu']):.2f}×)")
    print(f"  the worker's band search and input frames: {rng(times['worker'])} s (off the GUI thread)")


if __name__ == "__main__":
    main_()
