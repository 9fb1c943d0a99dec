"""The digest as billing's use case, driven without an event loop: a fake edge answers what it
asks (the platform's users, rendering, Slack), and every way a run ends is checked on the
database: posted once, already posted, no channel, a post Slack refused (failed, then retried
from what was posted), an unexpected error (failed with a reference), and a tick that skips a
digest more than a day late once and leaves one this process is posting."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from billing.jobs.ports import (
    KeepClaim,
    NotInChannel,
    Post,
    PostFailed,
    ReadUsers,
    Render,
    Steps,
    Update,
    Upload,
)
from billing.jobs.rules import JobStatus
from billing.jobs.store import JobClaims
from billing.models import ACCOUNT_CREATED, Account, AuditEvent
from billing.reports.facts import DIGEST_JOB
from billing.reports.posting import ReportPosting
from billing.reports.service import Reports
from billing.users import Level, PlatformUser, UserListing, UserStatus
from billing.views import AccountView
from tests.conftest import SEED_AT, Seed

DAY = SEED_AT.date()
RUN_KEY = f"acme/{DAY.isoformat()}"
USERS = [PlatformUser("u1", "u1@example.com", "U 1", 101, Level.AGENT, UserStatus.INACTIVE)]


class Edge:
    """Answers requests as the edge would: each view renders as one message, posts land in the
    channel asked for; ``refuse_thread`` makes Slack refuse replies, ``broken_render`` breaks
    rendering."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, str | None]] = []  # (ts, thread)
        self.updated: list[str] = []
        self.refuse_thread = False
        self.broken_render = False
        self.outside_channel = False  # the bot is not in the account's channel
        self.dms: list[tuple[str, object]] = []  # (user id, message)

    def answer(self, request: object) -> Any:
        match request:
            case KeepClaim():
                return None
            case ReadUsers(products=products):
                return [UserListing.complete(USERS) for _ in products]
            case Render(view=view):
                if self.broken_render:
                    raise RuntimeError("a bug in a view")
                return [f"{type(view).__name__} message"]
            case Post(channel_id=channel, message=message) if channel.startswith("U"):
                self.dms.append((channel, message))
                return "D" + channel[1:], f"9.{len(self.dms)}"
            case Post(channel_id=channel, thread_ts=thread):
                if self.outside_channel:
                    raise NotInChannel(f"Seatbot is not in channel {channel} (x)", channel)
                if thread is not None and self.refuse_thread:
                    raise PostFailed(f"Slack refused chat.postMessage in {channel}: not_in_channel")
                ts = f"{len(self.posted) + 1}.0"
                self.posted.append((ts, thread))
                return channel, ts
            case Update(ts=ts):
                self.updated.append(ts)
                return None
            case Upload():
                return "F1"
        raise AssertionError(f"unexpected request {request!r}")

    def run(self, steps: Steps[Any]) -> Any:
        answer: Any = None
        error: Exception | None = None
        while True:
            try:
                request = steps.throw(error) if error is not None else steps.send(answer)
            except StopIteration as ended:
                return ended.value
            answer, error = None, None
            try:
                answer = self.answer(request)
            except Exception as failed:
                error = failed


def posting(session_factory: sessionmaker[Session]) -> ReportPosting:
    return ReportPosting(Reports(session_factory), JobClaims(session_factory), lambda: SEED_AT)


def acme(reports: ReportPosting) -> AccountView:
    [target] = reports.reports.targets("acme", SEED_AT)
    return target.account


def test_a_digest_is_posted_once_then_said_to_be_posted(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    seed("acme")
    reports, edge = posting(session_factory), Edge()
    posted = edge.run(reports.digest(acme(reports), DAY))
    assert (posted.status, posted.messages, posted.message_ts) == ("posted", 2, "1.0")
    assert edge.posted == [("1.0", None), ("2.0", "1.0")]  # the digest, then its thread
    again = edge.run(reports.digest(acme(reports), DAY))
    assert again.status == "already_posted"
    assert len(edge.posted) == 2
    run = reports.claims.find(DIGEST_JOB, RUN_KEY)
    assert run is not None
    assert (run.status, run.detail) == (JobStatus.SUCCEEDED, {"parts": ["1.0"], "thread": ["2.0"]})


def test_a_post_slack_refuses_fails_the_run_and_its_retry_resumes_after_what_was_posted(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    seed("acme")
    reports, edge = posting(session_factory), Edge()
    edge.refuse_thread = True
    failed = edge.run(reports.digest(acme(reports), DAY))
    assert failed.status == "failed"
    assert failed.detail == (
        "digest not posted: Slack refused chat.postMessage in C_SEATS: not_in_channel; "
        "it will be tried again (4 tries left)"
    )
    run = reports.claims.find(DIGEST_JOB, RUN_KEY)
    assert run is not None
    assert run.status is JobStatus.FAILED
    assert "not_in_channel" in run.detail["error"]
    edge.refuse_thread = False
    retried = edge.run(reports.digest(acme(reports), DAY))
    assert retried.status == "posted"
    assert edge.updated == ["1.0"]  # the digest posted before is updated, not posted again
    assert edge.posted == [("1.0", None), ("2.0", "1.0")]


def test_an_unexpected_error_fails_the_run_with_a_reference_and_keeps_the_cause(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    seed("acme")
    reports, edge = posting(session_factory), Edge()
    edge.broken_render = True
    failed = edge.run(reports.digest(acme(reports), DAY))
    assert failed.status == "failed"
    assert "internal error (reference " in failed.detail
    assert "a bug in a view" not in failed.detail  # for the log only
    assert isinstance(failed.cause, RuntimeError)
    run = reports.claims.find(DIGEST_JOB, RUN_KEY)
    assert run is not None
    assert run.status is JobStatus.FAILED


def test_an_account_without_a_channel_gets_no_digest_and_no_claim(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    seeded = seed("acme")
    with session_factory.begin() as session:
        session.execute(
            update(Account).where(Account.id == seeded.account_id).values(channel_id=None)
        )
    reports, edge = posting(session_factory), Edge()
    outcome = edge.run(reports.digest(acme(reports), DAY))
    assert outcome.status == "no_channel"
    assert reports.claims.find(DIGEST_JOB, RUN_KEY) is None
    assert edge.posted == []


def test_a_tick_skips_a_digest_over_a_day_late_once_and_leaves_those_in_flight(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    seeded = seed("acme")
    with session_factory.begin() as session:
        session.execute(
            update(Account).where(Account.id == seeded.account_id).values(digest_at="09:00")
        )
    reports = posting(session_factory)
    at = SEED_AT - timedelta(hours=1)  # 10 January, 08:00 UTC: today's is not due yet
    due = reports.due(at)
    assert [(digest.day, digest.due_at) for digest in due.digests] == [
        (date(2026, 1, 9), SEED_AT - timedelta(days=1))  # 23 hours late: posted late
    ]
    assert [(o.run_key, o.status) for o in due.skipped] == [("acme/2026-01-08", "skipped")]
    again = reports.due(at, busy={"acme/2026-01-09"})
    assert again.digests == []  # this process is posting it
    assert again.skipped == []  # recorded once: told once
    skipped = reports.claims.find(DIGEST_JOB, "acme/2026-01-08")
    assert skipped is not None
    assert skipped.status is JobStatus.SKIPPED


def test_a_newly_loaded_account_gets_no_digest_due_before_it_was_loaded(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    seeded = seed("acme")
    loaded_at = SEED_AT - timedelta(hours=12)  # 9 January, 21:00 UTC
    with session_factory.begin() as session:
        session.execute(
            update(Account).where(Account.id == seeded.account_id).values(digest_at="09:00")
        )
        session.add(
            AuditEvent(
                account_id=seeded.account_id,
                actor="cli",
                action=ACCOUNT_CREATED,
                details="{}",
                at=loaded_at,
            )
        )
    reports = posting(session_factory)
    # 10 January, 08:00: the 8th's and the 9th's came due before the account was loaded.
    quiet = reports.due(SEED_AT - timedelta(hours=1))
    assert (quiet.digests, quiet.skipped) == ([], [])
    assert reports.claims.runs(DIGEST_JOB) == []
    # 10 January, 09:01: its first digest time after loading.
    first = reports.due(SEED_AT + timedelta(minutes=1))
    assert [(digest.day, digest.due_at) for digest in first.digests] == [(DAY, SEED_AT)]
    assert first.skipped == []


def test_a_digest_outside_its_channel_tells_the_owners_once_and_waits_to_be_invited(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    seeded = seed("acme")
    with session_factory.begin() as session:
        session.execute(
            update(Account).where(Account.id == seeded.account_id).values(digest_at="09:00")
        )
    now = [SEED_AT]
    claims = JobClaims(session_factory, max_attempts=2)
    reports = ReportPosting(Reports(session_factory), claims, lambda: now[0])
    edge = Edge()
    edge.outside_channel = True
    first = edge.run(reports.digest(acme(reports), DAY, scheduled_for=SEED_AT))
    assert first.status == "waiting_for_channel"
    assert first.detail == (
        "digest not posted: Seatbot is not in channel C_SEATS (x); 1 owner told by DM; it is "
        "posted once Seatbot is invited there (looked at every 10 minutes)"
    )
    assert edge.dms == [("U_OWNER", "ChannelNotice message")]
    # Tried again every ten minutes, past its attempts (2), and the owners are told only once.
    for minutes in (10, 20, 30):
        now[0] = SEED_AT + timedelta(minutes=minutes, seconds=1)
        assert [d.run_key for d in reports.due(now[0]).digests] == [RUN_KEY]
        assert reports.due(now[0] - timedelta(minutes=5)).digests == []  # not before
        again = edge.run(reports.digest(acme(reports), DAY, scheduled_for=SEED_AT))
        assert again.status == "still_waiting"
    assert len(edge.dms) == 1
    # Invited: the next look posts it.
    edge.outside_channel = False
    now[0] = SEED_AT + timedelta(minutes=41)
    [due] = reports.due(now[0]).digests
    posted = edge.run(reports.digest(due.account, due.day, scheduled_for=due.due_at))
    assert posted.status == "posted"
    run = claims.find(DIGEST_JOB, RUN_KEY)
    assert run is not None
    assert run.status is JobStatus.SUCCEEDED
