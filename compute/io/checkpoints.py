"""PyTorch checkpoints (``.pt``, ``.pth``, ``.bin``), read only through ``torch.load(weights_only=True)``.

A checkpoint is a pickle. OpScope never runs pickles itself: PyTorch's ``weights_only`` unpickler
admits tensors, containers and plain values only, and refuses any other Python object, which is
then reported, never retried without it. PyTorch is an optional extra (``pip install
"opscope[torch]"``) and is imported only when such a file is opened.

Nested state dicts become dotted keys (``encoder.layer.0.weight``, list items by index); entries
that are not tensors (an epoch number, a learning rate) are skipped. bfloat16 loads as float32
(exact, as for safetensors); complex, float8, quantized and sparse tensors are refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..budget import human_bytes
from ..errors import InputError
from .file_checks import FileFormatError, TensorInfo, _guard_size, _limit, _native, _select

__all__ = ["TORCH_EXTENSIONS", "CheckpointError"]

TORCH_EXTENSIONS = (".pt", ".pth", ".bin")
_MAX_DEPTH = 64  # nesting of dicts and lists in a checkpoint; more is no state dict
_INSTALL = 'pip install "opscope[torch]"'


class CheckpointError(FileFormatError, InputError):
    """A PyTorch checkpoint that OpScope will not read (PyTorch missing, Python objects in it)."""


def _import_torch(where: str):
    try:
        import torch
    except ImportError:
        raise CheckpointError(
            f"{where} is a PyTorch checkpoint; reading it needs PyTorch, which is not installed: {_INSTALL}"
        ) from None
    return torch


def _torch_load(path: str, where: str, size: int, max_bytes: int | None) -> dict:
    """The checkpoint's object, after the size guard; every failure is a FileFormatError."""
    torch = _import_torch(where)
    limit = _limit(max_bytes)
    # torch.load reads every tensor of the file: they take about its size
    if size > limit:
        raise FileFormatError(
            f"{where}: the checkpoint is {human_bytes(size)}, over the limit of {human_bytes(limit)} "
            f"(the memory budget; OPSCOPE_MEMORY_BUDGET raises it)"
        )
    with open(path, "rb") as f:
        head = f.read(4)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds; each is reported below
        text = str(exc)
        if "Weights only load failed" in text or type(exc).__name__ == "UnpicklingError":
            # the unpickler names the class or function it would have had to import ("GLOBAL ...")
            if "global" in text.lower():
                raise CheckpointError(
                    f"{where} holds Python objects beyond tensors (PyTorch's weights_only loader refused "
                    f"them); OpScope never runs pickles. Save the tensors alone, e.g. "
                    f"torch.save(model.state_dict(), ...) or as .safetensors"
                ) from None
            what = "a Python pickle, not a PyTorch checkpoint" if head[:1] == b"\x80" else \
                "not a PyTorch checkpoint (or a corrupt one)"
            raise CheckpointError(f"{where} is {what}; OpScope never runs pickles") from None
        if not head.startswith(b"PK") and head[:1] != b"\x80":
            raise FileFormatError(f"{where} is not a PyTorch checkpoint ({type(exc).__name__})") from None
        raise FileFormatError(f"{where} is a corrupt or truncated PyTorch checkpoint ({text[:200]})") from None


def _flatten(where: str, obj: Any) -> tuple[dict[str, Any], int]:
    """Tensors by dotted key, in file order, and how many other entries were skipped (no recursion)."""
    torch = _import_torch(where)
    out: dict[str, Any] = {}
    skipped = 0
    stack: list[tuple[str, Any, int]] = [("", obj, 0)]
    while stack:
        prefix, item, depth = stack.pop()
        if isinstance(item, torch.Tensor):
            key = prefix or "tensor"
            n = 2
            while key in out:  # {"a.b": t, "a": {"b": u}}: both kept
                key = f"{prefix}#{n}"
                n += 1
            out[key] = item
            continue
        if isinstance(item, Mapping):
            children = [(str(k), v) for k, v in item.items()]
        elif isinstance(item, (list, tuple)):
            children = [(str(i), v) for i, v in enumerate(item)]
        else:
            skipped += 1
            continue
        if depth >= _MAX_DEPTH:
            raise FileFormatError(f"{where}: the checkpoint nests containers over {_MAX_DEPTH} deep")
        # reversed onto the stack, so that keys come out in the file's order
        stack.extend((f"{prefix}.{k}" if prefix else k, v, depth + 1) for k, v in reversed(children))
    return out, skipped


def _info(where: str, key: str, t) -> TensorInfo:
    torch = _import_torch(where)
    if t.layout != torch.strided or t.is_quantized:
        raise FileFormatError(f"{where}: tensor '{key}' is {'quantized' if t.is_quantized else 'sparse'}; "
                              "OpScope reads dense tensors")
    if t.is_complex():
        raise FileFormatError(f"{where}: tensor '{key}' has complex dtype {str(t.dtype).replace('torch.', '')}; "
                              "OpScope works with real numbers")
    if t.dtype == torch.bfloat16:
        return TensorInfo(key, tuple(t.shape), np.dtype(np.float32))
    try:
        dtype = torch.empty(0, dtype=t.dtype).numpy().dtype
    except (TypeError, RuntimeError):
        raise FileFormatError(
            f"{where}: tensor '{key}' has dtype {str(t.dtype).replace('torch.', '')}, which numpy cannot hold"
        ) from None
    if dtype.kind not in "biuf":
        raise FileFormatError(f"{where}: tensor '{key}' has dtype {dtype}; OpScope works with numbers")
    return TensorInfo(key, tuple(int(n) for n in t.shape), dtype)


def _tensors(path: str, where: str, size: int, max_bytes: int | None) -> tuple[dict[str, Any], list[TensorInfo]]:
    obj = _torch_load(path, where, size, max_bytes)
    tensors, skipped = _flatten(where, obj)
    if not tensors:
        extra = f" ({skipped} other entr{'ies' if skipped != 1 else 'y'} skipped)" if skipped else ""
        raise FileFormatError(f"{where} holds no tensors{extra}")
    return tensors, [_info(where, k, t) for k, t in tensors.items()]


def describe_checkpoint(path: str, where: str, size: int) -> list[TensorInfo]:
    """Key, shape and dtype of every tensor of a checkpoint (PyTorch reads the whole file)."""
    return _tensors(path, where, size, None)[1]


def load_checkpoint(path: str, where: str, size: int, keys: list[str] | None,
                    max_bytes: int | None) -> dict[str, np.ndarray]:
    """The tensors ``keys`` (all when None) of a checkpoint, as numpy arrays."""
    torch = _import_torch(where)
    tensors, infos = _tensors(path, where, size, max_bytes)
    infos = _select(where, infos, keys)
    _guard_size(where, infos, max_bytes)
    out = {}
    for info in infos:
        t = tensors[info.key].detach().cpu()
        if t.dtype == torch.bfloat16:
            t = t.to(torch.float32)  # exact: bfloat16 is the upper half of a float32
        # a copy: the array must not keep the checkpoint's storage (all of it, for a view) alive
        out[info.key] = _native(np.array(t.numpy(), copy=True))
    return out


def is_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` has a PyTorch checkpoint's extension."""
    return os.path.splitext(os.fspath(path))[1].lower() in TORCH_EXTENSIONS
