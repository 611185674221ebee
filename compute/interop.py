"""Reading the user's own tensors: numpy arrays, torch tensors, CuPy arrays, lists and scalars.

:func:`as_numpy` turns any of them into a host numpy array. It recognizes torch and CuPy by the
module their type comes from (duck typing), so neither library is imported here: importing torch
takes seconds, and a user who passes a torch tensor has imported it already.
"""

from __future__ import annotations

import numpy as np

from .backend import is_device_array, to_host
from .errors import InputError

#: torch dtypes numpy has no equivalent of: widened to float32 (exact for every one of them).
_TORCH_WIDEN = ("torch.bfloat16", "torch.float8")


def _module_of(value) -> str:
    return getattr(type(value), "__module__", "") or ""


def _torch_to_numpy(t) -> np.ndarray:
    """A torch tensor's numbers: detached from autograd, on the CPU, as numpy understands them."""
    t = t.detach()  # requires_grad=True tensors refuse .numpy() otherwise
    if str(t.dtype).startswith(_TORCH_WIDEN):
        t = t.float()
    t = t.cpu()  # a no-op for CPU tensors; copies CUDA (or MPS) tensors to the host
    # Lazily conjugated or negated views (x.conj(), torch.neg views) refuse .numpy() until resolved.
    for resolve in ("resolve_conj", "resolve_neg"):
        if hasattr(t, resolve):
            t = getattr(t, resolve)()
    return t.numpy()


def as_numpy(value, name: str = "input", *, copy: bool = False) -> np.ndarray:
    """The host numpy array of ``value``, for input ``name``.

    Parameters
    ----------
    value : array-like
        A numpy array, a torch tensor (CPU or CUDA, with or without ``requires_grad``; bfloat16 and
        float8 become float32), a CuPy array, anything with ``__array__``, a (nested) list or tuple,
        or a Python scalar.
    name : str
        The input's name, for the error message.
    copy : bool
        Always return a new array. Otherwise the result may share memory with ``value`` (a numpy
        array is returned as it is, a CPU torch tensor's memory is shared).

    Returns
    -------
    numpy.ndarray
        Of a numeric or boolean dtype (complex is passed through: the operations say why they
        refuse it).

    Raises
    ------
    InputError
        ``value`` cannot be read as an array of numbers (strings, ragged lists, objects...).

    Examples
    --------
    >>> as_numpy([[1, 2], [3, 4]], "A").shape
    (2, 2)
    """
    module = _module_of(value)
    try:
        if module.startswith("torch") and hasattr(value, "detach"):
            a = _torch_to_numpy(value)
        elif module.startswith("cupy") or is_device_array(value):
            a = to_host(value)
        else:
            a = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - whatever cannot be read is the user's input, not a bug
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"input {name}: cannot read a {type(value).__name__} as an array of numbers "
                         f"({type(exc).__name__}: {detail})") from None
    if not isinstance(a, np.ndarray):  # a to_host of an odd device array, say
        a = np.asarray(a)
    if a.dtype.kind not in "biufc":
        raise InputError(f"input {name}: a {type(value).__name__} of dtype {a.dtype} is not numbers; "
                         f"pass a numpy array, a torch tensor or a list of int/float values")
    return np.array(a, copy=True) if copy else a
