"""Qt's own warnings that are noise for OpScope's command line, filtered in one place.

The offscreen platform (screenshots, exports, tests) warns "This plugin does not support
propagateSizeHints()" for every top-level window; a successful ``--screenshot`` or ``export``
should print nothing but OpScope's own lines on stderr.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

from PySide6.QtCore import qInstallMessageHandler

NOISE = ("propagateSizeHints",)


def _install():
    """Install the filter; returns the handler it replaced (which it forwards everything else to)."""
    previous = None

    def handler(mode, context, message):
        if any(n in message for n in NOISE):
            return
        if previous is not None:  # read at call time: set just below, once Qt returns it
            previous(mode, context, message)
        else:
            print(message, file=sys.stderr)

    previous = qInstallMessageHandler(handler)
    return previous


def drop_offscreen_noise() -> None:
    """Filter the noise for the rest of the process (other messages pass through unchanged)."""
    _install()


@contextmanager
def offscreen_noise_dropped():
    """Filter the noise inside a ``with`` block, then restore the previous handler."""
    previous = _install()
    try:
        yield
    finally:
        qInstallMessageHandler(previous)
