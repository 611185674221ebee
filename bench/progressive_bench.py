"""Progressive runs (issue 10): how soon the first tile exists, the whole run's cost, cancel latency.

    python bench/progressive_bench.py [--size 8192] [--seq 4096] [--heads 16] [--repeat 3] [--skip-attention]
                                      [--skip-matmul] [--program [--d-model 1024]] [--softmax]
                                      [--attention-program]

Prints, for an N² float32 matmul ``tile`` stream and attention heads × seq × 64 float32 ``tile``
stream, each ÷ the direct computation (``A @ B``; the engine's eager attention), measured in
turns (direct, then progressive) ``--repeat`` times so a shared machine's load hits both alike:
time to the first step, time to all steps (wall, and CPU seconds of the process, which a busy
machine disturbs less), cancel latency (cancel() asked mid-run until the workers have ended), the
first display frame of the result (``tensor_at(max_shape=(512, 512))``) at the last step and
mid-run, and peak memory (tracemalloc sees numpy's allocations, in a separate run). Goals: first
≤ 0.05×, all ≤ 1.15×, cancel ≤ 0.3 s, a display frame ≤ 50 ms.

``--program`` adds the transformer block lesson's program (post-LN: mha, residual, LayerNorm,
feed-forward of 4·d_model, residual, LayerNorm) at seq × d_model × heads float32, streamed with
``stream_program(..., progressive=True)``, ÷ ``run_program`` (the same lines computed directly):
time to return, to the first step and to all steps, and the cancel latency mid-run.

``--softmax`` adds softmax over heads × seq × seq float32 (the attention program's weights line),
its four stage steps computed in chunks of rows, ÷ the engine's eager run.

``--attention-program`` adds the attention lesson's program (scores = Q @ K.T, scaled, masked by
a causal mask, softmax weights, out) at heads × seq × 64 float32, progressive ÷ ``run_program``:
when each line is done, and the cancel latency with the worker inside each line.
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
from opscope.compute import progressive  # noqa: E402


def _timed(f):
    """(wall s, process CPU s) of ``f()``."""
    t0, c0 = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - t0, time.process_time() - c0


def _progressive(op, inputs, granularity="tile", **kw):
    """(timeline, first step s, all steps s, CPU s, last-step frame s, mid-run frame s)."""
    t0, c0 = time.perf_counter(), time.process_time()
    tl = compute.stream_op(op, inputs, granularity=granularity, progressive=True, **kw)
    tl.wait(0)
    first = time.perf_counter() - t0
    mid = len(tl) // 2
    tl.wait(mid)
    name = tl.output_names[-1]
    mid_frame = _frame_s(tl, name, mid)
    tl.result()
    total = time.perf_counter() - t0
    cpu = time.process_time() - c0
    last_frame = _frame_s(tl, name, len(tl) - 1)
    return tl, first, total, cpu, last_frame, mid_frame


def _frame_s(tl, name, n) -> tuple[float, float]:
    """Seconds of one 512² display frame of ``name`` at step ``n``: (the whole tensor, the slice a
    window's view draws: the first of its leading axes; the same frame for a 2-D tensor)."""
    f0 = time.perf_counter()
    tl.tensor_at(name, n, max_shape=(512, 512))
    whole = time.perf_counter() - f0
    ndim = tl.run.tensor(name).ndim
    if ndim <= 2:
        return whole, whole
    f0 = time.perf_counter()
    tl.tensor_at(name, n, lead=(0,) * (ndim - 2), max_shape=(512, 512))
    return whole, time.perf_counter() - f0


def _peak(f) -> float:
    tracemalloc.start()
    f()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak


def _cancel_latency(op, inputs, frac=0.3, granularity="tile", **kw):
    tl = compute.stream_op(op, inputs, granularity=granularity, progressive=True, **kw)
    tl.wait(int(len(tl) * frac))
    t0 = time.perf_counter()
    tl.cancel()
    return time.perf_counter() - t0, tl.available(), len(tl)


def _report(label, direct, runs, lats):
    """One block of lines: ranges over the repeats."""
    def rng(values, fmt="{:.3f}"):
        lo, hi = min(values), max(values)
        return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}–{fmt.format(hi)}"

    walls = [d[0] for d in direct]
    print(f"{label}; direct {rng(walls)} s (CPU {rng([d[1] for d in direct])} s)")
    print(f"  first step   {rng([r[1] for r in runs])} s = {rng([r[1] / d[0] for r, d in zip(runs, direct)])}× direct")
    print(f"  all steps    {rng([r[2] for r in runs])} s = {rng([r[2] / d[0] for r, d in zip(runs, direct)])}× direct "
          f"(CPU {rng([r[3] / d[1] for r, d in zip(runs, direct)])}× direct's CPU)")
    for i, what in enumerate(("the whole result", "one slice of it (as a view draws it)")):
        if i and all(r[4][0] == r[4][1] for r in runs):
            break  # a 2-D result: the slice is the whole
        print(f"  frame 512² of {what}: last step {rng([r[4][i] * 1000 for r in runs], '{:.1f}')} ms, "
              f"mid-run {rng([r[5][i] * 1000 for r in runs], '{:.1f}')} ms")
    print(f"  cancel latency {rng([x[0] * 1000 for x in lats], '{:.0f}')} ms "
          f"(cancelled at {lats[0][1]}/{lats[0][2]} steps)")


def _bench_matmul(args, rng) -> None:
    """The matmul half: N² float32, tile steps."""
    n = args.size
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm BLAS
    kw = {"tile": args.tile} if args.tile else {}
    direct, runs, lats = [], [], []
    for _ in range(args.repeat):
        direct.append(_timed(lambda: a @ b))
        runs.append(_progressive("matmul", {"A": a, "B": b}, **kw)[1:])
        lats.append(_cancel_latency("matmul", {"A": a, "B": b}, **kw))
    tl = compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile", progressive=True, **kw)
    tl.wait(0)
    label = f"matmul {n}² float32, tile {tl.options['tile']} ({len(tl)} steps)"
    tl.cancel()
    del tl
    _report(label, direct, [(None,) + r for r in runs], lats)
    peak = _peak(lambda: compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile", progressive=True,
                                           **kw).result())
    print(f"  peak: direct {_peak(lambda: a @ b):.0f} MiB, progressive {peak:.0f} MiB")


def _block_inputs(rng, s, d):
    def w(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) / np.float32(np.sqrt(shape[0]))).astype(np.float32)

    ones, zeros = np.ones(d, np.float32), np.zeros(d, np.float32)
    return {"X": w(s, d), "W_q": w(d, d), "W_k": w(d, d), "W_v": w(d, d), "W_o": w(d, d), "W1": w(d, 4 * d),
            "c1": np.zeros(4 * d, np.float32), "W2": w(4 * d, d), "c2": zeros, "g1": ones, "b1": zeros,
            "g2": ones, "b2": zeros}


def _bench_program(args, rng) -> None:
    """The transformer block program, progressive, ÷ run_program."""
    from opscope.compute.program.lessons import get_program_lesson  # noqa: PLC0415

    text = get_program_lesson("transformer_post_ln").text.replace("num_heads=2", f"num_heads={args.heads}")
    inputs = _block_inputs(rng, args.seq, args.d_model)
    compute.run_program(text, inputs)  # warm: BLAS and the buffer pool, as on an edit
    direct, rows = [], []
    for _ in range(args.repeat):
        direct.append(_timed(lambda: compute.run_program(text, inputs)))
        t0, c0 = time.perf_counter(), time.process_time()
        tl = compute.stream_program(text, inputs, progressive=True)
        back = time.perf_counter() - t0
        tl.wait(0)
        first = time.perf_counter() - t0
        tl.result()
        rows.append((back, first, time.perf_counter() - t0, time.process_time() - c0))
        del tl
    cancels = []
    for at in (1, len(compute.stream_program(text, inputs, progressive=True)) // 2):
        # Step 1: inside the mha line (a stage at a time); half-way: inside a tile-stepped line.
        tl = compute.stream_program(text, inputs, progressive=True)
        tl.wait(at)
        t0 = time.perf_counter()
        tl.cancel()
        cancels.append((time.perf_counter() - t0, tl.available(), tl.line_at(max(0, tl.available() - 1))))
        total = len(tl)
        del tl

    def rng_(values, fmt="{:.3f}"):
        lo, hi = min(values), max(values)
        return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}–{fmt.format(hi)}"

    walls = [d[0] for d in direct]
    print(f"transformer block program, seq {args.seq} × d_model {args.d_model} × {args.heads} heads float32 "
          f"({total} steps); run_program {rng_(walls)} s")
    print(f"  returned     {rng_([r[0] for r in rows])} s")
    print(f"  first step   {rng_([r[1] for r in rows])} s = {rng_([r[1] / d for r, d in zip(rows, walls)])}× "
          f"run_program")
    print(f"  all steps    {rng_([r[2] for r in rows])} s = {rng_([r[2] / d for r, d in zip(rows, walls)])}× "
          f"run_program (CPU {rng_([r[3] / d[1] for r, d in zip(rows, direct)])}×)")
    for cancel, got, line in cancels:
        print(f"  cancel latency {cancel * 1000:.0f} ms (cancelled at {got}/{total} steps, in line {line})")


def _bench_softmax(args, rng) -> None:
    """Softmax over the keys of heads × seq × seq float32 scores (an attention program's weights
    line), stage steps computed in chunks of rows, ÷ the engine's eager run."""
    h, s = args.heads, args.seq
    x = rng.standard_normal((h, s, s), dtype=np.float32)
    inputs = {"X": x}
    compute.run_op("softmax", inputs)  # warm
    direct, runs, lats = [], [], []
    for _ in range(args.repeat):
        direct.append(_timed(lambda: compute.run_op("softmax", inputs)))
        runs.append(_progressive("softmax", inputs, granularity="stage")[1:])
        lats.append(_cancel_latency("softmax", inputs, frac=0.5, granularity="stage"))
    _report(f"softmax {h}×{s}×{s} float32, stage steps in chunks of rows (direct: the engine, eager)", direct,
            [(None,) + r for r in runs], lats)
    peak = _peak(lambda: compute.stream_op("softmax", inputs, progressive=True).result())
    eager = _peak(lambda: compute.run_op("softmax", inputs))
    print(f"  peak: eager {eager:.0f} MiB, progressive {peak:.0f} MiB "
          f"(shifted, exp, result: 3 × {h * s * s * 4 / 2**20:.0f} MiB)")


def _bench_attention_program(args, rng) -> None:
    """The attention lesson's program, progressive, ÷ run_program; cancel inside every line."""
    from opscope.compute.program.lessons import ATTENTION  # noqa: PLC0415

    h, s = args.heads, args.seq
    text = ATTENTION.replace("causal_mask(4)", f"causal_mask({s})")
    inputs = {k: rng.standard_normal((h, s, 64), dtype=np.float32) for k in "QKV"}
    inputs["d_k"] = 64
    compute.run_program(text, inputs)  # warm
    for _ in range(args.repeat):
        direct = _timed(lambda: compute.run_program(text, inputs))[0]
        t0 = time.perf_counter()
        tl = compute.stream_program(text, inputs, progressive=True)
        ends = []
        for part in tl.lines:
            tl.wait(part.start + len(part) - 1)
            ends.append(f"{part.name} {time.perf_counter() - t0:.2f}")
        tl.result()
        total = time.perf_counter() - t0
        print(f"attention program {h}×{s}×64 float32 ({len(tl)} steps): run_program {direct:.2f} s, progressive "
              f"{total:.2f} s = {total / direct:.2f}×; lines done at (s) {', '.join(ends)}")
        del tl
    lats = []
    for i in range(len(compute.stream_program(text, inputs, progressive=True).lines)):
        tl = compute.stream_program(text, inputs, progressive=True)
        part = tl.lines[i]
        if part.start:
            tl.wait(part.start - 1)  # the line before is done: the worker is in this one
        time.sleep(0.1)
        t0 = time.perf_counter()
        tl.cancel()
        lats.append(f"{part.name} {(time.perf_counter() - t0) * 1000:.0f}")
        del tl
    print(f"  cancel latency inside each line (ms): {', '.join(lats)}")


def main_() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-attention", action="store_true")
    ap.add_argument("--skip-matmul", action="store_true")
    ap.add_argument("--program", action="store_true", help="also the transformer block program")
    ap.add_argument("--softmax", action="store_true", help="also softmax over heads × seq × seq scores")
    ap.add_argument("--attention-program", action="store_true", help="also the attention lesson's program")
    ap.add_argument("--d-model", type=int, default=1024, help="the program's d_model (--program)")
    ap.add_argument("--tile", type=int, default=None, help="matmul tile (default: the engine's, ~256 tiles)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; panel threads {progressive.PANEL_THREADS}")

    if not args.skip_matmul:
        _bench_matmul(args, rng)
    if args.program:
        _bench_program(args, rng)
    if args.softmax:
        _bench_softmax(args, rng)
    if args.attention_program:
        _bench_attention_program(args, rng)
    if args.skip_attention:
        return

    h, s, d = args.heads, args.seq, 64
    q, k, v = (rng.standard_normal((h, s, d), dtype=np.float32) for _ in range(3))
    inputs = {"Q": q, "K": k, "V": v}
    compute.run_op("attention", inputs)  # warm: the pool then holds buffers, as on an edit
    direct, runs, lats = [], [], []
    for _ in range(args.repeat):
        direct.append(_timed(lambda: compute.run_op("attention", inputs)))
        runs.append(_progressive("attention", inputs)[1:])
        lats.append(_cancel_latency("attention", inputs))
    _report(f"attention {h}×{s}×{d} float32, tile steps (direct: the engine, eager)", direct,
            [(None,) + r for r in runs], lats)
    peak = _peak(lambda: compute.stream_op("attention", inputs, granularity="tile", progressive=True).result())
    print(f"  peak progressive {peak:.0f} MiB "
          f"(scores, scaled, weights: 3 × {h * s * s * 4 / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main_()
