"""Seat changes: requesting, confirming, cancelling; reading an account."""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from billing.seats.decrease import SeatCheck, in_deletion_order
    from billing.seats.outcomes import (
        AccountHistory,
        AlreadyApplied,
        ApprovalPrompt,
        AwaitingApproval,
        ChangeApplied,
        ChangeCancelled,
        ChangeClosed,
        ChangeDenied,
        ChangeEnded,
        ChangeOutcome,
        DecreaseBlocked,
        DecreaseUnverified,
        FormPreview,
        Home,
        HomeAccount,
        Quote,
        ReadyToConfirm,
        UsersNeeded,
        UsersSource,
    )
    from billing.seats.reads import AccountReads
    from billing.seats.rules import MAX_REASON_LENGTH, ChangeMode, clean_reason, seat_count_problem
    from billing.seats.service import SeatChanges

_OFFERED = {
    "decrease": (
        "SeatCheck",
        "in_deletion_order",
    ),
    "outcomes": (
        "AccountHistory",
        "AlreadyApplied",
        "ApprovalPrompt",
        "AwaitingApproval",
        "ChangeApplied",
        "ChangeCancelled",
        "ChangeClosed",
        "ChangeDenied",
        "ChangeEnded",
        "ChangeOutcome",
        "DecreaseBlocked",
        "DecreaseUnverified",
        "FormPreview",
        "Home",
        "HomeAccount",
        "Quote",
        "ReadyToConfirm",
        "UsersNeeded",
        "UsersSource",
    ),
    "reads": ("AccountReads",),
    "rules": (
        "MAX_REASON_LENGTH",
        "ChangeMode",
        "clean_reason",
        "seat_count_problem",
    ),
    "service": ("SeatChanges",),
}
__all__ = [
    "MAX_REASON_LENGTH",
    "AccountHistory",
    "AccountReads",
    "AlreadyApplied",
    "ApprovalPrompt",
    "AwaitingApproval",
    "ChangeApplied",
    "ChangeCancelled",
    "ChangeClosed",
    "ChangeDenied",
    "ChangeEnded",
    "ChangeMode",
    "ChangeOutcome",
    "DecreaseBlocked",
    "DecreaseUnverified",
    "FormPreview",
    "Home",
    "HomeAccount",
    "Quote",
    "ReadyToConfirm",
    "SeatChanges",
    "SeatCheck",
    "UsersNeeded",
    "UsersSource",
    "clean_reason",
    "in_deletion_order",
    "seat_count_problem",
]
__getattr__ = face(__name__, _OFFERED)
