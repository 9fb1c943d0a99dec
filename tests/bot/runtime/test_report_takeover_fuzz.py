"""A digest taken over from a process thought dead, in orders hypothesis draws.

``test_report_takeover.py`` runs four fixed orders; here hypothesis draws them (the harness:
``takeover_harness.py``). Two or three replicas post one digest (its main message, one to three
thread parts, a chart or none) over one database. The old owner stops in the platform read, a
Slack call (``call n``) or the record of a part Slack has accepted (``record n``); the clock
moves past ``stale_after``; the new owner starts (taking over) and stops before it reaches that
part; the old owner's stop is answered, then the new owner's. A few :data:`TWISTS` per example
change that: the old owner renews its claim in time, or is killed where it stopped (a SIGKILL);
a Slack call is refused once; the new owner starts later, is answered sooner, or stops anywhere;
a third replica; the clock moving again. Only one replica moves at a time, so an example is
exactly repeatable. Then every replica still stopped is answered in turn, and a fresh replica
tries (after ``stale_after``) until the run is done.

Whatever the order: no replica calls Slack without holding the claim; each part is in the
channel at most once (one digest, one "Idle users holding seats" reply, one reply per other
part, one chart); at most one attempt says it posted; the run succeeded with every part
recorded where it is (or failed, with its reason, after its last attempt); ``seatbot check``
is clean. The one exception is the window the README names ("Stopping and rolling restarts"):
a part Slack accepted from a replica that then died or stalled past ``stale_after`` before
recording it may be posted again by the replica that took over. :class:`Flights` sees each
time the claim's holder posts a part while such a post of it is in flight: only that part may
then be in the channel twice.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from billing.books.service import SeatService
from billing.jobs.rules import JobStatus, PostOutcome
from billing.jobs.service import CHART
from tests.bot.runtime.takeover_harness import (
    HELD_BY,
    Channel,
    Clock,
    Flights,
    Hold,
    Killed,
    Replica,
    history,
    part_of,
    replica,
)
from tests.conftest import SEED_AT, Seed

AGED = timedelta(minutes=16)  # past the default stale_after (15 minutes)
RENEW_S = 0.02  # a replica that renews in time: real seconds between renewals
ACCOUNTS = itertools.count()


@dataclass(frozen=True)
class Plan:
    """One replica: where it stops (``None``: nowhere), whether it renews its claim in time,
    whether it is killed where it stops, which Slack call is refused once."""

    stop: str | None
    renews: bool
    killed: bool
    refused: str | None


@dataclass(frozen=True)
class World:
    thread_parts: int
    chart: bool
    plans: tuple[Plan, ...]
    #: ``("age", 0)``, ``("start", n)``, ``("answer", n)``; the old owner (0) starts first.
    events: tuple[tuple[str, int], ...]

    @property
    def parts(self) -> list[str]:
        thread = [f"thread {n}" for n in range(1, self.thread_parts + 1)]
        return ["main", *thread, *(["chart"] if self.chart else [])]


#: What may change the plain order (the old owner stopped and stale, the new owner taking over
#: and stopping before the old owner's part, answered after the old owner): a few per world.
TWISTS = (
    "old renews",  # the old owner renews its claim in time: nobody takes it over
    "old killed",  # the old owner dies where it stopped (a SIGKILL)
    "refused",  # one Slack call of one replica is refused, once
    "new first",  # the new owner starts after the old owner's stop was answered
    "new early",  # the new owner is answered before the old owner is
    "new anywhere",  # the new owner stops anywhere, or nowhere
    "third",  # a third replica, started (and answered) anywhere after the first age
    "age again",  # the clock moves past stale_after once more, anywhere
)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    thread_parts, chart = draw(st.integers(1, 3)), draw(st.booleans())
    twists = draw(st.sets(st.sampled_from(TWISTS), max_size=2))
    steps = range(1 + thread_parts + chart)
    calls = [f"call {n}" for n in steps]
    anywhere = st.sampled_from(["read", *calls, *(f"record {n}" for n in steps)])
    first = draw(anywhere)
    reached = 0 if first == "read" else int(first.split()[1])
    sooner = st.sampled_from(["read", *calls[: reached + 1]])
    stop = st.none() | anywhere
    plans = [
        Plan(first, "old renews" in twists, "old killed" in twists, None),
        Plan(draw(stop if "new anywhere" in twists else sooner), False, False, None),
    ]
    if "third" in twists:
        plans.append(Plan(draw(stop), draw(st.booleans()), draw(st.booleans()), None))
    if "refused" in twists:
        who = draw(st.integers(0, len(plans) - 1))
        plans[who] = replace(plans[who], refused=draw(st.sampled_from(calls)))
    events = [("age", 0)]
    later = "new first" in twists
    events += [("answer", 0), ("start", 1)] if later else [("start", 1), ("answer", 0)]
    started = events.index(("start", 1))
    events.insert(started + 1 if "new early" in twists else len(events), ("answer", 1))
    if "third" in twists:
        started = draw(st.integers(1, len(events)))
        events.insert(started, ("start", 2))
        events.insert(draw(st.integers(started + 1, len(events))), ("answer", 2))
    if "age again" in twists:
        events.insert(draw(st.integers(1, len(events))), ("age", 0))
    return World(thread_parts, chart, tuple(plans), tuple(events))


class Scenario:
    """One drawn world played out: every replica moves only when the events say so."""

    def __init__(self, sessions: sessionmaker[Session], account: str, world: World) -> None:
        self.sessions, self.account, self.world = sessions, account, world
        self.channel, self.clock, self.flights = Channel(), Clock(SEED_AT), Flights()
        self.replicas: list[Replica] = []
        self.holds: list[Hold | None] = []
        self.tasks: dict[int, asyncio.Task[PostOutcome]] = {}
        self.ended: dict[int, str] = {}  # how each attempt ended, the fresh ones last

    def replica(self, who: str, renew_s: float | None = None) -> Replica:
        return replica(
            self.sessions,
            self.channel,
            self.clock,
            account=self.account,
            who=who,
            flights=self.flights,
            thread_parts=self.world.thread_parts,
            renew_s=renew_s,
        )

    async def play(self) -> None:
        if self.world.chart:
            await history(self.sessions, self.clock, self.account)
        for who, plan in enumerate(self.world.plans):
            made = self.replica(f"replica {who}", RENEW_S if plan.renews else None)
            self.flights.renewing |= {made.stops.who} if plan.renews else set()
            self.holds.append(None if plan.stop is None else made.hold(plan.stop))
            made.stops.fails |= {plan.refused} if plan.refused else set()
            self.replicas.append(made)
        for kind, who in (("start", 0), *self.world.events):
            await getattr(self, kind)(who)
        for who in range(len(self.replicas)):  # the rest answered in turn
            await self.answer(who, kill=False)
        for who, task in self.tasks.items():
            killed = isinstance(task.exception(), Killed)
            self.ended[who] = "killed" if killed else task.result().status
        for attempt in range(3):  # a fresh replica, after stale_after, until the run is done
            run = self.replicas[0].run()
            if run is not None and run.status is JobStatus.SUCCEEDED:
                break
            await self.age(0)
            fresh = await self.replica(f"fresh {attempt}").post()
            self.ended[len(self.ended)] = fresh.status

    async def start(self, who: int) -> None:
        if who in self.tasks:
            return
        self.tasks[who] = asyncio.create_task(self.replicas[who].post())
        await self.stopped(who)

    async def stopped(self, who: int) -> None:
        """Until replica ``who`` waits where it stops, or has ended."""
        hold, task = self.holds[who], self.tasks[who]
        if hold is None:
            await asyncio.wait([task])
            return
        reached = asyncio.ensure_future(hold.reached.wait())
        await asyncio.wait([task, reached], return_when=asyncio.FIRST_COMPLETED)
        reached.cancel()

    async def answer(self, who: int, *, kill: bool | None = None) -> None:
        hold, task = self.holds[who], self.tasks.get(who)
        if hold is None or task is None or task.done() or not hold.reached.is_set():
            return
        if self.world.plans[who].killed if kill is None else kill:
            self.flights.renewing.discard(self.replicas[who].stops.who)  # it renews no more
            hold.kill()
        else:
            hold.release.set()
        await asyncio.wait([task])

    async def age(self, _: int) -> None:
        """The clock moves past ``stale_after``; a replica that renews in time has renewed."""
        self.clock.now += AGED
        for who, task in self.tasks.items():
            if self.world.plans[who].renews:
                await self.replicas[who].renewed_since(self.clock.now, task)

    def copies(self) -> Counter[str]:
        """How many times each part is in the channel."""
        messages = self.channel.messages.values()
        found = Counter(part_of(m["text"], m["thread"]) for m in messages)
        return found + Counter({"chart": len(self.channel.files)})

    def check(self) -> None:
        world, channel = self.world, self.channel
        run = self.replicas[0].run()
        assert run is not None
        copies, excused = self.copies(), self.flights.excused
        event(f"final {run.status.value}; may be twice: {sorted(excused) or 'none'}")
        event(f"{run.attempts} attempts")
        for outcome in sorted(set(self.ended.values())):
            event(f"an attempt {outcome}")
        assert self.flights.strays == []
        assert set(copies) <= set(world.parts), channel.messages
        for part in world.parts:
            assert copies[part] <= 1 + (part in excused), f"{part} posted {copies[part]} times"
        assert list(self.ended.values()).count("posted") <= 1, self.ended
        renewing = [self.ended[who] for who, plan in enumerate(world.plans) if plan.renews]
        assert "taken_over" not in renewing, self.ended  # nobody takes over a renewed claim
        if run.status is not JobStatus.SUCCEEDED:
            assert run.status is JobStatus.FAILED, run
            assert run.detail["error"], run
            assert run.attempts >= self.replicas[0].claims.max_attempts, run
            return
        assert all(copies[part] >= 1 for part in world.parts), copies
        [digest] = run.detail["parts"]
        assert channel.messages[digest]["thread"] is None
        thread = run.detail["thread"]
        shown = [
            part_of(channel.messages[ts]["text"], channel.messages[ts]["thread"]) for ts in thread
        ]
        assert shown == world.parts[1 : 1 + world.thread_parts], (thread, channel.messages)
        assert {channel.messages[ts]["thread"] for ts in thread} == {digest}
        assert 1 <= len(channel.replies(digest, HELD_BY)) <= 1 + ("thread 1" in excused)
        if world.chart:
            assert channel.files[int(run.detail[CHART][1:]) - 1] == digest
        else:
            assert CHART not in run.detail
        assert SeatService(self.sessions).check_invariants().violations == ()


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(world=worlds())
def test_a_digest_taken_over_in_any_order_is_posted_once(
    session_factory: sessionmaker[Session], seed: Seed, world: World
) -> None:
    account = f"fuzz{next(ACCOUNTS)}"
    seed(account)
    scenario = Scenario(session_factory, account, world)
    asyncio.run(scenario.play())
    scenario.check()
