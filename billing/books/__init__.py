"""The operator's view of the books: accounts, the ledger, the audit trail, the invariants."""
