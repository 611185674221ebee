"""Test set-up shared by every test: Qt offscreen before any Qt import, and no leaked threads."""

import os
import threading

import pytest

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
def _opscope_home(tmp_path_factory, monkeypatch):
    """Keep autosave, recent files and settings of tests out of the user's home."""
    monkeypatch.setenv("OPSCOPE_HOME", str(tmp_path_factory.mktemp("opscope_home")))
