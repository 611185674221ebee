"""The one exception every export failure is reported as, and how foreign errors are worded in it."""

from __future__ import annotations

from opscope.compute.errors import OpScopeError

__all__ = ["ExportError", "describe_error"]


class ExportError(OpScopeError, ValueError):
    """An export that cannot be made; the message names the file or option and the problem."""


def describe_error(exc: BaseException) -> str:
    """``exc`` as one line: its first line of text, prefixed by its type unless it is one of OpScope's own."""
    text = " ".join(str(exc).split("\n")[0].split()) or type(exc).__name__
    return text if isinstance(exc, OpScopeError) else f"{type(exc).__name__}: {text}"
