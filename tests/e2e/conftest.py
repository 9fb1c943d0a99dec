"""End-to-end fixtures: ``stack`` (see :mod:`seats_stack`), the scan of everything the e2e
suite logged for the secrets it used (:mod:`secret_scan`): the session fails if one leaked, and
the books checked after every test that had a database: what ``seatbot check`` checks must hold
whatever the test did.

``SEATBOT_TEST_PLANT_SECRET=1`` logs a known secret on purpose, to see the scan fail.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from seats_stack import Stack, start_stack
from secret_scan import LogCollector, known_secrets
from sqlalchemy.orm import Session, sessionmaker

from billing.books.service import check_invariants

PLANT_ENV = "SEATBOT_TEST_PLANT_SECRET"


@pytest.fixture
async def stack(
    seed: Any, session_factory: sessionmaker[Session], db_url: str
) -> AsyncIterator[Stack]:
    async with start_stack(seed, session_factory, db_url) as running:
        yield running


@pytest.fixture(scope="session")
def e2e_logs() -> Iterator[LogCollector]:
    """Everything the e2e tests logged; scanned for secrets when the session ends."""
    collector = LogCollector()
    yield collector
    leaks = collector.leaks(known_secrets())
    if leaks:
        pytest.fail("secrets in the e2e suite's logs: " + "; ".join(leaks), pytrace=False)


@pytest.fixture(autouse=True)
def _collect_logs(e2e_logs: LogCollector, tmp_path: Path) -> Iterator[None]:
    e2e_logs.add_folder(tmp_path)
    e2e_logs.attach()
    if os.environ.get(PLANT_ENV) == "1":
        from seats_stack import SIGNING_SECRET

        logging.getLogger("tests.planted").warning("planted: %s", SIGNING_SECRET)
    try:
        yield
    finally:
        e2e_logs.detach()


@pytest.fixture(autouse=True)
def _books_hold_after(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the test, every invariant ``seatbot check`` checks holds in its database."""
    if "session_factory" not in request.fixturenames:
        yield
        return
    factory: sessionmaker[Session] = request.getfixturevalue("session_factory")
    yield
    with factory() as session:
        violations = check_invariants(session).violations
    assert violations == (), "seatbot check after the test: " + "; ".join(map(str, violations))
