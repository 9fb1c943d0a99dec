"""The operator's view of the books: accounts, the ledger, the audit trail, the invariants."""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from billing.books.service import AccountView, LedgerLineView, SeatService, SubscriptionView

_OFFERED = {
    "service": (
        "AccountView",
        "LedgerLineView",
        "SeatService",
        "SubscriptionView",
    ),
}
__all__ = ["AccountView", "LedgerLineView", "SeatService", "SubscriptionView"]
__getattr__ = face(__name__, _OFFERED)
