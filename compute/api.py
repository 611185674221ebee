"""The public entry points: :func:`run_op` computes an operation, :func:`stream_op` makes its timeline.

Both share one preparation path (:func:`prepare`): inputs are checked by name, dtype and shape,
the memory needed is estimated and checked against the budget *before* anything is allocated,
and the inputs are moved to the backend's device. A GPU that runs out of memory during a run
hands that run to numpy, with a notice on the result.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .backend import BackendInfo, backend_info, get_backend, to_host
from .budget import check_budget, stream_sizes
from .buffers import POOL
from .errors import InputError, ParamError
from .numbers import fmt_shape
from .plans import Run, Stage, StagePlan, auto_tile
from .registry import GRANULARITIES, OpSpec, as_int, get_spec
from .timeline import Timeline

#: The default granularity keeps a timeline at most this long; finer steps are there on request.
MAX_DEFAULT_STEPS = 2000
#: With an explicit tile size and no granularity, tile steps are taken up to this many (a tile of
#: 128 at 8192² is 4096); a tile so small that it gives more falls back to one stage step.
MAX_REQUESTED_STEPS = 65536

_run_ids = itertools.count(1)


class RunResult(dict):
    """The named outputs of a run (host numpy arrays, ``"result"`` among them), plus what the run
    was: ``op``, ``params``, ``backend``, ``elapsed`` seconds, ``flops`` and ``notices``."""

    op: str = ""
    params: dict
    backend: BackendInfo | None = None
    elapsed: float = 0.0
    flops: int = 0
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """An operation's checked inputs (host arrays) and normalized parameters, ready to compute."""

    spec: OpSpec
    inputs: dict
    params: dict
    dtype: np.dtype


def _compute_dtype(spec: OpSpec, arrays: Mapping[str, np.ndarray]) -> np.dtype:
    """The float dtype a run computes in: numpy's promotion of the float inputs, float64 when every
    input is an integer (exact for integers below 2**53, and no silent overflow)."""
    floats = [a.dtype for k, a in arrays.items() if a.dtype.kind == "f" and k not in spec.extra.get("mask_inputs", ())]
    if not floats:
        return np.dtype(np.float64)
    return np.result_type(*floats)


def _as_array(op: str, name: str, value) -> np.ndarray:
    try:
        a = np.asarray(to_host(value))
    except Exception as exc:  # noqa: BLE001 - anything numpy cannot read is bad input
        raise InputError(f"{op}: input {name} is not an array of numbers ({type(exc).__name__}: {exc})") from None
    if a.dtype.kind == "c":
        raise InputError(f"{op}: input {name} is complex ({a.dtype}); OpScope computes with real numbers only. "
                         f"Pass the real part (x.real) or the magnitude (abs(x)).")
    if a.dtype.kind not in "biuf":
        raise InputError(f"{op}: input {name} has dtype {a.dtype}, not numbers; use float16/32/64 or integers.")
    return a


def _target_dtypes(spec: OpSpec, arrays: Mapping[str, np.ndarray], dtype: np.dtype) -> dict[str, np.dtype]:
    """The dtype each input is computed in: ``dtype``, except boolean mask inputs, which stay bool."""
    mask_inputs = spec.extra.get("mask_inputs", ())
    return {k: (a.dtype if k in mask_inputs and a.dtype == bool else dtype) for k, a in arrays.items()}


def _budget_sizes(spec: OpSpec, shapes: Mapping[str, tuple], itemsizes: Mapping[str, int], dtype: np.dtype,
                  params: dict) -> dict[str, int]:
    """Bytes a run will hold, from shapes alone: the operation's intermediates and outputs, plus
    every input at its compute dtype (the cast copy, or the device copy on a GPU). A broadcast
    (zero-stride) input counts at its full logical size: a cast or a device copy materializes it."""
    sizes = dict(spec.estimate(shapes, dtype.itemsize, params))
    sizes.update({f"input {k}": math.prod(int(n) for n in shp) * int(itemsizes[k]) for k, shp in shapes.items()})
    return sizes


def stream_budget_sizes(name: str, inputs: Mapping[str, object], params: Mapping[str, object],
                        granularity: str | None = None, progressive: bool = False) -> dict[str, int]:
    """The sizes (name -> bytes) the budget holds a :func:`stream_op` run of these inputs to
    (bench/budget_bench.py compares them with the peak memory of real runs)."""
    prep = prepare(name, inputs, dict(params))
    return _stream_sizes(prep, granularity)


def _stream_sizes(prep: Prepared, granularity: str | None) -> dict[str, int]:
    """A streamed run's sizes: the run's own (:func:`_budget_sizes`) and what its steps add."""
    spec = prep.spec
    shapes = {k: tuple(a.shape) for k, a in prep.inputs.items()}
    sizes = _budget_sizes(spec, shapes, {k: a.dtype.itemsize for k, a in prep.inputs.items()}, prep.dtype,
                          prep.params)
    sizes.update(stream_sizes(dict(spec.estimate(shapes, prep.dtype.itemsize, prep.params)), granularity,
                              spec.granularities))
    return sizes


def prepare(name: str, inputs: Mapping[str, object], params: Mapping[str, object]) -> Prepared:
    """Check ``inputs`` and ``params`` for operation ``name`` and normalize them.

    The order matters: names, dtypes, parameter kinds and shapes are checked, then the memory the
    run needs is estimated from the shapes and refused by the budget, and only then are the inputs
    cast to the compute dtype. A cast can be 8× its input (uint8 -> float64, or a broadcast view
    materialized), so it never happens for a run the budget refuses.

    Raises
    ------
    ParamError
        unknown operation or parameter, or a bad parameter value.
    InputError
        a missing or unknown input, or one of an unsupported dtype.
    ShapeError
        shapes the operation cannot combine (the message names both shapes, the axis and the rule).
    BudgetError
        a run that would need more memory than the budget (checked before anything is allocated).
    """
    spec = get_spec(name)
    if not isinstance(inputs, Mapping):
        raise InputError(f"{name}: inputs must be a dict of name -> array (e.g. {{'A': a, 'B': b}})")
    valid = spec.input_names
    unknown = [k for k in inputs if k not in valid]
    if unknown:
        raise InputError(f"{name}: unknown input(s) {', '.join(map(str, unknown))}; {name} takes {', '.join(valid)}")
    arrays = {k: _as_array(name, k, v) for k, v in inputs.items() if v is not None}
    missing = [k for k in spec.required_inputs if k not in arrays]
    if missing:
        raise InputError(f"{name}: missing input(s) {', '.join(missing)}; {name} takes {', '.join(valid)}")
    params = dict(params)
    if "mask" in spec.input_names and isinstance(params.get("mask"), np.ndarray):
        m = params["mask"]
        if m.dtype == bool or m.dtype.kind == "f" or m.ndim >= 2:  # an array mask is an input, not a keyword
            arrays["mask"] = _as_array(name, "mask", params.pop("mask"))
    full = spec.validate_params(params)
    dtype = _compute_dtype(spec, arrays)
    target = _target_dtypes(spec, arrays, dtype)
    shapes = {k: tuple(a.shape) for k, a in arrays.items()}
    norm = spec.check(shapes, full)
    xp, _info = get_backend()
    check_budget(spec.name, _budget_sizes(spec, shapes, {k: t.itemsize for k, t in target.items()}, dtype, norm), xp)
    cast = {k: a.astype(target[k], copy=False) for k, a in arrays.items()}
    return Prepared(spec, cast, norm, dtype)


def _compute(prep: Prepared, xp) -> dict:
    dev = {k: (xp.asarray(v) if xp is not np else v) for k, v in prep.inputs.items()}
    # NaN and Inf propagate as in numpy; its warnings about them are noise in an app about numbers.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = prep.spec.compute(xp, dev, prep.params)
    return dev, out


def _execute(prep: Prepared, budget_check: bool = True):
    """Compute on the chosen backend; on a GPU out-of-memory, again on numpy. Returns
    ``(xp, device inputs, outputs, backend info, notices, elapsed)``.

    :func:`prepare` already checked the budget before casting; the check is repeated here (it
    costs only arithmetic on shapes) for a :class:`Prepared` built another way.
    """
    xp, info = get_backend()
    shapes = {k: tuple(a.shape) for k, a in prep.inputs.items()}
    if budget_check:
        sizes = _budget_sizes(prep.spec, shapes, {k: a.dtype.itemsize for k, a in prep.inputs.items()}, prep.dtype,
                              prep.params)
        check_budget(prep.spec.name, sizes, xp)
    notices: list[str] = []
    t0 = time.perf_counter()
    try:
        dev, out = _compute(prep, xp)
        if xp is not np:
            xp.cuda.Stream.null.synchronize()
    except MemoryError as exc:
        if xp is np:
            raise
        notices.append(f"GPU out of memory ({type(exc).__name__}); this run was computed with numpy on the CPU.")
        xp, info = np, BackendInfo("numpy", "numpy (CPU)", "GPU out of memory for this run")
        t0 = time.perf_counter()
        dev, out = _compute(prep, xp)
    elapsed = time.perf_counter() - t0
    notices.extend(out.pop("__notices__", ()))
    return xp, dev, out, info, notices, elapsed


def run_op(name: str, inputs: Mapping[str, object], **params) -> RunResult:
    """Compute operation ``name`` on ``inputs`` (a dict of named arrays) with keyword ``params``.

    Returns a :class:`RunResult`: a dict of every named output as a host numpy array, with
    ``"result"`` the final one.

    Examples
    --------
    >>> import numpy as np, compute
    >>> compute.run_op("dot", {"a": np.array([1, 2, 3]), "b": np.array([4, 5, 6])})["result"]
    array(32.)
    """
    prep = prepare(name, inputs, params)
    xp, _dev, out, info, notices, elapsed = _execute(prep)
    res = RunResult({k: np.asarray(to_host(v)) for k, v in out.items()})
    res.op, res.params, res.backend, res.elapsed = name, dict(prep.params), info, elapsed
    res.flops = int(prep.spec.flops({k: a.shape for k, a in prep.inputs.items()}, prep.params))
    res.notices = tuple(notices)
    return res


def _default_granularity(spec: OpSpec, run: Run, options: dict) -> str:
    """The finest preferred granularity whose timeline stays within :data:`MAX_DEFAULT_STEPS`;
    with an explicit ``tile`` option, ``"tile"`` up to :data:`MAX_REQUESTED_STEPS`, else ``"stage"``.

    Why the tile option counts: a tile size is a request for those tiles. At 8192² a tile of 128
    is 4096 steps; falling back to one stage step then showed nothing until the whole product was
    done (7–16 s here), the opposite of what choosing a tile asked for."""
    lengths = {}
    for g in spec.extra.get("prefer", ("element", "tile")):
        if g in spec.granularities:
            lengths[g] = len(spec.plan(run, g, options))
            if lengths[g] <= MAX_DEFAULT_STEPS:
                return g
    if options.get("tile") is not None and "tile" in spec.granularities:
        if "tile" not in lengths:  # an operation that does not prefer tiles may still offer them
            lengths["tile"] = len(spec.plan(run, "tile", options))
        if lengths["tile"] <= MAX_REQUESTED_STEPS:
            return "tile"
    return "stage"


def stream_op(name: str, inputs: Mapping[str, object], granularity: str | None = None, *, tile=None,
              kblock: int | None = None, run_id: int | None = None, progressive: bool = False,
              stop=None, **params) -> Timeline:
    """Compute operation ``name`` and return its :class:`~compute.timeline.Timeline` of steps.

    Parameters
    ----------
    granularity : ``"element"``, ``"tile"``, ``"kblock"``, ``"stage"`` or None (the finest that
        keeps the timeline under :data:`MAX_DEFAULT_STEPS` steps).
    tile : int or (rows, cols): output tile for ``tile`` granularity (default: about 256 tiles).
    kblock : int: block of the reduced axis for ``kblock`` granularity (default: about 32 blocks).
    run_id : the id stamped on every step (a fresh one by default).
    progressive : return at once a :class:`~compute.progressive.ProgressiveTimeline` that a
        worker thread fills in, panel by panel (``tl.available()``, ``tl.wait(n)``,
        ``tl.cancel()``, ``tl.result()``). Implemented for matmul with 2-D+ operands (every
        granularity; ``element`` and ``tile`` steps come as their rows finish, ``kblock`` and
        ``stage`` at the end) and attention's ``tile`` steps (chunks of query rows), on the numpy
        backend. Every other case computes eagerly, as without ``progressive``, and returns a
        plain timeline, whose ``available()`` is ``len(tl)`` at once: the calls work for every op.
        The budget is checked before anything starts, in both cases.
    stop : a :class:`threading.Event` of the caller's (a progressive run only): once it is set,
        the run stops as ``tl.cancel()`` stops it, within one panel (a program run passes its
        own cancel flag to a product inside one of its lines). The run's own cancel leaves it unset.

    Every timeline has at least one step: a run with an empty output has one step that shows it.

    Raises
    ------
    ParamError
        a bad granularity, tile, kblock or run_id (they are checked before anything is computed),
        besides everything :func:`prepare` raises.
    """
    options = _stream_options(name, granularity, tile, kblock, run_id)
    prep = prepare(name, inputs, params)
    spec = prep.spec
    if granularity is not None and granularity not in spec.granularities:
        raise ParamError(f"{name}: granularity {granularity!r} is not available; "
                         f"{name} steps by {', '.join(spec.granularities)}")
    xp, _info = get_backend()
    check_budget(spec.name, _stream_sizes(prep, granularity), xp)  # the steps' own arrays too
    if progressive:
        tl = _progressive_timeline(prep, granularity, options, run_id, stop)
        if tl is not None:
            return tl
    xp, dev, out, info, notices, elapsed = _execute(prep)
    run = Run(name, xp, dev, out, dict(prep.params))
    POOL.recycle_when_dead(run, out.values())
    if granularity is None:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            granularity = _default_granularity(spec, run, options)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # captions read NaN/Inf values too
        plan = spec.plan(run, granularity, options)
    if not len(plan):
        plan = empty_plan(run)
    flops = spec.flops({k: a.shape for k, a in prep.inputs.items()}, prep.params)
    used = dict(options)
    used.update(getattr(plan, "options", {}) or {})
    return Timeline(run, plan, granularity=granularity, run_id=next(_run_ids) if run_id is None else as_int(run_id),
                    backend=info, notices=notices, flops=flops, elapsed=elapsed, input_names=spec.input_names,
                    options=used)


def _stream_options(name: str, granularity, tile, kblock, run_id) -> dict:
    """``stream_op``'s stepping arguments checked (before anything is computed) as its options."""
    if granularity is not None and (not isinstance(granularity, str) or granularity not in GRANULARITIES):
        raise ParamError(f"{name}: unknown granularity {granularity!r}; valid: {', '.join(GRANULARITIES)} or None")
    options = {}
    if tile is not None:
        options["tile"] = _tile_option(name, tile)
    if kblock is not None:
        kb = as_int(kblock)
        if kb is None or kb < 1:
            raise ParamError(f"{name}: kblock must be an int ≥ 1 (terms of the reduced axis per step) or None "
                             f"for about 32 blocks; not {kblock!r}")
        options["kblock"] = kb
    if run_id is not None and as_int(run_id) is None:
        raise ParamError(f"{name}: run_id must be an int or None, not {run_id!r}")
    return options


def plan_ahead(name: str, shapes: Mapping[str, tuple], dtypes: Mapping[str, object], granularity: str | None = None,
               *, tile=None, kblock: int | None = None, run_id: int | None = None, **params) -> Timeline:
    """The timeline :func:`stream_op` would return for inputs of these ``shapes`` and ``dtypes``,
    planned before any input exists: every tensor is a zero-stride array of zeros, so nothing is
    allocated and nothing computed.

    Its step count, granularity, options, tensor names, shapes and dtypes, and which steps write
    what, are the real run's (plans are built from shapes; tests/compute/test_program_progressive.py
    compares them with ``stream_op`` for every operation and granularity); its values and captions
    are not. A progressive program numbers its lines' steps with it before the lines are computed.
    """
    from .program.opshapes import output_shapes  # noqa: PLC0415 - programs build on the engine, not back

    options = _stream_options(name, granularity, tile, kblock, run_id)
    spec = get_spec(name)
    shapes = {k: tuple(int(n) for n in s) for k, s in shapes.items()}
    params = spec.check(shapes, spec.validate_params(dict(params)))
    if granularity is not None and granularity not in spec.granularities:
        raise ParamError(f"{name}: granularity {granularity!r} is not available; "
                         f"{name} steps by {', '.join(spec.granularities)}")
    stand = {k: np.broadcast_to(np.zeros((), np.dtype(dtypes[k])), s) for k, s in shapes.items()}
    dtype = _compute_dtype(spec, stand)
    targets = _target_dtypes(spec, stand, dtype)
    inputs = {k: np.broadcast_to(np.zeros((), targets[k]), s) for k, s in shapes.items()}
    outputs = {k: np.broadcast_to(np.zeros((), dtype), s) for k, s in output_shapes(spec, shapes, params).items()}
    run = Run(spec.name, np, inputs, outputs, dict(params))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if granularity is None:
            granularity = _default_granularity(spec, run, options)
        plan = spec.plan(run, granularity, options)
    if not len(plan):
        plan = empty_plan(run)
    used = dict(options)
    used.update(getattr(plan, "options", {}) or {})
    return Timeline(run, plan, granularity=granularity, run_id=0 if run_id is None else as_int(run_id),
                    backend=backend_info(), flops=spec.flops(shapes, params), input_names=spec.input_names,
                    options=used)


def _progressive_timeline(prep: Prepared, granularity: str | None, options: dict, run_id: int | None, stop=None):
    """A :class:`~compute.progressive.ProgressiveTimeline` of a prepared run, started; None when
    the operation (or this case of it) has no progressive path and is computed eagerly instead."""
    from .progressive import ProgressiveTimeline

    spec = prep.spec
    hook = spec.extra.get("progressive")
    xp, info = get_backend()
    if hook is None or xp is not np:  # GPU runs stream through their own device path (not yet)
        return None
    shapes = {k: tuple(a.shape) for k, a in prep.inputs.items()}
    sizes = _budget_sizes(spec, shapes, {k: a.dtype.itemsize for k, a in prep.inputs.items()}, prep.dtype,
                          prep.params)
    check_budget(spec.name, sizes, xp)  # as _execute does: nothing is allocated for a refused run
    if granularity is None:
        # The default is chosen as for an eager run, on plans built from shapes alone (matmul's
        # are); an op whose default plan reads values says so by having no panels for it.
        probe = hook(prep.inputs, prep.params, None)
        if probe is None:
            return None
        probe_run = Run(spec.name, np, dict(prep.inputs), probe.outputs, dict(prep.params))
        granularity = _default_granularity(spec, probe_run, options)
        if probe.chunks is not None:
            probe.chunks.close()
        del probe, probe_run  # their outputs are the size of the run's: not held while the real ones are made
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        panels = hook(prep.inputs, prep.params, granularity)
    if panels is None:
        return None
    run = Run(spec.name, np, dict(prep.inputs), panels.outputs, dict(prep.params))
    POOL.recycle_when_dead(run, panels.outputs.values())
    plan = spec.plan(run, granularity, options)  # progressive plans describe steps without reading values
    flops = spec.flops(shapes, prep.params)
    used = dict(options)
    used.update(getattr(plan, "options", {}) or {})
    return ProgressiveTimeline(run, plan, panels, stop, granularity=granularity,
                               run_id=next(_run_ids) if run_id is None else as_int(run_id), backend=info,
                               notices=(), flops=flops, elapsed=0.0, input_names=spec.input_names,
                               options=used)


def _tile_option(name: str, tile) -> tuple[int, int]:
    """``tile`` (an int, or (rows, cols)) as a pair of ints ≥ 1, or a ParamError saying what is valid."""
    parts = [tile] if as_int(tile) is not None else list(tile) if isinstance(tile, (tuple, list)) else None
    t = None if parts is None or len(parts) not in (1, 2) else [as_int(x) for x in parts]
    if t is None or any(x is None or x < 1 for x in t):
        raise ParamError(f"{name}: tile must be an int ≥ 1 or (rows, cols) of ints ≥ 1 (the output block of one "
                         f"step), or None for about 256 tiles; not {tile!r}")
    return (t[0], t[0]) if len(t) == 1 else (t[0], t[1])


def empty_plan(run: Run) -> StagePlan:
    """The one step of a run whose steps are none (an empty output): it shows the empty result.

    A timeline always has a step, so a view can always show step 0 and the last one.
    """
    shapes = ", ".join(f"{k} {fmt_shape(run.shape(k))}" for k in run.outputs)
    stage = Stage("empty", tuple(run.outputs), tuple(run.inputs),
                  f"{run.op}: the output is empty ({shapes}): there is nothing to compute, step by step.")
    return StagePlan(run, [stage])


def default_tile(shape2d, target_steps: int = 256) -> tuple[int, int]:
    """The tile :func:`stream_op` uses when none is given (about ``target_steps`` tiles)."""
    return auto_tile(shape2d, target_steps)


def default_kblock(k: int, target_steps: int = 32) -> int:
    """The k-block :func:`stream_op` uses when none is given (about ``target_steps`` blocks)."""
    return max(1, math.ceil(int(k) / target_steps))
