"""Replies to ``/seats`` that are not about one seat change: help, a mistyped command, errors,
``/seats status`` and ``/seats history``."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from billing.access import AmbiguousAccount
from billing.errors import NotAuthorised, UserFacingError
from billing.formatting import format_money, format_period, per_period
from billing.products import product_aliases
from billing.seats import AccountHistory, Forecast
from billing.users import UserListing
from billing.views import SubscriptionView
from handlers.commands import Unrecognised
from handlers.ids import SEATS_COMMAND
from handlers.views.forecast import next_invoice_blocks
from handlers.views.text import (
    MESSAGE_BLOCK_LIMIT,
    SECTION_TEXT_LIMIT,
    Message,
    change_line,
    context,
    echo,
    escape,
    header,
    mention,
    mentions,
    message,
    section,
)


def help_message() -> Message:
    aliases = ", ".join(f"`{alias}`" for alias in product_aliases())
    text = (
        "*Seatbot: change the paid seats of your Squaretalk products*\n"
        f"• `{SEATS_COMMAND}` opens a form with a live price preview\n"
        f"• `{SEATS_COMMAND} status` shows every subscription: seats, users on the platform, "
        "price, and the next invoice\n"
        f"• `{SEATS_COMMAND} add 3 axiom` adds 3 seats to Axiom\n"
        f"• `{SEATS_COMMAND} remove 2 matrix` removes 2 seats from Matrix\n"
        f"• `{SEATS_COMMAND} set 10 contact-center` sets Contact Center to exactly 10 seats\n"
        f"• `{SEATS_COMMAND} history` shows the recent changes\n"
        "• add `account NAME` when the workspace has several accounts, "
        f"e.g. `{SEATS_COMMAND} status account acme`"
    )
    notes = (
        "Every change is shown with its exact prorated price before you confirm it. "
        "A seat held by a user who exists on the platform can't be removed: delete the user "
        f"on the platform first. Product names: {aliases}."
    )
    return message(f"How to use {SEATS_COMMAND}", [section(text), context(notes)])


def unrecognised_message(parsed: Unrecognised) -> Message:
    """What was wrong with a command, and the closest one that would work."""
    text = escape(f"{parsed.problem} Did you mean `{parsed.suggestion}`?")
    return message(
        text,
        [
            section(text),
            context(f"`{SEATS_COMMAND} help` lists everything I understand."),
        ],
    )


def error_message(error: UserFacingError, *, typed: str | None = None) -> Message:
    """An expected error, as its message says (with whom to ask, when it names people; with the
    command as ``typed`` after ``/seats`` again, naming each account, when it needs one)."""
    text = f":warning: {escape(error.message)}"
    if isinstance(error, NotAuthorised) and error.contacts:
        text += f"\nAsk {mentions(error.contacts)}."
    if isinstance(error, AmbiguousAccount) and error.names:
        command = " ".join([SEATS_COMMAND, *(typed or "status").split()[:8]])
        tries = " or ".join(
            f"`{echo(f'{command} account {name}', 120)}`" for name in error.names[:5]
        )
        text += f"\nAdd `account NAME`: {tries}."
    return message(escape(error.message), [section(text)])


def unexpected_error_message(reference: str) -> Message:
    """The one generic apology: nothing about what failed, only a reference for the logs."""
    text = (
        "Something went wrong on our side and nothing was changed. "
        f"If it keeps happening, give this reference to your administrator: `{escape(reference)}`."
    )
    return message(text, [section(f":warning: {text}")])


# -- /seats status --------------------------------------------------------------------------


def status_message(
    account_name: str,
    subscriptions: Sequence[SubscriptionView],
    listings: Sequence[UserListing],
    where: ZoneInfo,
    *,
    may_change: bool = False,
    other_accounts: Sequence[str] = (),
    forecast: Forecast | None = None,
) -> Message:
    """Every subscription: seats, the users on its platform (``listings``, in the same order),
    the price and the current period; the next invoice (``forecast``); the footer tells an
    owner (``may_change``) how to change seats, anyone else where to look."""
    blocks: list[Block] = [header(f"Seats · {account_name}")]
    if not subscriptions:
        blocks.append(section("This account has no subscriptions yet."))
    rows = list(zip(subscriptions, listings, strict=True))[: MESSAGE_BLOCK_LIMIT - 4]
    for sub, listing in rows:
        if listing.count is None:
            usage = f":grey_question: {escape(listing.problem or 'unknown')}"
        else:
            share = f"{listing.count * 100 // sub.seats}%" if sub.seats else "n/a"
            usage = f"{listing.count} users · {share} used"
        fields = [
            MarkdownTextObject(text=f"*{sub.product.label}*\n{sub.seats} seats"),
            MarkdownTextObject(text=f"*On the platform*\n{usage}"),
            MarkdownTextObject(
                text=f"*Price*\n{format_money(sub.unit_price)} per seat {per_period(sub.interval)}"
            ),
            MarkdownTextObject(text=f"*Period*\n{format_period(sub.period, where)}"),
        ]
        blocks.append(SectionBlock(fields=fields))
    blocks.extend(next_invoice_blocks(forecast))
    blocks.append(
        context(
            f"Change seats with `{SEATS_COMMAND}`, or `{SEATS_COMMAND} help` for examples."
            if may_change
            else f"`{SEATS_COMMAND} history` shows the recent changes; the account's owners "
            "change seats."
        )
    )
    if other_accounts:
        names = ", ".join(f"`{escape(name)}`" for name in other_accounts[:5])
        blocks.append(
            context(
                f"You also hold a role in {names}: add `account NAME` to any command, e.g. "
                f"`{SEATS_COMMAND} status account {escape(other_accounts[0])}`."
            )
        )
    summary = "; ".join(f"{sub.product.label}: {sub.seats} seats" for sub in subscriptions)
    return message(f"Seats for {escape(account_name)}: {summary or 'no subscriptions'}", blocks)


# -- /seats history -------------------------------------------------------------------------


def history_message(history: AccountHistory, where: ZoneInfo) -> Message:
    """The account's recent confirmed seat changes, newest first, split within Slack's
    limits."""
    name = history.account.display_name
    if not history.requests:
        return message(
            f"No seat changes yet for {escape(name)}.",
            [section(f"No seat changes yet for *{escape(name)}*.")],
        )
    lines = [
        f"• {change_line(request, where)} · {mention(request.requested_by_user)}"
        for request in history.requests
    ]
    blocks: list[Block] = [header(f"Recent seat changes · {name}")]
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join([*chunk, line])) > SECTION_TEXT_LIMIT:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    blocks.append(section("\n".join(chunk)))
    return message(f"Recent seat changes for {escape(name)}", blocks[:MESSAGE_BLOCK_LIMIT])
