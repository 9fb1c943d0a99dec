"""Every ``action_id``, ``block_id`` and ``callback_id`` Seatbot puts in Block Kit, in one place.

Listeners are registered against these constants and views are built with them, so a rename
cannot leave a button without a listener.
"""

from __future__ import annotations

from typing import Final

SEATS_COMMAND: Final = "/seats"

# The seat-change modal.
MODAL_CALLBACK: Final = "seats_change_modal"
PRODUCT_BLOCK: Final = "seats_product"
PRODUCT_ACTION: Final = "seats_product_select"
COUNT_BLOCK: Final = "seats_new_count"
COUNT_ACTION: Final = "seats_new_count_input"
REASON_BLOCK: Final = "seats_reason"
REASON_ACTION: Final = "seats_reason_input"
CURRENT_BLOCK: Final = "seats_current"
PREVIEW_BLOCK: Final = "seats_preview"

# "Change seats" on the App Home: opens the form for the account its value names.
OPEN_FORM_ACTION: Final = "seats_open_form"
# "More accounts" / "First accounts" on the App Home: the value is the first account's place.
HOME_PAGE_ACTION: Final = "seats_home_page"

# Buttons on the confirmation prompt and on a blocked decrease. Their value is the request id and
# the quote revision the message shows ("42.3"), which billing re-checks against the clicking
# user and the stored request.
CONFIRM_ACTION: Final = "seats_confirm"
CANCEL_ACTION: Final = "seats_cancel"
CHECK_AGAIN_ACTION: Final = "seats_check_again"
PROMPT_ACTIONS_BLOCK: Final = "seats_prompt_actions"

# Approval: Approve / Deny on an approver's message (value as above), the reason form for Deny.
APPROVE_ACTION: Final = "seats_approve"
DENY_ACTION: Final = "seats_deny"
APPROVAL_ACTIONS_BLOCK: Final = "seats_approval_actions"
DENY_MODAL_CALLBACK: Final = "seats_deny_modal"
DENY_REASON_BLOCK: Final = "seats_deny_reason"
DENY_REASON_ACTION: Final = "seats_deny_reason_input"

# Right-sizing from the daily digest. A button's value is only "<account id>:<product>": billing
# authorises the clicker and recomputes every figure when it is clicked. The remove buttons'
# action_ids are RIGHTSIZE_ACTION + "_" + the product (one per product in a message).
RIGHTSIZE_ACTION: Final = "rightsize_remove"
RIGHTSIZE_RECHECK_ACTION: Final = "rightsize_recheck"
