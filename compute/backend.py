"""Which array library computes: CuPy on a working GPU, numpy otherwise, and why.

``import cupy`` succeeds on machines without a GPU; the first allocation then fails. So the probe
allocates, runs a kernel and copies back, and any exception means numpy, with the reason kept for
the status bar. ``OPSCOPE_BACKEND=auto|numpy|cupy`` overrides the choice.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BackendInfo:
    """The backend in use: ``name`` is ``"numpy"`` or ``"cupy"``; ``device`` a readable name
    (``"numpy (CPU)"`` or the GPU's name); ``reason`` why a GPU is not used (empty when it is)."""

    name: str
    device: str
    reason: str = ""

    def __str__(self) -> str:
        if self.name == "cupy":
            return f"CuPy on {self.device}"
        return "numpy (CPU)" + (f" — GPU not used: {self.reason}" if self.reason else "")


_lock = threading.Lock()
_cached: tuple[object, BackendInfo] | None = None


def _probe_cupy():
    """Return (cupy module, device name) if CuPy can really compute here; raise otherwise."""
    import cupy  # noqa: PLC0415 - optional dependency

    a = cupy.arange(16, dtype=cupy.float32).reshape(4, 4)
    b = (a @ a).sum()
    value = float(cupy.asnumpy(b))
    h = np.arange(16, dtype=np.float32).reshape(4, 4)
    if value != float((h @ h).sum()):
        raise RuntimeError("probe kernel returned a wrong value")
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props.get("name", b"GPU")
    name = name.decode() if isinstance(name, bytes) else str(name)
    return cupy, name


def _choose() -> tuple[object, BackendInfo]:
    wanted = os.environ.get("OPSCOPE_BACKEND", "auto").strip().lower() or "auto"
    if wanted not in ("auto", "numpy", "cupy"):
        return np, BackendInfo("numpy", "numpy (CPU)", f"OPSCOPE_BACKEND={wanted!r} is not auto, numpy or cupy")
    if wanted == "numpy":
        return np, BackendInfo("numpy", "numpy (CPU)", "OPSCOPE_BACKEND=numpy")
    try:
        cupy, name = _probe_cupy()
    except ImportError:
        return np, BackendInfo("numpy", "numpy (CPU)", "CuPy is not installed (pip install \".[gpu]\")")
    except Exception as exc:  # noqa: BLE001 - any failure of the probe means: no usable GPU
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return np, BackendInfo("numpy", "numpy (CPU)", f"CuPy probe failed: {type(exc).__name__}: {text}"[:200])
    return cupy, BackendInfo("cupy", name, "")


def get_backend() -> tuple[object, BackendInfo]:
    """The array module to compute with and its :class:`BackendInfo` (probed once, then cached)."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = _choose()
        return _cached


def reset_backend() -> None:
    """Forget the cached choice (tests, or after changing ``OPSCOPE_BACKEND``)."""
    global _cached
    with _lock:
        _cached = None


def backend_info() -> BackendInfo:
    """The backend OpScope computes with: ``"numpy"`` or the GPU's name, and why a GPU is not used."""
    return get_backend()[1]


def is_device_array(a) -> bool:
    """True for arrays that live on a GPU (anything with ``__cuda_array_interface__``)."""
    return hasattr(a, "__cuda_array_interface__") and not isinstance(a, np.ndarray)


def to_host(a) -> np.ndarray:
    """A numpy array for ``a`` (copied from the device only when it lives there)."""
    if is_device_array(a):
        return a.get()
    return np.asarray(a)


def array_module(a):
    """numpy or cupy, whichever owns ``a``."""
    if is_device_array(a):
        import cupy  # noqa: PLC0415

        return cupy
    return np
