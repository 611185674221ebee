"""The install is one import package, ``opscope``: nothing generic lands at the top of site-packages.

The checks on the installed distribution run in a subprocess started outside the checkout, so that
they see what ``pip install .`` put in the environment, not this source tree; they skip where the
project is not installed (a developer running the tests straight from a checkout).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]

_INSTALLED = r"""
import importlib.metadata as m, json, sys
try:
    dist = m.distribution("opscope")
except m.PackageNotFoundError:
    print(json.dumps(None)); sys.exit(0)
files = [str(f).replace("\\", "/") for f in dist.files or ()]
print(json.dumps({"files": files, "version": dist.version,
                  "scripts": [e.value for e in dist.entry_points if e.group == "console_scripts"]}))
"""


def _source_packages() -> set[str]:
    """Every package of the checkout, as the name it installs under."""
    found = {"opscope"}
    for init in ROOT.glob("*/**/__init__.py"):
        rel = init.parent.relative_to(ROOT)
        if rel.parts[0] in ("compute", "gui"):
            found.add(".".join(("opscope", *rel.parts)))
    return found


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_every_source_package_is_listed_for_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    assert listed == _source_packages(), "pyproject.toml's package list and the source tree differ"
    assert config["tool"]["setuptools"]["package-dir"] == {"opscope": "."}
    assert config["project"]["scripts"] == {"opscope": "opscope.main:main"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    out = subprocess.run([sys.executable, "-c", _INSTALLED], cwd=tmp_path_factory.mktemp("elsewhere"),
                         capture_output=True, text=True, timeout=60, check=True)
    info = json.loads(out.stdout)
    if info is None:
        pytest.skip("opscope is not installed in this environment")
    return info


def test_the_wheel_installs_one_package_and_no_generic_top_level_modules(installed):
    tops = {f.split("/")[0] for f in installed["files"] if not f.startswith("../")}
    tops = {t for t in tops if not t.endswith((".dist-info", ".egg-info")) and t != "__pycache__"}
    assert tops == {"opscope"}, f"installed at the top level: {sorted(tops)}"
    files = set(installed["files"])
    for needed in ("opscope/__init__.py", "opscope/__main__.py", "opscope/main.py", "opscope/compute/api.py",
                   "opscope/gui/window/main_window.py", "opscope/resources/opscope.svg"):
        assert needed in files
    assert not any(f.startswith(("opscope/tests/", "opscope/bench/")) for f in files)
    assert any(f.endswith("LICENSE") for f in files), "the licence is not in the distribution"


def test_installed_version_matches_the_source(installed):
    from opscope import __version__

    assert installed["version"] == __version__


def test_python_m_opscope_runs_the_installed_package(installed, tmp_path):
    out = subprocess.run([sys.executable, "-m", "opscope", "--version"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"opscope {installed['version']}"


def test_version_is_in_the_help(capsys):
    from opscope import __version__, main

    with pytest.raises(SystemExit) as e:
        main.main(["--help"])
    assert e.value.code == 0
    assert __version__ in capsys.readouterr().out
