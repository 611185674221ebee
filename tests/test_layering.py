"""The model/view boundary (ARCHITECTURE §1): compute never imports Qt or gui; gui never imports cupy."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def root_of(module: str) -> str:
    """The library a module belongs to: its top-level name, or ``opscope.X`` for our own packages."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "opscope" and len(parts) > 1 else parts[0]


def imported_roots(path: Path) -> set[str]:
    """Roots (:func:`root_of`) of every module ``path`` imports, anywhere in the file (also inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(root_of(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "opscope":  # `from opscope import gui`
                roots.update(root_of(f"opscope.{alias.name}") for alias in node.names)
            else:
                roots.add(root_of(node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            roots.add(root_of(str(node.args[0].value)))
    return roots


def offenders(package: str, forbidden: set[str]) -> list[str]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    return [f"{p.relative_to(ROOT)} imports {', '.join(sorted(imported_roots(p) & forbidden))}"
            for p in files if imported_roots(p) & forbidden]


def test_compute_imports_no_qt_and_no_gui():
    qt = {"PySide6", "PyQt6", "PyQt5", "PySide2", "pyqtgraph", "shiboken6"}
    assert offenders("compute", qt | {"gui", "opscope.gui", "opscope.main"}) == []


def test_gui_never_imports_cupy():
    assert offenders("gui", {"cupy", "cupyx"}) == []


def test_the_checker_sees_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    import cupy.cuda\n    from PySide6.QtCore import Qt\n__import__('gui')\n"
                 "from opscope import gui\nimport opscope.main\n")
    assert imported_roots(f) >= {"cupy", "PySide6", "gui", "opscope.gui", "opscope.main"}


def test_our_code_imports_itself_through_the_opscope_package():
    """Installed, there is no top-level `compute`, `gui` or `main`: every import of our own code says `opscope.`."""
    sources = [ROOT / "main.py", ROOT / "__init__.py", *ROOT.glob("compute/**/*.py"), *ROOT.glob("gui/**/*.py"),
               *ROOT.glob("tests/**/*.py"), *ROOT.glob("bench/*.py")]
    bad = [f"{p.relative_to(ROOT)} imports {', '.join(sorted(imported_roots(p) & {'compute', 'gui'}))}"
           for p in sources if imported_roots(p) & {"compute", "gui"}]
    assert bad == []
