"""The layers import only what docs/architecture.md allows them (billing: no Slack, no HTTP;
platforms: no Slack, no database; handlers: no bot).

One deliberate exception: ``platforms`` may import billing's vocabulary modules (products, users,
the error tree), which import nothing but the standard library, so that a product, a platform
user and an owner-facing error have one definition across every layer; and its face shows its
names the way billing's packages do (``billing.faces``, the standard library only too).
"""

import ast
import importlib
import sys
from pathlib import Path

import pytest

from billing.faces import offered

ROOT = Path(__file__).resolve().parents[1]

ALLOWED = {
    "billing": {"billing", "sqlalchemy", "babel"},
    "platforms": {
        "platforms",
        "httpx",
        "tenacity",
        "openpyxl",
        "charset_normalizer",
        "billing",
    },
    "handlers": {"handlers", "billing", "platforms", "slack_bolt", "slack_sdk"},
}

#: The billing modules ``platforms`` may import; each imports only the standard library.
VOCABULARY = {"billing.products", "billing.users", "billing.errors"}

#: How a package's face shows its names lazily; ``platforms/__init__`` uses it as well.
FACES = "billing.faces"


def _imports(path: Path) -> set[str]:
    """Every absolute module named by an import statement in ``path``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _imported_roots(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imports(path)}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_its_layer_allows(package: str) -> None:
    offenders = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        foreign = _imported_roots(path) - ALLOWED[package] - set(sys.stdlib_module_names)
        if foreign:
            offenders[str(path.relative_to(ROOT))] = sorted(foreign)
    assert offenders == {}


def test_platforms_import_only_billings_vocabulary() -> None:
    offenders = {}
    for path in sorted((ROOT / "platforms").rglob("*.py")):
        billing = {name for name in _imports(path) if name.split(".")[0] == "billing"}
        allowed = VOCABULARY | ({FACES} if path == ROOT / "platforms" / "__init__.py" else set())
        if billing - allowed:
            offenders[str(path.relative_to(ROOT))] = sorted(billing - allowed)
    assert offenders == {}


@pytest.mark.parametrize("module", sorted(VOCABULARY | {FACES}))
def test_the_vocabulary_imports_only_the_standard_library(module: str) -> None:
    path = ROOT / (module.replace(".", "/") + ".py")
    foreign = {
        name
        for name in _imports(path)
        if name.split(".")[0] not in sys.stdlib_module_names and name not in VOCABULARY
    }
    assert foreign == set()


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import httpx\nfrom slack_sdk.models import blocks\nimport json\n")
    assert _imported_roots(sample) - set(sys.stdlib_module_names) == {"httpx", "slack_sdk"}


@pytest.mark.parametrize("package", ["handlers", "bot"])
def test_the_edges_import_billing_through_its_package_faces(package: str) -> None:
    """``billing`` or ``billing.<name>`` (a package's face, or a vocabulary module), never a
    module below a package: what a package offers is what its ``__init__`` lists. A migration
    (history: it builds on the code as it was when written) is left as it is."""
    offenders = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if path.is_relative_to(ROOT / "bot" / "migrations" / "versions"):
            continue
        deep = {
            name
            for name in _imports(path)
            if name.split(".")[0] == "billing" and name.count(".") > 1
        }
        if deep:
            offenders[str(path.relative_to(ROOT))] = sorted(deep)
    assert offenders == {}


def test_every_name_a_face_offers_is_there() -> None:
    """Each package's face resolves every name it lists, from the module it names, and no
    other."""
    inits = [*sorted((ROOT / "billing").glob("*/__init__.py")), ROOT / "platforms" / "__init__.py"]
    for init in inits:
        package = ".".join(init.parent.relative_to(ROOT).parts)
        face = importlib.import_module(package)
        names = offered(package, str(init))
        assert names, package
        for name, module in names.items():
            assert getattr(face, name) is getattr(importlib.import_module(module), name)
        with pytest.raises(AttributeError):
            _ = face.no_such_name
