"""OpScope: see inside the tensor operations of deep learning.

One import package for the whole application: :mod:`opscope.compute` (the Qt-free model: every
operation as a direct result and a random-access timeline of steps), :mod:`opscope.gui` (the window)
and :mod:`opscope.main` (the command line). From a Python session::

    import opscope
    opscope.show("matmul", A=a, B=b)      # the window on your own tensors
"""

__version__ = "0.1.0"

__all__ = ["__version__", "show"]


def show(op_or_program, /, **tensors):
    """Open (or update) the OpScope window on ``op_or_program`` with ``tensors``; see :func:`opscope.gui.show.show`."""
    from .gui.show import show as _show

    return _show(op_or_program, **tensors)
