"""Programs: named lines over one namespace of tensors, checked, computed and streamed as one.

::

    from opscope import compute
    text = '''
    scores = Q @ K.T
    scaled = scores / sqrt(d_k)
    weights = softmax(scaled + causal_mask(4), axis=-1)
    out = weights @ V
    '''
    compute.check_program(text, {"Q": (2, 4, 3), "K": (2, 4, 3), "V": (2, 4, 3), "d_k": ()})
    res = compute.run_program(text, {"Q": q, "K": k, "V": v}, d_k=3)   # every line, plus "result"
    tl = compute.stream_program(text, {"Q": q, "K": k, "V": v, "d_k": 3})  # one timeline of steps

Modules, one concept each: :mod:`.nodes` (the parsed form), :mod:`.parse` (text → nodes through a
whitelist of Python's syntax, never evaluated), :mod:`.functions` and :mod:`.erf` (the built-in
functions), :mod:`.calls` (binding a call to an operation's inputs and parameters),
:mod:`.opshapes` (operations' output shapes), :mod:`.shapes` (shape inference),
:mod:`.evaluate` (values), :mod:`.run` (``check_program``, ``run_program``, the budget) and
:mod:`.timeline` (``stream_program``).
"""

from .functions import FUNCTIONS
from .lessons import ProgramLesson, get_program_lesson, program_lessons
from .mistakes import Mistake, MistakeResult, compare_mistake, get_mistake, mistakes
from .nodes import Program
from .parse import known_functions, parse_program
from .run import ProgramResult, check_program, program_flops, run_program
from .shapes import Analysis, analyze, infer_input_shapes
from .timeline import ProgramTimeline, stream_program

__all__ = ["FUNCTIONS", "Analysis", "Program", "ProgramResult", "ProgramTimeline", "analyze", "check_program",
           "infer_input_shapes", "known_functions", "parse_program", "program_flops", "run_program", "stream_program",
           "Mistake", "MistakeResult", "ProgramLesson", "compare_mistake", "get_mistake", "get_program_lesson",
           "mistakes", "program_lessons"]
