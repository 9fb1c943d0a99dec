"""Reconciliation runs and the daily digest."""

from typing import TYPE_CHECKING

from billing.faces import face

if TYPE_CHECKING:
    from billing.reports.facts import MIN_CHART_DAYS as MIN_CHART_DAYS
    from billing.reports.facts import AccountFindings as AccountFindings
    from billing.reports.facts import AccountReconciliation as AccountReconciliation
    from billing.reports.facts import DigestFacts as DigestFacts
    from billing.reports.facts import ReconcileTarget as ReconcileTarget
    from billing.reports.facts import TrendPoint as TrendPoint
    from billing.reports.facts import parse_digest_time as parse_digest_time
    from billing.reports.posting import DigestView as DigestView
    from billing.reports.posting import DueDigest as DueDigest
    from billing.reports.posting import HeldSeatsView as HeldSeatsView
    from billing.reports.posting import ReportPosting as ReportPosting
    from billing.reports.rules import LISTED_IDLE_USERS as LISTED_IDLE_USERS
    from billing.reports.rules import IdleUser as IdleUser
    from billing.reports.rules import ProductChange as ProductChange
    from billing.reports.rules import ProductReadStatus as ProductReadStatus
    from billing.reports.rules import ProductReconciliation as ProductReconciliation
    from billing.reports.rules import Saving as Saving
    from billing.reports.rules import UserCounts as UserCounts
    from billing.reports.rules import suggested_savings as suggested_savings
    from billing.reports.service import Reports as Reports
    from billing.reports.service import account_findings as account_findings

__getattr__ = face(__name__, __file__)
