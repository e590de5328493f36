"""Imports go downwards only: features <- models <- pipelines <- qingyuan (parsed with ast)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _imports(path: Path) -> set[str]:
    """Top-level package of every module imported by a file (lazy imports included)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def _offenders(package: str, forbidden: set[str]) -> list[str]:
    return sorted(
        f"{p.relative_to(ROOT)} imports {sorted(_imports(p) & forbidden)}"
        for p in (ROOT / package).rglob("*.py")
        if _imports(p) & forbidden
    )


@pytest.mark.parametrize("package", ["features", "models", "pipelines"])
def test_no_upward_import_of_the_application(package):
    assert _offenders(package, {"qingyuan"}) == []


def test_features_import_neither_pipelines_nor_models():
    assert _offenders("features", {"pipelines", "models"}) == []


def test_the_check_can_fail(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from qingyuan.paths import config_dir\n")
    assert _imports(f) == {"qingyuan"}
