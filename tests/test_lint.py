"""The code passes the lint rules of pyproject.toml (ruff), and no function is too long to read."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
LONGEST_FUNCTION = 60  # lines, decorators and docstring included
# Functions over the limit, each with its reason (a stale entry fails the test, so the list only shrinks).
LONG_FUNCTIONS: dict[str, str] = {}


def _ruff(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *arguments], cwd=ROOT,
                          capture_output=True, text=True)


def test_the_package_passes_ruff():
    """pyflakes, bugbear, simplify and McCabe complexity, as configured in pyproject.toml (ruff is in
    the test extra: a missing ruff fails here rather than skipping the check)."""
    result = _ruff("netbuilder")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def test_ruff_reads_the_rules_of_pyproject(tmp_path):
    """The check above is not vacuous: with the project's settings, an unused import and a function
    of complexity 13 are reported."""
    branches = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(12))
    sample = tmp_path / "sample.py"
    sample.write_text(f"import os\n\n\ndef tangled(x):\n{branches}    return -1\n")
    result = _ruff("--config", str(ROOT / "pyproject.toml"), "--output-format", "concise", str(sample))
    assert result.returncode == 1
    assert {line.split()[1] for line in result.stdout.splitlines() if line.startswith(str(sample))} == {"F401", "C901"}


def _function_lengths():
    """("path::Class.function", lines) for every function of the package, nested ones included."""
    for path in sorted((ROOT / "netbuilder").rglob("*.py")):
        yield from _lengths(ast.parse(path.read_text(encoding="utf-8")), f"{path.relative_to(ROOT).as_posix()}::")


def _lengths(parent, prefix):
    for node in ast.iter_child_nodes(parent):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
            yield prefix + node.name, node.end_lineno - start + 1
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from _lengths(node, f"{prefix}{node.name}.")
        else:
            yield from _lengths(node, prefix)


def test_no_function_is_longer_than_the_limit_without_a_reason():
    long = {name for name, length in _function_lengths() if length > LONGEST_FUNCTION}
    assert long - LONG_FUNCTIONS.keys() == set(), "split these, or give a reason in LONG_FUNCTIONS"
    assert LONG_FUNCTIONS.keys() - long == set(), "these are short now: remove them from LONG_FUNCTIONS"
