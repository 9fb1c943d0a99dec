"""No import circle among the product modules (billing, bot, handlers, platforms).

Every import counts, at module level or inside a function: an import put off until a function
runs still ties the two modules together, it only hides the circle from Python's import.
(Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``; a package's face importing
its own modules is not a circle, so parents are not counted.)
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("billing", "bot", "handlers", "platforms")


def modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module below ``root``'s ``packages``, by dotted name (a package by its own)."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ``known`` that module ``name`` (the file ``path``) imports, anywhere."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in known else base)
    return (targets & known.keys()) - {name}


def first_circle(root: Path, packages: Iterable[str], leave_out: frozenset[str]) -> list[str]:
    """One import circle among the modules (``[]`` when there is none), ``leave_out`` aside."""
    known = modules(root, packages)
    graph = {
        name: imported(name, path, known) - leave_out
        for name, path in known.items()
        if name not in leave_out
    }
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        circle: list[str] = error.args[1]
        return circle
    return []


def test_no_product_module_imports_itself_back() -> None:
    assert first_circle(ROOT, PACKAGES, frozenset()) == []


@pytest.mark.parametrize(
    ("files", "circle"),
    [
        ({"pkg/a.py": "import pkg.b\n", "pkg/b.py": "from pkg import c\n", "pkg/c.py": ""}, []),
        (
            {
                "pkg/a.py": "def later():\n    from pkg.b import thing\n",
                "pkg/b.py": "from . import c\n",
                "pkg/c.py": "import pkg.a\n",
            },
            ["pkg.a", "pkg.b", "pkg.c"],
        ),
        (
            {"pkg/__init__.py": "from pkg.a import x\n", "pkg/a.py": "import pkg\n"},
            ["pkg", "pkg.a"],
        ),
    ],
)
def test_the_check_sees_a_circle_through_any_import(
    tmp_path: Path, files: dict[str, str], circle: list[str]
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = first_circle(tmp_path, ["pkg"], frozenset())
    assert sorted(set(found)) == circle


def test_no_module_is_over_four_hundred_lines() -> None:
    """A module a newcomer opens fits in their head: 400 lines at most (migrations aside)."""
    long = {
        name: lines
        for name, path in modules(ROOT, PACKAGES).items()
        if "migrations.versions" not in name
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}
