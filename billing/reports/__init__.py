"""Reconciliation runs and the daily digest."""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from billing.reports.facts import (
        MIN_CHART_DAYS,
        AccountFindings,
        AccountReconciliation,
        DigestFacts,
        ReconcileTarget,
        TrendPoint,
        parse_digest_time,
    )
    from billing.reports.posting import DigestView, DueDigest, HeldSeatsView, ReportPosting
    from billing.reports.rules import (
        LISTED_IDLE_USERS,
        IdleUser,
        ProductChange,
        ProductReadStatus,
        ProductReconciliation,
        UserCounts,
    )
    from billing.reports.service import Reports, account_findings

_OFFERED = {
    "facts": (
        "MIN_CHART_DAYS",
        "AccountFindings",
        "AccountReconciliation",
        "DigestFacts",
        "ReconcileTarget",
        "TrendPoint",
        "parse_digest_time",
    ),
    "posting": (
        "DigestView",
        "DueDigest",
        "HeldSeatsView",
        "ReportPosting",
    ),
    "rules": (
        "LISTED_IDLE_USERS",
        "IdleUser",
        "ProductChange",
        "ProductReadStatus",
        "ProductReconciliation",
        "UserCounts",
    ),
    "service": (
        "Reports",
        "account_findings",
    ),
}
__all__ = [
    "LISTED_IDLE_USERS",
    "MIN_CHART_DAYS",
    "AccountFindings",
    "AccountReconciliation",
    "DigestFacts",
    "DigestView",
    "DueDigest",
    "HeldSeatsView",
    "IdleUser",
    "ProductChange",
    "ProductReadStatus",
    "ProductReconciliation",
    "ReconcileTarget",
    "ReportPosting",
    "Reports",
    "TrendPoint",
    "UserCounts",
    "account_findings",
    "parse_digest_time",
]
__getattr__ = face(__name__, _OFFERED)
