"""File-loading benchmark: peak memory and time of loading a CSV, today's code against a git revision's.

    python bench/io_bench.py [--mb 20] [--baseline HEAD] [--cols 8]

Writes a CSV of about ``--mb`` MB (random float64, ``repr`` text as OpScope writes it, plus one
table of short integers, the worst case for text-per-value), loads it with
:func:`compute.io.load_tensor` and prints, for each, the tracemalloc peak ÷ the file's size and
÷ the result's size, and the time. ``--baseline REV`` also loads it with ``compute/io/tables.py``
as it was at ``REV`` (read with ``git show``, nothing checked out), for a before/after figure.
Goal (issue #7): peak ≤ 3 × the result's size (it was 19-84 × the file's size).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import main  # noqa: E402  (this checkout, run as the `opscope` package it installs as)

main.use_source_tree()

import numpy as np  # noqa: E402
from opscope.compute.io import load_tensor  # noqa: E402
from opscope.compute.io.file_checks import _open_checked  # noqa: E402


def write_csv(path: str, mb: float, cols: int, short: bool) -> None:
    rng = np.random.default_rng(0)
    target = int(mb * 1e6)
    with open(path, "w") as f:
        while f.tell() < target:
            block = rng.integers(0, 10, (4096, cols)) if short else rng.standard_normal((4096, cols))
            f.write("".join(",".join(map(repr, row.tolist())) + "\n" for row in block))


def baseline_loader(rev: str):
    """``_load_table`` of ``compute/io/tables.py`` at ``rev``, imported as a sibling module."""
    text = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:compute/io/tables.py"], check=True,
                          capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("opscope.compute.io._baseline_tables", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "opscope.compute.io"
    exec(compile(text, f"{rev}:compute/io/tables.py", "exec"), module.__dict__)
    return lambda path: module._load_table(path, *_open_checked(path), None, None)["table"]


def measure(load, path: str) -> tuple[int, float, np.ndarray]:
    tracemalloc.start()
    t0 = time.perf_counter()
    out = load(path)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, seconds, out


def main_() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=20.0)
    ap.add_argument("--cols", type=int, default=8)
    ap.add_argument("--baseline", default=None, help="a git revision to compare with (e.g. HEAD)")
    args = ap.parse_args()
    loaders = [("now", load_tensor)]
    if args.baseline:
        loaders.insert(0, (f"at {args.baseline}", baseline_loader(args.baseline)))
    with tempfile.TemporaryDirectory() as tmp:
        for short in (False, True):
            path = os.path.join(tmp, "ints.csv" if short else "floats.csv")
            write_csv(path, args.mb, args.cols, short)
            size = os.path.getsize(path)
            kind = "one-digit ints" if short else "float64 repr"
            print(f"{kind}: {size / 1e6:.1f} MB file")
            results = []
            for name, load in loaders:
                peak, seconds, out = measure(load, path)
                results.append(out)
                print(f"  {name:>10}: peak {peak / 1e6:8.1f} MB = {peak / size:5.2f} × file = "
                      f"{peak / out.nbytes:5.2f} × result ({out.shape[0]}×{out.shape[1]}), {seconds:.2f} s")
            if len(results) == 2:
                assert np.array_equal(results[0], results[1], equal_nan=True), "the two loaders disagree"


if __name__ == "__main__":
    main_()
