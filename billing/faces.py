"""How a billing package shows its public names: resolved on first use (PEP 562).

A package's ``__init__`` lists what it offers once, as re-exporting imports under
``if TYPE_CHECKING:`` (``from billing.seats.service import SeatChanges as SeatChanges``), which
type checkers read, and sets ``__getattr__ = face(__name__, __file__)``, which reads the same
imports at run time. Importing a package therefore loads nothing below it, so two packages whose
modules use each other never meet half-initialised, and a command that needs one name pays only
for the module holding it.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path


def offered(package: str, init_file: str) -> dict[str, str]:
    """Each name ``package``'s ``__init__`` (``init_file``) imports from below it → its module."""
    where: dict[str, str] = {}
    for node in ast.walk(ast.parse(Path(init_file).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(f"{package}."):
            for alias in node.names:
                where[alias.asname or alias.name] = str(node.module)
    return where


def face(package: str, init_file: str) -> Callable[[str], object]:
    """The ``__getattr__`` of ``package``: each name it offers, from its module, imported when
    first asked for."""
    where = offered(package, init_file)

    def public_name(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return public_name
