"""The model/view boundary (ARCHITECTURE §1): compute never imports Qt or gui; gui never imports cupy."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_roots(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, anywhere in the file (also inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            roots.add(str(node.args[0].value).split(".")[0])
    return roots


def offenders(package: str, forbidden: set[str]) -> list[str]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    return [f"{p.relative_to(ROOT)} imports {', '.join(sorted(imported_roots(p) & forbidden))}"
            for p in files if imported_roots(p) & forbidden]


def test_compute_imports_no_qt_and_no_gui():
    assert offenders("compute", {"PySide6", "PyQt6", "PyQt5", "PySide2", "pyqtgraph", "shiboken6", "gui"}) == []


def test_gui_never_imports_cupy():
    assert offenders("gui", {"cupy", "cupyx"}) == []


def test_the_checker_sees_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    import cupy.cuda\n    from PySide6.QtCore import Qt\n__import__('gui')\n")
    assert imported_roots(f) >= {"cupy", "PySide6", "gui"}
