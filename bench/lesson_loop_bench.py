"""Memory over a long session that switches lessons: does the window's footprint stay flat?

Opens the main window offscreen and cycles through every lesson (operation lessons, program
lessons and the common mistakes), switching every ``--interval`` seconds for ``--minutes``, each
one playing while it is shown. The process's resident memory (RSS, psutil) is sampled after every
switch; the report is the RSS slope after warm-up (least squares, MiB per minute, over the samples
after the first ``--warmup-loops`` passes over all items), plus, on request, what grew between the
end of warm-up and the end of the run:

- ``--objects``: live QWidget / QObject counts by class (``QApplication.allWidgets()`` and the
  window's children) and Python objects tracked by the garbage collector, by type;
- ``--tracemalloc``: the allocation sites (file:line) whose live size grew the most. Its own
  trace storage and snapshots are resident memory too (measured: +6.8 MiB/min with it, +0.9
  without), so take the slope from a run without it.

Both tables compare the starts of two passes (the same item last on screen), the first after
warm-up and the last one begun.

Run it as a script (it is not a test; it takes minutes)::

    QT_QPA_PLATFORM=offscreen python bench/lesson_loop_bench.py --minutes 3 --interval 1 --objects

``--interval`` is wall-clock time per item, during which the event loop runs (runs are computed,
frames are played); on a loaded machine fewer frames fit in it, which changes how much is
allocated per item but not whether memory comes back.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import main  # noqa: E402  (this checkout, run as the `opscope` package it installs as)

main.use_source_tree()

MIB = 1024 * 1024


def _items() -> list[tuple[str, str]]:
    """Every item the loop visits: ("lesson", slug) for operation and program lessons, then
    ("mistake", slug) for each common mistake, in menu order."""
    from opscope.compute.program.lessons import program_lesson_names
    from opscope.compute.program.mistakes import mistake_names
    from opscope.gui.lessons import lesson_names

    return ([("lesson", s) for s in lesson_names() + program_lesson_names()]
            + [("mistake", s) for s in mistake_names()])


def slope_mib_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) samples, in MiB per minute (nan for fewer than 2)."""
    if len(samples) < 2:
        return float("nan")
    import numpy as np

    t = np.array([s[0] for s in samples]) / 60.0
    m = np.array([s[1] for s in samples])
    t -= t.mean()
    denom = float((t * t).sum())
    return float((t * (m - m.mean())).sum() / denom) if denom > 0 else float("nan")


def qt_counts(window) -> Counter:
    """Live Qt objects by class: every QWidget of the application, and the window's QObject children."""
    from PySide6.QtCore import QObject
    from PySide6.QtWidgets import QApplication

    c = Counter()
    for w in QApplication.allWidgets():
        c["QWidget:" + type(w).__name__] += 1
    c["QWidget (all)"] = len(QApplication.allWidgets())
    for o in window.findChildren(QObject):
        c["child:" + type(o).__name__] += 1
    return c


def py_counts() -> Counter:
    """Objects the garbage collector tracks, by type name (after a full collection)."""
    gc.collect()
    return Counter(type(o).__name__ for o in gc.get_objects())


def growth(before: Counter, after: Counter, top: int) -> list[tuple[str, int, int]]:
    """The ``top`` keys that grew most: (key, before, after)."""
    keys = set(before) | set(after)
    rows = [(k, before.get(k, 0), after.get(k, 0)) for k in keys if after.get(k, 0) > before.get(k, 0)]
    rows.sort(key=lambda r: r[2] - r[1], reverse=True)
    return rows[:top]


def _pump(app, seconds: float) -> None:
    """Run the event loop for ``seconds`` (timers, workers' signals, deferred deletes)."""
    from PySide6.QtCore import QCoreApplication, QEvent

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        # deleteLater() is honoured only by an event loop that is (re)entered; processEvents()
        # alone leaves DeferredDelete events pending, which would look like a leak here.
        QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
        time.sleep(0.005)


def run(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="how long to loop (default 10)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds each lesson is shown (default 2)")
    p.add_argument("--warmup-loops", type=int, default=2,
                   help="passes over all items before the slope is measured (default 2)")
    p.add_argument("--objects", action="store_true", help="report growing Qt and Python object counts")
    p.add_argument("--tracemalloc", action="store_true", help="report the allocation sites that grew most")
    p.add_argument("--top", type=int, default=15, help="rows in each growth table (default 15)")
    p.add_argument("--no-mistakes", action="store_true", help="visit the lessons only")
    args = p.parse_args(argv)

    import psutil
    from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)
    from opscope.gui.app import create_application
    from opscope.gui.window import MainWindow

    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(1)

    proc = psutil.Process()
    app = create_application()
    window = MainWindow(lesson=None, autoplay=False)
    window.resize(MainWindow.DEFAULT_SIZE)
    window.show()
    items = [it for it in _items() if not (args.no_mistakes and it[0] == "mistake")]
    print(f"{len(items)} items, interval {args.interval} s, {args.minutes} min, pid {os.getpid()}", flush=True)

    samples: list[tuple[float, float, int]] = []  # (seconds since start, RSS MiB, pass number)
    warm_objects = warm_qt = warm_snap = end_objects = end_qt = end_snap = None
    last_pass = 0
    t0 = time.monotonic()
    end = t0 + args.minutes * 60.0
    n = 0
    while time.monotonic() < end:
        loop, i = divmod(n, len(items))
        if i == 0 and loop >= args.warmup_loops and (args.objects or args.tracemalloc):
            # At the start of each pass after warm-up, in the same state every time (the last
            # item of the previous pass on screen): the first is the baseline, the latest the end.
            _pump(app, 0.2)
            if args.objects:
                # Qt first: listing widgets creates their Python wrappers, which py_counts sees.
                end_qt = qt_counts(window)
                end_objects = py_counts()
            if args.tracemalloc:
                gc.collect()
                end_snap = tracemalloc.take_snapshot()
            if loop == args.warmup_loops:
                warm_qt, warm_objects, warm_snap = end_qt, end_objects, end_snap
            last_pass = loop
        kind, slug = items[i]
        if kind == "lesson":
            window.open_lesson(slug, autoplay=True)
        else:
            window.open_mistake(slug)
        _pump(app, args.interval)
        rss = proc.memory_info().rss / MIB
        samples.append((time.monotonic() - t0, rss, loop))
        if i == len(items) - 1:
            print(f"pass {loop + 1} done at {samples[-1][0]:6.1f} s: RSS {rss:7.1f} MiB, "
                  f"widgets {len(app.allWidgets())}", flush=True)
        n += 1

    window.pause()
    _pump(app, 0.5)
    after = [(t, m) for t, m, loop in samples if loop >= args.warmup_loops]
    passes = n / len(items)
    print(f"\n{n} switches ({passes:.1f} passes) in {samples[-1][0] / 60:.1f} min")
    print(f"RSS first {samples[0][1]:.1f} MiB, at end of warm-up "
          f"{after[0][1] if after else float('nan'):.1f} MiB, last {samples[-1][1]:.1f} MiB")
    if len(after) < 2:
        print("not enough samples after warm-up for a slope: loop longer or with a shorter interval")
    else:
        print(f"RSS slope after warm-up: {slope_mib_per_min(after):+.2f} MiB/min over {len(after)} samples "
              f"({(after[-1][0] - after[0][0]) / 60:.1f} min)")
    if (args.objects or args.tracemalloc) and last_pass > args.warmup_loops:
        print(f"\ngrowth from the start of pass {args.warmup_loops + 1} to the start of pass {last_pass + 1}:")
    if args.objects and warm_objects is not None:
        print("\nQt objects that grew after warm-up (name, at warm-up, at end):")
        for k, a, b in growth(warm_qt, end_qt, args.top):
            print(f"  {k:50s} {a:7d} {b:7d}  (+{b - a})")
        print("\nPython objects (gc-tracked) that grew after warm-up:")
        for k, a, b in growth(warm_objects, end_objects, args.top):
            print(f"  {k:50s} {a:7d} {b:7d}  (+{b - a})")
    if args.tracemalloc and warm_snap is not None:
        stats = end_snap.compare_to(warm_snap, "lineno")
        print("\nAllocation sites that grew most after warm-up (tracemalloc):")
        for s in stats[: args.top]:
            print(f"  {s.size_diff / 1024:+9.1f} KiB {s.count_diff:+7d} blocks  {s.traceback}")
    window.shutdown()
    window.close()
    window.deleteLater()
    _pump(app, 0.2)
    return 0


if __name__ == "__main__":
    sys.exit(run())
