"""The operator's view of the books: accounts, the ledger, the audit trail, the invariants."""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from billing.books.service import AccountView as AccountView
    from billing.books.service import LedgerLineView as LedgerLineView
    from billing.books.service import SeatService as SeatService
    from billing.books.service import SubscriptionView as SubscriptionView

__getattr__ = face(__name__, __file__)
