"""The end of ``seatbot demo``: a reconciliation report and the daily digest with its chart.

Runs the real report jobs (:class:`bot.runtime.jobs.ReportJobs`, as the scheduler does)
against the demo's sandbox and Slack stand-in, prints what was posted, and saves the trend chart
that was uploaded into the digest's thread beside the demo's database.

A chart needs seven days of runs, and the demo's database is new: so the demo first records
a month of earlier daily runs, each read from the sandbox and told apart by a few users who had
since left (said so in the transcript), as if the scheduler had been running.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from billing.periods import zone
from billing.products import Product
from billing.reports import ReconcileTarget
from billing.users import Level, PlatformUser, UserListing, UserStatus
from billing.views import AccountView
from bot.offline.demo_script import Reply
from bot.offline.demo_setup import DemoStepFailed
from bot.offline.render import render_message
from bot.offline.standin import SlackStandIn
from bot.runtime.jobs import ReportJobs

#: How many earlier daily runs the demo records before its digest.
HISTORY_DAYS = 29
#: The seats the example file starts with (the demo's session changes them today).
STARTING_SEATS = {Product.CONTACT_CENTER: 25, Product.AXIOM: 12}


def _former_users(count: int, at: datetime) -> list[PlatformUser]:
    return [
        PlatformUser(
            platform_id=f"former-{n}",
            email=f"former{n}@acme.example.com",
            name=f"Former user {n}",
            extension=8900 + n,
            level=Level.AGENT,
            status=UserStatus.ACTIVE,
            last_active_at=at - timedelta(days=1),
        )
        for n in range(1, count + 1)
    ]


async def record_history(jobs: ReportJobs, account_name: str, now: datetime) -> int:
    """Record :data:`HISTORY_DAYS` earlier daily runs (one per day before ``now``); returns how
    many. Each day's users are the sandbox's now plus the users who left since (one more for
    every five days back), on the seats the example file starts with."""
    targets = await asyncio.to_thread(jobs.reports.targets, account_name, now)
    if not targets:
        raise DemoStepFailed(f"the demo has no account {account_name!r}")
    target = targets[0]
    current = await jobs.read_listings(target)
    for days_back in range(HISTORY_DAYS, 0, -1):
        at = now - timedelta(days=days_back)
        listings: dict[Product, UserListing] = {}
        for product, listing in current.items():
            users = list(listing.users or [])
            listings[product] = UserListing.complete(users + _former_users(days_back // 5, at))
        then = ReconcileTarget(
            target.account,
            tuple(
                replace(s, seats=STARTING_SEATS.get(s.product, s.seats))
                for s in target.subscriptions
            ),
        )
        await asyncio.to_thread(jobs.reports.record, [(then, listings)], at, source="demo")
    return HISTORY_DAYS


def posted_lines(standin: SlackStandIn, after_seq: int, width: int) -> list[tuple[str, list[str]]]:
    """Every message posted after ``after_seq``: (where, its lines rendered as text)."""
    shown = []
    for call in standin.calls("chat.postMessage"):
        if call.seq <= after_seq or not call.ok:
            continue
        where = "in the thread" if call.args.get("thread_ts") else f"#{call.args.get('channel')}"
        shown.append((where, render_message(call.args, width=width)))
    return shown


async def reconciliation_step(jobs: ReportJobs, account: AccountView) -> str:
    """Reconcile the account and post its report; returns what happened, in words."""
    runs = await jobs.reconcile(account.name)
    outcome = await jobs.post_reconciliation(runs[0])
    if outcome.status != "posted":
        raise DemoStepFailed(f"the reconciliation report was not posted: {outcome.detail}")
    return outcome.detail


async def digest_step(
    jobs: ReportJobs, account: AccountView, standin: SlackStandIn, folder: Path, now: datetime
) -> tuple[str, str, Path]:
    """Post today's digest twice (the second says "already posted") and save the uploaded
    chart in ``folder``; returns both outcomes in words and the chart's path."""
    today = now.astimezone(zone(account.timezone)).date()
    first = await jobs.post_digest(account, today)
    if first.status != "posted" or first.chart_file_id is None:
        raise DemoStepFailed(f"the digest was not posted with its chart: {first.detail}")
    again = await jobs.post_digest(account, today)
    if again.status != "already_posted":
        raise DemoStepFailed(f"posting the digest twice did not say so: {again.detail}")
    uploaded = standin.file(first.chart_file_id)
    if uploaded is None or uploaded["content"] is None:
        raise DemoStepFailed("the chart was not uploaded into the digest's thread")
    shares = uploaded["shares"]
    if shares != [{"channel": account.channel_id, "thread_ts": first.message_ts}]:
        raise DemoStepFailed("the chart was not shared once, into the digest's thread")
    path = folder / str(uploaded["name"])
    path.write_bytes(uploaded["content"])
    return first.detail, again.detail, path


async def digest_again(
    jobs: ReportJobs, account: AccountView, standin: SlackStandIn, now: datetime
) -> Reply:
    """Post today's digest again with ``--force`` (it updates the message); the update."""
    before = max((call.seq for call in standin.calls()), default=0)
    today = now.astimezone(zone(account.timezone)).date()
    outcome = await jobs.post_digest(account, today, force=True)
    if outcome.status != "updated":
        raise DemoStepFailed(f"the digest was not updated: {outcome.detail}")
    updates = [c for c in standin.calls("chat.update") if c.seq > before and c.ok]
    if not updates:
        raise DemoStepFailed("the digest's message was not updated")
    return Reply(updates[0])
