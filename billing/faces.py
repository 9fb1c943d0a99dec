"""How a billing package shows its public names: resolved on first use (PEP 562).

A package's ``__init__`` lists what it offers, by module, and sets
``__getattr__ = face(__name__, {...})``; type checkers read the same names from its
``if TYPE_CHECKING:`` imports. Importing a package therefore loads nothing below it, so two
packages whose modules use each other never meet half-initialised, and a command that needs one
name pays only for the module holding it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def face(package: str, offered: Mapping[str, tuple[str, ...]]) -> Callable[[str], object]:
    """The ``__getattr__`` of ``package``: each name in ``offered`` (module → names) from its
    module, imported when first asked for."""
    where = {name: f"{package}.{module}" for module, names in offered.items() for name in names}

    def public_name(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return public_name
