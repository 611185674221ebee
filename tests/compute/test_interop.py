"""compute.interop.as_numpy: the user's tensors (numpy, torch, CuPy, lists, scalars) as host arrays."""

import numpy as np
import pytest
from opscope.compute.errors import InputError
from opscope.compute.interop import as_numpy


class FakeCupyArray:
    """Quacks like a CuPy array: device memory (``__cuda_array_interface__``) and ``.get()``."""

    def __init__(self, host):
        self._host = np.asarray(host)
        self.gets = 0

    @property
    def __cuda_array_interface__(self):
        return {"shape": self._host.shape, "typestr": self._host.dtype.str, "version": 3}

    def get(self):
        self.gets += 1
        return self._host.copy()


FakeCupyArray.__module__ = "cupy"


class FakeTorchTensor:
    """Quacks like a torch tensor, so the torch path is tested where torch is not installed."""

    def __init__(self, host, dtype="torch.float32", calls=None):
        self._host = np.asarray(host)
        self.dtype = dtype
        self.calls = [] if calls is None else calls

    def _same(self, name, dtype=None, host=None):
        self.calls.append(name)
        return type(self)(self._host if host is None else host, dtype or self.dtype, self.calls)

    def detach(self):
        return self._same("detach")

    def float(self):
        return self._same("float", "torch.float32", self._host.astype(np.float32))

    def cpu(self):
        return self._same("cpu")

    def numpy(self):
        if self.dtype == "torch.bfloat16":
            raise TypeError("Got unsupported ScalarType BFloat16")
        self.calls.append("numpy")
        return self._host


FakeTorchTensor.__module__ = "torch"


def test_a_numpy_array_is_returned_as_it_is_unless_a_copy_is_asked_for():
    a = np.arange(6.0).reshape(2, 3)
    assert as_numpy(a, "A") is a
    b = as_numpy(a, "A", copy=True)
    assert b is not a and np.array_equal(a, b) and not np.shares_memory(a, b)


@pytest.mark.parametrize("value, shape, kind", [
    ([[1, 2], [3, 4]], (2, 2), "i"),
    (((1.5, 2.0), (3.0, 4.0)), (2, 2), "f"),
    (3, (), "i"),
    (2.5, (), "f"),
    ([True, False], (2,), "b"),
    ([1 + 2j], (1,), "c"),  # passed through: the operations explain why they refuse complex
])
def test_lists_tuples_and_scalars(value, shape, kind):
    a = as_numpy(value, "X")
    assert isinstance(a, np.ndarray) and a.shape == shape and a.dtype.kind == kind


@pytest.mark.parametrize("value", ["abc", [[1, 2], [3]], {"a": 1}, None, object(), [[1, "x"]]])
def test_values_that_are_not_numbers_raise_an_input_error_naming_the_input(value):
    with pytest.raises(InputError, match=r"input W\b"):
        as_numpy(value, "W")


def test_a_cupy_array_is_copied_to_the_host():
    dev = FakeCupyArray([[1.0, 2.0], [3.0, 4.0]])
    a = as_numpy(dev, "A")
    assert isinstance(a, np.ndarray) and dev.gets == 1
    assert np.array_equal(a, [[1.0, 2.0], [3.0, 4.0]])


def test_the_torch_path_detaches_and_moves_to_the_cpu_without_importing_torch():
    t = FakeTorchTensor([[1.0, 2.0]])
    a = as_numpy(t, "X")
    assert np.array_equal(a, [[1.0, 2.0]])
    assert t.calls == ["detach", "cpu", "numpy"]


def test_a_bfloat16_torch_tensor_becomes_float32():
    t = FakeTorchTensor([1.0, 2.0], dtype="torch.bfloat16")
    a = as_numpy(t, "X")
    assert a.dtype == np.float32 and "float" in t.calls


def test_a_failing_torch_conversion_is_an_input_error():
    class Stubborn(FakeTorchTensor):
        def float(self):  # still a dtype numpy cannot read after widening (a sparse layout, say)
            return self._same("float")

    Stubborn.__module__ = "torch.sparse"
    t = Stubborn([1.0], dtype="torch.bfloat16")
    with pytest.raises(InputError, match=r"input X: cannot read a Stubborn .*BFloat16"):
        as_numpy(t, "X")


def test_real_torch_tensors():
    torch = pytest.importorskip("torch")
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    a = as_numpy(x * 2, "X")  # a tensor with a grad_fn
    assert a.dtype == np.float32 and np.array_equal(a, [[2.0, 4.0], [6.0, 8.0]])
    b = as_numpy(torch.tensor([1.5, -2.0], dtype=torch.bfloat16), "X")
    assert b.dtype == np.float32 and np.array_equal(b, [1.5, -2.0])
    c = as_numpy(torch.arange(6).reshape(2, 3), "X")
    assert c.dtype == np.int64 and c.shape == (2, 3)
    d = as_numpy(torch.tensor([1 + 1j]).conj(), "X")  # a lazily conjugated view
    assert d[0] == 1 - 1j
    if torch.cuda.is_available():
        e = as_numpy(torch.ones(2, 2, device="cuda"), "X")
        assert isinstance(e, np.ndarray) and e.sum() == 4
