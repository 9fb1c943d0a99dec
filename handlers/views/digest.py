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

from billing.formatting import format_day, format_money
from billing.money import Money
from billing.reports import (
    AccountReconciliation,
    DigestFacts,
    IdleUser,
    ProductChange,
    ProductReconciliation,
    suggested_savings,
)
from billing.users import UserStatus
from handlers.views.forecast import next_invoice_blocks
from handlers.views.rightsize import recheck_button, rightsize_actions
from handlers.views.text import (
    MESSAGE_BLOCK_LIMIT,
    Message,
    change_line,
    context,
    escape,
    header,
    message,
    section,
    slack_instant,
    user_line,
)

#: Users listed per section block in the thread (keeps each block far below 3000 characters).
USERS_PER_SECTION = 8


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _signed(count: int) -> str:
    return f"+{count}" if count > 0 else ("±0" if count == 0 else f"−{-count}")


def product_line(product: ProductReconciliation, where: ZoneInfo) -> str:
    """``*Contact Center* · 25 seats · 23 users, 6 idle (4 inactive) · 92% used``, or the
    reason it is unknown. Idle users are inactive, or without activity for 30+ days."""
    label = f"*{product.product.label}* · {_plural(product.seats, 'seat')}"
    users = product.users
    if users is None:
        return f"{label} · users *unknown*: {escape(product.reason or 'not read')}"
    used = product.utilisation_percent
    used_text = "" if used is None else f" · {used}% used"
    idle = f", {users.not_using} idle" if users.not_using else ""
    inactive = f" ({users.inactive} inactive)" if users.inactive else ""
    return f"{label} · {_plural(users.total, 'user')}{idle}{inactive}{used_text}"


def saving_text(product: ProductReconciliation) -> str | None:
    """``$600.00 a month — 2 unused seats ($60.00), 18 seats held by idle users ($540.00)``:
    what could be saved, split without overlap (``None`` when nothing, or unknown)."""
    if not product.saving_seats or product.saving_cost is None:
        return None
    parts = []
    if product.unused_seats and product.unused_cost is not None:
        parts.append(
            f"{_plural(product.unused_seats, 'unused seat')} ({format_money(product.unused_cost)})"
        )
    if product.idle_seats and product.idle_seats_cost is not None:
        parts.append(
            f"{_plural(product.idle_seats, 'seat')} held by idle users "
            f"({format_money(product.idle_seats_cost)})"
        )
    return f"{format_money(product.saving_cost)} {product.per_period} — " + ", ".join(parts)


def findings(product: ProductReconciliation, where: ZoneInfo) -> list[str]:
    """The product's findings, one line each, never overlapping (none when all is well)."""
    name = product.product.label
    if product.users is None:
        return [f"• {name}: could not be read, so its users are unknown (not counted as zero)"]
    lines = []
    saving = saving_text(product)
    if saving is not None:
        lines.append(f"• {name}: could save {saving}")
    if product.over_allocated:
        lines.append(
            f"• {name}: {_plural(product.over_allocated, 'more user', 'more users')} than "
            "seats — the platform holds users beyond what is billed"
        )
    return lines


def _totals(products: Sequence[ProductReconciliation]) -> list[str]:
    """``$600.00 a month could be saved of $750.00`` per currency and interval (the digest's
    one total); only products whose users are known count."""
    known = [p for p in products if p.known]
    groups: dict[tuple[str, str], list[ProductReconciliation]] = {}
    for product in known:
        groups.setdefault((product.spend.currency, product.per_period), []).append(product)
    lines = []
    for (currency, per), group in groups.items():
        saving, spend = Money.zero(currency), Money.zero(currency)
        unused = idle = 0
        for product in group:
            saving = saving + (product.saving_cost or Money.zero(currency))
            spend = spend + product.spend
            unused += product.unused_seats or 0
            idle += product.idle_seats or 0
        if unused or idle:
            split = [
                text
                for count, text in (
                    (unused, _plural(unused, "unused seat")),
                    (idle, f"{_plural(idle, 'seat')} held by idle users"),
                )
                if count
            ]
            lines.append(
                f"*{format_money(saving)} {per} could be saved* of {format_money(spend)} "
                f"spent: {' and '.join(split)}"
            )
    return lines


def _change_text(change: ProductChange | None) -> str | None:
    if change is None:
        return None
    users = "users unknown" if change.users is None else f"users {_signed(change.users)}"
    return f"seats {_signed(change.seats)}, {users}"


def _trend_text(product: ProductReconciliation, facts: DigestFacts) -> str | None:
    """``vs yesterday: seats ±0, users +2 · vs last week: …`` (``None`` with no run then)."""
    parts = []
    for days, name in ((1, "vs yesterday"), (7, "vs last week")):
        change = _change_text(facts.trend_change(product.product, days))
        if change is not None:
            parts.append(f"{name}: {change}")
    return " · ".join(parts) or None


def digest_text(facts: DigestFacts, where: ZoneInfo) -> str:
    """The notification text: seats used per product and what could be saved."""
    parts = []
    for product in facts.run.products:
        if product.users is None:
            parts.append(f"{product.product.label} unknown")
        else:
            parts.append(f"{product.product.label} {product.users.total}/{product.seats} used")
    stake = [
        f"{format_money(p.saving_cost)} {p.per_period} on {p.product.label}"
        for p in facts.run.products
        if p.saving_seats and p.saving_cost is not None
    ]
    text = f"Seat usage for {escape(facts.account.display_name)}: " + ", ".join(
        parts or ["no products"]
    )
    if stake:
        text += "; could be saved: " + "; ".join(stake)
    return text


def _since_lines(facts: DigestFacts, where: ZoneInfo) -> list[str]:
    """What happened since the last digest (or, when none ran, in the day before): only what
    did happen; nothing at all when nothing did."""
    lines = []
    charges, credits = facts.charges(), facts.credits()
    money = [
        text
        for amount, text in (
            (charges, f"{format_money(charges)} charged"),
            (credits, f"{format_money(-credits)} credited"),
        )
        if amount.minor
    ]
    if money:
        net = charges + credits
        outcome = (
            f"{format_money(-net)} back as credit"
            if net.minor < 0
            else (f"{format_money(net)} charged" if net.minor > 0 else "nothing to pay")
        )
        lines.append(f"Proration, in all: {outcome} ({', '.join(money)})")
    for title, changes in (("Changes applied", facts.applied), ("Requests waiting", facts.pending)):
        if not changes:
            continue
        lines.append(f"{title}:")
        for change in changes[:10]:
            lines.append(f"• {change_line(change, where)}")
        if len(changes) > 10:
            lines.append(f"…and {len(changes) - 10} more")
    if not lines:
        return []
    since = slack_instant(facts.since, where)
    heading = (
        f"*Since the last digest* ({since})"
        if facts.after_digest
        else f"*In the last 24 hours* (since {since}; no digest was posted before)"
    )
    return [heading, *lines]


def _saved_line(facts: DigestFacts) -> str | None:
    """``Saved ¥13,500 a month from 3 suggested removals`` (changes started from a digest,
    applied this period)."""
    savings = suggested_savings(facts.suggested)
    if not savings:
        return None
    return (
        "Saved "
        + "; ".join(
            f"{format_money(s.amount)} {s.per_period} from "
            f"{_plural(s.changes, 'suggested removal')}"
            for s in savings
        )
        + " this period."
    )


def digest_messages(
    facts: DigestFacts, where: ZoneInfo, *, late_since: datetime | None = None
) -> list[Message]:
    """The digest, split into messages of at most 50 blocks (one in practice).

    ``late_since`` marks a digest posted after downtime: when it was due."""
    account = facts.account
    blocks: list[Block] = [header(f"Seat usage · {account.display_name}")]
    day = format_day(facts.run.local_date)
    when = f"{day} · reconciled {slack_instant(facts.run.at, where)}"
    if late_since is not None:
        when += f" · *late*: due {slack_instant(late_since, where)}"
    blocks.append(context(when))
    totals = _totals(facts.run.products)
    saved = _saved_line(facts)
    summary = [*totals, *([saved] if saved else [])]
    if summary:
        blocks.append(section("\n".join(summary)))
    for product in facts.run.products:
        lines = [product_line(product, where)]
        lines.append(
            f"Spend: {format_money(product.spend)} {product.per_period} "
            f"({product.seats} × {format_money(product.unit_price)})"
        )
        saving = saving_text(product)
        if saving is not None:
            lines.append(f"Could be saved: {saving}")
        elif product.users is None:
            lines.append("Its platform could not be read, so its users are unknown (not zero)")
        if product.over_allocated:
            lines.append(
                f"{_plural(product.over_allocated, 'more user', 'more users')} than seats: "
                "the platform holds users beyond what is billed"
            )
        trend = _trend_text(product, facts)
        if trend is not None:
            lines.append(trend)
        blocks.append(section("\n".join(lines)))
    blocks.extend(rightsize_actions(account.id, facts.run.products))
    if not totals and all(p.known for p in facts.run.products) and facts.run.products:
        blocks.append(section("Every seat is held by a user who uses it."))
    since = _since_lines(facts, where)
    if since:
        blocks.append(DividerBlock())
        blocks.append(section("\n".join(since)))
    blocks.extend(next_invoice_section(facts))
    footer = (
        "Unused seats: billed, held by nobody. Idle users: inactive, or no activity for 30+ days."
    )
    if any(p.users is not None and p.users.not_using for p in facts.run.products):
        footer += " Each one holding a seat is listed in the thread."
    if facts.has_chart:
        footer += " The 30-day trend chart is in the thread."
    blocks.append(context(footer))
    return split_message(digest_text(facts, where), blocks)


def next_invoice_section(facts: DigestFacts) -> list[Block]:
    """The next invoice: each product's renewal day and amount at today's seats."""
    return next_invoice_blocks(facts.next_invoice)


def _user_line(user: IdleUser, where: ZoneInfo, at: datetime) -> str:
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
    return user_line(user, f" · {', '.join(flags)}")


def details_messages(run: AccountReconciliation, where: ZoneInfo) -> list[Message]:
    """The thread: per product, every idle user who holds a seat (inactive, or no activity for
    30+ days), with "I removed some of them — check again"; split into messages of at most 50
    blocks. Seatbot never deletes a platform user: the owner does, on the platform."""
    blocks: list[Block] = [
        section(
            "*Idle users holding seats* (inactive, or no activity for 30+ days). Delete the ones "
            "nobody needs on the platform (Seatbot never deletes platform users), then check again."
        )
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
        held = product.users.not_using
        if not held:
            blocks.append(section(f"*{product.product.label}*: none"))
            continue
        inactive = product.users.inactive
        blocks.append(
            section(
                f"*{product.product.label}*: {_plural(held, 'idle user')} "
                f"({inactive} inactive, {held - inactive} with no activity for 30+ days)"
            )
        )
        for start in range(0, len(users), USERS_PER_SECTION):
            chunk = users[start : start + USERS_PER_SECTION]
            blocks.append(section("\n".join(_user_line(u, where, run.at) for u in chunk)))
        if len(users) < held:
            blocks.append(
                context(
                    f"The first {len(users)} are listed; `seatbot users "
                    f"{escape(run.account.name)} {product.product.value}` lists them all."
                )
            )
        blocks.append(recheck_button(run.account.id, product.product))
    text = f"Idle users holding seats · {escape(run.account.display_name)}"
    return split_message(text, blocks)


def reconciliation_messages(run: AccountReconciliation, where: ZoneInfo) -> list[Message]:
    """The reconciliation report (``seatbot reconcile --post``): per product, what is billed,
    what exists and the findings with the money at stake."""
    blocks: list[Block] = [
        header(f"Reconciliation · {run.account.display_name}"),
        context(f"{slack_instant(run.at, where)} · seats billed vs users on each platform"),
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
