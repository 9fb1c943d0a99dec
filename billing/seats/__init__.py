"""Seat changes: requesting, confirming, cancelling; reading an account."""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from billing.seats.decrease import SeatCheck as SeatCheck
    from billing.seats.decrease import in_deletion_order as in_deletion_order
    from billing.seats.forecast import Forecast as Forecast
    from billing.seats.forecast import ProductForecast as ProductForecast
    from billing.seats.forecast import WaitingChange as WaitingChange
    from billing.seats.outcomes import AccountHistory as AccountHistory
    from billing.seats.outcomes import AlreadyApplied as AlreadyApplied
    from billing.seats.outcomes import ApprovalPrompt as ApprovalPrompt
    from billing.seats.outcomes import AwaitingApproval as AwaitingApproval
    from billing.seats.outcomes import ChangeApplied as ChangeApplied
    from billing.seats.outcomes import ChangeCancelled as ChangeCancelled
    from billing.seats.outcomes import ChangeClosed as ChangeClosed
    from billing.seats.outcomes import ChangeDenied as ChangeDenied
    from billing.seats.outcomes import ChangeEnded as ChangeEnded
    from billing.seats.outcomes import ChangeForm as ChangeForm
    from billing.seats.outcomes import ChangeOutcome as ChangeOutcome
    from billing.seats.outcomes import Concluded as Concluded
    from billing.seats.outcomes import DecreaseBlocked as DecreaseBlocked
    from billing.seats.outcomes import DecreaseUnverified as DecreaseUnverified
    from billing.seats.outcomes import FormPreview as FormPreview
    from billing.seats.outcomes import Home as Home
    from billing.seats.outcomes import HomeAccount as HomeAccount
    from billing.seats.outcomes import MessageRef as MessageRef
    from billing.seats.outcomes import Quote as Quote
    from billing.seats.outcomes import ReadyToConfirm as ReadyToConfirm
    from billing.seats.outcomes import UsersNeeded as UsersNeeded
    from billing.seats.outcomes import UsersSource as UsersSource
    from billing.seats.reads import AccountReads as AccountReads
    from billing.seats.rightsize import RightSizeForm as RightSizeForm
    from billing.seats.rightsize import RightSizing as RightSizing
    from billing.seats.rightsize import right_size_target as right_size_target
    from billing.seats.rules import MAX_REASON_LENGTH as MAX_REASON_LENGTH
    from billing.seats.rules import ChangeMode as ChangeMode
    from billing.seats.rules import clean_reason as clean_reason
    from billing.seats.rules import seat_count_problem as seat_count_problem
    from billing.seats.service import SeatChanges as SeatChanges

__getattr__ = face(__name__, __file__)
