"""The Slack edge: listeners for ``/seats``, the seat-change modal and the prompt buttons."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from handlers.deps import HandlerDeps

#: Every slash command this package listens to (the manifest test checks it against manifest.yml).
COMMANDS: tuple[str, ...] = ("/seats",)


def register_listeners(app: AsyncApp, deps: HandlerDeps) -> None:
    """Register every Seatbot listener on ``app``, in this one place."""
    from handlers import ids
    from handlers.approval_desk import Aftermath, ApprovalDesk
    from handlers.facts import PlatformFacts
    from handlers.home_desk import HomeDesk
    from handlers.home_listeners import ChangeSeatsButton, HomeListener, HomePageButton
    from handlers.listeners import (
        ApprovalListener,
        PromptButtonsListener,
        SeatModalListener,
        SeatsCommandListener,
    )
    from handlers.rightsize_desk import RightSizeDesk
    from handlers.rightsize_listeners import RightSizeListener
    from handlers.seat_desk import SeatDesk

    facts = PlatformFacts(
        deps.platform_for,
        deadline_s=deps.platform_deadline_s,
        recent_ttl_s=deps.status_users_ttl_s,
    )
    home = HomeDesk(deps.account_reads, facts, clock=deps.clock)
    aftermath = Aftermath(deps.approvals, deps.clock, home=home)
    desk = SeatDesk(deps, facts=facts, aftermath=aftermath)
    approval_desk = ApprovalDesk(deps.approvals, facts, aftermath, clock=deps.clock)
    command = SeatsCommandListener(desk)
    modal = SeatModalListener(desk)
    buttons = PromptButtonsListener(desk)
    approval = ApprovalListener(approval_desk)

    app.command(ids.SEATS_COMMAND)(command.on_command)
    app.block_action(ids.PRODUCT_ACTION)(modal.on_input_change)
    app.block_action(ids.COUNT_ACTION)(modal.on_input_change)
    app.block_action(ids.OPEN_FORM_ACTION)(ChangeSeatsButton(desk).on_click)
    app.view_submission(ids.MODAL_CALLBACK)(modal.on_submit)
    app.block_action(ids.CONFIRM_ACTION)(buttons.on_confirm)
    app.block_action(ids.CANCEL_ACTION)(buttons.on_cancel)
    app.block_action(ids.CHECK_AGAIN_ACTION)(buttons.on_check_again)
    app.block_action(ids.APPROVE_ACTION)(approval.on_approve)
    app.block_action(ids.DENY_ACTION)(approval.on_deny)
    app.view_submission(ids.DENY_MODAL_CALLBACK)(approval.on_deny_submit)
    rightsize = RightSizeListener(RightSizeDesk(deps, facts=facts))
    app.block_action(re.compile(f"^{ids.RIGHTSIZE_ACTION}_"))(rightsize.on_remove)
    app.block_action(ids.RIGHTSIZE_RECHECK_ACTION)(rightsize.on_recheck)
    app.event("app_home_opened")(HomeListener(home).on_home_opened)
    app.block_action(ids.HOME_PAGE_ACTION)(HomePageButton(home).on_click)
