"""The seat-change form: product, current seats and users, new count, reason, live preview."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    Block,
    DividerBlock,
    InputBlock,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.blocks.basic_components import DispatchActionConfig
from slack_sdk.models.views import View

from billing.formatting import format_period
from billing.products import MAX_SEATS, Product
from billing.seats import MAX_REASON_LENGTH, FormPreview
from billing.users import UserListing
from handlers import ids
from handlers.views.text import (
    METADATA_LIMIT,
    MODAL_BLOCK_LIMIT,
    escape,
    quote_lines,
    section,
    users_list,
)


@dataclass(frozen=True, slots=True)
class ProductChoice:
    """One subscribed product offered in the form's select."""

    subscription_id: str
    product: Product
    seats: int


@dataclass(frozen=True, slots=True)
class ModalModel:
    """What the form shows. ``users`` is ``None`` while the platform is being asked."""

    account_name: str
    choices: Sequence[ProductChoice]
    selected: ProductChoice
    users: UserListing | None
    private_metadata: str
    preview: FormPreview | None = None
    initial_count: int | None = None


def _option(choice: ProductChoice) -> Option:
    return Option(value=choice.subscription_id, text=f"{choice.product.label} ({choice.seats})")


def seat_change_modal(model: ModalModel, where: ZoneInfo) -> View:
    """The form: product (subscribed products only), current seats and users, new count,
    optional reason, and the live preview."""
    if len(model.private_metadata) > METADATA_LIMIT:
        raise ValueError("private_metadata is longer than Slack allows")
    blocks: list[Block] = [
        section(f"Account: *{escape(model.account_name)}*"),
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
        section(_current_text(model), block_id=ids.CURRENT_BLOCK),
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
            element=PlainTextInputElement(
                action_id=ids.REASON_ACTION, max_length=MAX_REASON_LENGTH
            ),
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
    if model.users is None:
        return f"{seats} · asking {label} which users exist…"
    if model.users.users is None:
        return f"{seats} · :warning: {escape(model.users.problem or f'{label} gave no answer')}"
    users = model.users.users
    listed = f"\n{users_list(users)}" if users else ""
    return f"{seats} · {len(users)} users on {label}{listed}"


def _preview_blocks(model: ModalModel, where: ZoneInfo) -> list[Block]:
    preview = model.preview
    if preview is None:
        return [
            section(
                "_Enter the new number of seats to see the exact price._",
                block_id=ids.PREVIEW_BLOCK,
            )
        ]
    if preview.problem is not None or preview.proration is None:
        return [section(escape(preview.problem or "No preview."), block_id=ids.PREVIEW_BLOCK)]
    blocks: list[Block] = [
        section(
            f"*Preview*\n{quote_lines(preview.proration)}\n"
            f"Period {format_period(preview.proration.period, where)}",
            block_id=ids.PREVIEW_BLOCK,
        )
    ]
    label = model.selected.product.label
    check = preview.check
    if check is not None and check.unknown:
        blocks.append(
            section(
                f":warning: {label} could not be reached: a decrease can't be checked right now."
                f"\n{escape(check.reason or '')}"
            )
        )
    elif check is not None and check.blocked:
        blocks.append(
            section(
                f":no_entry: Delete *{check.must_delete}* users on {label} before going to "
                f"{preview.new_seats} seats ({check.user_count} exist). Inactive first:\n"
                f"{users_list(check.blocking_users)}"
            )
        )
    return blocks
