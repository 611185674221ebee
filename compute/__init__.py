"""OpScope's compute engine: every operation as a direct result and as a random-access stream of steps.

Qt-free and GPU-aware (CuPy when a working device is found, numpy otherwise)::

    from opscope import compute
    compute.operations()                       # every operation's spec
    out = compute.run_op("attention", {"Q": q, "K": k, "V": v}, mask="causal")
    tl = compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile", tile=64)
    len(tl), tl[17]
    compute.backend_info()
    compute.run_program("s = Q @ K.T\nw = softmax(s)", {"Q": q, "K": k})["w"]  # a program: named lines
    compute.verify_run("attention", {"Q": q, "K": k, "V": v}, {"mask": "causal"}, out).message  # "✓ matches …"
"""

from .api import MAX_DEFAULT_STEPS, RunResult, prepare, run_op, stream_op
from .backend import BackendInfo, backend_info, reset_backend
from .budget import memory_budget, set_memory_budget
from .errors import BudgetError, InputError, OpScopeError, ParamError, ShapeError
from .program import check_program, run_program, stream_program
from .progressive import CancelledRunError
from .registry import GRANULARITIES, GROUPS, OpSpec, get_spec, operations
from .step import Region, Step
from .timeline import Timeline
from .verify import Verification, verify_program, verify_run

__all__ = [
    "BackendInfo", "BudgetError", "GRANULARITIES", "GROUPS", "InputError", "MAX_DEFAULT_STEPS", "OpScopeError",
    "OpSpec", "ParamError", "Region", "RunResult", "ShapeError", "Step", "Timeline", "backend_info", "get_spec",
    "memory_budget", "operations", "prepare", "reset_backend", "run_op", "set_memory_budget", "stream_op",
    "Verification", "verify_program", "verify_run",
    "check_program", "run_program", "stream_program", "CancelledRunError",
]
