"""Approval by managers: deciding, and what time does to pending requests."""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from billing.approvals.reminders import ApprovalNote, ApprovalReminders, RequesterNotice
    from billing.approvals.rules import AnswerPlace, ApprovalPolicy, ClickedMessage, Person
    from billing.approvals.service import Approvals, PostedMessage

_OFFERED = {
    "reminders": (
        "ApprovalNote",
        "ApprovalReminders",
        "RequesterNotice",
    ),
    "rules": (
        "AnswerPlace",
        "ApprovalPolicy",
        "ClickedMessage",
        "Person",
    ),
    "service": (
        "Approvals",
        "PostedMessage",
    ),
}
__all__ = [
    "AnswerPlace",
    "ApprovalNote",
    "ApprovalPolicy",
    "ApprovalReminders",
    "Approvals",
    "ClickedMessage",
    "Person",
    "PostedMessage",
    "RequesterNotice",
]
__getattr__ = face(__name__, _OFFERED)
