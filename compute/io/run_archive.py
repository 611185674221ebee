"""A run in one file: the operation, its parameters, its inputs and its outputs (.npz or .safetensors).

Tensors are stored under ``inputs/<name>`` and ``outputs/<name>``. The operation and parameters
are JSON: in the safetensors header metadata (``opscope_op``, ``opscope_params``), or in .npz as
the key ``__meta__``, a uint8 array of UTF-8 JSON bytes, because an object or string array would
need a pickle, which OpScope never writes nor reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from .file_checks import FileFormatError, parse_json
from .tensor_files import _ext, _read, save_tensors

__all__ = [
    "RUN_FORMAT",
    "RUN_VERSION",
    "TUPLE_KEYS",
    "RunArchive",
    "load_run",
    "params_from_json",
    "params_to_json",
    "restore_tuples",
    "save_run",
    "to_jsonable",
]

RUN_FORMAT = "opscope-run"
RUN_VERSION = 1
META_KEY = "__meta__"
# JSON has no tuples; values under these keys come back as tuples (an axis tuple, a tile shape)
TUPLE_KEYS = frozenset({"axis", "axes", "shape", "dims", "perm", "tile", "normalized_shape"})
_TUPLE_SUFFIXES = ("_axis", "_axes", "_shape", "_dims", "_tile")


class RunArchive(NamedTuple):
    """What :func:`load_run` returns; unpacks as ``op, params, inputs, outputs``."""

    op: str
    params: dict[str, Any]
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]


def to_jsonable(value: Any, where: str = "params") -> Any:
    """``value`` as plain JSON types: tuples become lists, numpy scalars and arrays Python numbers.

    Raises
    ------
    FileFormatError
        For values JSON cannot represent (objects, functions, complex numbers, non-string keys);
        ``where`` names the offending entry, e.g. ``params['axis']``.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return int(value) if isinstance(value, int) else float(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value.tolist()
    if isinstance(value, np.floating) and value.dtype.itemsize < 8:
        # the shortest decimal of a float32 (1e-05, not 9.999999747378752e-06) reads back to the same float32
        return float(str(value))
    if isinstance(value, np.generic) and value.dtype.kind in "biufU":
        return to_jsonable(value.item(), where)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise FileFormatError(f"{where}: key {k!r} cannot be saved (keys must be strings)")
            out[k] = to_jsonable(v, f"{where}[{k!r}]")
        return out
    raise FileFormatError(
        f"{where} = {value!r:.60} cannot be saved: only numbers, strings, booleans, None, lists, tuples and dicts"
    )


def _is_tuple_key(key: str | None) -> bool:
    return key is not None and (key in TUPLE_KEYS or key.endswith(_TUPLE_SUFFIXES))


def _tuplify(value: Any) -> Any:
    return tuple(_tuplify(v) for v in value) if isinstance(value, list) else value


def restore_tuples(value: Any, key: str | None = None) -> Any:
    """Undo JSON's tuple-to-list conversion for values under :data:`TUPLE_KEYS` (and keys ending in
    ``_axis``, ``_axes``, ``_shape``, ``_dims``, ``_tile``), at any depth of dicts and lists."""
    if isinstance(value, dict):
        return {k: restore_tuples(v, k) for k, v in value.items()}
    if isinstance(value, list):
        if _is_tuple_key(key):
            return _tuplify(value)
        return [restore_tuples(v) for v in value]
    return value


def params_to_json(params: Mapping[str, Any]) -> str:
    """Serialise operation parameters safely (see :func:`to_jsonable`); NaN and infinities are kept."""
    if not isinstance(params, Mapping):
        raise FileFormatError(f"params must be a dict, not {type(params).__name__}")
    return json.dumps(to_jsonable(params), sort_keys=True)


def params_from_json(text: str | bytes) -> dict[str, Any]:
    """Parse what :func:`params_to_json` wrote, with tuples restored (see :func:`restore_tuples`).

    Raises
    ------
    FileFormatError
        Invalid JSON, or JSON that is not an object.
    """
    value = parse_json(text, "parameters")
    if not isinstance(value, dict):
        raise FileFormatError("parameters are not a JSON object")
    return restore_tuples(value)


def save_run(path: str | os.PathLike, op: str, params: Mapping[str, Any], inputs: Mapping[str, Any],
             outputs: Mapping[str, Any]) -> None:
    """Save a run atomically to a .npz or .safetensors file.

    Parameters
    ----------
    path : str or os.PathLike
        Ends in ``.npz`` or ``.safetensors``.
    op : str
        The operation's name.
    params : mapping
        Its parameters (JSON-serialisable after :func:`to_jsonable`).
    inputs, outputs : mapping of str to array_like
        Stored as ``inputs/<name>`` and ``outputs/<name>``.

    Raises
    ------
    FileFormatError
        Unsupported extension, unsavable params or tensors, or a failed write.
    """
    path = os.fspath(path)
    ext = _ext(path)
    where = os.path.basename(path)
    if ext not in (".npz", ".safetensors"):
        raise FileFormatError(f"{where}: a run is saved as .npz or .safetensors, not {ext}")
    if not isinstance(op, str) or not op:
        raise FileFormatError(f"{where}: the operation name must be a non-empty string")
    params_json = params_to_json(params)
    tensors = {f"inputs/{k}": v for k, v in inputs.items()}
    tensors.update({f"outputs/{k}": v for k, v in outputs.items()})
    if ext == ".safetensors":
        metadata = {"opscope_format": RUN_FORMAT, "opscope_version": str(RUN_VERSION), "opscope_op": op,
                    "opscope_params": params_json}
        save_tensors(path, tensors, metadata=metadata)
        return
    meta = json.dumps({"format": RUN_FORMAT, "version": RUN_VERSION, "op": op, "params": json.loads(params_json)})
    tensors[META_KEY] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    save_tensors(path, tensors)


def _parse_meta(where: str, meta: Mapping[str, Any]) -> tuple[str, dict]:
    if meta.get("format") != RUN_FORMAT:
        raise FileFormatError(f"{where} is not an OpScope run archive (no '{RUN_FORMAT}' metadata)")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise FileFormatError(f"{where}: the run archive has no valid format version")
    if version > RUN_VERSION:
        raise FileFormatError(
            f"{where} was written by a newer OpScope (run format {version}); this version reads format ≤ {RUN_VERSION}"
        )
    op, params = meta.get("op"), meta.get("params")
    if not isinstance(op, str) or not op or not isinstance(params, dict):
        raise FileFormatError(f"{where}: the run archive's operation or parameters are missing or malformed")
    return op, restore_tuples(params)


def load_run(path: str | os.PathLike, *, max_bytes: int | None = None) -> RunArchive:
    """Load a run written by :func:`save_run`.

    Parameters
    ----------
    path : str or os.PathLike
        A .npz or .safetensors run archive.
    max_bytes : int, optional
        Size limit, as in :func:`compute.io.tensor_files.load_tensors`.

    Returns
    -------
    RunArchive
        ``(op, params, inputs, outputs)``, with tensor names stripped of their prefixes.

    Raises
    ------
    FileFormatError
        For every problem with the file, including a file that is not a run archive.
    """
    path = os.fspath(path)
    where = os.path.basename(path)
    tensors, metadata = _read(path, None, max_bytes)
    if _ext(path) == ".safetensors":
        try:
            meta = {"format": metadata.get("opscope_format"), "version": int(metadata.get("opscope_version", "")),
                    "op": metadata.get("opscope_op"),
                    "params": parse_json(metadata.get("opscope_params", ""), "opscope_params")}
        except (ValueError, TypeError) as exc:  # FileFormatError is a ValueError
            detail = f": {exc}" if isinstance(exc, FileFormatError) else ""
            raise FileFormatError(f"{where} is not an OpScope run archive (missing or invalid opscope_* "
                                  f"metadata{detail})") from None
    else:
        raw = tensors.pop(META_KEY, None)
        if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
            raise FileFormatError(f"{where} is not an OpScope run archive (no '{META_KEY}' entry)")
        meta = parse_json(raw.tobytes(), f"{where}: the run archive's '{META_KEY}'")
        if not isinstance(meta, dict):
            raise FileFormatError(f"{where}: the run archive's '{META_KEY}' is not a JSON object")
    op, params = _parse_meta(where, meta)
    inputs, outputs = {}, {}
    for key, arr in tensors.items():
        group, _, name = key.partition("/")
        if group == "inputs" and name:
            inputs[name] = arr
        elif group == "outputs" and name:
            outputs[name] = arr
        else:
            raise FileFormatError(f"{where}: unexpected tensor '{key}' in a run archive (not inputs/ or outputs/)")
    return RunArchive(op, params, inputs, outputs)
