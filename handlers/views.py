"""Block Kit for Seatbot, built only from ``slack_sdk.models`` objects by pure functions.

Each function takes plain values (money, periods, platform users, small models defined here) and
returns a :class:`Message` (fallback text + blocks) or a :class:`View`. Nothing here does I/O.
Limits respected everywhere: 50 blocks a message, 100 a modal, 24-character titles, 3000
characters of section text and of ``private_metadata``; long user lists end in "…and N more".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.blocks.basic_components import DispatchActionConfig
from slack_sdk.models.views import View

from billing.money import Money
from billing.periods import Period
from billing.products import MAX_SEATS, product_aliases
from billing.proration import LineKind, Proration, ProrationLine
from handlers import ids
from handlers.commands import Unrecognised
from platforms.types import PlatformUser, Product, UserStatus

MESSAGE_BLOCK_LIMIT = 50
MODAL_BLOCK_LIMIT = 100
TITLE_LIMIT = 24
SECTION_TEXT_LIMIT = 3000
METADATA_LIMIT = 3000
LISTED_USERS_LIMIT = 10


@dataclass(frozen=True, slots=True)
class Message:
    """A message to post: ``text`` is the notification/fallback text, ``blocks`` what shows."""

    text: str
    blocks: list[Block]

    def __post_init__(self) -> None:
        if not 0 < len(self.blocks) <= MESSAGE_BLOCK_LIMIT:
            raise ValueError(f"a message needs 1 to {MESSAGE_BLOCK_LIMIT} blocks")


@dataclass(frozen=True, slots=True)
class Locale:
    """How to show money and instants to one account: babel locale and IANA time zone."""

    locale: str
    tz: ZoneInfo


# --------------------------------------------------------------------------------------------
# Text helpers


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_money(amount: Money, where: Locale) -> str:
    return amount.format(where.locale)


def format_period(period: Period, where: Locale) -> str:
    """``1 Jan 2026 – 31 Jan 2026``: the first and last local day (the end is exclusive)."""
    first = period.start.astimezone(where.tz).date()
    last = (period.end.astimezone(where.tz) - timedelta(microseconds=1)).date()
    return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"


def format_instant(at: datetime, where: Locale) -> str:
    """``16 Jan 2026, 14:03 GMT`` in the account's time zone."""
    local = at.astimezone(where.tz)
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname() or where.tz.key}"


def mention(user_id: str) -> str:
    return f"<@{user_id}>"


def _section(text: str, block_id: str | None = None) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text)), block_id=block_id)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text))])


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=clip(text, 150)))


def users_list(users: Sequence[PlatformUser], limit: int = LISTED_USERS_LIMIT) -> str:
    """One line per user (name, email, extension, inactive flag), at most ``limit`` of them,
    then "…and N more"."""
    lines = []
    for user in users[:limit]:
        flag = " _(inactive)_" if user.status is UserStatus.INACTIVE else ""
        name = escape(user.name) if user.name else escape(user.email)
        lines.append(f"• *{name}* · {escape(user.email)} · ext {user.extension}{flag}")
    if len(users) > limit:
        lines.append(f"…and {len(users) - limit} more")
    return "\n".join(lines)


def proration_lines(
    lines: Sequence[ProrationLine], net: Money, fraction: Fraction, where: Locale
) -> str:
    """The invoice lines and the net, one per line, exactly as they will be billed."""
    share = f"{float(fraction) * 100:.2f}% of the period"
    rows = []
    for line in lines:
        label = "Credit for unused time" if line.kind is LineKind.CREDIT else "Charge"
        rows.append(
            f"{label} · {line.quantity} seats × {share} = *{format_money(line.amount, where)}*"
        )
    if not rows:
        rows.append("No proration lines: nothing is billed or credited for this period.")
    rows.append(f"*Net now: {format_money(net, where)}*")
    return "\n".join(rows)


def quote_lines(proration: Proration, where: Locale) -> str:
    return proration_lines(proration.lines, proration.net, proration.fraction, where)


# --------------------------------------------------------------------------------------------
# Simple replies


def help_message() -> Message:
    aliases = ", ".join(f"`{alias}`" for alias in product_aliases())
    text = (
        "*Seatbot: change the paid seats of your Squaretalk products*\n"
        "• `/seats` opens a form with a live price preview\n"
        "• `/seats status` shows every subscription: seats, users on the platform, price\n"
        "• `/seats add 3 axiom` adds 3 seats to Axiom\n"
        "• `/seats remove 2 matrix` removes 2 seats from Matrix\n"
        "• `/seats set 10 contact-center` sets Contact Center to exactly 10 seats\n"
        "• `/seats history` shows the recent changes\n"
        "• add `account NAME` when the workspace has several accounts, "
        "e.g. `/seats status account acme`"
    )
    notes = (
        "Every change is shown with its exact prorated price before you confirm it. "
        "A seat held by a user who exists on the platform can't be removed: delete the user "
        f"on the platform first. Product names: {aliases}."
    )
    return Message(text="How to use /seats", blocks=[_section(text), _context(notes)])


def unrecognised_message(parsed: Unrecognised) -> Message:
    text = f"{parsed.problem} Did you mean `{parsed.suggestion}`?"
    return Message(
        text=text,
        blocks=[_section(escape(text)), _context("`/seats help` lists everything I understand.")],
    )


def error_message(user_message: str) -> Message:
    """An error written for the owner (a ``UserFacingError``'s message)."""
    return Message(text=user_message, blocks=[_section(f":warning: {escape(user_message)}")])


def unexpected_error_message(reference: str) -> Message:
    text = (
        "Something went wrong on our side and nothing was changed. "
        f"If it keeps happening, give this reference to your administrator: `{reference}`."
    )
    return Message(text=text, blocks=[_section(f":warning: {text}")])


def not_owner_message(account_name: str, owner_ids: Sequence[str]) -> Message:
    if owner_ids:
        who = ", ".join(mention(user_id) for user_id in owner_ids[:20])
        if len(owner_ids) > 20:
            who += f" …and {len(owner_ids) - 20} more"
        text = f"Only the owners of *{escape(account_name)}* can change seats: {who}."
    else:
        text = f"Only the owners of *{escape(account_name)}* can change seats, and it has none yet."
    return Message(
        text=f"Only the owners of {account_name} can change seats.", blocks=[_section(text)]
    )


# --------------------------------------------------------------------------------------------
# /seats status and /seats history


@dataclass(frozen=True, slots=True)
class StatusRow:
    """One subscription in ``/seats status``; ``users`` is ``None`` when the platform could
    not be read (``users_problem`` says why)."""

    product: Product
    seats: int
    unit_price: Money
    interval: str
    period: Period
    users: int | None
    users_problem: str | None = None


def status_message(account_name: str, rows: Sequence[StatusRow], where: Locale) -> Message:
    blocks: list[Block] = [_header(f"Seats · {account_name}")]
    if not rows:
        blocks.append(_section("This account has no subscriptions yet."))
    for row in rows[: MESSAGE_BLOCK_LIMIT - 2]:
        if row.users is None:
            usage = f":grey_question: {escape(row.users_problem or 'unknown')}"
        else:
            share = f"{row.users * 100 // row.seats}%" if row.seats else "n/a"
            usage = f"{row.users} users · {share} used"
        fields = [
            MarkdownTextObject(text=f"*{row.product.label}*\n{row.seats} seats"),
            MarkdownTextObject(text=f"*On the platform*\n{usage}"),
            MarkdownTextObject(
                text=f"*Price*\n{format_money(row.unit_price, where)} per seat, {row.interval}"
            ),
            MarkdownTextObject(text=f"*Period*\n{format_period(row.period, where)}"),
        ]
        blocks.append(SectionBlock(fields=fields))
    blocks.append(_context("Change seats with `/seats`, or `/seats help` for examples."))
    summary = "; ".join(f"{row.product.label}: {row.seats} seats" for row in rows)
    return Message(text=f"Seats for {account_name}: {summary or 'no subscriptions'}", blocks=blocks)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One seat-change request, as ``/seats history`` lists it."""

    when: datetime
    product: Product
    old_seats: int
    new_seats: int
    status: str
    requested_by: str
    net: Money | None = None


def history_message(account_name: str, entries: Sequence[HistoryEntry], where: Locale) -> Message:
    if not entries:
        return Message(
            text=f"No seat changes yet for {account_name}.",
            blocks=[_section(f"No seat changes yet for *{escape(account_name)}*.")],
        )
    lines = []
    for entry in entries:
        net = f" · net {format_money(entry.net, where)}" if entry.net is not None else ""
        lines.append(
            f"• {format_instant(entry.when, where)} · *{entry.product.label}* "
            f"{entry.old_seats} → {entry.new_seats} · {escape(entry.status)}{net} "
            f"· {mention(entry.requested_by)}"
        )
    blocks: list[Block] = [_header(f"Recent seat changes · {account_name}")]
    chunk: list[str] = []
    for line in lines:
        if len("\n".join([*chunk, line])) > SECTION_TEXT_LIMIT:
            blocks.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    blocks.append(_section("\n".join(chunk)))
    return Message(text=f"Recent seat changes for {account_name}", blocks=blocks[:50])


# --------------------------------------------------------------------------------------------
# The confirmation prompt and its outcomes


@dataclass(frozen=True, slots=True)
class ChangeSummary:
    """What a seat-change request asks for, with its stored quote (aware UTC instants)."""

    request_id: str
    account_name: str
    product: Product
    old_seats: int
    new_seats: int
    lines: Sequence[ProrationLine]
    net: Money
    fraction: Fraction
    period: Period
    effective_at: datetime
    reason: str | None = None


def _change_heading(change: ChangeSummary) -> str:
    return (
        f"*{change.product.label}* for *{escape(change.account_name)}*: "
        f"{change.old_seats} → {change.new_seats} seats"
    )


def _change_details(change: ChangeSummary, where: Locale) -> list[Block]:
    blocks: list[Block] = [
        _section(proration_lines(change.lines, change.net, change.fraction, where)),
        SectionBlock(
            fields=[
                MarkdownTextObject(text=f"*Period*\n{format_period(change.period, where)}"),
                MarkdownTextObject(
                    text=f"*Effective*\n{format_instant(change.effective_at, where)}"
                ),
            ]
        ),
    ]
    if change.reason:
        blocks.append(_context(f"Reason: {escape(change.reason)}"))
    return blocks


def confirmation_prompt(
    change: ChangeSummary, where: Locale, *, note: str | None = None
) -> Message:
    """The exact lines and net, the period, the effective instant, and Confirm / Cancel.

    The buttons carry the request id only; the listener re-checks it server-side."""
    blocks: list[Block] = [_section(f"Please confirm: {_change_heading(change)}")]
    if note:
        blocks.append(_section(f":information_source: {escape(note)}"))
    blocks.extend(_change_details(change, where))
    blocks.append(
        ActionsBlock(
            block_id=ids.PROMPT_ACTIONS_BLOCK,
            elements=[
                ButtonElement(
                    text="Confirm",
                    action_id=ids.CONFIRM_ACTION,
                    value=change.request_id,
                    style="primary",
                ),
                ButtonElement(text="Cancel", action_id=ids.CANCEL_ACTION, value=change.request_id),
            ],
        )
    )
    net = format_money(change.net, where)
    return Message(
        text=(
            f"Confirm {change.product.label}: {change.old_seats} → {change.new_seats} seats, "
            f"net {net}"
        ),
        blocks=blocks,
    )


def applied_message(change: ChangeSummary, where: Locale, confirmed_by: str) -> Message:
    blocks: list[Block] = [
        _section(f":white_check_mark: Done. {_change_heading(change)}"),
        *_change_details(change, where),
        _context(f"Confirmed by {mention(confirmed_by)}."),
    ]
    return Message(text=f"{change.product.label} now has {change.new_seats} seats.", blocks=blocks)


def already_applied_message(change: ChangeSummary) -> Message:
    text = (
        f"This change was already applied: {change.product.label} has "
        f"{change.new_seats} seats. Nothing more was billed."
    )
    return Message(text=text, blocks=[_section(f":white_check_mark: {text}")])


def cancelled_message(change: ChangeSummary, cancelled_by: str) -> Message:
    text = (
        f"Cancelled: {change.product.label} stays at {change.old_seats} seats. Nothing was billed."
    )
    return Message(
        text=text,
        blocks=[_section(f":no_entry_sign: {text}"), _context(f"By {mention(cancelled_by)}.")],
    )


def closed_message(text: str) -> Message:
    """A prompt that can no longer be acted on (conflict, refused): the text says why."""
    return Message(text=text, blocks=[_section(f":warning: {escape(text)}")])


@dataclass(frozen=True, slots=True)
class BlockedDecrease:
    """A decrease the platform forbids: ``must_delete`` users have to go first."""

    request_id: str
    product: Product
    current_seats: int
    new_seats: int
    user_count: int
    must_delete: int
    blocking_users: Sequence[PlatformUser]


def blocked_decrease_message(blocked: BlockedDecrease) -> Message:
    label = blocked.product.label
    text = (
        f":no_entry: *{label}* can't go from {blocked.current_seats} to "
        f"{blocked.new_seats} seats: {blocked.user_count} users exist on {label}, so "
        f"*{blocked.must_delete}* of them must be deleted on {label} first. "
        "Deleting a user is permanent, so Seatbot never does it for you."
    )
    candidates = (
        f"Candidates, inactive users first:\n{users_list(blocked.blocking_users)}"
        if blocked.blocking_users
        else "The platform listed no users to suggest."
    )
    blocks: list[Block] = [
        _section(text),
        _section(candidates),
        ActionsBlock(
            block_id=ids.PROMPT_ACTIONS_BLOCK,
            elements=[
                ButtonElement(
                    text="Check again",
                    action_id=ids.CHECK_AGAIN_ACTION,
                    value=blocked.request_id,
                    style="primary",
                ),
                ButtonElement(text="Cancel", action_id=ids.CANCEL_ACTION, value=blocked.request_id),
            ],
        ),
    ]
    return Message(
        text=f"{label}: delete {blocked.must_delete} users on {label} before removing seats.",
        blocks=blocks,
    )


def platform_unknown_message(request_id: str, product: Product, reason: str) -> Message:
    """A decrease that can't be checked: the platform could not be read. Fails closed."""
    text = (
        f"{product.label} could not be reached: a decrease can't be checked right now, "
        "so nothing was changed."
    )
    blocks: list[Block] = [
        _section(f":warning: {text}"),
        _context(escape(reason)),
        ActionsBlock(
            block_id=ids.PROMPT_ACTIONS_BLOCK,
            elements=[
                ButtonElement(
                    text="Check again", action_id=ids.CHECK_AGAIN_ACTION, value=request_id
                ),
                ButtonElement(text="Cancel", action_id=ids.CANCEL_ACTION, value=request_id),
            ],
        ),
    ]
    return Message(text=text, blocks=blocks)


# --------------------------------------------------------------------------------------------
# The seat-change modal


@dataclass(frozen=True, slots=True)
class ProductChoice:
    """One subscribed product offered in the modal's select."""

    subscription_id: str
    product: Product
    seats: int


@dataclass(frozen=True, slots=True)
class UsersFact:
    """What the platform said about existing users: a count and the users, or a problem."""

    users: Sequence[PlatformUser] | None = None
    problem: str | None = None
    loading: bool = False


@dataclass(frozen=True, slots=True)
class Preview:
    """The live preview under the form: the quote, and the platform check of a decrease.

    ``message`` replaces both when there is nothing to quote (no number yet, same count)."""

    proration: Proration | None = None
    blocked: BlockedDecrease | None = None
    platform_problem: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class ModalModel:
    account_name: str
    choices: Sequence[ProductChoice]
    selected: ProductChoice
    users: UsersFact
    private_metadata: str
    preview: Preview | None = None
    initial_count: int | None = None
    errors: Sequence[str] = field(default_factory=tuple)


def _option(choice: ProductChoice) -> Option:
    return Option(value=choice.subscription_id, text=f"{choice.product.label} ({choice.seats})")


def seat_change_modal(model: ModalModel, where: Locale) -> View:
    """The form: product (subscribed products only), current seats and users, new count,
    optional reason, and the live preview."""
    if len(model.private_metadata) > METADATA_LIMIT:
        raise ValueError("private_metadata is longer than Slack allows")
    blocks: list[Block] = [
        _section(f"Account: *{escape(model.account_name)}*"),
        InputBlock(
            block_id=ids.PRODUCT_BLOCK,
            label="Product",
            dispatch_action=True,
            element=StaticSelectElement(
                action_id=ids.PRODUCT_ACTION,
                placeholder="Choose a product",
                options=[_option(choice) for choice in model.choices],
                initial_option=_option(model.selected),
            ),
        ),
        _section(_current_text(model), block_id=ids.CURRENT_BLOCK),
        InputBlock(
            block_id=ids.COUNT_BLOCK,
            label="New number of seats",
            dispatch_action=True,
            element=NumberInputElement(
                action_id=ids.COUNT_ACTION,
                is_decimal_allowed=False,
                min_value=0,
                max_value=MAX_SEATS,
                initial_value=model.initial_count,
                dispatch_action_config=DispatchActionConfig(
                    trigger_actions_on=["on_character_entered"]
                ),
            ),
        ),
        InputBlock(
            block_id=ids.REASON_BLOCK,
            label="Reason (optional)",
            optional=True,
            element=PlainTextInputElement(action_id=ids.REASON_ACTION, max_length=500),
        ),
        DividerBlock(),
        *_preview_blocks(model, where),
    ]
    return View(
        type="modal",
        callback_id=ids.MODAL_CALLBACK,
        title="Change seats",
        submit="Review change",
        close="Close",
        private_metadata=model.private_metadata,
        blocks=blocks[:MODAL_BLOCK_LIMIT],
    )


def _current_text(model: ModalModel) -> str:
    label = model.selected.product.label
    seats = f"*Now:* {model.selected.seats} seats"
    if model.users.loading:
        return f"{seats} · asking {label} which users exist…"
    if model.users.users is None:
        return f"{seats} · :warning: {escape(model.users.problem or f'{label} gave no answer')}"
    users = model.users.users
    listed = f"\n{users_list(users)}" if users else ""
    return f"{seats} · {len(users)} users on {label}{listed}"


def _preview_blocks(model: ModalModel, where: Locale) -> list[Block]:
    preview = model.preview
    if preview is None:
        return [
            _section(
                "_Enter the new number of seats to see the exact price._",
                block_id=ids.PREVIEW_BLOCK,
            )
        ]
    if preview.message is not None:
        return [_section(escape(preview.message), block_id=ids.PREVIEW_BLOCK)]
    blocks: list[Block] = []
    if preview.proration is not None:
        blocks.append(
            _section(
                f"*Preview*\n{quote_lines(preview.proration, where)}\n"
                f"Period {format_period(preview.proration.period, where)}",
                block_id=ids.PREVIEW_BLOCK,
            )
        )
    label = model.selected.product.label
    if preview.platform_problem is not None:
        blocks.append(
            _section(
                f":warning: {label} could not be reached: a decrease can't be checked right now."
                f"\n{escape(preview.platform_problem)}"
            )
        )
    elif preview.blocked is not None:
        blocked = preview.blocked
        blocks.append(
            _section(
                f":no_entry: Delete *{blocked.must_delete}* users on {label} before going to "
                f"{blocked.new_seats} seats ({blocked.user_count} exist). Inactive first:\n"
                f"{users_list(blocked.blocking_users)}"
            )
        )
    return blocks or [_section("_No preview._", block_id=ids.PREVIEW_BLOCK)]
