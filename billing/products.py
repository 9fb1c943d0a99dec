"""The products Seatbot bills, and the words people use for them: one definition for every layer.

Slack, the command line, the loader, the platform clients and the database all name a product
with :class:`Product`; a person may type any of :func:`product_aliases` for it. This module
imports only the standard library, so ``platforms`` may use it too (see docs/architecture.md).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

#: No account can hold more users than this (extensions are numbered 100–9000), so no seat count
#: anywhere (Slack, the CLI, the YAML file, the calculator) may exceed it.
MAX_SEATS = 10_000


def within_seat_limit(count: int) -> bool:
    """Whether ``count`` is a number of seats a subscription may have at all (0 to
    :data:`MAX_SEATS`); whether it may be requested now is :mod:`billing.seats.rules`'."""
    return 0 <= count <= MAX_SEATS


class Product(enum.StrEnum):
    """The three Squaretalk products whose users hold paid seats."""

    CONTACT_CENTER = "contact_center"
    AXIOM = "axiom"
    MATRIX = "matrix"

    @property
    def label(self) -> str:
        """The product name as an account owner knows it, for messages: ``Contact Center``."""
        return _LABELS[self]

    @property
    def slug(self) -> str:
        """The spelling suggested to people in commands: ``contact-center``."""
        return self.value.replace("_", "-")


_LABELS = {
    Product.CONTACT_CENTER: "Contact Center",
    Product.AXIOM: "Axiom",
    Product.MATRIX: "Matrix",
}

_ALIASES: Mapping[str, Product] = {
    "cc": Product.CONTACT_CENTER,
    "contact center": Product.CONTACT_CENTER,
    "contact centre": Product.CONTACT_CENTER,
    "contact-center": Product.CONTACT_CENTER,
    "contact_center": Product.CONTACT_CENTER,
    "contactcenter": Product.CONTACT_CENTER,
    "squaretalk contact center": Product.CONTACT_CENTER,
    "axiom": Product.AXIOM,
    "matrix": Product.MATRIX,
}

#: Every accepted spelling (lower case, single spaces) and the product it means.
PRODUCT_ALIASES: Mapping[str, Product] = MappingProxyType(dict(_ALIASES))


def parse_product(text: str) -> Product | None:
    """The product someone means by ``text`` (``"CC"``, ``"contact center"``, ``"axiom"``), or
    ``None``. Case and repeated spaces are ignored."""
    return _ALIASES.get(" ".join(text.lower().split()))


def product_aliases() -> tuple[str, ...]:
    """Every accepted spelling (lower case), in the order help texts list them."""
    return tuple(_ALIASES)


def product_choices() -> str:
    """The products as a help text lists them: ``contact-center (cc), axiom, matrix``."""
    return "contact-center (cc), axiom, matrix"


class ConnectionKind(enum.StrEnum):
    """How Seatbot learns which users exist on a product for an account."""

    API = "api"  # the platform's HTTP API
    IMPORT_FILE = "import_file"  # the platform's user import file (CSV or Excel)
