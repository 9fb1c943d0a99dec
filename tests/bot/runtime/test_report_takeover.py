"""A digest taken over from a process thought dead is resumed, never repeated.

Two replicas' report jobs over one database and one Slack channel, each with its own poster,
platform and clock. A Slack call, or the platform read before the posts, is held on an event
so the interleavings that used to post a part twice run in a fixed order:

- the old owner is paused before a post while its claim goes stale and is taken over: it must
  not post once it resumes (it checks it still holds the claim before each call);
- the old owner's post is answered only after its claim was taken over: the part is recorded all
  the same, and the new owner, which claimed before that record, re-reads before each part and
  updates it instead of posting it again;
- the same for the trend chart's upload;
- the old owner is alive but slow in Slack for longer than ``stale_after``: it renews its claim
  meanwhile, so nobody takes it over.

Every run ends with one digest, one "Idle users holding seats…" reply and at most one chart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session, sessionmaker

from billing.jobs.rules import JobStatus, PostOutcome
from billing.jobs.store import JobClaims
from billing.reports.facts import DIGEST_JOB, TrendPoint
from billing.reports.service import Reports
from billing.users import Level, PlatformUser, UserStatus
from bot.runtime.jobs import ReportJobs
from handlers.facts import PlatformFacts
from handlers.slack_pacing import SlackPacing
from handlers.slack_posting import SlackPoster, SlackPosting
from handlers.views.text import Message
from platforms.types import Platform, Product
from tests.conftest import SEED_AT, Seed

DAY = SEED_AT.date()
RUN_KEY = f"acme/{DAY.isoformat()}"
HELD_BY = "*Idle users holding seats*"


@dataclass
class Hold:
    """One held call: ``reached`` once it is waiting, answered once ``release`` is set."""

    reached: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self) -> None:
        self.reached.set()
        await self.release.wait()


class Channel:
    """The report channel as Slack keeps it, shared by every replica."""

    def __init__(self) -> None:
        self.messages: dict[str, dict[str, Any]] = {}
        self.files: list[str] = []

    def post(self, message: Message, thread_ts: str | None) -> str:
        ts = f"{len(self.messages) + 1}.000000"
        self.messages[ts] = {"text": message.text, "blocks": message.blocks, "thread": thread_ts}
        return ts

    def top_level(self) -> list[str]:
        return [ts for ts, m in self.messages.items() if m["thread"] is None]

    def replies(self, thread_ts: str, starting: str) -> list[str]:
        return [
            ts
            for ts, m in self.messages.items()
            if m["thread"] == thread_ts and str(m["blocks"][0].to_dict()).find(starting) >= 0
        ]


async def _no_client(team_id: str) -> AsyncWebClient | None:
    return None


class ReplicaSlack(SlackPoster):
    """One replica's poster: its calls land in the shared :class:`Channel`; the first call of a
    kind given to :meth:`hold` (``post``, ``thread``, ``update``, ``upload``) waits first."""

    def __init__(self, channel: Channel) -> None:
        super().__init__(_no_client, SlackPacing())
        self.channel = channel
        self.holds: dict[str, Hold] = {}

    def hold(self, kind: str) -> Hold:
        self.holds[kind] = Hold()
        return self.holds[kind]

    async def _held(self, kind: str) -> None:
        hold = self.holds.pop(kind, None)
        if hold is not None:
            await hold.wait()

    async def post_where(
        self, team_id: str, channel_id: str, message: Message, *, thread_ts: str | None = None
    ) -> tuple[str, str]:
        await self._held("post" if thread_ts is None else "thread")
        return channel_id, self.channel.post(message, thread_ts)

    async def update(self, team_id: str, channel_id: str, ts: str, message: Message) -> None:
        await self._held("update")
        self.channel.messages[ts].update(text=message.text, blocks=message.blocks)

    async def upload(
        self,
        team_id: str,
        channel_id: str,
        *,
        thread_ts: str,
        filename: str,
        content: bytes,
        title: str,
        alt_text: str,
    ) -> str:
        await self._held("upload")
        self.channel.files.append(thread_ts)
        return f"F{len(self.channel.files)}"


class Platform_:
    """Axiom with four users, one inactive; ``hold`` holds the next read."""

    product = Product.AXIOM
    label = Product.AXIOM.label

    def __init__(self) -> None:
        self.hold: Hold | None = None

    async def list_users(self) -> list[PlatformUser]:
        hold, self.hold = self.hold, None
        if hold is not None:
            await hold.wait()
        return [
            PlatformUser(
                f"u{n}",
                f"u{n}@example.com",
                f"User {n}",
                100 + n,
                Level.AGENT,
                UserStatus.INACTIVE if n == 0 else UserStatus.ACTIVE,
            )
            for n in range(4)
        ]

    async def aclose(self) -> None:
        pass


class Clock:
    """The time both replicas read; the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Replica:
    jobs: ReportJobs
    slack: ReplicaSlack
    platform: Platform_

    async def post(self) -> PostOutcome:
        [target] = await asyncio.to_thread(self.jobs.reports.targets, "acme", self.jobs.now())
        return await self.jobs.post_digest(target.account, DAY)


def _chart(trend: Sequence[TrendPoint], title: str) -> bytes:
    return b"\x89PNG\r\n\x1a\n"


def replica(
    sessions: sessionmaker[Session],
    channel: Channel,
    clock: Clock,
    *,
    stale_after: timedelta = timedelta(minutes=15),
) -> Replica:
    platform = Platform_()

    def platform_for(account_id: int, product: Product) -> Platform:
        return platform

    slack = ReplicaSlack(channel)
    jobs = ReportJobs(
        reports=Reports(sessions),
        claims=JobClaims(sessions, stale_after=stale_after),
        facts=PlatformFacts(platform_for, deadline_s=120, recent_ttl_s=0),
        clock=clock,
        posting=SlackPosting(slack, chart=_chart),
        source="test",
    )
    return Replica(jobs, slack, platform)


async def until(condition: Callable[[], bool], what: str, within_s: float = 30) -> None:
    """Wait for ``condition`` (checked between the tasks' steps), or fail naming ``what``."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def _one_digest(channel: Channel) -> str:
    digests = channel.top_level()
    assert len(digests) == 1, channel.messages
    [digest] = digests
    assert len(channel.replies(digest, HELD_BY)) == 1, channel.messages
    return digest


async def _history(sessions: sessionmaker[Session], clock: Clock) -> None:
    """Seven earlier daily runs, so the digest has a chart."""
    today = clock.now
    history = replica(sessions, Channel(), clock)
    for back in range(8, 0, -1):
        clock.now = today - timedelta(days=back)
        await history.jobs.reconcile("acme")
    clock.now = today


async def test_an_owner_paused_before_its_posts_does_not_post_after_a_takeover(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    seed("acme")
    channel, clock = Channel(), Clock(SEED_AT)
    old, new = replica(session_factory, channel, clock), replica(session_factory, channel, clock)
    paused = old.platform.hold = Hold()  # the old owner stops while reading the platform
    old_task = asyncio.create_task(old.post())
    await paused.reached.wait()
    clock.now += timedelta(minutes=16)  # its claim is stale: taken over
    posting = new.slack.hold("post")  # the new owner's digest is on its way to Slack
    new_task = asyncio.create_task(new.post())
    await posting.reached.wait()
    paused.release.set()  # the old owner resumes, with nothing recorded yet
    stopped = await old_task
    assert stopped.status == "taken_over"
    assert "taken over" in stopped.detail
    posting.release.set()
    taken = await new_task
    assert taken.status == "posted"
    digest = _one_digest(channel)
    assert len(channel.messages) == 2
    assert taken.message_ts == digest


async def test_a_part_answered_after_a_takeover_is_recorded_and_not_posted_again(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    seed("acme")
    channel, clock = Channel(), Clock(SEED_AT)
    old, new = replica(session_factory, channel, clock), replica(session_factory, channel, clock)
    slow = old.slack.hold("thread")  # Slack answers the old owner's first reply late
    old_task = asyncio.create_task(old.post())
    await slow.reached.wait()
    clock.now += timedelta(minutes=16)
    # The new owner claims now (what the run recorded then: the digest, no reply), then waits
    # in its first call while the old owner's reply is answered.
    waiting = new.slack.hold("update")
    new_task = asyncio.create_task(new.post())
    await waiting.reached.wait()
    slow.release.set()
    stopped = await old_task
    assert stopped.status == "taken_over"
    waiting.release.set()
    finished = await new_task
    assert finished.status == "posted"
    digest = _one_digest(channel)
    assert len(channel.messages) == 2
    run = new.jobs.claims.find(DIGEST_JOB, RUN_KEY)
    assert run is not None
    assert run.status is JobStatus.SUCCEEDED
    assert run.attempts == 2
    assert run.detail["parts"] == [digest]
    assert run.detail["thread"] == channel.replies(digest, HELD_BY)


async def test_a_chart_uploaded_after_a_takeover_is_recorded_and_not_uploaded_again(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    seed("acme")
    channel, clock = Channel(), Clock(SEED_AT)
    await _history(session_factory, clock)
    old, new = replica(session_factory, channel, clock), replica(session_factory, channel, clock)
    slow = old.slack.hold("upload")
    old_task = asyncio.create_task(old.post())
    await slow.reached.wait()
    clock.now += timedelta(minutes=16)
    waiting = new.slack.hold("update")
    new_task = asyncio.create_task(new.post())
    await waiting.reached.wait()
    slow.release.set()
    await old_task
    waiting.release.set()
    finished = await new_task
    assert finished.status == "posted"
    digest = _one_digest(channel)
    assert channel.files == [digest]
    assert finished.chart_file_id == "F1"


async def test_an_owner_slow_in_slack_renews_its_claim_so_it_is_not_taken_over(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    seed("acme")
    channel, clock = Channel(), Clock(SEED_AT)
    # A claim is stale after a second on the jobs' clock; its holder renews it every third
    # of that (real time), whatever Slack is doing.
    stale = timedelta(seconds=1)
    old = replica(session_factory, channel, clock, stale_after=stale)
    new = replica(session_factory, channel, clock, stale_after=stale)
    slow = old.slack.hold("thread")
    old_task = asyncio.create_task(old.post())
    await slow.reached.wait()
    clock.now += timedelta(minutes=16)  # Slack has kept the old owner waiting this long

    def renewed() -> bool:
        run = old.jobs.claims.find(DIGEST_JOB, RUN_KEY)
        return run is not None and run.renewed_at == clock.now

    await until(renewed, "the old owner renewing its claim while Slack is slow")
    refused = await new.post()
    assert refused.status == "in_progress"
    slow.release.set()
    finished = await old_task
    assert finished.status == "posted"
    _one_digest(channel)
    run = old.jobs.claims.find(DIGEST_JOB, RUN_KEY)
    assert run is not None
    assert (run.status, run.attempts) == (JobStatus.SUCCEEDED, 1)
