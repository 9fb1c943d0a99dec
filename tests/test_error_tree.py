"""One error tree (issue 17): every exception class Seatbot defines descends from
``billing.errors.SeatbotError``; at most four derive directly from a built-in exception; one
configuration error and one decryption error, with no variants beside them."""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil

import billing.errors
from billing.errors import ConfigurationError, DecryptionError, SeatbotError

PACKAGES = ("billing", "bot", "handlers", "platforms")
MAX_DIRECT_FROM_BUILTINS = 4


def _exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in the product's modules (migrations aside), by name."""
    found: dict[str, type[BaseException]] = {}
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        for module_info in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            if ".migrations" in module_info.name or module_info.name.endswith("__main__"):
                continue
            module = importlib.import_module(module_info.name)
            for value in vars(module).values():
                if (
                    inspect.isclass(value)
                    and issubclass(value, BaseException)
                    and value.__module__ == module.__name__
                ):
                    found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def _builtin_bases(kind: type) -> list[str]:
    return [base.__name__ for base in kind.__bases__ if base.__module__ == builtins.__name__]


def test_the_walk_finds_the_tree() -> None:
    classes = _exception_classes()
    assert classes["billing.errors.SeatbotError"] is SeatbotError
    assert "platforms.errors.PlatformError" in classes
    assert len(classes) > 30


def test_every_exception_descends_from_the_one_root() -> None:
    strays = sorted(
        name for name, kind in _exception_classes().items() if not issubclass(kind, SeatbotError)
    )
    assert strays == []


def test_at_most_four_classes_derive_from_a_built_in_exception() -> None:
    direct = {
        name: _builtin_bases(kind)
        for name, kind in _exception_classes().items()
        if _builtin_bases(kind)
    }
    assert len(direct) <= MAX_DIRECT_FROM_BUILTINS, direct
    assert direct == {"billing.errors.SeatbotError": ["Exception"]}


def test_one_configuration_error_and_one_decryption_error() -> None:
    classes = _exception_classes()
    for one in (ConfigurationError, DecryptionError):
        assert [name for name, kind in classes.items() if issubclass(kind, one)] == [
            f"{billing.errors.__name__}.{one.__name__}"
        ]
    lookalikes = sorted(
        name
        for name, kind in classes.items()
        if any(word in kind.__name__ for word in ("Config", "Settings", "Decrypt", "Unreadable"))
    )
    assert lookalikes == ["billing.errors.ConfigurationError", "billing.errors.DecryptionError"]


def test_the_check_sees_a_class_built_on_a_built_in() -> None:
    class Sample(ValueError):
        pass

    assert _builtin_bases(Sample) == ["ValueError"]
    assert _builtin_bases(ConfigurationError) == []
