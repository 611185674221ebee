"""Does the memory budget account for everything a streamed run allocates? (issue 10)

    python bench/budget_bench.py [--only matmul] [--scale 1.0]

For every operation × granularity (and the progressive matmul / attention / mha / softmax /
layernorm / rmsnorm / add / hadamard streams), in a fresh subprocess each: float32 inputs of about 100–300 MB in
all, the run's estimate as the budget computes it (``compute.api.stream_budget_sizes``: the
operation's outputs and intermediates, the inputs, and what streaming the run adds), then
``stream_op`` and what a window does with it: a few steps read whole (``tl[n]``) and every
tensor's display frame at 512² (``tensor_at(..., max_shape=(512, 512))``) plus a 64² zoom at four
steps. Peak RSS over that (the kernel's high-water mark, less the process's RSS before the inputs
existed) ÷ the estimate must stay ≤ 1.5. Prints one line per case and the worst ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: op -> (inputs as name: shape, params); float32, sized for ~100–300 MB at scale 1.
CASES = {
    "dot": ({"a": (64, 262144), "b": (64, 262144)}, {}),
    "cosine": ({"a": (2048, 8192), "b": (2048, 8192)}, {}),
    "matvec": ({"A": (8192, 4096), "x": (4096,)}, {}),
    "outer": ({"a": (8192,), "b": (4096,)}, {}),
    "matmul": ({"A": (4096, 2048), "B": (2048, 4096)}, {}),
    "linear": ({"X": (4096, 2048), "W": (4096, 2048), "b": (4096,)}, {}),
    "hadamard": ({"A": (4096, 4096), "B": (4096, 4096)}, {}),
    "add": ({"A": (4096, 4096), "B": (4096,)}, {}),
    "sum": ({"X": (4096, 8192)}, {"axis": -1}),
    "mean": ({"X": (4096, 8192)}, {"axis": -1}),
    "max": ({"X": (4096, 8192)}, {"axis": 0}),
    "cumsum": ({"X": (4096, 4096)}, {"axis": -1}),
    "norm": ({"X": (4096, 8192)}, {"axis": -1}),
    "softmax": ({"X": (4096, 8192)}, {}),
    "layernorm": ({"X": (4096, 8192), "gamma": (8192,), "beta": (8192,)}, {}),
    "batchnorm": ({"X": (8192, 4096)}, {}),
    "rmsnorm": ({"X": (4096, 8192), "gamma": (8192,)}, {}),
    "attention": ({"Q": (4, 2048, 64), "K": (4, 2048, 64), "V": (4, 2048, 64)}, {}),
    "mha": ({"X": (2, 1024, 512), "W_q": (512, 512), "W_k": (512, 512), "W_v": (512, 512), "W_o": (512, 512)},
            {"num_heads": 8}),
}

#: Extra progressive cases: (op, granularity).
PROGRESSIVE = (("matmul", "tile"), ("matmul", "element"), ("matmul", "kblock"), ("attention", "tile"),
               ("mha", "stage"), ("softmax", "stage"), ("layernorm", "stage"), ("rmsnorm", "stage"),
               ("add", "stage"), ("add", "tile"), ("hadamard", "stage"), ("hadamard", "tile"))

LIMIT = 1.5


def _rss() -> int:
    import psutil  # noqa: PLC0415 - a declared dependency

    return psutil.Process().memory_info().rss


def child(op: str, granularity: str, progressive: bool, scale: float) -> dict:
    """One case, in this (fresh) process: estimate, peak and ratio."""
    sys.path.insert(0, ROOT)
    import main  # noqa: PLC0415

    main.use_source_tree()
    import numpy as np  # noqa: PLC0415
    from opscope import compute  # noqa: PLC0415
    from opscope.compute import api  # noqa: PLC0415

    shapes, params = CASES[op]
    spec = compute.registry.get_spec(op)
    small = spec.example()
    compute.stream_op(op, small, granularity if granularity in spec.granularities else None)  # warm imports, BLAS
    base = _rss()
    rng = np.random.default_rng(0)
    shapes = {k: tuple(max(1, int(round(s * scale))) if i == 0 else s for i, s in enumerate(shp))
              for k, shp in shapes.items()}
    inputs = {k: rng.standard_normal(shp, dtype=np.float32) for k, shp in shapes.items()}
    sizes = api.stream_budget_sizes(op, inputs, params, granularity, progressive)
    estimate = sum(sizes.values())
    tl = compute.stream_op(op, inputs, granularity, progressive=progressive, **params)
    steps = len(tl)
    for n in sorted({0, steps // 3, steps // 2, steps - 1}):
        tl.wait(n)
        tl[n]
        for name in tl.tensor_names:
            shp = tl.shape(name)
            if len(shp) >= 2:
                lead = (0,) * (len(shp) - 2)
                tl.tensor_at(name, n, lead=lead, max_shape=(512, 512))
                tl.tensor_at(name, n, lead=lead, box=((0, min(64, shp[-2])), (0, min(64, shp[-1]))))
            else:
                tl.tensor_at(name, n)
    tl.result() if progressive else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    return {"op": op, "granularity": tl.granularity, "progressive": progressive, "steps": steps,
            "estimate": estimate, "peak": peak, "ratio": peak / max(1, estimate),
            "largest": sorted(sizes.items(), key=lambda kv: -kv[1])[:3]}


def main_() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=None, help="one operation")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the leading axis of every input")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        op, gran, prog = args.child.split(":")
        print(json.dumps(child(op, gran, prog == "1", args.scale)))
        return
    sys.path.insert(0, ROOT)
    import main  # noqa: PLC0415

    main.use_source_tree()
    from opscope import compute  # noqa: PLC0415

    cases = [(s.name, g, False) for s in compute.operations() for g in s.granularities]
    cases += [(op, g, True) for op, g in PROGRESSIVE]
    if args.only:
        cases = [c for c in cases if c[0] == args.only]
    worst = 0.0
    print(f"{'operation':<10} {'granularity':<12} {'prog':<5} {'steps':>7} {'estimate MiB':>13} {'peak MiB':>9} "
          f"{'peak/est':>8}")
    for op, gran, prog in cases:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", f"{op}:{gran}:{int(prog)}",
               "--scale", str(args.scale)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if out.returncode:
            why = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode
            print(f"{op:<10} {gran:<12} failed: {why}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        worst = max(worst, r["ratio"])
        flag = "" if r["ratio"] <= LIMIT else "  OVER"
        print(f"{op:<10} {gran:<12} {'yes' if prog else 'no':<5} {r['steps']:>7} {r['estimate'] / 2**20:>13.1f} "
              f"{r['peak'] / 2**20:>9.1f} {r['ratio']:>8.2f}{flag}", flush=True)
    print(f"worst peak ÷ estimate: {worst:.2f} (goal ≤ {LIMIT})")


if __name__ == "__main__":
    main_()
