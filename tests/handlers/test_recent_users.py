import asyncio

import pytest

from billing.users import Level, PlatformUser, UserListing, UserStatus
from handlers.recent_users import RecentUsers

USER = PlatformUser(
    platform_id="1", email="a@example.com", name="A", extension=100,
    level=Level.AGENT, status=UserStatus.ACTIVE, created_at=None, last_active_at=None,
)  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lister:
    def __init__(self, fact: UserListing) -> None:
        self.fact = fact
        self.calls = 0
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self) -> UserListing:
        self.calls += 1
        await self.release.wait()
        return self.fact


async def test_a_listing_is_reused_within_the_ttl_and_listed_again_after() -> None:
    clock, lister = Clock(), Lister(UserListing.complete([USER]))
    recent = RecentUsers(30, clock=clock)
    assert (await recent.get("k", lister)).users == (USER,)
    clock.now += 29
    await recent.get("k", lister)
    assert lister.calls == 1
    clock.now += 2
    await recent.get("k", lister)
    assert lister.calls == 2


async def test_failures_are_not_kept() -> None:
    lister = Lister(UserListing.unknown("Axiom did not answer in time."))
    recent = RecentUsers(30, clock=Clock())
    await recent.get("k", lister)
    await recent.get("k", lister)
    assert lister.calls == 2


async def test_keys_are_separate() -> None:
    lister = Lister(UserListing.complete([USER]))
    recent = RecentUsers(30, clock=Clock())
    await recent.get((1, "axiom"), lister)
    await recent.get((2, "axiom"), lister)
    assert lister.calls == 2


async def test_concurrent_requests_share_one_listing_and_a_cancelled_one_does_not_stop_it() -> None:
    lister = Lister(UserListing.complete([USER]))
    lister.release.clear()
    recent = RecentUsers(30, clock=Clock())
    waiters = [asyncio.create_task(recent.get("k", lister)) for _ in range(5)]
    await asyncio.sleep(0)
    waiters[0].cancel()
    lister.release.set()
    results = await asyncio.gather(*waiters[1:])
    assert lister.calls == 1
    assert all(fact.users == (USER,) for fact in results)
    with pytest.raises(asyncio.CancelledError):
        await waiters[0]
