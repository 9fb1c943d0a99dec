"""The walks in docs/architecture.md name real places: every `path.py:Name` (or
`path.py:Class.method`) it mentions is a file of the repository defining that name, so a
rename or a move that forgets the map fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
PLACE = re.compile(r"`([\w/]+\.py):([\w.]+)")


def _defined(tree: ast.Module, dotted: str) -> bool:
    body: list[ast.stmt] = tree.body
    for part in dotted.split("."):
        found = next(
            (
                node
                for node in body
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name == part
            ),
            None,
        )
        if found is None:
            return False
        body = found.body
    return True


def test_the_map_names_only_places_that_exist() -> None:
    places = PLACE.findall(DOC.read_text(encoding="utf-8"))
    assert len(places) >= 30  # the three walks are written down
    missing = []
    for path, dotted in places:
        source = ROOT / path
        if not source.is_file():
            missing.append(f"{path} (no such file)")
        elif not _defined(ast.parse(source.read_text(encoding="utf-8")), dotted):
            missing.append(f"{path}:{dotted}")
    assert not missing, "docs/architecture.md names places that do not exist: " + ", ".join(missing)


def test_the_map_lists_every_module_of_each_billing_package() -> None:
    """The map's line for each ``billing/<package>/`` names exactly its modules."""
    listed: dict[str, set[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        found = re.fullmatch(r"  (\w+)/ +((?:\w+ *)+)", line)
        if found and (ROOT / "billing" / found[1]).is_dir():
            listed[found[1]] = set(found[2].split())
    packages = {p.parent.name for p in (ROOT / "billing").glob("*/__init__.py")}
    assert set(listed) == packages
    for package, modules in listed.items():
        present = {p.stem for p in (ROOT / "billing" / package).glob("*.py")} - {"__init__"}
        assert modules == present, f"billing/{package}/ in docs/architecture.md"
