"""The memory budget: a run's sizes are estimated from shapes and refused *before* allocating.

``numpy.zeros`` of 20 GB does not raise on Linux (pages are lazily committed), so without this
check an over-large run would swap the machine to a halt instead of failing with a message.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .errors import BudgetError, ParamError

_budget_override: int | None = None


def set_memory_budget(nbytes: int | None) -> None:
    """Set the budget in bytes for every later run; ``None`` restores the default
    (half the available memory of the device in use). ``OPSCOPE_MEMORY_BUDGET`` (bytes, or with a
    suffix K/M/G) sets it from the environment."""
    global _budget_override
    if nbytes is not None:
        ok = isinstance(nbytes, (int, float, np.integer, np.floating)) and not isinstance(nbytes, bool)
        if not ok or not math.isfinite(nbytes) or int(nbytes) <= 0:
            raise ParamError(f"the memory budget must be a positive number of bytes or None, not {nbytes!r}")
    _budget_override = None if nbytes is None else int(nbytes)


def _parse_size(text: str) -> int:
    text = text.strip().upper().rstrip("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(text[-1:], 1)
    if text[-1:] in "KMGT":
        text = text[:-1]
    return int(float(text) * mult)


def host_available_bytes() -> int:
    """Memory the host can still give without swapping.

    psutil's ``virtual_memory().available`` is right on Linux, macOS and Windows (it counts
    reclaimable caches, unlike "free"). Without psutil: ``MemAvailable`` on Linux, else the total
    physical memory, else 8 GiB.
    """
    try:
        import psutil  # noqa: PLC0415 - a declared dependency, but the budget must work without it
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            return int(psutil.virtual_memory().available)
        except Exception:  # noqa: BLE001 - an odd platform: fall back to what the OS files say
            pass
    return _fallback_available_bytes()


def _fallback_available_bytes() -> int:
    """Available memory without psutil (MemAvailable on Linux; total physical memory elsewhere)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def device_available_bytes(xp) -> int:
    """Free memory of the device ``xp`` computes on (host memory for numpy)."""
    if getattr(xp, "__name__", "numpy") == "cupy":
        free, _total = xp.cuda.Device().mem_info
        pool = xp.get_default_memory_pool()
        return int(free + pool.free_bytes())
    return host_available_bytes()


def memory_budget(xp=None) -> int:
    """The budget in bytes for a run on ``xp`` (default: numpy)."""
    if _budget_override is not None:
        return _budget_override
    env = os.environ.get("OPSCOPE_MEMORY_BUDGET")
    if env:
        try:
            return _parse_size(env)
        except ValueError:
            pass
    return device_available_bytes(xp if xp is not None else np) // 2


def human_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def check_budget(op: str, sizes: dict[str, int], xp=None) -> None:
    """Raise :class:`BudgetError` when the estimated ``sizes`` (name -> bytes) exceed the budget.

    The message gives the total, the three largest items and the budget, so a user knows what
    to shrink.
    """
    total = sum(int(v) for v in sizes.values())
    budget = memory_budget(xp)
    if total <= budget:
        return
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    items = ", ".join(f"{k} {human_bytes(v)}" for k, v in largest)
    raise BudgetError(
        f"{op}: this run needs about {human_bytes(total)} ({items}), over the memory budget of "
        f"{human_bytes(budget)}. Use smaller inputs or raise the budget (OPSCOPE_MEMORY_BUDGET)."
    )


def stream_sizes(op_sizes: dict[str, int], granularity: str | None, granularities) -> dict[str, int]:
    """What streaming a run adds to the operation's own sizes (``op_sizes``, from its ``estimate``).

    A step finer than a whole stage may show a tensor as it stands mid-run: k-block partial sums,
    running sums and prefix sums are arrays of the output's size built for that step (measured
    with bench/budget_bench.py: matmul kblock peaked at 1.62× the run's own sizes, cumsum by
    element 1.56×). Tensors revealed tile by tile cost their display pixels only (the reveal
    order is read on the frame's grid), so one state of the largest tensor covers every
    granularity. ``granularity`` None is the default, chosen later: counted as a fine one when
    the operation has one.
    """
    fine = [g for g in granularities if g != "stage"]
    if not op_sizes or (granularity == "stage" or (granularity is None and not fine)):
        return {}
    return {"a step's partial values": max(int(v) for v in op_sizes.values())}
