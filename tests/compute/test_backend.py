"""Backend choice: numpy without a GPU, the reason kept; a CuPy that imports but fails its probe."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from opscope import compute
from opscope.compute import backend


@pytest.fixture
def fresh_backend(monkeypatch):
    backend.reset_backend()
    yield monkeypatch
    backend.reset_backend()


def test_env_numpy_forces_numpy(fresh_backend):
    fresh_backend.setenv("OPSCOPE_BACKEND", "numpy")
    info = compute.backend_info()
    assert info.name == "numpy" and "OPSCOPE_BACKEND=numpy" in info.reason


def test_unknown_env_value_falls_back_with_a_reason(fresh_backend):
    fresh_backend.setenv("OPSCOPE_BACKEND", "tpu")
    info = compute.backend_info()
    assert info.name == "numpy" and "'tpu'" in info.reason


def test_cupy_that_imports_but_fails_its_probe_falls_back_to_numpy(fresh_backend):
    fake = types.ModuleType("cupy")

    def broken(*a, **k):
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake.float32 = np.float32
    fake.arange = broken
    fresh_backend.setitem(sys.modules, "cupy", fake)
    fresh_backend.setenv("OPSCOPE_BACKEND", "auto")
    info = compute.backend_info()
    assert info.name == "numpy"
    assert "CuPy probe failed" in info.reason and "no CUDA-capable device" in info.reason
    assert "GPU not used" in str(info)
    out = compute.run_op("dot", {"a": [1, 2, 3], "b": [4, 5, 6]})
    assert float(out["result"]) == 32 and out.backend.name == "numpy"


def test_missing_cupy_is_reported(fresh_backend):
    fresh_backend.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    fresh_backend.setenv("OPSCOPE_BACKEND", "auto")
    assert "not installed" in compute.backend_info().reason


def test_gpu_out_of_memory_falls_back_to_numpy_with_a_notice(fresh_backend):
    class FakeXP:
        """Stands in for CuPy: every computation runs out of memory."""

        __name__ = "cupy"

        @staticmethod
        def asarray(a):
            return a

        def __getattr__(self, name):
            def oom(*a, **k):
                raise MemoryError("Out of memory allocating 4,294,967,296 bytes")

            return oom

    fresh_backend.setattr(backend, "_cached", (FakeXP(), backend.BackendInfo("cupy", "Fake GPU")))
    fresh_backend.setattr(compute.api, "check_budget", lambda *a, **k: None)
    out = compute.run_op("matmul", {"A": np.eye(2), "B": np.eye(2)})
    np.testing.assert_array_equal(out["result"], np.eye(2))
    assert out.backend.name == "numpy"
    assert any("GPU out of memory" in n for n in out.notices)


@pytest.mark.gpu
def test_cupy_backend_matches_numpy(fresh_backend):
    try:
        import cupy  # noqa: F401
    except Exception:  # noqa: BLE001
        pytest.skip("CuPy not installed")
    fresh_backend.setenv("OPSCOPE_BACKEND", "cupy")
    info = compute.backend_info()
    if info.name != "cupy":
        pytest.skip(f"no working GPU: {info.reason}")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((64, 48)), rng.standard_normal((48, 32))
    for op, inputs, params in [
        ("matmul", {"A": a, "B": b}, {}),
        ("softmax", {"X": a}, {"axis": -1}),
        ("attention", {"Q": a[:, :16], "K": a[:, 16:32], "V": a[:, :8]},
         {"mask": "causal"}),
        ("layernorm", {"X": a, "gamma": np.ones(48)}, {}),
        ("sum", {"X": a}, {"axis": 0}),
    ]:
        out = compute.run_op(op, inputs, **params)
        assert out.backend.name == "cupy"
        fresh_backend.setenv("OPSCOPE_BACKEND", "numpy")
        backend.reset_backend()
        ref = compute.run_op(op, inputs, **params)
        fresh_backend.setenv("OPSCOPE_BACKEND", "cupy")
        backend.reset_backend()
        for k in ref:
            np.testing.assert_allclose(out[k], ref[k], rtol=1e-9, atol=1e-9)
        assert isinstance(out["result"], np.ndarray)
    tl = compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile", tile=16)
    for n in (0, len(tl) // 2, len(tl) - 1):
        tl[n]
        assert isinstance(tl.tensor_at("result", n, max_shape=(8, 8)), np.ndarray)
    np.testing.assert_allclose(tl.result()["result"], a @ b, rtol=1e-9)
