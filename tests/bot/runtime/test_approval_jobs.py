"""The approvals' scheduled job: each reminder, escalation and expiry happens once, however many
replicas tick at once; decisions stamp the messages reminders posted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from billing.access import Caller
from billing.approvals.rules import ApprovalPolicy
from billing.approvals.service import Approvals
from billing.books.service import SeatService
from billing.jobs.ports import NotInChannel
from billing.jobs.store import JobClaims
from billing.models import Account
from billing.requests import RequestStatus
from billing.seats.outcomes import AwaitingApproval, MessageRef, ReadyToConfirm
from billing.seats.service import SeatChanges
from billing.setup.store import apply_approval_policy
from billing.users import UserListing
from bot.runtime.jobs import ApprovalJobs
from handlers.slack_posting import SlackPosting
from handlers.views import Message

T = "T_ACME"
OWNER = Caller(T, "U_OWNER")
JAN_16 = datetime(2026, 1, 16, 9, tzinfo=UTC)


class FakePoster:
    """Records what the jobs post and update (as Slack would answer: a DM lands in D…)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, str]] = []
        self.updates: list[tuple[str, str, str]] = []

    async def post_where(
        self, team: str, channel: str, message: Message, **_: Any
    ) -> tuple[str, str]:
        await asyncio.sleep(0)
        ts = f"{len(self.posts) + 1}.0001"
        self.posts.append((channel, ts, message.text))
        return f"D{channel}", ts

    async def update(self, team: str, channel: str, ts: str, message: Message) -> None:
        self.updates.append((channel, ts, message.text))


def waiting_decrease(
    session_factory: sessionmaker[Session], acme: Any, policy: ApprovalPolicy
) -> AwaitingApproval:
    """Under ``policy``, acme's owner asks for 8 seats on 16 January and confirms: waiting."""
    with session_factory.begin() as session:
        account = session.get(Account, acme.account_id)
        assert account is not None
        apply_approval_policy(session, account, policy)
    changes = SeatChanges(session_factory)
    draft = changes.request_by_form(
        OWNER,
        account_id=acme.account_id,
        subscription_id=acme.subscription_id,
        new_seats=8,
        at=JAN_16,
        users=UserListing.complete([]),
    )
    assert isinstance(draft, ReadyToConfirm)
    waiting = changes.confirm(
        OWNER, request_id=draft.request.id, revision=1, at=JAN_16, users=UserListing.complete([])
    )
    assert isinstance(waiting, AwaitingApproval)
    return waiting


def test_reminders_escalations_and_expiry_happen_once_across_replicas(
    seed: Callable[..., Any], session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    policy = ApprovalPolicy(
        require_decrease=True,
        remind_after=timedelta(hours=4),
        escalate_after=timedelta(hours=24),
        escalate_to=((T, "U_CFO"),),
        expire_after=timedelta(hours=72),
    )
    waiting = waiting_decrease(session_factory, acme, policy)

    now = [JAN_16]
    poster = FakePoster()

    def replica() -> ApprovalJobs:
        return ApprovalJobs(
            Approvals(session_factory),
            JobClaims(session_factory),
            SlackPosting(poster),  # type: ignore[arg-type]
            clock=lambda: now[0],
        )

    replicas = [replica(), replica(), replica()]

    async def tick_all() -> list[int]:
        return list(await asyncio.gather(*(r.tick() for r in replicas)))

    assert sum(asyncio.run(tick_all())) == 0
    now[0] = JAN_16 + timedelta(hours=5)
    assert sum(asyncio.run(tick_all())) == 1  # the reminder, once
    assert [p[0] for p in poster.posts] == ["U_MANAGER"]
    assert "Reminder" in poster.posts[0][2]
    asyncio.run(tick_all())
    assert len(poster.posts) == 1
    now[0] = JAN_16 + timedelta(hours=25)
    assert sum(asyncio.run(tick_all())) == 1  # the escalation, once
    assert [p[0] for p in poster.posts] == ["U_MANAGER", "U_CFO"]
    now[0] = JAN_16 + timedelta(hours=73)
    assert sum(asyncio.run(tick_all())) == 1  # the expiry, once
    # Both messages the jobs posted are stamped, and the requester is told.
    assert {u[0] for u in poster.updates} == {"DU_MANAGER", "DU_CFO"}
    assert all("Expired" in u[2] for u in poster.updates)
    assert poster.posts[-1][0] == "U_OWNER"
    assert SeatService(session_factory).get_request(waiting.request.id).status is (
        RequestStatus.EXPIRED
    )
    assert sum(asyncio.run(tick_all())) == 0
    assert SeatService(session_factory).check_invariants().violations == ()


class ThreadPoster(FakePoster):
    """:class:`FakePoster` that also keeps the thread each post went to, and its blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str | None] = []
        self.blocks: list[str] = []

    async def post_where(
        self, team: str, channel: str, message: Message, **kwargs: Any
    ) -> tuple[str, str]:
        self.threads.append(kwargs.get("thread_ts"))
        self.blocks.append(str([block.to_dict() for block in message.blocks]))
        return await super().post_where(team, channel, message)


@pytest.mark.parametrize(
    "due",
    [
        {"remind_after": timedelta(hours=4)},
        # Escalated to someone who already has the card: a reply under it too.
        {"escalate_after": timedelta(hours=4), "escalate_to": ((T, "U_MANAGER"),)},
    ],
    ids=["reminder", "escalation"],
)
def test_a_reminder_or_escalation_replies_in_the_thread_of_the_card_and_is_stamped_too(
    seed: Callable[..., Any], session_factory: sessionmaker[Session], due: dict[str, Any]
) -> None:
    acme = seed()
    policy = ApprovalPolicy(require_decrease=True, expire_after=timedelta(hours=72), **due)
    waiting = waiting_decrease(session_factory, acme, policy)
    assert waiting.expires_at == JAN_16 + timedelta(hours=72)
    approvals = Approvals(session_factory)
    # The card the announcement put in the manager's direct messages.
    card = MessageRef(T, "DU_MANAGER", "100.0001", recipient="U_MANAGER")
    approvals.record_messages(waiting.request.id, [card], JAN_16)
    now = [JAN_16 + timedelta(hours=5)]
    poster = ThreadPoster()
    jobs = ApprovalJobs(
        approvals,
        JobClaims(session_factory),
        SlackPosting(poster),  # type: ignore[arg-type]
        clock=lambda: now[0],
    )
    assert asyncio.run(jobs.tick()) == 1
    # One reply, under the card, not a second card beside it; it says until when and that
    # approving applies the change at once.
    assert [p[0] for p in poster.posts] == ["DU_MANAGER"]
    assert poster.threads == ["100.0001"]
    expiry = int((JAN_16 + timedelta(hours=72)).timestamp())
    assert f"It expires <!date^{expiry}^{{date_short_pretty}} {{time}}|" in poster.blocks[0]
    assert "Approving applies the change at once." in poster.blocks[0]
    now[0] = JAN_16 + timedelta(hours=73)
    assert asyncio.run(jobs.tick()) == 1
    # The card and the reply under it are both stamped.
    assert sorted(u[1] for u in poster.updates) == ["1.0001", "100.0001"]
    assert all("Expired" in u[2] for u in poster.updates)


class ClosedChannelPoster(ThreadPoster):
    """:class:`ThreadPoster` that Slack refuses in ``closed`` (the bot is not in them)."""

    def __init__(self, *closed: str) -> None:
        super().__init__()
        self.closed = set(closed)

    async def post_where(
        self, team: str, channel: str, message: Message, **kwargs: Any
    ) -> tuple[str, str]:
        if channel in self.closed:
            raise NotInChannel(f"Seatbot is not in channel {channel}", channel)
        landed, ts = await super().post_where(team, channel, message, **kwargs)
        return (channel if channel.startswith("C") else landed), ts  # a channel keeps its id


def unposted(approvals: Approvals, request_id: int) -> str | None:
    prompt = approvals.reminder(request_id)
    assert prompt is not None
    return prompt.unposted_channel


def test_the_approvals_channel_gets_its_card_with_a_reminder_once_the_bot_is_invited(
    seed: Callable[..., Any], session_factory: sessionmaker[Session]
) -> None:
    acme = seed()
    policy = ApprovalPolicy(
        require_decrease=True,
        channel_id="C_APPROVALS",
        remind_after=timedelta(hours=4),
        escalate_after=timedelta(hours=24),
        escalate_to=((T, "U_CFO"),),
    )
    waiting = waiting_decrease(session_factory, acme, policy)
    approvals = Approvals(session_factory)
    # The announcement reached the manager only: the bot was not in the approvals channel.
    card = MessageRef(T, "DU_MANAGER", "100.0001", recipient="U_MANAGER")
    approvals.record_messages(waiting.request.id, [card], JAN_16)
    assert unposted(approvals, waiting.request.id) == "C_APPROVALS"

    now = [JAN_16 + timedelta(hours=5)]
    poster = ClosedChannelPoster("C_APPROVALS")
    jobs = ApprovalJobs(
        approvals,
        JobClaims(session_factory),
        SlackPosting(poster),  # type: ignore[arg-type]
        clock=lambda: now[0],
    )
    # Still not invited: the reminder reaches the manager, and the step is done, not failed
    # (nobody is reminded twice because of the channel).
    assert asyncio.run(jobs.tick()) == 1
    assert [p[0] for p in poster.posts] == ["DU_MANAGER"]
    assert asyncio.run(jobs.tick()) == 0
    assert unposted(approvals, waiting.request.id) == "C_APPROVALS"

    # Invited before the escalation: its reminder puts the card in the channel, once, recorded.
    poster.closed.clear()
    now[0] = JAN_16 + timedelta(hours=25)
    assert asyncio.run(jobs.tick()) == 1
    channel_posts = [p for p in poster.posts if p[0] == "C_APPROVALS"]
    assert len(channel_posts) == 1
    assert unposted(approvals, waiting.request.id) is None
