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
from fractions import Fraction

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from billing.formatting import format_money, format_percent
from billing.money import Money
from billing.proration import LineKind, Proration, ProrationLine
from billing.users import PlatformUser, UserStatus

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


def users_list(users: Sequence[PlatformUser], limit: int = LISTED_USERS_LIMIT) -> str:
    """One line per user (name, email, extension, inactive flag), at most ``limit`` of them,
    then "…and N more"."""
    lines = []
    for user in users[:limit]:
        flag = " _(inactive)_" if user.status is UserStatus.INACTIVE else ""
        name = echo(user.name, 80) if user.name else echo(user.email, 80)
        lines.append(f"• *{name}* · {echo(user.email, 120)} · ext {user.extension}{flag}")
    if len(users) > limit:
        lines.append(f"…and {len(users) - limit} more")
    return "\n".join(lines)


def proration_lines(lines: Sequence[ProrationLine], net: Money, fraction: Fraction) -> str:
    """The invoice lines and the net, one per line, exactly as they will be billed."""
    share = f"{format_percent(fraction)} of the period"
    rows = []
    for line in lines:
        label = "Credit for unused time" if line.kind is LineKind.CREDIT else "Charge"
        rows.append(f"{label} · {line.quantity} seats × {share} = *{format_money(line.amount)}*")
    if not rows:
        rows.append("No proration lines: nothing is billed or credited for this period.")
    rows.append(f"*Net now: {format_money(net)}*")
    return "\n".join(rows)


def quote_lines(proration: Proration) -> str:
    return proration_lines(proration.lines, proration.net, proration.fraction)
