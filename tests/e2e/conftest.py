"""End-to-end fixtures: ``stack`` (see :mod:`seats_stack`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from seats_stack import Stack, start_stack
from sqlalchemy.orm import Session, sessionmaker


@pytest.fixture
async def stack(
    seed: Any, session_factory: sessionmaker[Session], db_url: str
) -> AsyncIterator[Stack]:
    async with start_stack(seed, session_factory, db_url) as running:
        yield running
