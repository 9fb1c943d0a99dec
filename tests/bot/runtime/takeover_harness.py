"""Replicas whose report jobs share one database and one Slack channel, for the takeover tests
(``test_report_takeover.py``, and its fuzzed orders in ``test_report_takeover_fuzz.py``).

Each replica has its own poster, platform and claims over the shared database, and stops
where it is told to (:class:`Stops`): in the platform read, in a Slack call (``post``,
``thread``, ``update``, ``upload``: the first call of that kind; ``call n``: its n-th call) or
in the database record of a posted part (``record n``: its n-th record, made after Slack
answered). A stop is a :class:`Hold`, answered when the test says so, or killed (a SIGKILL:
nothing after it runs). :class:`Flights` sees which parts are in flight (sent to Slack, not
recorded yet), the one window in which a part may be posted again (README, "Stopping and
rolling restarts").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session, sessionmaker

from billing.jobs.rules import MAIN_PARTS, Claim, JobRunView, JobStatus, Posted, PostOutcome
from billing.jobs.service import CHART
from billing.jobs.store import JobClaims
from billing.reports import HeldSeatsView
from billing.reports.facts import DIGEST_JOB, TrendPoint
from billing.reports.service import Reports
from billing.users import Level, PlatformUser, UserStatus
from bot.runtime.jobs import ReportJobs
from handlers.facts import PlatformFacts
from handlers.slack_pacing import SlackPacing
from handlers.slack_posting import SlackPoster, SlackPostFailed, SlackPosting
from handlers.views.text import Message, message, section
from platforms.types import Platform, Product
from tests.conftest import SEED_AT

DAY = SEED_AT.date()
HELD_BY = "*Idle users holding seats*"


class Killed(BaseException):
    """The process died here (a SIGKILL): nothing after the stop runs, nothing catches it."""


@dataclass
class Hold:
    """One held call: ``reached`` once it is waiting, answered once ``release`` is set."""

    reached: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    killed: bool = False

    async def wait(self) -> None:
        self.reached.set()
        await self.release.wait()
        if self.killed:
            raise Killed

    def kill(self) -> None:
        self.killed = True
        self.release.set()


class Flights:
    """What each replica sends to Slack. A call made without holding the run's claim is a
    stray (none is allowed). A post is in flight from when it is sent until its record is
    written: a part posted (by the claim's holder) while another replica's post of it is in
    flight, that replica having stopped renewing its claim, may be in Slack twice: that part is
    ``excused``, no other. (A replica in ``renewing`` renews in time: nothing it sends is.)"""

    def __init__(self) -> None:
        self.flying: defaultdict[str, set[str]] = defaultdict(set)
        self.renewing: set[str] = set()
        self.excused: set[str] = set()
        self.strays: list[str] = []

    def sent(self, who: str, call: str, part: str | None, *, holding: bool) -> None:
        if not holding:
            self.strays.append(f"{who}: {call} {part or ''}".strip())
        if part is None:
            return
        if holding and self.flying[part] - {who} - self.renewing:
            self.excused.add(part)
        self.flying[part].add(who)

    def landed(self, who: str, part: str) -> None:
        self.flying[part].discard(who)


class Stops:
    """Where one replica stops (see the module docstring), and the calls that fail once."""

    def __init__(self, who: str, flights: Flights) -> None:
        self.who = who
        self.flights = flights
        self.holds: dict[str, Hold] = {}
        self.fails: set[str] = set()
        self.made: Counter[str] = Counter()
        self.loop = asyncio.get_running_loop()
        self.holding: Callable[[], bool] = lambda: True

    def hold(self, key: str) -> Hold:
        self.holds[key] = Hold()
        return self.holds[key]

    def _counted(self, what: str) -> str:
        self.made[what] += 1
        return f"{what} {self.made[what] - 1}"

    async def at(self, kind: str, *, call: bool = False) -> None:
        """Stop here if told to (by ``kind``, or as the replica's ``call n``); a call told to
        fail once then fails."""
        keys = [kind, self._counted("call")] if call else [kind]
        for key in keys:
            hold = self.holds.pop(key, None)
            if hold is not None:
                await hold.wait()
        for key in keys:
            if key in self.fails:
                self.fails.discard(key)
                raise SlackPostFailed(f"Slack refused {key} (once)")

    def record(self, part: str) -> None:
        """In a worker thread, before the record of ``part`` (Slack has answered): stop if
        told to, ``part`` in flight meanwhile."""
        hold = self.holds.pop(self._counted("record"), None)
        if hold is not None:
            self.flights.flying[part].add(self.who)
            asyncio.run_coroutine_threadsafe(hold.wait(), self.loop).result()


def part_of(text: str, thread_ts: str | None) -> str:
    """Which part of the digest a message is: ``main``, ``thread 1``… (see :class:`Thread`)."""
    if thread_ts is None:
        return "main"
    return "thread 1" if text.startswith("Idle users holding seats") else text


def recorded_part(key: str, index: int | None) -> str:
    if key == CHART:
        return "chart"
    return "main" if key == MAIN_PARTS else f"thread {(index or 0) + 1}"


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
    """One replica's poster: its calls land in the shared :class:`Channel`, after its stops."""

    def __init__(self, channel: Channel, stops: Stops) -> None:
        super().__init__(_no_client, SlackPacing())
        self.channel = channel
        self.stops = stops

    async def _send(self, kind: str, part: str | None) -> None:
        stops = self.stops
        stops.flights.sent(stops.who, kind, part, holding=stops.holding())
        try:
            await stops.at(kind, call=True)
        finally:  # answered (recorded next, or stopped there), refused or killed (never sent)
            if part is not None:
                stops.flights.landed(stops.who, part)

    async def post_where(
        self, team_id: str, channel_id: str, message: Message, *, thread_ts: str | None = None
    ) -> tuple[str, str]:
        kind = "post" if thread_ts is None else "thread"
        await self._send(kind, part_of(message.text, thread_ts))
        return channel_id, self.channel.post(message, thread_ts)

    async def update(self, team_id: str, channel_id: str, ts: str, message: Message) -> None:
        await self._send("update", None)
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
        await self._send("upload", "chart")
        self.channel.files.append(thread_ts)
        return f"F{len(self.channel.files)}"


class Thread(SlackPosting):
    """The digest's thread in ``parts`` messages: the real one, then ``thread 2``…"""

    def __init__(self, poster: SlackPoster, parts: int) -> None:
        super().__init__(poster, chart=_chart)
        self.parts = parts

    def render(self, view: object) -> list[object]:
        rendered = super().render(view)
        if isinstance(view, HeldSeatsView):
            more = [f"thread {n}" for n in range(2, self.parts + 1)]
            rendered += [message(text, [section(text)]) for text in more]
        return rendered


class StoppingClaims(JobClaims):
    """The replica's claims: a record stops where told; renewals are noted (``renewed``)."""

    def __init__(self, sessions: sessionmaker[Session], stops: Stops, **kwargs: Any) -> None:
        super().__init__(sessions, **kwargs)
        self.stops = stops
        self.renewals: list[tuple[datetime, bool]] = []
        self.renewed = asyncio.Event()
        self.mine: Claim | None = None

    def claim(self, job_name: str, run_key: str, **kwargs: Any) -> Claim | None:
        self.mine = super().claim(job_name, run_key, **kwargs)
        return self.mine

    def holding(self) -> bool:
        """Whether this replica holds the claim on its run now."""
        if self.mine is None:
            return False
        run = self.find(self.mine.job_name, self.mine.run_key)
        held = (JobStatus.RUNNING, self.mine.attempt)
        return run is not None and (run.status, run.attempts) == held

    def record_posted(
        self,
        claim: Claim,
        key: str,
        posted: str,
        *,
        index: int | None = None,
        channel_id: str | None = None,
    ) -> Posted:
        part = recorded_part(key, index)
        self.stops.record(part)
        done = super().record_posted(claim, key, posted, index=index, channel_id=channel_id)
        self.stops.flights.landed(self.stops.who, part)
        return done

    def renew(self, claim: Claim, *, at: datetime) -> JobRunView | None:
        run = super().renew(claim, at=at)
        with contextlib.suppress(RuntimeError):  # a keeper's last renewal, after the test
            self.stops.loop.call_soon_threadsafe(self._renewed, at, run is not None)
        return run

    def _renewed(self, at: datetime, held: bool) -> None:
        self.renewals.append((at, held))
        self.renewed.set()


class Platform_:
    """Axiom with four users, one inactive; the read stops at ``read`` when told."""

    product = Product.AXIOM
    label = Product.AXIOM.label

    def __init__(self, stops: Stops) -> None:
        self.stops = stops

    async def list_users(self) -> list[PlatformUser]:
        await self.stops.at("read")
        statuses = [UserStatus.INACTIVE, *[UserStatus.ACTIVE] * 3]
        return [
            PlatformUser(f"u{n}", f"u{n}@example.com", f"User {n}", 100 + n, Level.AGENT, status)
            for n, status in enumerate(statuses)
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
    stops: Stops
    claims: StoppingClaims
    account: str

    def hold(self, key: str) -> Hold:
        return self.stops.hold(key)

    def run(self) -> JobRunView | None:
        return self.claims.find(DIGEST_JOB, f"{self.account}/{DAY.isoformat()}")

    async def renewed_since(self, at: datetime, posting: asyncio.Task[Any]) -> None:
        """Until this replica, ``posting``, has renewed its claim at ``at`` or later, has lost
        it, or has ended. (Its keeper renews every ``renew_s``: 10 s without is a failure.)"""
        renewed = self.claims.renewed
        try:
            async with asyncio.timeout(10):
                while not posting.done() and not any(
                    when >= at or not held for when, held in self.claims.renewals
                ):
                    renewed.clear()
                    signal = asyncio.ensure_future(renewed.wait())
                    await asyncio.wait([signal, posting], return_when=asyncio.FIRST_COMPLETED)
                    signal.cancel()
        except TimeoutError:
            raise AssertionError(f"{self.stops.who} did not renew its claim at {at}") from None

    async def post(self) -> PostOutcome:
        [target] = await asyncio.to_thread(self.jobs.reports.targets, self.account, self.jobs.now())
        return await self.jobs.post_digest(target.account, DAY)


def _chart(trend: Sequence[TrendPoint], title: str) -> bytes:
    return b"\x89PNG\r\n\x1a\n"


def replica(
    sessions: sessionmaker[Session],
    channel: Channel,
    clock: Clock,
    *,
    stale_after: timedelta = timedelta(minutes=15),
    account: str = "acme",
    who: str = "replica",
    flights: Flights | None = None,
    thread_parts: int = 1,
    renew_s: float | None = None,
) -> Replica:
    """A replica posting ``account``'s digest; ``renew_s`` is how often it renews its claim
    (real seconds; default a third of ``stale_after``, which a test never waits for)."""
    stops = Stops(who, flights or Flights())
    platform = Platform_(stops)

    def platform_for(account_id: int, product: Product) -> Platform:
        return platform

    slack = ReplicaSlack(channel, stops)
    claims = StoppingClaims(sessions, stops, stale_after=stale_after)
    stops.holding = claims.holding
    jobs = ReportJobs(
        reports=Reports(sessions),
        claims=claims,
        facts=PlatformFacts(platform_for, deadline_s=120, recent_ttl_s=0),
        clock=clock,
        posting=Thread(slack, thread_parts),
        source="test",
        renew_s=renew_s,
    )
    return Replica(jobs, slack, stops, claims, account)


async def history(sessions: sessionmaker[Session], clock: Clock, account: str = "acme") -> None:
    """Six earlier daily runs: with the day's own, the digest has a chart."""
    today = clock.now
    earlier = replica(sessions, Channel(), clock, account=account)
    for back in range(6, 0, -1):
        clock.now = today - timedelta(days=back)
        await earlier.jobs.reconcile(account)
    clock.now = today
