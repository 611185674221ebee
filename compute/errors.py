"""The exceptions OpScope raises for bad input: each says what was wrong and how to fix it."""

from __future__ import annotations


class OpScopeError(Exception):
    """Base of every error OpScope raises on purpose (as opposed to a bug)."""


class ShapeError(OpScopeError, ValueError):
    """Shapes that an operation cannot combine.

    The message names the operation, both shapes (right-aligned when broadcasting), the failing
    axis, the rule that failed and, where one exists, a hint.
    """


class InputError(OpScopeError, ValueError):
    """An input that is missing, unknown, of an unsupported dtype (complex, object) or malformed."""


class ParamError(OpScopeError, ValueError):
    """A keyword parameter with a bad value (unknown axis, negative eps, unknown mask name...)."""


class BudgetError(OpScopeError, MemoryError):
    """A run that would need more memory than the budget allows; raised before allocating."""
