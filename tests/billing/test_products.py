"""One product vocabulary for every layer."""

from __future__ import annotations

import pytest

from billing.products import PRODUCT_ALIASES, Product, parse_product, product_aliases


@pytest.mark.parametrize(
    ("text", "product"),
    [
        ("cc", Product.CONTACT_CENTER),
        ("  Contact   Center ", Product.CONTACT_CENTER),
        ("contact-center", Product.CONTACT_CENTER),
        ("contact_center", Product.CONTACT_CENTER),
        ("AXIOM", Product.AXIOM),
        ("matrix", Product.MATRIX),
        ("axium", None),
        ("", None),
    ],
)
def test_parse_product(text: str, product: Product | None) -> None:
    assert parse_product(text) is product


def test_every_product_is_reachable_by_its_value_slug_and_label() -> None:
    for product in Product:
        assert parse_product(product.value) is product
        assert parse_product(product.slug) is product
        assert parse_product(product.label) is product
    assert set(PRODUCT_ALIASES) == set(product_aliases())
