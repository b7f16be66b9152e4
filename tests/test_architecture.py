"""Layering rules: only the GUI touches Qt, and the core stays light to import."""
import subprocess
import sys
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).parents[1]


def test_the_layers_import_only_what_the_design_allows(monkeypatch, capsys):
    """The import contracts in pyproject.toml (import-linter), lazy imports inside functions included:
    common imports no layer; the core no data, model or Qt; data no core; model no training;
    inference no training; training and export no Qt."""
    monkeypatch.chdir(ROOT)
    assert lint_imports(no_cache=True) == 0, capsys.readouterr().out[-3000:]


def test_loading_and_checking_a_project_imports_neither_qt_nor_torch():
    code = ("import sys; from netbuilder.core.project import load_template; from netbuilder.core.analysis import analyze;"
            "from netbuilder.core.summary import summary_text; summary_text(load_template('2-cnn').graph);"
            "print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
