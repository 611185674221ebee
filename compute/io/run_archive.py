"""A run in one file: the operation, its parameters, its inputs and its outputs (.npz or .safetensors).

Tensors are stored under ``inputs/<name>`` and ``outputs/<name>``. The operation and parameters
are JSON: in the safetensors header metadata (``opscope_op``, ``opscope_params``), or in .npz as
the key ``__meta__``, a uint8 array of UTF-8 JSON bytes, because an object or string array would
need a pickle, which OpScope never writes nor reads.

Two kinds of run share the layout. A single operation (:func:`save_run`, format version 1, written
exactly as before) and a *program* (:func:`save_program_run`, format version 2): its text and scalar
parameters in the metadata (``opscope_kind = "program"``, ``opscope_program``, ``opscope_lines``,
``opscope_params``; or the same keys in ``__meta__``), and every line under ``outputs/<line>``,
plus ``outputs/result``. Program runs carry version 2 so that an OpScope that knows only single
operations says "written by a newer OpScope" instead of misreading them. :func:`load_run` and
:func:`load_program_run` each read their kind; :func:`load_any_run` reads either.
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
    "OP_RUN_VERSION",
    "PROGRAM_RUN_VERSION",
    "RUN_FORMAT",
    "RUN_VERSION",
    "TUPLE_KEYS",
    "ProgramArchive",
    "RunArchive",
    "load_any_run",
    "load_program_run",
    "load_run",
    "params_from_json",
    "params_to_json",
    "restore_tuples",
    "save_program_run",
    "save_run",
    "to_jsonable",
]

RUN_FORMAT = "opscope-run"
#: Single-operation runs are written in format 1 (unchanged since it was introduced) ...
OP_RUN_VERSION = 1
#: ... program runs in format 2, which an older OpScope refuses as "newer" rather than misreading.
PROGRAM_RUN_VERSION = 2
#: The newest format this module reads.
RUN_VERSION = PROGRAM_RUN_VERSION
META_KEY = "__meta__"
RESULT = "result"  # a program run's last line, saved under this name too (as run_program returns it)
# JSON has no tuples; values under these keys come back as tuples (an axis tuple, a tile shape)
TUPLE_KEYS = frozenset({"axis", "axes", "shape", "dims", "perm", "tile", "normalized_shape"})
_TUPLE_SUFFIXES = ("_axis", "_axes", "_shape", "_dims", "_tile")


class RunArchive(NamedTuple):
    """What :func:`load_run` returns; unpacks as ``op, params, inputs, outputs``."""

    op: str
    params: dict[str, Any]
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]


class ProgramArchive(NamedTuple):
    """What :func:`load_program_run` returns; unpacks as ``program, params, inputs, outputs``.

    ``outputs`` holds every line by name, in the program's order, then ``"result"`` (the last
    line's value); ``params`` are the run's scalar parameters (``{"d_k": 3}``).
    """

    program: str
    params: dict[str, Any]
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]

    @property
    def line_names(self) -> tuple[str, ...]:
        """The program's line names in order (``outputs`` without ``"result"``)."""
        return tuple(k for k in self.outputs if k != RESULT)


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
        metadata = {"opscope_format": RUN_FORMAT, "opscope_version": str(OP_RUN_VERSION), "opscope_op": op,
                    "opscope_params": params_json}
        save_tensors(path, tensors, metadata=metadata)
        return
    meta = json.dumps({"format": RUN_FORMAT, "version": OP_RUN_VERSION, "op": op,
                       "params": json.loads(params_json)})
    tensors[META_KEY] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    save_tensors(path, tensors)


def save_program_run(path: str | os.PathLike, program: str, inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                     params: Mapping[str, Any] | None = None) -> None:
    """Save a program's run atomically to a .npz or .safetensors file: its text, inputs and every line.

    Parameters
    ----------
    path : str or os.PathLike
        Ends in ``.npz`` or ``.safetensors``.
    program : str
        The program's text, stored as it is.
    inputs : mapping of str to array_like
        The tensors the program read, stored as ``inputs/<name>``.
    outputs : mapping of str to array_like
        Every line's value by name, with ``"result"`` (a :class:`compute.ProgramResult` is one);
        stored as ``outputs/<name>``, their order kept in the metadata.
    params : mapping, optional
        The run's scalar parameters (``{"d_k": 3}``), as JSON.

    Raises
    ------
    FileFormatError
        Unsupported extension, empty program text, no ``"result"``, unsavable params or tensors,
        or a failed write (an existing file is left intact).
    """
    path = os.fspath(path)
    ext = _ext(path)
    where = os.path.basename(path)
    if ext not in (".npz", ".safetensors"):
        raise FileFormatError(f"{where}: a run is saved as .npz or .safetensors, not {ext}")
    if not isinstance(program, str) or not program.strip():
        raise FileFormatError(f"{where}: the program text must be a non-empty string")
    lines = list(outputs)
    if RESULT not in outputs:
        raise FileFormatError(f"{where}: a program run needs its '{RESULT}' among the outputs")
    bad = [k for k in [*inputs, *lines] if not isinstance(k, str) or not k]
    if bad:
        raise FileFormatError(f"{where}: tensor names must be non-empty strings, not {bad[0]!r}")
    params_json = params_to_json(params or {})
    lines_json = json.dumps(lines)
    tensors = {f"inputs/{k}": v for k, v in inputs.items()}
    tensors.update({f"outputs/{k}": v for k, v in outputs.items()})
    if ext == ".safetensors":
        metadata = {"opscope_format": RUN_FORMAT, "opscope_version": str(PROGRAM_RUN_VERSION),
                    "opscope_kind": "program", "opscope_program": program, "opscope_lines": lines_json,
                    "opscope_params": params_json}
        save_tensors(path, tensors, metadata=metadata)
        return
    meta = json.dumps({"format": RUN_FORMAT, "version": PROGRAM_RUN_VERSION, "kind": "program", "program": program,
                       "lines": lines, "params": json.loads(params_json)})
    tensors[META_KEY] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    save_tensors(path, tensors)


def _parse_meta(where: str, meta: Mapping[str, Any]) -> dict:
    """The checked metadata: ``kind`` (``"op"`` or ``"program"``), ``params`` (tuples restored), and
    ``op``, or ``program`` and ``lines``."""
    if meta.get("format") != RUN_FORMAT:
        raise FileFormatError(f"{where} is not an OpScope run archive (no '{RUN_FORMAT}' metadata)")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise FileFormatError(f"{where}: the run archive has no valid format version")
    if version > RUN_VERSION:
        raise FileFormatError(
            f"{where} was written by a newer OpScope (run format {version}); this version reads format ≤ {RUN_VERSION}"
        )
    kind, params = meta.get("kind", "op"), meta.get("params")
    if kind == "program":
        program, lines = meta.get("program"), meta.get("lines")
        if (not isinstance(program, str) or not program.strip() or not isinstance(params, dict)
                or not isinstance(lines, list) or not all(isinstance(n, str) and n for n in lines)
                or len(set(lines)) != len(lines) or RESULT not in lines):
            raise FileFormatError(f"{where}: the program run's text, line names or parameters are missing or "
                                  f"malformed")
        return {"kind": kind, "program": program, "lines": lines, "params": restore_tuples(params)}
    if kind != "op":
        raise FileFormatError(f"{where}: unknown kind of run {kind!r} (this version reads 'op' and 'program')")
    op = meta.get("op")
    if not isinstance(op, str) or not op or not isinstance(params, dict):
        raise FileFormatError(f"{where}: the run archive's operation or parameters are missing or malformed")
    return {"kind": kind, "op": op, "params": restore_tuples(params)}


def _read_meta(path: str, where: str, max_bytes: int | None) -> tuple[dict, dict[str, np.ndarray]]:
    """The file's checked run metadata (see :func:`_parse_meta`) and its tensors, ``__meta__`` removed."""
    tensors, metadata = _read(path, None, max_bytes)
    if _ext(path) == ".safetensors":
        try:
            meta = {"format": metadata.get("opscope_format"), "version": int(metadata.get("opscope_version", "")),
                    "params": parse_json(metadata.get("opscope_params", ""), "opscope_params")}
            if "opscope_kind" in metadata:
                meta["kind"] = metadata["opscope_kind"]
            if meta.get("kind") == "program":
                meta["program"] = metadata.get("opscope_program")
                meta["lines"] = parse_json(metadata.get("opscope_lines", ""), "opscope_lines")
            else:
                meta["op"] = metadata.get("opscope_op")
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
    return _parse_meta(where, meta), tensors


def _split_groups(where: str, tensors: Mapping[str, np.ndarray]) -> tuple[dict, dict]:
    inputs, outputs = {}, {}
    for key, arr in tensors.items():
        group, _, name = key.partition("/")
        if group == "inputs" and name:
            inputs[name] = arr
        elif group == "outputs" and name:
            outputs[name] = arr
        else:
            raise FileFormatError(f"{where}: unexpected tensor '{key}' in a run archive (not inputs/ or outputs/)")
    return inputs, outputs


def load_any_run(path: str | os.PathLike, *, max_bytes: int | None = None) -> RunArchive | ProgramArchive:
    """Load a run of either kind: a :class:`RunArchive` (one operation) or a :class:`ProgramArchive`.

    Parameters
    ----------
    path : str or os.PathLike
        A .npz or .safetensors run archive.
    max_bytes : int, optional
        Size limit, as in :func:`compute.io.tensor_files.load_tensors`.

    Raises
    ------
    FileFormatError
        For every problem with the file, including a file that is not a run archive and a program
        run whose lines do not match its tensors.
    """
    path = os.fspath(path)
    where = os.path.basename(path)
    meta, tensors = _read_meta(path, where, max_bytes)
    inputs, outputs = _split_groups(where, tensors)
    if meta["kind"] == "op":
        return RunArchive(meta["op"], meta["params"], inputs, outputs)
    lines = meta["lines"]
    missing = [n for n in lines if n not in outputs]
    extra = [n for n in outputs if n not in lines]
    if missing or extra:
        what = (f"line(s) {', '.join(missing)} have no tensor" if missing
                else f"tensor(s) outputs/{', outputs/'.join(extra)} belong to no line")
        raise FileFormatError(f"{where}: the program run is damaged: {what}")
    return ProgramArchive(meta["program"], meta["params"], inputs, {n: outputs[n] for n in lines})


def load_program_run(path: str | os.PathLike, *, max_bytes: int | None = None) -> ProgramArchive:
    """Load a program's run written by :func:`save_program_run`.

    Parameters
    ----------
    path : str or os.PathLike
        A .npz or .safetensors run archive of a program.
    max_bytes : int, optional
        Size limit, as in :func:`compute.io.tensor_files.load_tensors`.

    Returns
    -------
    ProgramArchive
        ``(program, params, inputs, outputs)``: the text, its scalar parameters, the inputs and
        every line (in the program's order, then ``"result"``).

    Raises
    ------
    FileFormatError
        For every problem with the file, including a single-operation run (read it with
        :func:`load_run`) and lines that do not match the tensors.
    """
    run = load_any_run(path, max_bytes=max_bytes)
    if not isinstance(run, ProgramArchive):
        raise FileFormatError(f"{os.path.basename(os.fspath(path))} is a run of the operation {run.op!r}, not of a "
                              f"program: read it with load_run")
    return run


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
    run = load_any_run(path, max_bytes=max_bytes)
    if not isinstance(run, RunArchive):
        raise FileFormatError(f"{os.path.basename(os.fspath(path))} is a run of a program, not of one operation: "
                              f"read it with load_program_run (or load_any_run)")
    return run
