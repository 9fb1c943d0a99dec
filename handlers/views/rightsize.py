"""Right-sizing from the digest: the "Remove 3 unused Axiom seats" buttons, the thread's "check
again" button, and the answer to it (what can be removed now). Pure functions; a button's value
names only the account and the product (``"12:axiom"``): every figure is billing's, recomputed
when it is clicked."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from billing.formatting import format_money
from billing.products import Product
from billing.reports import ProductReconciliation
from handlers import ids
from handlers.views.text import Message, context, escape, message, section


def rightsize_value(account_id: int, product: Product) -> str:
    """The value of a right-size button: the account and the product, nothing else."""
    return f"{account_id}:{product.value}"


def _plural(count: int, one: str) -> str:
    return f"{count} {one if count == 1 else one + 's'}"


def rightsize_button(account_id: int, product: ProductReconciliation) -> ButtonElement | None:
    """ "Remove 3 unused Axiom seats" (the product named: buttons for two products sit side by
    side) for a product whose platform was read and has seats nobody holds; ``None`` otherwise
    (none for 0, none when its users are unknown)."""
    unused = product.unused_seats
    if not unused:
        return None
    return ButtonElement(
        action_id=f"{ids.RIGHTSIZE_ACTION}_{product.product.value}",
        text=f"Remove {_plural(unused, f'unused {product.product.label} seat')}",
        value=rightsize_value(account_id, product.product),
        style="primary",
    )


def rightsize_actions(account_id: int, products: Sequence[ProductReconciliation]) -> list[Block]:
    """One actions block with a right-size button per product that has unused seats (none when
    no product has)."""
    buttons = [b for p in products if (b := rightsize_button(account_id, p)) is not None]
    return [ActionsBlock(block_id="rightsize", elements=buttons[:25])] if buttons else []


def recheck_button(account_id: int, product: Product) -> ActionsBlock:
    """The thread's "I removed some of them — check again" for one product."""
    return ActionsBlock(
        block_id=f"rightsize_recheck_{product.value}",
        elements=[
            ButtonElement(
                action_id=ids.RIGHTSIZE_RECHECK_ACTION,
                text="I removed some of them — check again",
                value=rightsize_value(account_id, product),
            )
        ],
    )


def recheck_message(account_id: int, product: ProductReconciliation) -> Message:
    """The answer to "check again", for the clicker alone: what the platform holds now and
    what can be removed, with the right-size button when there is something."""
    label = product.product.label
    users = product.users
    if users is None:
        text = (
            f"{label} could not be read just now, so nothing can be removed yet: "
            f"{escape(product.reason or 'no answer')}. Try again in a moment."
        )
        return message(text, [section(text)])
    unused = product.unused_seats or 0
    head = f"*{label}* now: {_plural(product.seats, 'seat')}, {_plural(users.total, 'user')}"
    if unused:
        cost = product.unused_cost
        line = (
            f"{_plural(unused, 'unused seat')} (held by nobody) can be removed now"
            + (f" ({format_money(cost)} {product.per_period})" if cost is not None else "")
            + "."
        )
    else:
        line = "Every seat is held by a user, so none can be removed yet."
    still = users.not_using
    rest = (
        f"{_plural(still, 'idle user')} still hold seats; delete them on {label} first "
        "(Seatbot never deletes platform users)."
        if still
        else "No idle user holds a seat."
    )
    blocks: list[Block] = [section(f"{head}\n{line}"), context(rest)]
    button = rightsize_button(account_id, product)
    if button is not None:
        blocks.append(ActionsBlock(block_id="rightsize", elements=[button]))
    return message(f"{label}: {line}", blocks)
