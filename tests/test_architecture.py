"""Layering rules: only the GUI touches Qt, and the core stays light to import."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "netbuilder"
QT_MODULES = ("PySide6", "pyqtgraph", "shiboken6")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", ["core", "data", "training"])
def test_only_the_gui_imports_qt(layer):
    offenders = [str(path.relative_to(PACKAGE)) for path in (PACKAGE / layer).rglob("*.py")
                 if any(name.split(".")[0] in QT_MODULES for name in _imported_modules(path))]
    assert offenders == []


def test_loading_and_checking_a_project_imports_neither_qt_nor_torch():
    code = ("import sys; from netbuilder.core.project import load_template; from netbuilder.core.analysis import analyze;"
            "from netbuilder.core.summary import summary_text; summary_text(load_template('2-cnn').graph);"
            "print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
