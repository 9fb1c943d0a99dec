"""What the fuzzer sends: the actors, and hypothesis strategies for ``/seats`` texts, button
clicks (on an ephemeral message, a posted message or the App Home), denial forms, App Home
visits, changes on the platform, time passing and slow clients arriving, from plausible to
hostile. (The seat-change form: :mod:`fuzz_forms`; whole programs: :mod:`fuzz_programs`.)

A step names what to send symbolically (``the newest request of globex, one quote revision
back``); :mod:`fuzz_runner` resolves it against the database when it sends it, so a program
stays meaningful whatever ids the database hands out.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Literal, TypeVar

from hypothesis import strategies as st
from slow_clients import SLOW_KINDS, SlowKind

from billing.products import PRODUCT_ALIASES
from handlers import ids

T = TypeVar("T")

ACME_TEAM = "T_ACME"
OTHER_TEAM = "T_OTHER"
CHANNEL = "C_SEATS"


@dataclass(frozen=True, slots=True)
class Actor:
    """A Slack user of a workspace."""

    team: str
    user: str

    def __str__(self) -> str:
        return f"{self.team}:{self.user}"


ACME_OWNER = Actor(ACME_TEAM, "U_OWNER")
ACME_MANAGER = Actor(ACME_TEAM, "U_MANAGER")
ACME_VIEWER = Actor(ACME_TEAM, "U_VIEWER")
ACME_NOBODY = Actor(ACME_TEAM, "U_NOBODY")  # in acme's workspace, with no role
OTHER_OWNER = Actor(OTHER_TEAM, "U_OWNER")  # owns globex; same user id as acme's owner
OTHER_VIEWER = Actor(OTHER_TEAM, "U_VIEWER")
OTHER_STRANGER = Actor(OTHER_TEAM, "U_STRANGER")
NOWHERE_OWNER = Actor("T_NOWHERE", "U_OWNER")  # a workspace without any account

ACTORS = (
    ACME_OWNER,
    ACME_MANAGER,
    ACME_VIEWER,
    ACME_NOBODY,
    OTHER_OWNER,
    OTHER_VIEWER,
    OTHER_STRANGER,
    NOWHERE_OWNER,
)

AccountName = Literal["acme", "globex"]


def weighted(*choices: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """One of the strategies, each ``weight`` times as likely as a weight of 1.

    (Not ``st.one_of`` with repeated strategies: it keeps each strategy once.)"""
    slots = [index for index, (weight, _) in enumerate(choices) for _ in range(weight)]
    return st.sampled_from(slots).flatmap(lambda index: choices[index][1])


# Anyone sends the single steps; the owners' own seat changes come as episodes (see
# :func:`programs`), so that there are real requests and forms to attack.
actors = st.sampled_from(ACTORS)
accounts: st.SearchStrategy[AccountName] = st.sampled_from(["acme", "globex"])

# -- /seats texts ------------------------------------------------------------------------------

VERBS = (
    *("status", "history", "help", "add", "remove", "set"),
    *("buy", "plus", "increase", "delete", "drop", "minus", "decrease", "rm", "del"),
    *("ADD", "Remove", "SET", "Status", "HISTORY", "ad", "remvoe", "sett", "hlep", "account"),
)
PRODUCT_WORDS = (
    *PRODUCT_ALIASES,
    *("AXIOM", "Axiom", "CC", "Contact Center", "contact   centre", "MATRIX"),
    *("axium", "matrx", "contact", "center", "squaretalk", "<!channel>", "<@U_VIEWER>", ""),
)
NUMBER_WORDS = (
    *("+3", "-0", "00", "007", "٣", "３", "𝟑", "²", "½", "Ⅷ", "1e3", "3.5", "1,000", "0x10"),
    *("NaN", "∞", "-1", "-10001", "10000", "10001", "9" * 6, "9" * 7, "9" * 40, "1" * 20),
)
ACCOUNT_WORDS = (
    *("acme", "ACME", "Acme", "globex", "Globex", "GLOBEX", "initech", "nope"),
    *("<!channel>", "<@U_OWNER>", "acme!", "a" * 65, "\u202eemca", "acme\u200b"),
)
MENTIONS = (
    *("<!channel>", "<!here>", "<!everyone>", "<@U_VIEWER>", "<@U_OWNER|owner>"),
    *("<#C_SEATS|seats>", "<https://evil.example|click>", "<!subteam^S123>", "&lt;", "&amp;"),
    *("*bold*", "`code`", "```", "> quote", ":warning:", "\u0000", "\r\n", "\t"),
)
SEPARATORS = (" ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u3000")

numbers = weighted(
    (3, st.integers(0, 12).map(str)),
    (1, st.integers(-20, 20_000).map(str)),
    (1, st.integers(2**31 - 2, 2**64 + 2).map(str)),
    (2, st.sampled_from(NUMBER_WORDS)),
)

# Owners' own words may echo back to them; keep the markers the oracle looks for out of them.
_PLAIN = string.ascii_letters + string.digits + " .,-_!?'\"()/#%&*+=:;<>@[]{}|~^éüß٣３"
plain_text = st.text(alphabet=_PLAIN, max_size=60)
any_text = st.text(max_size=60)


@st.composite
def near_valid_commands(draw: st.DrawFn) -> str:
    """``[account NAME] VERB NUMBER PRODUCT [account NAME]`` with every part bent a little."""
    words: list[str] = [draw(st.sampled_from(VERBS))]
    if draw(st.integers(0, 5)):
        words.append(draw(numbers))
    if draw(st.integers(0, 5)):
        words.append(draw(st.sampled_from(PRODUCT_WORDS)))
    for _ in range(draw(st.integers(0, 2))):
        words.insert(draw(st.integers(0, len(words))), draw(st.sampled_from(MENTIONS)))
    where = draw(st.sampled_from(["none", "none", "first", "last", "middle", "dangling"]))
    named = ["account", draw(st.sampled_from(ACCOUNT_WORDS) | plain_text)]
    if where == "first":
        words = named + words
    elif where == "last":
        words = words + named
    elif where == "middle":
        words = words[:1] + named + words[1:]
    elif where == "dangling":
        words.append("account")
    separator = draw(st.sampled_from(SEPARATORS))
    return separator.join(words)


@dataclass(frozen=True, slots=True)
class Blob:
    """``unit`` repeated ``times`` (kept as a recipe: a failing program is printed)."""

    unit: str
    times: int

    @property
    def text(self) -> str:
        return self.unit * self.times


@st.composite
def blobs(draw: st.DrawFn) -> Blob:
    """10 to 300 kB of a repeated unit (the edge's body limit is 1 MiB once form-encoded)."""
    unit = draw(st.sampled_from(["x", "add 1 axiom ", "<!channel> ", "é", "٣", "$9 ", "€", " "]))
    return Blob(unit, draw(st.integers(10, 300)) * 1000 // len(unit.encode()))


#: What people type as a reason (a seat change's, a denial's).
reasons = weighted(
    (3, st.none()),
    (3, plain_text),
    (1, st.sampled_from([501, 2_000, 100_000]).map(lambda n: Blob("r", n))),
    (1, st.sampled_from(["\u0000", "a\u0000b", "\r\n" * 10, "<!channel>", "   "])),
)


@st.composite
def change_commands(draw: st.DrawFn) -> str:
    """A well-formed ``add``/``remove``/``set`` (of either account's product), so that the
    owners make real requests for the others to attack."""
    verb = draw(st.sampled_from(["add", "remove", "set", "set", "remove"]))
    count = draw(st.integers(0 if verb == "set" else 1, 12))
    product = draw(st.sampled_from(["axiom", "axiom", "matrix", "matrix", "cc"]))
    named = draw(st.sampled_from(["", "", "", " account acme", " account globex"]))
    return f"{verb} {count} {product}{named}"


command_texts: st.SearchStrategy[str | Blob] = weighted(
    (6, change_commands()),
    (
        4,
        st.sampled_from(
            ["status", "history", "help", "status account acme", "history account globex"]
        ),
    ),
    (6, near_valid_commands()),
    (1, st.sampled_from(["", " ", "account acme", "account globex"])),
    (2, any_text),
    (1, st.lists(st.sampled_from(MENTIONS), max_size=6).map(" ".join)),
    (1, st.integers(0, 29).flatmap(lambda n: blobs() if n == 0 else plain_text)),
)


@dataclass(frozen=True, slots=True)
class Command:
    """``/seats text`` typed by ``actor`` in the accounts' channel."""

    actor: Actor
    typed: str | Blob

    @property
    def text(self) -> str:
        return self.typed.text if isinstance(self.typed, Blob) else self.typed


commands = st.builds(Command, actors, command_texts)

# -- button clicks -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Existing:
    """The ``pick``-th newest request of ``account`` (wrapping), at its stored quote revision
    moved by ``shift``; only its id when ``bare``."""

    account: AccountName
    pick: int
    shift: int
    bare: bool


@dataclass(frozen=True, slots=True)
class Seen:
    """The value of a button shown to anyone earlier in the program (``pick``-th newest)."""

    pick: int


@dataclass(frozen=True, slots=True)
class Sweep:
    """Request id ``offset`` past the newest one (negative: before it), with ``suffix``."""

    offset: int
    suffix: str


@dataclass(frozen=True, slots=True)
class Verbatim:
    """This exact value."""

    text: str


ButtonValue = Existing | Seen | Sweep | Verbatim

GARBLED_VALUES = (
    *("", "0", "-1", "1.1.1", "1e9", "٣", "1.x", "1.", ".1", " 1.1", "1.1 ", "01.1"),
    *("1.0", "1.-1", "9" * 18 + ".1", "9" * 19, "1." + "9" * 9, "1." + "9" * 10, "x" * 41),
    *("null", "{}", "[1, 1]", "1;DROP TABLE seat_change_requests", "１.１"),
)

button_values: st.SearchStrategy[ButtonValue] = weighted(
    (
        4,
        st.builds(
            Existing,
            accounts,
            st.integers(0, 4),
            st.sampled_from([0, 0, 0, -1, 1, -3, 1000]),
            st.booleans(),
        ),
    ),
    (2, st.builds(Seen, st.integers(0, 6))),
    (1, st.builds(Sweep, st.integers(-3, 5), st.sampled_from(["", ".1", ".2", ".0"]))),
    (1, st.builds(Verbatim, st.sampled_from(GARBLED_VALUES) | any_text)),
)

PROMPT_ACTIONS = (ids.CONFIRM_ACTION, ids.CANCEL_ACTION, ids.CHECK_AGAIN_ACTION)
APPROVAL_ACTIONS = (ids.APPROVE_ACTION, ids.DENY_ACTION)
#: Buttons Seatbot listens to: a click on any of them is always answered.
ANSWERED_ACTIONS = (*PROMPT_ACTIONS, *APPROVAL_ACTIONS)
action_ids = weighted(
    (3, st.just(ids.CONFIRM_ACTION)),
    (2, st.sampled_from(PROMPT_ACTIONS)),
    (2, st.sampled_from(APPROVAL_ACTIONS)),
    (1, st.sampled_from(["SEATS_CONFIRM", "seats_approve ", "seats_confirm ", ""])),
)
block_ids = weighted(
    (6, st.sampled_from([ids.PROMPT_ACTIONS_BLOCK, ids.APPROVAL_ACTIONS_BLOCK])),
    (1, st.sampled_from(["", "x" * 255, "b"])),
)

#: Where a button is clicked: an ephemeral message (answered at its response URL), a message
#: Seatbot posted (a DM or a channel post: it has a ts), or the App Home tab (no response URL).
Surface = Literal["ephemeral", "posted", "home"]
surfaces: st.SearchStrategy[Surface] = weighted(
    (4, st.just("ephemeral")), (1, st.just("posted")), (1, st.just("home"))
)


@dataclass(frozen=True, slots=True)
class Click:
    """``actor`` clicks ``action_id`` on ``surface``, the button carrying ``value``."""

    actor: Actor
    action_id: str
    value: ButtonValue
    block_id: str
    surface: Surface = "ephemeral"


clicks = st.builds(Click, actors, action_ids, button_values, block_ids, surfaces)


@dataclass(frozen=True, slots=True)
class DenySubmission:
    """``actor`` submits the form asking why a change is denied; its metadata is ``value``
    (what Seatbot puts there: the request and quote revision, as on the buttons)."""

    actor: Actor
    value: ButtonValue
    typed_reason: str | Blob | None

    @property
    def reason(self) -> str | None:
        return self.typed_reason.text if isinstance(self.typed_reason, Blob) else self.typed_reason


@dataclass(frozen=True, slots=True)
class HomeOpened:
    """``actor`` opens Seatbot's App Home tab (an ``app_home_opened`` event)."""

    actor: Actor


homes = st.builds(HomeOpened, actors)

#: Acme's Axiom users range over this many (the oracle knows the names of the most).
ACME_USERS = range(6, 13)


@dataclass(frozen=True, slots=True)
class PlatformUsers:
    """Users are created or deleted on acme's Axiom: it now has ``count`` (no Slack request)."""

    count: int


platform_changes = st.builds(PlatformUsers, st.sampled_from(ACME_USERS))


@dataclass(frozen=True, slots=True)
class TimePasses:
    """``hours`` pass on the app's clock (no Slack request). The fuzzer's stack runs no
    scheduler, so nothing expires a request past its deadline but a decision that finds it."""

    hours: int


#: Acme's approval deadline (``expire_after``) is 8 hours: 9 passes it at once.
time_passing = st.builds(TimePasses, st.sampled_from([1, 4, 9]))

deny_submissions = st.builds(DenySubmission, actors, button_values, reasons)


@dataclass(frozen=True, slots=True)
class SlowClientsArrive:
    """``count`` raw connections of ``kind`` (:mod:`slow_clients`) open to the app and stay
    open for the rest of the program, sending nothing or their request a byte a second (no
    Slack request)."""

    count: int
    kind: SlowKind


#: The fuzzer's stack serves at most this many connections (``seatbot_max_connections``); past
#: it, each new connection closes the one that waited longest for its request. The counts
#: below (and those of several arrivals together) go past it.
FUZZ_MAX_CONNECTIONS = 64
slow_clients_arriving = st.builds(
    SlowClientsArrive, st.sampled_from([20, 70, 150]), st.sampled_from(SLOW_KINDS)
)
