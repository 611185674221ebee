"""What the window remembers between runs: geometry, dock layout, the last folder, speed and loop.

Stored with :class:`QSettings`: in ``settings.ini`` under ``$OPSCOPE_HOME`` when that is set (tests
and portable installs: nothing touches the user's real settings), else where the platform keeps an
application's settings (organization and application "OpScope": the registry on Windows, a plist on
macOS, ``~/.config/OpScope/OpScope.conf`` elsewhere).

There is no light/dark theme setting: the window follows the system palette and has no theme
of its own to remember.

Only the interactive app remembers (:func:`gui.app.run_window` attaches a :class:`WindowSettings`);
screenshots, scripts and tests that build a bare :class:`~gui.window.MainWindow` neither read nor
write anything.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings

#: The INI file's name under ``$OPSCOPE_HOME``.
SETTINGS_FILE = "settings.ini"

#: Bumped when the docks change so much that an old saved layout no longer fits: restoreState
#: then refuses it and the window keeps its default layout.
LAYOUT_VERSION = 1

_GEOMETRY = "window/geometry"
_STATE = "window/state"
_LAST_FOLDER = "files/last_folder"
_SPEED = "playback/speed"
_LOOP = "playback/loop"


def settings_path() -> Path | None:
    """The INI file used under ``$OPSCOPE_HOME``, or None when the platform's default place is used."""
    home = os.environ.get("OPSCOPE_HOME")
    return Path(home).expanduser() / SETTINGS_FILE if home else None


def open_settings() -> QSettings:
    """The application's :class:`QSettings` (read from and written to :func:`settings_path` when set)."""
    path = settings_path()
    if path is not None:
        return QSettings(str(path), QSettings.IniFormat)
    return QSettings(QSettings.NativeFormat, QSettings.UserScope, "OpScope", "OpScope")


def _as_bytes(value) -> QByteArray | None:
    if isinstance(value, QByteArray):
        return value if not value.isEmpty() else None
    if isinstance(value, (bytes, bytearray)) and value:
        return QByteArray(bytes(value))
    return None


def _as_float(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _as_bool(value) -> bool | None:
    # INI files give strings back ("true"), the native formats real booleans.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


class WindowSettings(QObject):
    """Restores a :class:`~gui.window.MainWindow`'s remembered state and saves it when it closes.

    Parameters
    ----------
    window : MainWindow
        The window; an event filter on it saves the state on its close event, before the window
        shuts down.
    settings : QSettings, optional
        Where to keep it (default: :func:`open_settings`).
    """

    def __init__(self, window, settings: QSettings | None = None):
        super().__init__(window)
        self.window = window
        self.settings = settings if settings is not None else open_settings()
        self._saved = False
        window.installEventFilter(self)

    def restore(self, *, playback: bool = True) -> bool:
        """Apply the saved geometry, dock layout and last folder, and, with ``playback``, the speed
        and loop. Call before the window is first shown. Returns whether a saved layout was applied.

        ``playback`` is false where a lesson was asked for by name: its own speed is part of it.
        """
        w = self.window
        s = self.settings
        restored = False
        geometry = _as_bytes(s.value(_GEOMETRY))
        if geometry is not None:
            restored = bool(w.restoreGeometry(geometry))
        state = _as_bytes(s.value(_STATE))
        if state is not None and w.restoreState(state, LAYOUT_VERSION):
            restored = True
            # The dock sizes just restored must win over the window's default layout on first show.
            w.layout_restored = True
            shown = not (w.operation_dock.isHidden() and w.inputs_dock.isHidden())
            w.panels_action.setChecked(shown)
        folder = s.value(_LAST_FOLDER)
        if isinstance(folder, str) and folder and os.path.isdir(folder):
            w.files.last_folder = folder
        if playback:
            speed = _as_float(s.value(_SPEED))
            if speed is not None:
                w.set_speed(speed)  # the speed box clamps it to its range
            loop = _as_bool(s.value(_LOOP))
            if loop is not None:
                w.set_loop(loop)
        return restored

    def save(self) -> None:
        """Write the window's state now (also done on its close event)."""
        w = self.window
        s = self.settings
        # A window closed in full screen (a lecture) keeps the windowed geometry saved before: the
        # next start should not take over the screen.
        if not w.isFullScreen():
            s.setValue(_GEOMETRY, w.saveGeometry())
            s.setValue(_STATE, w.saveState(LAYOUT_VERSION))
        if w.files.last_folder:
            s.setValue(_LAST_FOLDER, w.files.last_folder)
        s.setValue(_SPEED, float(w.animation.speed.value()))
        s.setValue(_LOOP, bool(w.animation.loop.isChecked()))
        s.sync()
        self._saved = True

    @property
    def saved(self) -> bool:
        """True once :meth:`save` ran (for the start-up code and tests)."""
        return self._saved

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        # Before the window's own closeEvent, which shuts the window down.
        if obj is self.window and event.type() == QEvent.Close:
            self.save()
        return False
