"""Approval by managers: deciding, and what time does to pending requests."""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from billing.approvals.reminders import ApprovalNote as ApprovalNote
    from billing.approvals.reminders import ApprovalReminders as ApprovalReminders
    from billing.approvals.reminders import RequesterNotice as RequesterNotice
    from billing.approvals.rules import AnswerPlace as AnswerPlace
    from billing.approvals.rules import ApprovalPolicy as ApprovalPolicy
    from billing.approvals.rules import ClickedMessage as ClickedMessage
    from billing.approvals.rules import Person as Person
    from billing.approvals.service import Approvals as Approvals

__getattr__ = face(__name__, __file__)
