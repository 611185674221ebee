"""Progressive runs (issue 10): how soon the first tile exists, the whole run's cost, cancel latency.

    python bench/progressive_bench.py [--size 8192] [--seq 4096] [--heads 16]

Prints, for an N² float32 matmul ``tile`` stream and attention heads × seq × 64 float32 ``tile``
stream, each ÷ the direct computation (``A @ B``; the engine's eager attention): time to the
first step, time to all steps, cancel latency (cancel() asked mid-run until the worker has ended)
and peak memory (tracemalloc sees numpy's allocations). Goals: first ≤ 0.05×, all ≤ 1.15×, cancel
≤ 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import main  # noqa: E402  (this checkout, run as the `opscope` package it installs as)

main.use_source_tree()

import numpy as np  # noqa: E402
from opscope import compute  # noqa: E402


def _progressive(op, inputs, **kw):
    """(first step s, all steps s, peak MiB) of one progressive run."""
    tracemalloc.start()
    t0 = time.perf_counter()
    tl = compute.stream_op(op, inputs, granularity="tile", progressive=True, **kw)
    tl.wait(0)
    first = time.perf_counter() - t0
    tl.result()
    total = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return tl, first, total, peak


def _cancel_latency(op, inputs, frac=0.3, **kw):
    tl = compute.stream_op(op, inputs, granularity="tile", progressive=True, **kw)
    tl.wait(int(len(tl) * frac))
    t0 = time.perf_counter()
    tl.cancel()
    return time.perf_counter() - t0, tl.available(), len(tl)


def main_() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--tile", type=int, default=None, help="matmul tile (default: the engine's, ~256 tiles)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)

    n = args.size
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm BLAS
    tracemalloc.start()
    t0 = time.perf_counter()
    a @ b
    direct = time.perf_counter() - t0
    dpeak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    kw = {"tile": args.tile} if args.tile else {}
    tl, first, total, peak = _progressive("matmul", {"A": a, "B": b}, **kw)
    lat, got, steps = _cancel_latency("matmul", {"A": a, "B": b}, **kw)
    print(f"matmul {n}² float32, tile {tl.options['tile']} ({len(tl)} steps); direct {direct:.3f} s, "
          f"peak {dpeak:.0f} MiB")
    print(f"  first tile {first:.3f} s = {first / direct:.3f}×   all tiles {total:.3f} s = {total / direct:.3f}×   "
          f"peak {peak:.0f} MiB")
    print(f"  cancel latency {lat * 1000:.0f} ms (cancelled at {got}/{steps} steps)")
    del tl, a, b

    h, s, d = args.heads, args.seq, 64
    q, k, v = (rng.standard_normal((h, s, d), dtype=np.float32) for _ in range(3))
    compute.run_op("attention", {"Q": q, "K": k, "V": v})  # warm: the pool then holds buffers, as on an edit
    t0 = time.perf_counter()
    compute.run_op("attention", {"Q": q, "K": k, "V": v})
    direct = time.perf_counter() - t0
    tl, first, total, peak = _progressive("attention", {"Q": q, "K": k, "V": v})
    del tl
    lat, got, steps = _cancel_latency("attention", {"Q": q, "K": k, "V": v})
    print(f"attention {h}×{s}×{d} float32, tile steps; direct (engine, eager) {direct:.3f} s")
    print(f"  first chunk {first:.3f} s = {first / direct:.3f}×   all {total:.3f} s = {total / direct:.3f}×   "
          f"peak {peak:.0f} MiB (scores, scaled, weights: 3 × {h * s * s * 4 / 2**20:.0f} MiB)")
    print(f"  cancel latency {lat * 1000:.0f} ms (cancelled at {got}/{steps} steps)")


if __name__ == "__main__":
    main_()
