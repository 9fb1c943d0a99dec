"""A platform client tells its observer about every HTTP attempt and every retry."""

from __future__ import annotations

import httpx
from platform_fakes import FakeSquaretalkApi, RecordingSleep, connection_for

from platforms.connection import HostLimits
from platforms.errors import PlatformUnavailable
from platforms.factory import build_platform
from platforms.types import Product


class RecordingObserver:
    def __init__(self) -> None:
        self.finished: list[tuple[str, str]] = []
        self.retries: list[tuple[str, str]] = []

    def request_finished(self, product: str, outcome: str, seconds: float) -> None:
        assert seconds >= 0
        self.finished.append((product, outcome))

    def retrying(self, product: str, reason: str) -> None:
        self.retries.append((product, reason))


def _platform(api: FakeSquaretalkApi, observer: RecordingObserver) -> object:
    connection = connection_for(Product.MATRIX, "https://acme.matrix.example.com")
    return build_platform(
        connection,
        transport=httpx.MockTransport(api.handle),
        limits=HostLimits(4),
        sleep=RecordingSleep(),
        observer=observer,
    )


async def test_attempts_and_retries_are_observed_by_product_and_outcome() -> None:
    api = FakeSquaretalkApi(Product.MATRIX)
    api.users = []
    api.inject("server_error", 1)
    observer = RecordingObserver()
    platform = _platform(api, observer)
    await platform.list_users()  # type: ignore[attr-defined]
    assert observer.finished == [("matrix", "status_5xx"), ("matrix", "ok")]
    assert observer.retries == [("matrix", "status_5xx")]
    api.inject("connect_error", None)
    try:
        await platform.list_users()  # type: ignore[attr-defined]
    except PlatformUnavailable:
        pass
    else:
        raise AssertionError("an unreachable platform must be unavailable")
    assert ("matrix", "transport_error") in observer.finished
    await platform.aclose()  # type: ignore[attr-defined]
