"""Session files: an exact round trip, and a SessionError with a clear message for every bad file."""

import json
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opscope.compute.io import (
    FileFormatError,
    RecentFiles,
    Session,
    SessionError,
    autosave_path,
    data_dir,
    load_session,
    save_session,
)
from opscope.compute.io import atomic as atomic_mod
from opscope.compute.io.tensor_files import _write_npz

INPUTS = {"Q": np.arange(12, dtype=np.float32).reshape(3, 4) / 7, "K": np.linspace(-1, 1, 8).reshape(2, 4),
          "lengths": np.array([3, 2], dtype=np.int64), "keep": np.array([True, False])}


def _session(**changes):
    base = dict(op="attention", params={"axis": (0, 2), "eps": 1e-6, "mask": "causal", "scale": None},
                inputs=INPUTS, granularity="tile", options={"tile": (64, 64), "heads": 2}, step=17,
                view={"zoom": 1.5, "slice": [0, 1], "panels": {"left": "Q"}, "title": "ü"})
    base.update(changes)
    return Session(**base)


def test_round_trip(tmp_path):
    path = tmp_path / "s.opscope"
    save_session(path, _session())
    back = load_session(path)
    assert back.op == "attention"
    assert back.params == {"axis": (0, 2), "eps": 1e-6, "mask": "causal", "scale": None}
    assert back.granularity == "tile" and back.step == 17
    assert back.options == {"tile": (64, 64), "heads": 2}
    assert back.view == {"zoom": 1.5, "slice": [0, 1], "panels": {"left": "Q"}, "title": "ü"}
    assert list(back.inputs) == list(INPUTS)
    for k, v in INPUTS.items():
        assert back.inputs[k].dtype == v.dtype
        assert back.inputs[k].tobytes() == v.tobytes() and back.inputs[k].shape == v.shape
    with zipfile.ZipFile(path) as zf:
        assert set(zf.namelist()) == {"manifest.json", "tensors.npz"}
        assert zf.getinfo("manifest.json").compress_type == zipfile.ZIP_DEFLATED
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["format"] == "opscope-session" and manifest["version"] == 1
    assert manifest["inputs"] == list(INPUTS) and "app_version" in manifest


def test_defaults_and_no_inputs(tmp_path):
    save_session(tmp_path / "s.opscope", Session("softmax", granularity=None))
    back = load_session(tmp_path / "s.opscope")
    assert (back.op, back.params, back.inputs, back.granularity, back.step, back.view) == ("softmax", {}, {}, None,
                                                                                           0, {})


def _write_zip(path, manifest=None, tensors=None, raw_manifest=None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        if raw_manifest is not None:
            zf.writestr("manifest.json", raw_manifest)
        elif manifest is not None:
            zf.writestr("manifest.json", json.dumps(manifest))
        if tensors is not None:
            with zf.open("tensors.npz", "w") as m:
                _write_npz(m, tensors)


def _manifest(**changes):
    m = {"format": "opscope-session", "version": 1, "op": "matmul", "params": {}, "granularity": "auto",
         "options": {}, "step": 0, "view": {}, "inputs": ["A"]}
    m.update(changes)
    return m


def test_newer_version_refused(tmp_path):
    _write_zip(tmp_path / "new.opscope", _manifest(version=3), {"A": np.ones(2)})
    with pytest.raises(SessionError) as err:
        load_session(tmp_path / "new.opscope")
    assert "new.opscope was written by a newer OpScope (format 3); this version reads format ≤ 1" in str(err.value)


def test_older_version_migrated(tmp_path, monkeypatch):
    from opscope.compute.io import session as session_mod

    def v0_to_v1(m):
        m["op"] = {"mm": "matmul"}[m.pop("operation")]
        return m

    monkeypatch.setitem(session_mod._MIGRATIONS, 0, v0_to_v1)
    manifest = _manifest(version=0, operation="mm")
    del manifest["op"]
    _write_zip(tmp_path / "old.opscope", manifest, {"A": np.ones(2)})
    assert load_session(tmp_path / "old.opscope").op == "matmul"
    monkeypatch.delitem(session_mod._MIGRATIONS, 0)
    with pytest.raises(SessionError, match="format 0 is too old"):
        load_session(tmp_path / "old.opscope")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(manifest=None, tensors={"A": np.ones(2)}), "is not an OpScope session: it has no manifest.json"),
        (dict(raw_manifest="{not json"), "manifest.json is not valid JSON"),
        (dict(raw_manifest="[1, 2]"), "manifest.json is not a JSON object"),
        (dict(manifest=_manifest(format="something-else")), "is not an OpScope session \\(manifest format"),
        (dict(manifest=_manifest(version="1")), "no valid format version"),
        (dict(manifest=_manifest(step=True), tensors={"A": np.ones(1)}), "'step' is malformed"),
        (dict(manifest=_manifest(params=[1])), "'params' is malformed"),
        (dict(manifest=_manifest(inputs=["A", "A"])), "input names are malformed"),
        (dict(manifest=_manifest()), "lists inputs 'A' but holds no tensors.npz"),
        (dict(manifest=_manifest(inputs=["A", "B"]), tensors={"A": np.ones(1)}), "has no tensor 'B'"),
    ],
)
def test_bad_sessions_refused(tmp_path, kwargs, message):
    _write_zip(tmp_path / "bad.opscope", **kwargs)
    with pytest.raises(SessionError, match=message) as err:
        load_session(tmp_path / "bad.opscope")
    assert "bad.opscope" in str(err.value)


def test_pickled_tensors_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "p.opscope", "w") as zf:
        zf.writestr("manifest.json", json.dumps(_manifest()))
        with zf.open("tensors.npz", "w") as m:
            np.savez(m, A=np.array([{}], dtype=object))  # np.savez pickles object arrays
    with pytest.raises(SessionError, match="p.opscope \\(tensors.npz\\): tensor 'A' holds Python objects \\(pickle\\)"):
        load_session(tmp_path / "p.opscope")


def test_not_a_zip_missing_and_empty(tmp_path):
    (tmp_path / "text.opscope").write_text("hello")
    with pytest.raises(SessionError, match="text.opscope is not an OpScope session \\(not a zip archive"):
        load_session(tmp_path / "text.opscope")
    with pytest.raises(SessionError, match="no such file"):
        load_session(tmp_path / "missing.opscope")
    (tmp_path / "empty.opscope").write_bytes(b"")
    with pytest.raises(SessionError, match="is empty"):
        load_session(tmp_path / "empty.opscope")
    assert issubclass(SessionError, FileFormatError)


def test_size_guard(tmp_path):
    save_session(tmp_path / "s.opscope", _session())
    with pytest.raises(SessionError, match="over the limit|exceed the limit"):
        load_session(tmp_path / "s.opscope", max_bytes=64)


def test_unsavable_session_refused_and_old_file_kept(tmp_path, monkeypatch):
    path = tmp_path / "s.opscope"
    save_session(path, _session())
    before = path.read_bytes()
    with pytest.raises(SessionError, match="cannot be saved"):
        save_session(path, _session(view={"widget": object()}))
    with pytest.raises(SessionError, match="complex"):
        save_session(path, _session(inputs={"A": np.ones(2, complex)}))
    with pytest.raises(SessionError, match="step must be"):
        save_session(path, _session(step=-1))

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_mod.os, "replace", broken_replace)
    with pytest.raises(SessionError, match="No space left"):
        save_session(path, _session(step=99))
    monkeypatch.undo()
    assert path.read_bytes() == before and load_session(path).step == 17
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.opscope"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.floats(0, 1), byte=st.integers(0, 255), truncate=st.booleans())
def test_damaged_sessions_only_raise_session_error(tmp_path, pos, byte, truncate):
    src = tmp_path / "ok.opscope"
    if not src.exists():
        save_session(src, _session())
    data = bytearray(src.read_bytes())
    i = min(int(pos * len(data)), len(data) - 1)
    if truncate:
        data = data[:i]
    else:
        data[i] = byte
    (tmp_path / "d.opscope").write_bytes(bytes(data))
    try:
        load_session(tmp_path / "d.opscope", max_bytes=1 << 20)
    except SessionError:
        pass


def test_autosave_path_uses_opscope_home(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSCOPE_HOME", str(tmp_path / "home"))
    path = autosave_path()
    assert path == tmp_path / "home" / "autosave.opscope" and path.parent.is_dir()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG applies to Linux")
def test_data_dir_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("OPSCOPE_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir(create=False) == tmp_path / "xdg" / "opscope"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert data_dir(create=False) == tmp_path / "user" / ".local" / "share" / "opscope"


def test_recent_files(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSCOPE_HOME", str(tmp_path / "home"))
    recent = RecentFiles()
    assert recent.path == tmp_path / "home" / "recent.json" and recent.items() == []
    for i in range(12):
        recent.add(tmp_path / f"f{i}.opscope")
    recent.add(tmp_path / "f5.opscope")
    items = RecentFiles().items()
    assert len(items) == 10 and items[0] == str(tmp_path / "f5.opscope") and items[1] == str(tmp_path / "f11.opscope")
    assert items.count(str(tmp_path / "f5.opscope")) == 1
    assert json.loads(recent.path.read_text()) == items
    assert recent.remove(tmp_path / "f11.opscope")[1] == str(tmp_path / "f10.opscope")
    recent.path.write_text("{corrupt")
    assert recent.items() == []
    monkeypatch.chdir(tmp_path)
    recent.add("rel.opscope")
    assert recent.items() == [str(tmp_path / "rel.opscope")]
    recent.clear()
    assert recent.items() == []
