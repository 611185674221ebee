"""Export benchmark: 300 frames at 1280×720 to MP4, split into render and encode time.

    python bench/export_bench.py                 # the goal: ≤ 30 s on a 2-core machine
    python bench/export_bench.py --frames 100 --lesson attention_causal --out /tmp/a.mp4
    python bench/export_bench.py --profile       # where one frame's render time goes

The lesson's steps are looped when it has fewer steps than frames. Three figures:

* **pipeline** — :func:`gui.export.export_animation`, frames rendered on this (GUI) thread and
  encoded in a worker thread at the same time: the wall time a user waits.
* **render** — the GUI thread's share (offscreen canvas, step, paint, caption band, copy to numpy).
* **encode** — the encoder thread's busy time (handing frames to ffmpeg / finishing the file);
  libx264 itself runs in ffmpeg's own process, in parallel with both.

``--profile`` times the pieces of one frame, and compares ``QWidget.grab()`` with
``QWidget.render`` into a preallocated ``QImage`` (the path the exporter takes).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import main  # noqa: E402  (this checkout, run as the `opscope` package it installs as)

main.use_source_tree()
if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPSCOPE_BACKEND", "numpy")

from opscope import compute  # noqa: E402
from opscope.gui.export import FrameRenderer, export_animation  # noqa: E402
from opscope.gui.lessons import get_lesson  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def _timeline(slug: str):
    lesson = get_lesson(slug)
    return compute.stream_op(lesson.op, dict(lesson.inputs), lesson.granularity, **dict(lesson.params))


def _ms(samples: list[float]) -> str:
    samples = sorted(samples)
    return f"median {samples[len(samples) // 2] * 1e3:6.2f} ms  max {samples[-1] * 1e3:6.2f} ms"


def profile(tl, size: tuple[int, int], frames: int = 32) -> None:
    """Per-frame cost of each piece of a render, and grab() against render() into a QImage.

    Each painting method gets its own batch of freshly applied steps (the first paint after a step
    does the layout work), run twice in alternation so that background load evens out.
    """
    from PySide6.QtCore import QCoreApplication

    steps = [i % len(tl) for i in range(frames)]
    times: dict[str, list[float]] = {}
    with FrameRenderer(tl, None, size, True) as r:
        c = r.canvas
        img = QImage(c.width(), c.height(), QImage.Format.Format_RGBX8888)
        for n in steps[:5]:  # warm-up: fonts, caches, first layouts
            r.render(n)
        for _ in range(2):
            for method in ("render", "grab", "all"):
                for n in steps:
                    if method == "all":
                        t0 = time.perf_counter()
                        r.render(n)
                        times.setdefault("all", []).append(time.perf_counter() - t0)
                        continue
                    t0 = time.perf_counter()
                    frame = c.prepare_frame(n)
                    t1 = time.perf_counter()
                    c.apply_frame(frame)
                    QCoreApplication.sendPostedEvents()
                    t2 = time.perf_counter()
                    if method == "render":
                        c.render(img)
                    else:
                        c.grab().toImage().convertToFormat(QImage.Format.Format_RGBX8888)
                    t3 = time.perf_counter()
                    times.setdefault("prepare", []).append(t1 - t0)
                    times.setdefault("apply", []).append(t2 - t1)
                    times.setdefault(method, []).append(t3 - t2)
    print(f"profile at {size[0]}×{size[1]}, {frames} frames × 2 of {tl.op}:")
    print(f"  prepare_frame (any thread)          {_ms(times['prepare'])}")
    print(f"  apply_frame + posted events         {_ms(times['apply'])}")
    print(f"  QWidget.render into a QImage        {_ms(times['render'])}")
    print(f"  QWidget.grab().toImage() (+convert) {_ms(times['grab'])}")
    print(f"  FrameRenderer.render (all of it)    {_ms(times['all'])}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--lesson", default="qk_loop_vs_matmul")
    ap.add_argument("--out", default=None, help="keep the file here; .gif benchmarks a GIF (default: a temporary .mp4)")
    ap.add_argument("--profile", action="store_true", help="also time the pieces of one frame")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    app = QApplication.instance() or QApplication([sys.argv[0]])  # noqa: F841 - kept alive
    tl = _timeline(args.lesson)
    steps = [i % len(tl) for i in range(args.frames)]
    kind = os.path.splitext(args.out)[1][1:].upper() if args.out else "MP4"
    print(f"{args.frames} frames of {args.lesson} ({tl.op}, {len(tl)} steps, looped) at {w}×{h} → {kind}, "
          f"{os.cpu_count()} CPUs")
    if args.profile:
        profile(tl, (w, h))
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or os.path.join(tmp, "bench.mp4")
        stats: dict = {}
        t0 = time.perf_counter()
        export_animation(tl, None, out, fps=args.fps, size=(w, h), steps=steps, stats=stats)
        wall = time.perf_counter() - t0
        size_mb = os.path.getsize(out) / 1e6
    n = stats["frames"]
    print(f"pipeline: {wall:6.2f} s  {n / wall:6.1f} frames/s  ({size_mb:.1f} MB)")
    print(f"  render (GUI thread):     {stats['render_s']:6.2f} s  {stats['render_s'] / n * 1e3:6.1f} ms/frame")
    print(f"  encode (encoder thread): {stats['encode_s']:6.2f} s  {stats['encode_s'] / n * 1e3:6.1f} ms/frame")
    print(f"goal ≤ 30 s: {'met' if wall <= 30 else 'MISSED'}")
    return 0 if wall <= 30 else 1


if __name__ == "__main__":
    sys.exit(main())
