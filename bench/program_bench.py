"""Program benchmarks: a post-LN transformer block as a program, run and streamed, ÷ plain numpy.

    python bench/program_bench.py [--seq 2048] [--d-model 1024] [--heads 16] [--d-ff 4096] [--repeat 2]
                                  [--act relu|gelu]

Prints, for the block ``a = mha(X, …); h = layernorm(X + a); f = act(h @ W1 + c1);
y = layernorm(h + f @ W2 + c2)`` in float32:
- ``run_program`` ÷ a plain numpy implementation of the same block (goal ≤ 1.3);
- ``stream_program`` built and consumed end to end (every step materialized: caption, regions,
  small tensors) ÷ the same numpy (goal ≤ 1.5);
- ``run_program`` cold (the buffer pool emptied first: no pages of an earlier run to reuse);
- the peak memory of each (tracemalloc sees numpy's allocations) and the largest difference.
ReLU by default: plain numpy has no erf, so a GELU reference would be this package's own.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import main  # noqa: E402  (this checkout, run as the `opscope` package it installs as)

main.use_source_tree()

import numpy as np  # noqa: E402
from compute_bench import consume, peak  # noqa: E402  (bench/ is on sys.path: one definition of what a view reads)
from opscope import compute  # noqa: E402
from opscope.compute.buffers import POOL  # noqa: E402

BLOCK = """
a = mha(X, W_q, W_k, W_v, W_o, num_heads={heads})
h = layernorm(X + a, g1, b1)
f = {act}(h @ W1 + c1)
y = layernorm(h + f @ W2 + c2, g2, b2)
"""


def layernorm(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(-1, keepdims=True)
    return xc / np.sqrt(var + eps) * g + b


def numpy_block(p, heads):
    """The block as a person would write it in numpy."""
    x = p["X"]
    s, d = x.shape

    def split(t):
        return t.reshape(s, heads, d // heads).transpose(1, 0, 2)

    q, k, v = split(x @ p["W_q"]), split(x @ p["W_k"]), split(x @ p["W_v"])
    scores = q @ k.transpose(0, 2, 1) / np.float32(math.sqrt(d // heads))
    scores -= scores.max(-1, keepdims=True)
    w = np.exp(scores)
    w /= w.sum(-1, keepdims=True)
    a = (w @ v).transpose(1, 0, 2).reshape(s, d) @ p["W_o"]
    h = layernorm(x + a, p["g1"], p["b1"])
    f = np.maximum(h @ p["W1"] + p["c1"], 0)
    return layernorm(h + f @ p["W2"] + p["c2"], p["g2"], p["b2"])




def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def inputs(seq, d, d_ff):
    rng = np.random.default_rng(0)

    def w(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) / np.float32(math.sqrt(shape[0])))

    return {"X": rng.standard_normal((seq, d), dtype=np.float32), "W_q": w(d, d), "W_k": w(d, d), "W_v": w(d, d),
            "W_o": w(d, d), "W1": w(d, d_ff), "c1": w(d_ff), "W2": w(d_ff, d), "c2": w(d),
            "g1": np.ones(d, np.float32), "b1": np.zeros(d, np.float32), "g2": np.ones(d, np.float32),
            "b2": np.zeros(d, np.float32)}


def main_():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--d-model", type=int, default=1024)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--d-ff", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--act", choices=("relu", "gelu"), default="relu")
    args = ap.parse_args()
    p = inputs(args.seq, args.d_model, args.d_ff)
    text = BLOCK.format(heads=args.heads, act=args.act)
    print(f"backend: {compute.backend_info()}; block seq {args.seq}, d_model {args.d_model}, {args.heads} heads, "
          f"d_ff {args.d_ff}, float32, {args.act}")
    def cold():
        POOL.clear()  # the first run of a session: no buffers of an earlier run to reuse
        compute.run_program(text, p)

    t_np, t_run, t_stream, t_cold = [], [], [], []
    for _ in range(args.repeat):  # in alternation, so all of them see the same machine load
        t_np.append(timed(lambda: numpy_block(p, args.heads)))
        t_run.append(timed(lambda: compute.run_program(text, p)))
        t_stream.append(timed(lambda: consume(compute.stream_program(text, p))))
        t_cold.append(timed(cold))
    tn, tr, ts, tc = min(t_np), min(t_run), min(t_stream), min(t_cold)
    tl = compute.stream_program(text, p)
    print(f"stream: {len(tl)} steps, granularities {tl.granularities}")
    if args.act == "relu":
        err = float(np.abs(compute.run_program(text, p)["y"] - numpy_block(p, args.heads)).max())
        print(f"max |run_program − numpy| = {err:.2e}")
    del tl
    m_np = peak(lambda: numpy_block(p, args.heads))
    m_run = peak(lambda: compute.run_program(text, p))
    m_stream = peak(lambda: consume(compute.stream_program(text, p)))
    print(f"numpy {tn * 1e3:.0f} ms; run_program {tr * 1e3:.0f} ms, ratio {tr / tn:.3f} (goal ≤ 1.3); "
          f"stream_program consumed {ts * 1e3:.0f} ms, ratio {ts / tn:.3f} (goal ≤ 1.5); "
          f"run_program cold (no pooled buffers) {tc * 1e3:.0f} ms, ratio {tc / tn:.3f}")
    print(f"peak memory: numpy {m_np / 2**20:.0f} MiB, run_program {m_run / 2**20:.0f} MiB, "
          f"stream_program {m_stream / 2**20:.0f} MiB")


if __name__ == "__main__":
    main_()
