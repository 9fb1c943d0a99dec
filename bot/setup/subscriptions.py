"""The ``subscriptions:`` key of an account in the accounts file: what it pays for.

Each has a ``product`` (at most once per account), ``seats``, a ``unit_price`` in the account's
currency and an ``anchor`` date, and may set ``interval``, ``proration`` and
``decrease_policy``; ``examples/accounts.yml`` shows every value.
"""

from __future__ import annotations

from datetime import date

import yaml

from billing.periods import Interval
from billing.products import MAX_SEATS, Product
from billing.proration import DecreasePolicy, ProrationRule
from billing.setup import SubscriptionSetup
from bot.setup.yaml_nodes import NodeReader


def parse_subscriptions(
    reader: NodeReader, node: yaml.Node | None, path: str, currency: str | None
) -> list[SubscriptionSetup]:
    specs: list[SubscriptionSetup] = []
    seen: set[Product] = set()
    for index, item in enumerate(reader.sequence(node, path)):
        where = f"{path}[{index}]"
        fields = reader.mapping(
            item,
            where,
            required={"product", "seats", "unit_price", "anchor"},
            optional={"interval", "proration", "decrease_policy"},
        )
        if fields is None:
            continue
        product = reader.choice(fields.get("product"), f"{where}.product", Product)
        seats = reader.whole_number(
            fields.get("seats"), f"{where}.seats", minimum=0, maximum=MAX_SEATS
        )
        price = reader.amount(fields.get("unit_price"), f"{where}.unit_price", currency)
        anchor_text = reader.text(fields.get("anchor"), f"{where}.anchor")
        anchor: date | None = None
        if anchor_text is not None:
            try:
                anchor = date.fromisoformat(anchor_text)
            except ValueError:
                reader.problem(
                    fields["anchor"],
                    f"{where}.anchor",
                    f"{anchor_text!r} is not a date (YYYY-MM-DD)",
                )
        interval = reader.choice(
            fields.get("interval"), f"{where}.interval", Interval, Interval.MONTHLY
        )
        rule = reader.choice(
            fields.get("proration"), f"{where}.proration", ProrationRule, ProrationRule.DAILY
        )
        policy = reader.choice(
            fields.get("decrease_policy"),
            f"{where}.decrease_policy",
            DecreasePolicy,
            DecreasePolicy.PRORATED,
        )
        if product is not None and product in seen:
            reader.problem(
                fields["product"], f"{where}.product", f"{product.value} is listed twice"
            )
            continue
        if (
            product is None
            or seats is None
            or price is None
            or anchor is None
            or None in (interval, rule, policy)
        ):
            continue
        seen.add(product)
        specs.append(
            SubscriptionSetup(
                product,
                seats,
                price.minor,
                interval,
                anchor,
                rule,
                policy,
                item.start_mark.line + 1,
            )
        )
    return specs
