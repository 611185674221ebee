"""Sharded safetensors: ``model.safetensors.index.json`` opened as one file holding every key.

The index (Hugging Face's layout) is ``{"metadata": {...}, "weight_map": {key: shard file}}``.
Describing it reads the header of each shard; loading a key reads only the shard that holds it.
Shard names are paths relative to the index's folder: an absolute path or one with ``..`` is
refused (a downloaded index must not make OpScope read files elsewhere). Symbolic links among
the shards are followed, because the Hugging Face cache links each snapshot's files to its blobs
folder (``../../blobs/<hash>``).
"""

from __future__ import annotations

import ntpath
import os
import posixpath

import numpy as np

from ..budget import human_bytes
from .file_checks import FileFormatError, TensorInfo, _guard_size, _open_checked, _select, parse_json

__all__ = ["INDEX_SUFFIX", "describe_index", "is_index", "load_index"]

INDEX_SUFFIX = ".index.json"
_MAX_INDEX = 64 << 20  # a 100 000-key index takes ~10 MB


def is_index(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a shard index (``*.safetensors.index.json``, any ``*.index.json``)."""
    return os.fspath(path).lower().endswith(INDEX_SUFFIX)


def _shard_path(where: str, folder: str, key: str, shard: object) -> str:
    if not isinstance(shard, str) or not shard.strip():
        raise FileFormatError(f"{where}: the shard of '{key}' is not a file name ({shard!r:.60})")
    parts = shard.replace("\\", "/").split("/")
    if posixpath.isabs(shard) or ntpath.isabs(shard) or ntpath.splitdrive(shard)[0] or ".." in parts:
        raise FileFormatError(
            f"{where}: the shard of '{key}' ({shard!r:.80}) is outside the index's folder; "
            f"shards must be files beside the index (no absolute paths, no '..')"
        )
    if not shard.lower().endswith(".safetensors"):
        raise FileFormatError(f"{where}: the shard of '{key}' ({shard!r:.80}) is not a .safetensors file")
    return os.path.join(folder, *[p for p in parts if p not in ("", ".")])


def _weight_map(path: str) -> tuple[str, dict[str, str]]:
    """The index's display name and its key -> shard path map, checked."""
    where, size = _open_checked(path)
    if size > _MAX_INDEX:
        raise FileFormatError(f"{where}: {human_bytes(size)} is implausibly large for a shard index")
    with open(path, "rb") as f:
        index = parse_json(f.read(), where)
    if not isinstance(index, dict) or not isinstance(index.get("weight_map"), dict):
        raise FileFormatError(f"{where} is not a shard index: it has no \"weight_map\" object")
    weight_map = index["weight_map"]
    if not weight_map:
        raise FileFormatError(f"{where}: its weight_map lists no tensors")
    folder = os.path.dirname(os.path.abspath(path))
    return where, {str(k): _shard_path(where, folder, str(k), v) for k, v in weight_map.items()}


def _shard_infos(where: str, shard: str, keys: list[str]) -> list[TensorInfo]:
    """The headers of ``keys`` in ``shard`` (only headers are read)."""
    from .tensor_files import _describe_safetensors

    name = os.path.basename(shard)
    if not os.path.isfile(shard):
        raise FileFormatError(f"{where}: shard {name} is missing (it should hold '{keys[0]}')")
    shard_where, size = _open_checked(shard)
    try:
        infos = {i.key: i for i in _describe_safetensors(shard, f"{where} → {shard_where}", size)[0]}
    except OSError as exc:
        raise FileFormatError(f"{where}: shard {name} cannot be read ({exc.strerror or exc})") from exc
    missing = [k for k in keys if k not in infos]
    if missing:
        raise FileFormatError(f"{where}: tensor '{missing[0]}' is not in its shard {name}, as the index says")
    return [infos[k] for k in keys]


def _by_shard(weight_map: dict[str, str], keys: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for k in keys:
        groups.setdefault(weight_map[k], []).append(k)
    return groups


def describe_index(path: str) -> list[TensorInfo]:
    """Every tensor the index lists, in its order, from the shards' headers."""
    where, weight_map = _weight_map(path)
    found: dict[str, TensorInfo] = {}
    for shard, keys in _by_shard(weight_map, list(weight_map)).items():
        found.update((i.key, i) for i in _shard_infos(where, shard, keys))
    return [found[k] for k in weight_map]


def load_index(path: str, keys: list[str] | None, max_bytes: int | None) -> dict[str, np.ndarray]:
    """The tensors ``keys`` (all when None), each read from its own shard only."""
    from .tensor_files import _load_safetensors

    where, weight_map = _weight_map(path)
    if keys is None:
        keys = list(weight_map)
    _select(where, [TensorInfo(k, (), np.dtype(np.float32)) for k in weight_map], keys)
    groups = _by_shard(weight_map, keys)
    infos = [i for shard, ks in groups.items() for i in _shard_infos(where, shard, ks)]
    _guard_size(where, infos, max_bytes)  # all shards' headers checked before any data is read
    out = {}
    for shard, ks in groups.items():
        shard_where, size = _open_checked(shard)
        tensors, _meta = _load_safetensors(shard, f"{where} → {shard_where}", size, ks, max_bytes)
        out.update(tensors)
    return {k: out[k] for k in keys}
