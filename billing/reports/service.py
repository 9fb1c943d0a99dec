"""Reconciliation runs and the daily digest's facts: the application layer of the reports.

The operator's scheduler and command line act through :class:`Reports`; it authorises nobody
(they act for the operator), and each account's reports go only to that account's own channel
(the posting edge reads ``AccountView.channel_id`` of the account it reports on, nothing else).

A reconciliation is done in two steps, so that no platform call happens inside a transaction:
:meth:`Reports.targets` says what to read (each account's subscriptions), the edge reads the
platforms (:class:`billing.users.UserListing`: complete, or unknown with a reason), and
:meth:`Reports.record` stores the run with one row per product and returns the findings with
the change since the account's previous run. An edge that reconciles many accounts reduces
each account's listings to its findings as soon as they are read (:func:`account_findings`:
counts and a bounded list, no user list) and stores them in batches with
:meth:`Reports.record_findings`. Reading the stored runs (:meth:`Reports.digest`) needs no
platform call.

What a report says is in :mod:`billing.reports.facts`; how runs are stored and read back, in
:mod:`billing.reports.store`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from billing.errors import NotFound
from billing.jobs.store import JobClaims
from billing.models import ACCOUNT_CREATED, Account, AuditEvent, Subscription
from billing.periods import Interval, local_date, period_at, require_aware, zone
from billing.products import Product
from billing.reports.facts import (
    DIGEST_JOB,
    AccountFindings,
    AccountReconciliation,
    DigestFacts,
    DigestSchedule,
    ReconcileTarget,
    parse_digest_time,
)
from billing.reports.rules import reconcile_product
from billing.reports.store import (
    ReconciliationRun,
    account_reconciliation,
    applied_since,
    id_chunks,
    latest_runs,
    pending_changes,
    product_row,
    proration_since,
    stored_run,
    trend_points,
)
from billing.requests import RequestSource
from billing.row_views import account_view, subscription_view
from billing.scope import current_views
from billing.storage import Storage
from billing.users import UserListing


class Reports:
    """Reconciliation runs and digests for the operator (see the module docstring)."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._storage = Storage(session_factory)
        self._claims = JobClaims(session_factory)

    # -- what to read ---------------------------------------------------------------------------

    def targets(self, account_name: str | None, at: datetime) -> list[ReconcileTarget]:
        """Every account (by name), or only ``account_name`` (:class:`NotFound` if unknown),
        with its subscriptions in the billing period containing ``at``."""
        require_aware(at)
        with self._storage.read() as session:
            query = select(Account).order_by(Account.name)
            if account_name is not None:
                query = query.where(Account.name == account_name)
            accounts = list(session.scalars(query))
            if account_name is not None and not accounts:
                raise NotFound(f"no account named {account_name!r} (see `seatbot accounts`)")
            by_account: dict[int, list[Subscription]] = defaultdict(list)
            ids = [account.id for account in accounts]
            for chunk in id_chunks(ids):
                rows = session.scalars(
                    select(Subscription)
                    .where(Subscription.account_id.in_(chunk))
                    .order_by(Subscription.product)
                )
                for row in rows:
                    by_account[row.account_id].append(row)
            targets = []
            for account in accounts:
                tz = zone(account.timezone)
                views = tuple(
                    subscription_view(row, period_at(row.anchor, Interval(row.interval), at, tz))
                    for row in by_account[account.id]
                )
                targets.append(ReconcileTarget(account_view(account), views))
            return targets

    def digest_schedule(self) -> list[DigestSchedule]:
        """The accounts with a digest time and a channel to post to, by name, each with when it
        was loaded (its ``account.created`` audit event)."""
        loaded = (
            select(AuditEvent.account_id, func.min(AuditEvent.at).label("loaded_at"))
            .where(AuditEvent.action == ACCOUNT_CREATED)
            .group_by(AuditEvent.account_id)
            .subquery()
        )
        with self._storage.read() as session:
            rows = session.execute(
                select(Account, loaded.c.loaded_at)
                .outerjoin(loaded, loaded.c.account_id == Account.id)
                .where(Account.digest_at.is_not(None), Account.channel_id.is_not(None))
                .order_by(Account.name)
            )
            schedule = []
            for row, loaded_at in rows:
                try:
                    at = parse_digest_time(row.digest_at or "")
                except ValueError:
                    continue  # the loader refuses such values; a hand-edited row is ignored
                schedule.append(DigestSchedule(account_view(row), at, loaded_at))
            return schedule

    # -- storing runs ---------------------------------------------------------------------------

    def record(
        self,
        results: Sequence[tuple[ReconcileTarget, Mapping[Product, UserListing]]],
        at: datetime,
        *,
        source: str = "cli",
    ) -> list[AccountReconciliation]:
        """Store one run per account (one transaction for all of them) from the listings the
        edge read at ``at``; a product without a listing is unknown. Returns the findings, in
        the order given, each with its change since the account's previous run."""
        findings = [account_findings(target, listings, at) for target, listings in results]
        return self.record_findings(findings, at, source=source)

    def record_findings(
        self, findings: Sequence[AccountFindings], at: datetime, *, source: str = "cli"
    ) -> list[AccountReconciliation]:
        """Store one run per account (one transaction for all of them) from its findings at
        ``at`` (:func:`account_findings`). Returns the stored runs, in the order given, each
        with its change since the account's previous run."""
        require_aware(at)
        with self._storage.write() as session:
            previous = latest_runs(session, [found.target.account.id for found in findings])
            runs = []
            for found in findings:
                run = ReconciliationRun(
                    account_id=found.target.account.id,
                    at=at,
                    local_date=local_date(at, zone(found.target.account.timezone)),
                    source=source,
                )
                session.add(run)
                runs.append(run)
            session.flush()
            session.add_all(
                product_row(run.id, product)
                for found, run in zip(findings, runs, strict=True)
                for product in found.products
            )
            session.flush()
            return [
                account_reconciliation(
                    found.target.account, run, found.products, previous.get(found.target.account.id)
                )
                for found, run in zip(findings, runs, strict=True)
            ]

    # -- reading runs ---------------------------------------------------------------------------

    def digest(self, account_id: int, at: datetime) -> DigestFacts:
        """What the digest says at ``at``, from the account's latest stored run (record one
        first; :class:`NotFound` when there is none) and the ledger and requests."""
        require_aware(at)
        with self._storage.read() as session:
            account = session.get(Account, account_id)
            if account is None:
                raise NotFound("That account does not exist.")
            run = session.scalars(
                select(ReconciliationRun)
                .where(ReconciliationRun.account_id == account_id, ReconciliationRun.at <= at)
                .order_by(ReconciliationRun.at.desc(), ReconciliationRun.id.desc())
                .limit(1)
            ).first()
            if run is None:
                raise NotFound(f"{account.display_name} has not been reconciled yet.")
            return self._digest_facts(session, account, stored_run(session, account, run), at)

    def preview_digest(self, findings: AccountFindings, at: datetime) -> DigestFacts:
        """What the digest would say at ``at`` with ``findings`` (read now, not stored: a
        preview leaves no run behind), each product's change since the account's latest
        stored run."""
        require_aware(at)
        account_id = findings.target.account.id
        with self._storage.read() as session:
            account = session.get(Account, account_id)
            if account is None:
                raise NotFound("That account does not exist.")
            local = local_date(at, zone(account.timezone))
            unsaved = ReconciliationRun(id=0, account_id=account_id, at=at, local_date=local)
            previous = latest_runs(session, [account_id]).get(account_id)
            run = account_reconciliation(
                account_view(account), unsaved, findings.products, previous
            )
            return self._digest_facts(session, account, run, at)

    def _digest_facts(
        self, session: Session, account: Account, run: AccountReconciliation, at: datetime
    ) -> DigestFacts:
        previous = self._claims.last_succeeded(DIGEST_JOB, account.id, before=at)
        after_digest = previous is not None and previous.finished_at is not None
        since = previous.finished_at if previous and previous.finished_at else at - timedelta(1)
        subscriptions = tuple(current_views(session, account, at))
        week_ago_run = session.scalars(
            select(ReconciliationRun)
            .where(
                ReconciliationRun.account_id == account.id,
                ReconciliationRun.local_date <= run.local_date - timedelta(days=7),
            )
            .order_by(ReconciliationRun.at.desc(), ReconciliationRun.id.desc())
            .limit(1)
        ).first()
        period_start = {s.id: s.period.start for s in subscriptions}
        earliest = min(period_start.values(), default=at)
        suggested = tuple(
            change
            for change in applied_since(
                session, account.id, earliest, at, source=RequestSource.DIGEST
            )
            if change.applied_at is not None
            and change.applied_at >= period_start.get(change.subscription_id, at)
        )
        return DigestFacts(
            account=account_view(account),
            at=at,
            since=since,
            run=run,
            subscriptions=subscriptions,
            proration=tuple(proration_since(session, account.id, since, at)),
            applied=tuple(applied_since(session, account.id, since, at)),
            pending=tuple(pending_changes(session, account.id)),
            week_ago=None if week_ago_run is None else stored_run(session, account, week_ago_run),
            trend=tuple(trend_points(session, account.id, run.local_date)),
            after_digest=after_digest,
            suggested=suggested,
        )


def account_findings(
    target: ReconcileTarget, listings: Mapping[Product, UserListing], at: datetime
) -> AccountFindings:
    """Reconcile each of ``target``'s subscriptions with the listing the edge read at ``at``
    (a product without a listing is unknown)."""
    require_aware(at)
    return AccountFindings(
        target,
        tuple(
            reconcile_product(
                s.product,
                seats=s.seats,
                unit_price=s.unit_price,
                interval=s.interval,
                listing=listings.get(s.product)
                or UserListing.unknown(f"Seatbot did not read the users on {s.product.label}."),
                at=at,
            )
            for s in target.subscriptions
        ),
    )
