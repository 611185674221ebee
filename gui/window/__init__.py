"""The main window and its parts: operation picker and parameters, input editors, canvas, caption
bar, animation panel, status bar, and the worker threads that keep it responsive."""

from .main_window import DEBOUNCE_MS, MainWindow

__all__ = ["DEBOUNCE_MS", "MainWindow"]
