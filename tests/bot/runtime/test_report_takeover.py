"""A digest taken over from a process thought dead is resumed, never repeated.

Two replicas' report jobs over one database and one Slack channel, each with its own poster,
platform and claims, and one clock (the harness: ``takeover_harness.py``). A Slack call, or the
platform read before the posts, is held on an event so the interleavings that used to post a
part twice run in a fixed order (``test_report_takeover_fuzz.py`` draws many more):

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
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from billing.jobs.rules import JobStatus
from billing.reports.facts import DIGEST_JOB
from tests.bot.runtime.takeover_harness import (
    DAY,
    HELD_BY,
    Channel,
    Clock,
    history,
    replica,
)
from tests.conftest import SEED_AT, Seed

RUN_KEY = f"acme/{DAY.isoformat()}"


def _one_digest(channel: Channel) -> str:
    digests = channel.top_level()
    assert len(digests) == 1, channel.messages
    [digest] = digests
    assert len(channel.replies(digest, HELD_BY)) == 1, channel.messages
    return digest


async def test_an_owner_paused_before_its_posts_does_not_post_after_a_takeover(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    seed("acme")
    channel, clock = Channel(), Clock(SEED_AT)
    old, new = replica(session_factory, channel, clock), replica(session_factory, channel, clock)
    paused = old.hold("read")  # the old owner stops while reading the platform
    old_task = asyncio.create_task(old.post())
    await paused.reached.wait()
    clock.now += timedelta(minutes=16)  # its claim is stale: taken over
    posting = new.hold("post")  # the new owner's digest is on its way to Slack
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
    slow = old.hold("thread")  # Slack answers the old owner's first reply late
    old_task = asyncio.create_task(old.post())
    await slow.reached.wait()
    clock.now += timedelta(minutes=16)
    # The new owner claims now (what the run recorded then: the digest, no reply), then waits
    # in its first call while the old owner's reply is answered.
    waiting = new.hold("update")
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
    await history(session_factory, clock)
    old, new = replica(session_factory, channel, clock), replica(session_factory, channel, clock)
    slow = old.hold("upload")
    old_task = asyncio.create_task(old.post())
    await slow.reached.wait()
    clock.now += timedelta(minutes=16)
    waiting = new.hold("update")
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
    slow = old.hold("thread")
    old_task = asyncio.create_task(old.post())
    await slow.reached.wait()
    clock.now += timedelta(minutes=16)  # Slack has kept the old owner waiting this long
    await old.renewed_since(clock.now, old_task)  # while Slack is slow
    run = old.run()
    assert run is not None
    assert run.renewed_at == clock.now
    refused = await new.post()
    assert refused.status == "in_progress"
    slow.release.set()
    finished = await old_task
    assert finished.status == "posted"
    _one_digest(channel)
    run = old.jobs.claims.find(DIGEST_JOB, RUN_KEY)
    assert run is not None
    assert (run.status, run.attempts) == (JobStatus.SUCCEEDED, 1)
