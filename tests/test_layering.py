"""The layers import only what DESIGN.md allows them (billing: no Slack, no HTTP; platforms: no
Slack, no database; handlers: no bot)."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ALLOWED = {
    "billing": {"billing", "sqlalchemy", "babel"},
    "platforms": {"platforms", "httpx", "tenacity", "openpyxl"},
    "handlers": {"handlers", "billing", "platforms", "slack_bolt", "slack_sdk"},
}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_its_layer_allows(package: str) -> None:
    offenders = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        foreign = _imported_roots(path) - ALLOWED[package] - set(sys.stdlib_module_names)
        if foreign:
            offenders[str(path.relative_to(ROOT))] = sorted(foreign)
    assert offenders == {}


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import httpx\nfrom slack_sdk.models import blocks\nimport json\n")
    assert _imported_roots(sample) - set(sys.stdlib_module_names) == {"httpx", "slack_sdk"}
