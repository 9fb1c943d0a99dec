"""Text and small blocks every view shares: the message type, escaping, the invoice lines.

Every text a view builds is Slack mrkdwn, escaped once, where a value enters it: everything
anyone typed or a platform sent (a command, a reason, a user's name on a platform, an account's
display name, an error's message) passes through :func:`escape` (or :func:`echo`) as it is put
in, in blocks and in the fallback ``text`` alike, so nothing anyone types can mention
``@channel`` or swell a reply; the mentions Seatbot writes (:func:`mention`) stay markup.
Nothing escapes a built text again: :func:`message`, :func:`section` and :func:`context` only
clip it (:func:`clip_mrkdwn`). Plain-text objects (headers, titles) are shown as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from billing.formatting import (
    format_cost,
    format_day,
    format_instant,
    format_money,
    format_period,
    format_share,
    last_day,
    per_period,
)
from billing.periods import local_date
from billing.proration import LineKind
from billing.reports import IdleUser
from billing.users import PlatformUser, UserStatus
from billing.views import BillEffect, SeatChangeView

MESSAGE_BLOCK_LIMIT = 50
MODAL_BLOCK_LIMIT = 100
TITLE_LIMIT = 24
SECTION_TEXT_LIMIT = 3000
METADATA_LIMIT = 3000
#: The longest fallback ``text`` a reply carries (what notifications show).
FALLBACK_TEXT_LIMIT = 300
#: The most of anything a person typed that a reply ever repeats.
ECHO_LIMIT = 60
LISTED_USERS_LIMIT = 10


@dataclass(frozen=True, slots=True)
class Message:
    """A message to post: ``text`` is the notification/fallback text, ``blocks`` what shows."""

    text: str
    blocks: list[Block]

    def __post_init__(self) -> None:
        if not 0 < len(self.blocks) <= MESSAGE_BLOCK_LIMIT:
            raise ValueError(f"a message needs 1 to {MESSAGE_BLOCK_LIMIT} blocks")


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: The end of a clipped mrkdwn text that would cut markup (``<@U1``) or an entity (``&am``).
_CUT_MARKUP = re.compile(r"(?:<[^<>]*|&[a-z]*)$")


def clip_mrkdwn(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    """Escaped mrkdwn ``text`` cut to ``limit`` characters like :func:`clip`, never inside a
    mention or an entity."""
    if len(text) <= limit:
        return text
    return _CUT_MARKUP.sub("", text[: limit - 1]) + "…"


def echo(typed: str, limit: int = ECHO_LIMIT) -> str:
    """Something a person typed, safe to repeat: clipped, then escaped."""
    return escape(clip(" ".join(typed.split()), limit))


def message(text: str, blocks: list[Block]) -> Message:
    """A message whose fallback ``text`` is mrkdwn escaped by its builder (it is clipped, not
    escaped again: Seatbot's own mentions must stay mentions)."""
    return Message(text=clip_mrkdwn(text, FALLBACK_TEXT_LIMIT), blocks=blocks)


def mention(user_id: str) -> str:
    return f"<@{escape(user_id)}>"


def mentions(user_ids: Sequence[str], limit: int = 20) -> str:
    """Slack mentions of ``user_ids``, at most ``limit`` then "…and N more"."""
    shown = ", ".join(mention(user_id) for user_id in user_ids[:limit])
    if len(user_ids) > limit:
        shown += f" …and {len(user_ids) - limit} more"
    return shown


def section(text: str, block_id: str | None = None) -> SectionBlock:
    """A section of mrkdwn ``text`` (escaped by the caller)."""
    return SectionBlock(text=MarkdownTextObject(text=clip_mrkdwn(text)), block_id=block_id)


def context(text: str) -> ContextBlock:
    """A context line of mrkdwn ``text`` (escaped by the caller)."""
    return ContextBlock(elements=[MarkdownTextObject(text=clip_mrkdwn(text))])


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=clip(text, 150)))


def user_line(user: PlatformUser | IdleUser, flags: str) -> str:
    """One user in a list: ``• *name* · email · ext 12`` (the email again when there is no
    name), then ``flags``."""
    name = echo(user.name, 80) if user.name else echo(user.email, 80)
    return f"• *{name}* · {echo(user.email, 120)} · ext {user.extension}{flags}"


def users_list(users: Sequence[PlatformUser], limit: int = LISTED_USERS_LIMIT) -> str:
    """One line per user (name, email, extension, inactive flag), at most ``limit`` of them,
    then "…and N more"."""
    lines = [
        user_line(user, " _(inactive)_" if user.status is UserStatus.INACTIVE else "")
        for user in users[:limit]
    ]
    if len(users) > limit:
        lines.append(f"…and {len(users) - limit} more")
    return "\n".join(lines)


def slack_instant(at: datetime, where: ZoneInfo) -> str:
    """An instant each reader sees in their own time zone (Slack's ``<!date^…>``), with the
    account's wall-clock time (:func:`billing.formatting.format_instant`) as the fallback."""
    fallback = format_instant(at, where)
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def bill_now(effect: BillEffect, where: ZoneInfo) -> str:
    """What happens to the bill now: ``$120.97 back as credit on your next invoice``, ``$96.77
    charged now``, or, when nothing is prorated, until when the paid seats stay."""
    net = effect.net
    if effect.unbilled_now and effect.is_decrease:
        return (
            f"Nothing is credited: you keep {effect.old_seats} paid seats until "
            f"{format_day(last_day(effect.period, where))}"
        )
    if effect.unbilled_now:
        return (
            f"Nothing is charged now: the new seats are billed from "
            f"{format_day(local_date(effect.period.end, where))}"
        )
    if net.minor < 0:
        return f"{format_money(-net)} back as credit on your next invoice"
    if net.minor > 0:
        return f"{format_money(net)} charged now"
    return "Nothing is charged or credited now"


def bill_from(effect: BillEffect, where: ZoneInfo) -> str:
    """The cost per period from the next one on, and the difference: ``From 1 Feb 2026: $600.00
    a month, $150.00 less``."""
    cost = format_cost(effect.new_cost, effect.interval)
    difference = effect.difference
    change = (
        f"{format_money(-difference)} less"
        if difference.minor < 0
        else f"{format_money(difference)} more"
        if difference.minor > 0
        else "unchanged"
    )
    return f"From {format_day(local_date(effect.period.end, where))}: {cost}, {change}"


def bill_working(effect: BillEffect, where: ZoneInfo) -> str:
    """The arithmetic behind :func:`bill_now`, line by line (``Credit for unused time: 25 seats ×
    $30.00 × 25 of 31 days left = -$604.84``), and the period, said once."""
    share = format_share(effect.fraction, effect.rule, effect.period, effect.at, where)
    price = format_money(effect.unit_price)
    rows = [
        f"{'Credit for unused time' if line.kind is LineKind.CREDIT else 'Charge'}: "
        f"{line.quantity} seats × {price} × {share} left = {format_money(line.amount)}"
        for line in effect.lines
    ]
    rows.append(
        f"Period {format_period(effect.period, where)} · "
        f"{price} per seat {per_period(effect.interval)}"
    )
    return "\n".join(rows)


def bill_blocks(effect: BillEffect, where: ZoneInfo, block_id: str | None = None) -> list[Block]:
    """The outcome first (bold: what happens now; then the cost per period), the working
    under it in a context block."""
    return [
        section(f"*{bill_now(effect, where)}*\n{bill_from(effect, where)}", block_id=block_id),
        context(bill_working(effect, where)),
    ]


#: How a request that was not applied reads in a list (history, App Home).
_NOT_APPLIED = {
    "draft": "not confirmed yet",
    "pending_approval": "waiting for approval",
    "denied": "denied; nothing billed",
    "expired": "expired; nothing billed",
    "cancelled": "cancelled; nothing billed",
}


def change_line(request: SeatChangeView, where: ZoneInfo) -> str:
    """One change in a list: ``*Axiom* 10 → 13 seats · applied: $46.45 charged · <when it was
    asked>``; what it did to the bill only once applied."""
    status = str(request.status)
    outcome = (
        f"applied: {bill_now(request.effect, where).removesuffix(' now')}"
        if status == "applied"
        else _NOT_APPLIED.get(status, status.replace("_", " "))
    )
    return (
        f"*{request.product.label}* {request.old_seats} → {request.new_seats} seats · {outcome} "
        f"· {slack_instant(request.created_at, where)}"
    )
