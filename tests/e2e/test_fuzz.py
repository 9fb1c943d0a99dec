"""Thousands of signed ``/seats`` texts, button clicks, form events, denials and App Home
visits, random and tampered, from owners, other roles, people without a role and another
workspace, through HTTP.

For every request: no 5xx; every answer goes to the person who asked (their response URL,
ephemeral message, DM or form), and nothing anyone is shown — the asker, an approver told of
a request, the approval channel, an App Home refreshed — is something they may not see
(:mod:`fuzz_oracle`). After every step: no ERROR log line, no traceback. After every program:
the database changed only through the legitimate owners and approvers, and
:func:`billing.books.service.check_invariants` finds nothing; the database is then put back as it
was, so that every program starts from the same state (ids aside).

Two accounts: ``acme`` (workspace ``T_ACME``, USD, Axiom, 8 platform users for 10 seats; every
decrease goes to its manager for approval, and to ``C_APPROVALS``, and expires after 8 hours)
and ``globex`` (workspace ``T_OTHER``, EUR, Matrix, 5 platform users for 6 seats; no approval),
each with an owner, a manager and a viewer; both owners are called ``U_OWNER``. Users may be
created or deleted on acme's Axiom between steps, and hours may pass on the app's clock with no
scheduler running (so only a decision can find a request past its deadline); the owner may
confirm the same change twice, so that approving the second finds its target reached.

Slow clients arrive too (``SlowClientsArrive``): 20 to 150 raw connections at once that send
nothing, or their request head or body a byte a second, and stay open until the program ends.
The app is served as ``seatbot serve`` serves it (:mod:`bot.web.connection_limits`) with room for
only 64 connections here, so each new connection past that closes the one that waited longest
for its request: ``/healthz`` is answered once they are in, and the rules above (every request
answered, no 5xx, no ERROR) hold for the requests that follow while the server is full.

Steps are sent one at a time and each is finished (every listener done) before the next, so
every call the Slack stand-in records belongs to the step just sent. A failure names the step,
the person and what they were shown; hypothesis prints the whole program (it does not shrink
it: every attempt would replay a program over HTTP).

The programs are fixed (``derandomize``) so CI is reproducible. Locally,
``SEATBOT_FUZZ_EXAMPLES=N`` runs N programs per test and ``SEATBOT_FUZZ_SEED=S`` draws other
programs from seed S.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest
from fuzz_forms import form_events, open_forms
from fuzz_programs import Step, programs
from fuzz_runner import Fuzzer, listen
from fuzz_traffic import (
    FUZZ_MAX_CONNECTIONS,
    clicks,
    commands,
    deny_submissions,
    homes,
    platform_changes,
    slow_clients_arriving,
    time_passing,
    weighted,
)
from fuzz_world import World, build_world
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from seats_stack import Stack, start_stack
from sqlalchemy.orm import Session, sessionmaker

pytestmark = pytest.mark.slow

EXAMPLES_ENV = "SEATBOT_FUZZ_EXAMPLES"
SEED_ENV = "SEATBOT_FUZZ_SEED"

F = TypeVar("F", bound=Callable[..., Any])


def fuzz_settings(examples: int) -> Callable[[F], F]:
    """Hypothesis settings for a fuzzing test of ``examples`` programs (see the module doc).

    Programs share one running stack (a function-scoped fixture), which is fine here: every
    program starts from the same database."""
    count = int(os.environ.get(EXAMPLES_ENV) or examples)
    chosen_seed = os.environ.get(SEED_ENV)

    def decorate(test: F) -> F:
        configured: F = settings(
            max_examples=count,
            deadline=None,
            database=None,
            derandomize=chosen_seed is None,
            # Each shrinking attempt replays a whole program over HTTP: minutes. A failure names
            # its step, actor and payload instead (and hypothesis prints the program).
            phases=(Phase.explicit, Phase.generate),
            suppress_health_check=[
                HealthCheck.function_scoped_fixture,
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
            ],
        )(test)
        return configured if chosen_seed is None else hypothesis_seed(int(chosen_seed))(configured)

    return decorate


@pytest.fixture
async def stack(
    seed: Any, session_factory: sessionmaker[Session], db_url: str
) -> AsyncIterator[Stack]:
    """The e2e stack with its scheduler stopped: the programs move the clock, and nothing but
    a decision finds a request past its deadline (nor posts anything between steps). It serves
    at most :data:`FUZZ_MAX_CONNECTIONS` connections, so that slow clients fill it."""
    limited = {"seatbot_scheduler": False, "seatbot_max_connections": FUZZ_MAX_CONNECTIONS}
    async with start_stack(seed, session_factory, db_url, settings=limited) as running:
        yield running


@pytest.fixture
def world(stack: Stack, seed: Any) -> World:
    return build_world(stack, seed)


# -- the tests ----------------------------------------------------------------------------------

mixed_steps: st.SearchStrategy[Step] = weighted(
    (3, commands),
    (3, clicks),
    (2, form_events),
    (1, open_forms),
    (1, deny_submissions),
    (1, homes),
    (1, platform_changes),
    (1, time_passing),
    (1, slow_clients_arriving),
)


@fuzz_settings(examples=15)
@given(program=programs(mixed_steps, min_size=20, max_size=40))
async def test_mixed_traffic_from_everyone(
    world: World, caplog: pytest.LogCaptureFixture, program: list[Step]
) -> None:
    listen(caplog)
    await Fuzzer(world, caplog).run(program)


@fuzz_settings(examples=18)
@given(program=programs(commands, min_size=20, max_size=40))
async def test_command_texts_from_everyone(
    world: World, caplog: pytest.LogCaptureFixture, program: list[Step]
) -> None:
    listen(caplog)
    await Fuzzer(world, caplog).run(program)


@fuzz_settings(examples=15)
@given(
    opening=st.lists(open_forms, min_size=1, max_size=3),
    program=programs(
        weighted((5, form_events), (2, clicks), (1, open_forms)), min_size=20, max_size=40
    ),
)
async def test_forms_from_everyone(
    world: World, caplog: pytest.LogCaptureFixture, opening: list[Step], program: list[Step]
) -> None:
    listen(caplog)
    await Fuzzer(world, caplog).run([*opening, *program])
