"""Compute-engine benchmarks: ratios measured in one run (streamed vs direct), and seek times.

    python bench/compute_bench.py [--size 2048] [--seq 2048] [--repeat 3]

Prints:
- matmul N² float32: a ``tile`` timeline built and consumed end to end (every step materialized,
  as a view receives it: caption, regions and the written tile on the host) ÷ a direct ``A @ B``;
- attention 8 heads × seq × 64 float32: the ``stage`` timeline consumed end to end ÷ a plain numpy
  softmax(Q Kᵀ/√d) V, with the peak memory of each (tracemalloc sees numpy's allocations); warm
  (re-running, as on every edit: the last run's buffers are reused) and cold (fresh buffers);
- seek times to the first, middle and last step of the tile timeline: building the step, and
  building the frame a view shows (the result as it stands, reduced to 512×512 for display).
Goals (issue #2): matmul ≤ 1.10, attention ≤ 1.15, seek ≤ 16 ms.
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
from opscope.compute.buffers import POOL  # noqa: E402


def best(fn, repeat):
    """Best wall time of ``repeat`` calls (the least disturbed by the machine)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def paired(fn_a, fn_b, repeat):
    """Best times of two functions measured in alternation, so both see the same machine load."""
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(best(fn_a, 1))
        tb.append(best(fn_b, 1))
    return min(ta), min(tb)


def consume(tl):
    """What a view does with each step: read its caption, regions and small tensors."""
    n = 0
    for i in range(len(tl)):
        step = tl[i]
        n += len(step.caption) + len(step.regions) + sum(a.size for a in step.tensors.values())
    return n


def bench_matmul(size, repeat):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    direct, stream = paired(lambda: a @ b,
                            lambda: consume(compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile")), repeat)
    tl = compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile")
    print(f"matmul {size}² float32, tile {tl.options['tile']} ({len(tl)} steps): direct {direct * 1e3:.0f} ms, "
          f"streamed {stream * 1e3:.0f} ms, ratio {stream / direct:.3f} (goal ≤ 1.10)")
    return tl


def attention_direct(q, k, v):
    s = q @ np.swapaxes(k, -1, -2) * np.float32(1 / np.sqrt(q.shape[-1]))
    s -= s.max(axis=-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(axis=-1, keepdims=True)
    return s @ v


def peak(fn):
    tracemalloc.start()
    fn()
    _cur, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def bench_attention(seq, repeat, heads=8, d=64):
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((heads, seq, d), dtype=np.float32) for _ in range(3))
    direct, stream = paired(lambda: attention_direct(q, k, v), lambda: consume(
        compute.stream_op("attention", {"Q": q, "K": k, "V": v}, granularity="stage")), repeat)
    def cold():
        POOL.clear()  # the first run of a session: no buffers of an earlier run to reuse
        consume(compute.stream_op("attention", {"Q": q, "K": k, "V": v}, granularity="stage"))

    direct_c, stream_c = paired(lambda: attention_direct(q, k, v), cold, repeat)
    ours = compute.run_op("attention", {"Q": q, "K": k, "V": v})["result"]
    err = float(np.abs(ours - attention_direct(q, k, v)).max())
    m_direct = peak(lambda: attention_direct(q, k, v))
    m_stream = peak(lambda: consume(compute.stream_op("attention", {"Q": q, "K": k, "V": v}, granularity="stage")))
    print(f"attention {heads}×{seq}×{d} float32 (stage stream keeps scores, scaled, weights): direct "
          f"{direct * 1e3:.0f} ms, streamed {stream * 1e3:.0f} ms, ratio {stream / direct:.3f} (goal ≤ 1.15); "
          f"cold (no buffers to reuse) {stream_c * 1e3:.0f} ms vs {direct_c * 1e3:.0f} ms, "
          f"ratio {stream_c / direct_c:.3f}; "
          f"peak memory direct {m_direct / 2**20:.0f} MiB, streamed {m_stream / 2**20:.0f} MiB; max |diff| {err:.2e}")


def bench_seek(tl):
    for label, n in (("first", 0), ("middle", len(tl) // 2), ("last", len(tl) - 1)):
        t_step = best(lambda n=n: tl[n], 5)
        t_frame = best(lambda n=n: tl.tensor_at("result", n, max_shape=(512, 512)), 3)
        print(f"seek to {label} step {n}: step {t_step * 1e3:.2f} ms, display frame (512² of the result) "
              f"{t_frame * 1e3:.1f} ms (goal ≤ 16 ms)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--seq", type=int, default=2048)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    print(f"backend: {compute.backend_info()}")
    tl = bench_matmul(args.size, args.repeat)
    bench_seek(tl)
    bench_attention(args.seq, args.repeat)


if __name__ == "__main__":
    main()
