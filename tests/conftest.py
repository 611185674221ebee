"""Test set-up shared by every test: Qt offscreen before any Qt import, and no leaked threads."""

import importlib.util
import os
import threading
from pathlib import Path

import pytest

# The code under test is this checkout's, imported as the `opscope` package it installs as
# (main.py's use_source_tree), even where an older copy is installed in the environment.
_main_file = importlib.util.spec_from_file_location("_opscope_main_file",
                                                    Path(__file__).resolve().parents[1] / "main.py")
_main_module = importlib.util.module_from_spec(_main_file)
_main_file.loader.exec_module(_main_module)
_main_module.use_source_tree()

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPSCOPE_BACKEND", os.environ.get("OPSCOPE_TEST_BACKEND", "numpy"))


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    """Fail a test that leaves a Python thread running: dangling workers crash later tests."""
    before = set(threading.enumerate())
    yield
    import time

    deadline = time.monotonic() + 5.0
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not extra, f"test left threads running: {[t.name for t in extra]}"


@pytest.fixture(autouse=True)
def _default_memory_budget():
    """Every test starts and ends with the default budget: an override one test forgot to undo
    (or restored as a number) would silently change what every later test refuses."""
    from opscope.compute import set_memory_budget

    set_memory_budget(None)
    yield
    set_memory_budget(None)


@pytest.fixture(autouse=True)
def _opscope_home(tmp_path_factory, monkeypatch):
    """Keep autosave, recent files and settings of tests out of the user's home."""
    monkeypatch.setenv("OPSCOPE_HOME", str(tmp_path_factory.mktemp("opscope_home")))
