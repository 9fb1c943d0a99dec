"""The App Home tab: a member's accounts at a glance, their open requests, the requests
awaiting their approval (with Approve / Deny), and recent decisions. At most 100 blocks: a page
holds the accounts that fit, and "More accounts" / "First accounts" turn the pages."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from billing.formatting import format_money, format_period, per_period
from billing.seats import Home, HomeAccount
from billing.users import UserListing
from handlers import ids
from handlers.payloads import request_ref_value
from handlers.views.approvals import decision_text
from handlers.views.forecast import next_invoice_blocks
from handlers.views.text import (
    MODAL_BLOCK_LIMIT,
    change_line,
    context,
    escape,
    header,
    mention,
    section,
)

#: Blocks kept free at the end: where the page is, its buttons, the footer.
_RESERVE = 3
#: The approvals an account shows with their buttons (two blocks each); the rest are counted.
_AWAITING_SHOWN = 10


def _account_blocks(
    entry: HomeAccount, listings: Sequence[UserListing], where: ZoneInfo
) -> list[Block]:
    blocks: list[Block] = [header(entry.account.display_name)]
    if entry.may_change:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Change seats",
                        action_id=ids.OPEN_FORM_ACTION,
                        value=entry.account.name,
                        style="primary",
                    )
                ]
            )
        )
    for sub, listing in zip(entry.subscriptions, listings, strict=True):
        users = "unknown" if listing.count is None else f"{listing.count} users"
        share = (
            f" · {listing.count * 100 // sub.seats}% used"
            if listing.count is not None and sub.seats
            else ""
        )
        blocks.append(
            SectionBlock(
                fields=[
                    MarkdownTextObject(text=f"*{sub.product.label}*\n{sub.seats} seats"),
                    MarkdownTextObject(text=f"*On the platform*\n{escape(users)}{share}"),
                    MarkdownTextObject(text=f"*Period*\n{format_period(sub.period, where)}"),
                    MarkdownTextObject(
                        text=f"*Price*\n{format_money(sub.unit_price)} per seat "
                        f"{per_period(sub.interval)}"
                    ),
                ]
            )
        )
    blocks.extend(next_invoice_blocks(entry.forecast))
    if entry.awaiting_me:
        blocks.append(section("*Waiting for your approval*"))
        for request in entry.awaiting_me[:_AWAITING_SHOWN]:
            value = request_ref_value(request.id, request.revision)
            blocks.append(
                section(f"{mention(request.requested_by_user)} asks: {change_line(request, where)}")
            )
            blocks.append(
                ActionsBlock(
                    elements=[
                        ButtonElement(
                            text="Approve",
                            action_id=ids.APPROVE_ACTION,
                            value=value,
                            style="primary",
                        ),
                        ButtonElement(
                            text="Deny", action_id=ids.DENY_ACTION, value=value, style="danger"
                        ),
                    ]
                )
            )
        if len(entry.awaiting_me) > _AWAITING_SHOWN:
            blocks.append(
                context(
                    f"…and {len(entry.awaiting_me) - _AWAITING_SHOWN} more waiting for your "
                    "approval."
                )
            )
    if entry.my_open:
        lines = "\n".join(f"• {change_line(r, where)}" for r in entry.my_open)
        blocks.append(section(f"*Your open requests*\n{lines}"))
    if entry.recent:
        lines = "\n".join(
            f"• {change_line(r, where)} — {decision_text(r, where)}" for r in entry.recent
        )
        blocks.append(section(f"*Recent decisions*\n{lines}"))
    blocks.append(DividerBlock())
    return blocks


def home_view(
    home: Home, listings: Sequence[Sequence[UserListing]], where: Sequence[ZoneInfo]
) -> View:
    """The App Home for ``home`` (``listings`` and ``where`` per account, in order)."""
    blocks: list[Block] = []
    if not home.accounts:
        blocks.append(
            section(
                "You hold no role in any Seatbot account yet. Ask an owner of your account to "
                "add you, then type `/seats help`."
            )
        )
    shown = 0
    for entry, account_listings, locale in zip(home.accounts, listings, where, strict=True):
        more = _account_blocks(entry, account_listings, locale)
        if shown and len(blocks) + len(more) > MODAL_BLOCK_LIMIT - _RESERVE:
            break
        blocks.extend(more)
        shown += 1
    blocks.extend(_paging(home, shown))
    owner = any(entry.may_change for entry in home.accounts)
    blocks.append(
        context(
            "Change seats with the button or `/seats`; `/seats help` lists everything."
            if owner
            else "`/seats status` and `/seats history` show the seats; `/seats help` lists "
            "everything."
        )
    )
    return View(type="home", blocks=blocks[:MODAL_BLOCK_LIMIT])


def _paging(home: Home, shown: int) -> list[Block]:
    """Where this page is among the member's accounts, and the buttons to the next page and
    back to the first (their value is the first account's place; billing keeps it in range)."""
    total = max(home.total, home.start + len(home.accounts))
    after = home.start + shown
    if home.start == 0 and after >= total:
        return []
    buttons = []
    if after < total:
        buttons.append(
            ButtonElement(text="More accounts", action_id=ids.HOME_PAGE_ACTION, value=str(after))
        )
    if home.start > 0:
        buttons.append(
            ButtonElement(text="First accounts", action_id=ids.HOME_PAGE_ACTION, value="0")
        )
    return [
        context(f"Accounts {home.start + 1}–{after} of {total}, by name."),
        ActionsBlock(elements=buttons),
    ]
