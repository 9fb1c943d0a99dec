"""Block Kit for the daily seat-usage digest and the reconciliation report.

Pure functions from billing's stored facts (:class:`billing.reports.facts.DigestFacts`,
:class:`billing.reports.facts.AccountReconciliation`) to :class:`Message` lists: the digest itself
(one message unless it needs more than 50 blocks), and its thread (every user who holds a seat
without using it), split into valid messages of at most 50 blocks. A product whose platform
could not be read says so with the reason: unknown, never zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, DividerBlock

from billing.formatting import format_day, format_instant, format_money
from billing.money import Money
from billing.reports import (
    LISTED_IDLE_USERS,
    AccountReconciliation,
    DigestFacts,
    IdleUser,
    ProductChange,
    ProductReconciliation,
)
from billing.users import UserStatus
from handlers.views.forecast import next_invoice_blocks
from handlers.views.text import (
    MESSAGE_BLOCK_LIMIT,
    Message,
    context,
    echo,
    escape,
    header,
    message,
    section,
)

#: Users listed per section block in the thread (keeps each block far below 3000 characters).
USERS_PER_SECTION = 8


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _signed(count: int) -> str:
    return f"+{count}" if count > 0 else ("±0" if count == 0 else f"−{-count}")


def _money(amount: Money | None, where: ZoneInfo) -> str:
    return "unknown" if amount is None else format_money(amount)


def product_line(product: ProductReconciliation, where: ZoneInfo) -> str:
    """``*Contact Center* · 25 seats · 23 users (19 active, 4 inactive) · 92% used``, or the
    reason it is unknown."""
    label = f"*{product.product.label}* · {_plural(product.seats, 'seat')}"
    users = product.users
    if users is None:
        return f"{label} · users *unknown*: {escape(product.reason or 'not read')}"
    used = product.utilisation_percent
    used_text = "" if used is None else f" · {used}% used"
    return (
        f"{label} · {_plural(users.total, 'user')} ({users.active} active, "
        f"{users.inactive} inactive; {users.idle} idle 30+ days){used_text}"
    )


def findings(product: ProductReconciliation, where: ZoneInfo) -> list[str]:
    """The product's findings with the money at stake, one line each (none when all is well)."""
    name = product.product.label
    per = product.per_period
    if product.users is None:
        return [f"• {name}: could not be read, so its users are unknown (not counted as zero)"]
    lines = []
    if product.unused_seats:
        lines.append(
            f"• {name}: {_plural(product.unused_seats, 'unused seat')} — "
            f"{_money(product.unused_cost, where)} {per}"
        )
    if product.users.inactive:
        lines.append(
            f"• {name}: {_plural(product.users.inactive, 'seat')} held by inactive users — "
            f"{_money(product.inactive_cost, where)} {per}"
        )
    if product.users.idle:
        lines.append(
            f"• {name}: {_plural(product.users.idle, 'user')} inactive for 30+ days — "
            f"{_plural(product.releasable_seats or 0, 'seat')} you could release are worth "
            f"{_money(product.releasable_cost, where)} {per}"
        )
    if product.over_allocated:
        lines.append(
            f"• {name}: {_plural(product.over_allocated, 'more user', 'more users')} than "
            "seats — the platform holds users beyond what is billed"
        )
    return lines


def _change_text(change: ProductChange | None) -> str | None:
    if change is None:
        return None
    users = "users unknown" if change.users is None else f"users {_signed(change.users)}"
    return f"seats {_signed(change.seats)}, {users}"


def _week_ago_text(product: ProductReconciliation, facts: DigestFacts) -> str:
    if facts.week_ago is None:
        return "a week ago: no run yet"
    before = next((p for p in facts.week_ago.products if p.product is product.product), None)
    if before is None:
        return "a week ago: not subscribed"
    users = "unknown" if before.users is None else str(before.users.total)
    return f"a week ago: {before.seats} seats, {users} users"


def digest_text(facts: DigestFacts, where: ZoneInfo) -> str:
    """The notification text: seats used per product and the money at stake."""
    parts = []
    for product in facts.run.products:
        if product.users is None:
            parts.append(f"{product.product.label} unknown")
        else:
            parts.append(f"{product.product.label} {product.users.total}/{product.seats} used")
    stake = [
        f"{_plural(p.releasable_seats or 0, 'seat')} worth {_money(p.releasable_cost, where)} "
        f"{p.per_period} on {p.product.label}"
        for p in facts.run.products
        if p.releasable_seats
    ]
    text = f"Seat usage for {escape(facts.account.display_name)}: " + ", ".join(
        parts or ["no products"]
    )
    if stake:
        text += "; you could release " + "; ".join(stake)
    return text


def digest_messages(
    facts: DigestFacts, where: ZoneInfo, *, late_since: datetime | None = None
) -> list[Message]:
    """The digest, split into messages of at most 50 blocks (one in practice).

    ``late_since`` marks a digest posted after downtime: when it was due."""
    account = facts.account
    blocks: list[Block] = [header(f"Seat usage · {account.display_name}")]
    day = format_day(facts.run.local_date)
    when = f"{day} · reconciled {format_instant(facts.run.at, where)}"
    if late_since is not None:
        when += f" · *late*: due {format_instant(late_since, where, show_zone=False)}"
    blocks.append(context(when))
    for product in facts.run.products:
        lines = [product_line(product, where)]
        lines.append(
            f"Spend this period: {format_money(product.spend)} {product.per_period} "
            f"({product.seats} × {format_money(product.unit_price)})"
        )
        trend = [_week_ago_text(product, facts)]
        change = _change_text(facts.run.changes.get(product.product))
        if change is not None:
            trend.insert(0, f"since the last run: {change}")
        lines.append("Trend: " + "; ".join(trend))
        blocks.append(section("\n".join(lines)))
    found = [line for product in facts.run.products for line in findings(product, where)]
    blocks.append(DividerBlock())
    blocks.append(
        section(
            "*Findings*\n" + "\n".join(found)
            if found
            else "*Findings*\nEvery seat is held by an active user."
        )
    )
    since = format_instant(facts.since, where)
    billing_lines = [
        f"*Since the last digest* ({since})",
        f"Proration: charges {format_money(facts.charges())}, credits "
        f"{format_money(facts.credits())}",
    ]
    if facts.applied:
        billing_lines.append("Changes applied:")
        for applied in facts.applied[:10]:
            billing_lines.append(
                f"• {applied.product.label}: {applied.old_seats} → {applied.new_seats} seats "
                f"(net {format_money(applied.net)})"
            )
        if len(facts.applied) > 10:
            billing_lines.append(f"…and {len(facts.applied) - 10} more")
    else:
        billing_lines.append("Changes applied: none")
    if facts.pending:
        billing_lines.append("Requests pending:")
        for request in facts.pending[:10]:
            billing_lines.append(
                f"• {request.product.label}: {request.old_seats} → {request.new_seats} seats "
                f"({request.status.value.replace('_', ' ')})"
            )
        if len(facts.pending) > 10:
            billing_lines.append(f"…and {len(facts.pending) - 10} more")
    else:
        billing_lines.append("Requests pending: none")
    blocks.append(section("\n".join(billing_lines)))
    blocks.extend(next_invoice_section(facts))
    footer = "Every user holding a seat without using it is listed in the thread."
    if facts.has_chart:
        footer += " The 30-day trend chart is there too."
    blocks.append(context(footer))
    return split_message(digest_text(facts, where), blocks)


def next_invoice_section(facts: DigestFacts) -> list[Block]:
    """The next invoice: each product's renewal day and amount at today's seats."""
    return next_invoice_blocks(facts.next_invoice)


def _user_line(user: IdleUser, where: ZoneInfo, at: datetime) -> str:
    name = echo(user.name, 80) if user.name else echo(user.email, 80)
    flags = []
    if user.status is UserStatus.INACTIVE:
        flags.append("inactive")
    if user.last_active_at is None:
        flags.append("never active")
    else:
        days = (at - user.last_active_at).days
        flags.append(
            f"last active {format_day(user.last_active_at.astimezone(where).date())}"
            f" ({_plural(days, 'day')} ago)"
        )
    return f"• *{name}* · {echo(user.email, 120)} · ext {user.extension} · {', '.join(flags)}"


def details_messages(run: AccountReconciliation, where: ZoneInfo) -> list[Message]:
    """The thread: per product, every user who holds a seat without using it (inactive, or idle
    30+ days), split into messages of at most 50 blocks."""
    blocks: list[Block] = [
        section("*Seats held by users who are not using them* (inactive, or idle 30+ days)")
    ]
    for product in run.products:
        if product.users is None:
            blocks.append(
                section(
                    f"*{product.product.label}*: unknown — {escape(product.reason or 'not read')}"
                )
            )
            continue
        users = product.idle_users
        if not users:
            blocks.append(section(f"*{product.product.label}*: none"))
            continue
        blocks.append(
            section(
                f"*{product.product.label}*: {_plural(len(users), 'user')} "
                f"({product.users.inactive} inactive, {product.users.idle} idle 30+ days)"
            )
        )
        for start in range(0, len(users), USERS_PER_SECTION):
            chunk = users[start : start + USERS_PER_SECTION]
            blocks.append(section("\n".join(_user_line(u, where, run.at) for u in chunk)))
        if len(users) >= LISTED_IDLE_USERS:
            blocks.append(
                context(
                    f"The first {LISTED_IDLE_USERS} are listed; `seatbot users "
                    f"{escape(run.account.name)} {product.product.value}` lists them all."
                )
            )
    text = f"Seats held by users who are not using them · {escape(run.account.display_name)}"
    return split_message(text, blocks)


def reconciliation_messages(run: AccountReconciliation, where: ZoneInfo) -> list[Message]:
    """The reconciliation report (``seatbot reconcile --post``): per product, what is billed,
    what exists and the findings with the money at stake."""
    blocks: list[Block] = [
        header(f"Reconciliation · {run.account.display_name}"),
        context(f"{format_instant(run.at, where)} · seats billed vs users on each platform"),
    ]
    for product in run.products:
        lines = [product_line(product, where), *findings(product, where)]
        change = _change_text(run.changes.get(product.product))
        if change is not None:
            lines.append(f"Since the last run: {change}")
        blocks.append(section("\n".join(lines)))
    unknown = [p.product.label for p in run.products if p.users is None]
    summary = ", ".join(
        f"{p.product.label} {'unknown' if p.users is None else f'{p.users.total}/{p.seats}'}"
        for p in run.products
    )
    text = f"Reconciliation for {escape(run.account.display_name)}: {summary or 'no products'}"
    if unknown:
        text += f" ({', '.join(unknown)} could not be read)"
    return split_message(text, blocks)


def split_message(text: str, blocks: Sequence[Block]) -> list[Message]:
    """``blocks`` as messages of at most 50 blocks; when more than one is needed, each part
    ends with a "part i of n" note and its text says so too."""
    if len(blocks) <= MESSAGE_BLOCK_LIMIT:
        return [message(text, list(blocks))]
    size = MESSAGE_BLOCK_LIMIT - 1
    chunks = [list(blocks[i : i + size]) for i in range(0, len(blocks), size)]
    total = len(chunks)
    return [
        message(f"{text} (part {n} of {total})", [*chunk, context(f"Part {n} of {total}")])
        for n, chunk in enumerate(chunks, start=1)
    ]


def chart_alt_text(facts: DigestFacts) -> str:
    """What the trend chart shows, in words (for screen readers)."""
    products = sorted({point.product.label for point in facts.trend})
    return (
        f"Seats and users per day over the last {facts.trend_days} days with runs, for "
        + ", ".join(products)
    )
