"""Reading what Slack sent: total functions from payload fields to typed values.

Every function here accepts anything (a signed request can carry any JSON) and returns a typed
value or ``None``; none raises. What a value *means* (may this user do this? is this request
theirs?) is decided by billing, never here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from billing.access import Caller
from billing.approvals import ClickedMessage
from billing.products import Product

_SLACK_ID = re.compile(r"[A-Z0-9][A-Z0-9_]{1,31}")
_REQUEST_REF = re.compile(r"([1-9][0-9]{0,9})(?:\.([1-9][0-9]{0,8}))?")
_WHOLE_NUMBER = re.compile(r"[0-9]{1,6}")
_ID = re.compile(r"[1-9][0-9]{0,9}")
_MESSAGE_TS = re.compile(r"[0-9]{1,16}(?:\.[0-9]{1,9})?")

#: The largest database id: ids are SQL ``INTEGER`` columns, 32-bit on PostgreSQL, which
#: refuses even to compare a larger number with them (and SQLite one past 64 bits). A number
#: beyond it names nothing, so it is read as no id at all.
MAX_ID = 2**31 - 1


def slack_id(value: object) -> str | None:
    """``value`` if it looks like a Slack id (``T0123ABCD``, ``U_OWNER``), else ``None``."""
    if isinstance(value, str) and _SLACK_ID.fullmatch(value):
        return value
    return None


def caller_of_command(command: Mapping[str, Any]) -> Caller | None:
    """Who typed a slash command, or ``None`` when the payload does not say."""
    team, user = slack_id(command.get("team_id")), slack_id(command.get("user_id"))
    return Caller(team, user) if team and user else None


def caller_of_interaction(body: Mapping[str, Any]) -> Caller | None:
    """Who clicked or submitted (``team.id``, ``user.id``), or ``None``."""
    team = body.get("team")
    user = body.get("user")
    team_id = slack_id(team.get("id")) if isinstance(team, Mapping) else None
    user_id = slack_id(user.get("id")) if isinstance(user, Mapping) else None
    return Caller(team_id, user_id) if team_id and user_id else None


def clicked_message(body: Mapping[str, Any]) -> ClickedMessage | None:
    """The message a button was clicked on (its ``container``), or ``None`` for a click
    elsewhere (a view) or a container that does not say which message."""
    container = body.get("container")
    if not isinstance(container, Mapping) or container.get("type") != "message":
        return None
    channel_id = slack_id(container.get("channel_id"))
    ts = container.get("message_ts")
    if channel_id is None or not isinstance(ts, str) or _MESSAGE_TS.fullmatch(ts) is None:
        return None
    return ClickedMessage(channel_id, ts, ephemeral=container.get("is_ephemeral") is True)


def text_field(value: object, limit: int | None) -> str | None:
    """A text field (of at most ``limit`` characters, when given), or ``None``."""
    if not isinstance(value, str):
        return None
    return value if limit is None or len(value) <= limit else None


@dataclass(frozen=True, slots=True)
class RequestRef:
    """What a prompt's button names: a seat-change request and the quote revision it showed
    (0 for buttons made before quotes had revisions: they never match, so they show the
    current quote)."""

    request_id: int
    revision: int


def request_ref_value(request_id: int, revision: int) -> str:
    """The button value naming ``request_id`` at quote ``revision``: ``"42.3"``."""
    return f"{request_id}.{revision}"


def request_ref(value: object) -> RequestRef | None:
    """The :class:`RequestRef` in a button value, or ``None`` for anything else."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    match = _REQUEST_REF.fullmatch(value)
    if match is None or int(match.group(1)) > MAX_ID:
        return None
    return RequestRef(int(match.group(1)), int(match.group(2) or 0))


def seat_count(text: object) -> int | None:
    """A count typed in the form: a whole number of at most six digits, else ``None`` (whether
    it is a count that may be requested is billing's rule)."""
    if not isinstance(text, str) or _WHOLE_NUMBER.fullmatch(text.strip()) is None:
        return None
    return int(text.strip())


def positive_id(value: object) -> int | None:
    """A database id given as text (``"17"``, at most :data:`MAX_ID`), or ``None``."""
    if isinstance(value, str) and _ID.fullmatch(value) and int(value) <= MAX_ID:
        return int(value)
    return None


@dataclass(frozen=True, slots=True)
class ModalContext:
    """What the form carries in ``private_metadata``: the account, the channel the prompt goes
    to, and each offered subscription's product and seats (to validate in the ack, without
    I/O). Billing re-checks all of it: it only saves round trips."""

    account_id: int
    channel_id: str | None
    seats_by_subscription: dict[str, tuple[Product, int]]
    #: How many users the form was last shown on each subscription's platform (refusing, in
    #: the ack, a decrease below it).
    users_by_subscription: dict[str, int] = field(default_factory=dict)
    #: Where the form was opened from, when not ``/seats`` (``"digest"``): billing records only
    #: a source it knows.
    source: str | None = None

    def dumps(self) -> str:
        subs = {
            key: [product.value, seats]
            for key, (product, seats) in self.seats_by_subscription.items()
        }
        data: dict[str, object] = {"a": self.account_id, "c": self.channel_id, "s": subs}
        if self.users_by_subscription:
            data["u"] = self.users_by_subscription
        if self.source is not None:
            data["src"] = self.source
        return json.dumps(data)

    def knowing(self, subscription_id: str, users: int | None) -> ModalContext:
        """This context, remembering that ``users`` exist on that subscription's platform."""
        if users is None or subscription_id not in self.seats_by_subscription:
            return self
        known = {**self.users_by_subscription, subscription_id: users}
        return replace(self, users_by_subscription=known)

    @classmethod
    def loads(cls, text: object) -> ModalContext | None:
        """The context in ``text``, or ``None`` when it is anything but what :meth:`dumps`
        writes."""
        if not isinstance(text, str) or len(text) > 3000:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        account_id, channel, subs = data.get("a"), data.get("c"), data.get("s")
        if isinstance(account_id, bool) or not isinstance(account_id, int):
            return None
        if not 1 <= account_id <= MAX_ID:
            return None
        if channel is not None and slack_id(channel) is None:
            return None
        if not isinstance(subs, dict) or not subs:
            return None
        seats: dict[str, tuple[Product, int]] = {}
        for key, value in subs.items():
            if positive_id(key) is None or not isinstance(value, list) or len(value) != 2:
                return None
            product_value, count = value
            try:
                product = Product(product_value)
            except ValueError:
                return None
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                return None
            seats[key] = (product, count)
        users = data.get("u", {})
        if not isinstance(users, dict) or not all(
            key in seats and type(count) is int and count >= 0 for key, count in users.items()
        ):
            return None
        source = data.get("src")
        if source is not None and not (isinstance(source, str) and len(source) <= 16):
            return None
        return cls(account_id, channel, seats, users, source)


def rightsize_ref(value: object) -> tuple[int, Product] | None:
    """The account id and product a right-size button's value names (``"12:axiom"``), or
    ``None`` for anything else (only a claim: billing authorises the clicker)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    account, _, product = value.partition(":")
    account_id = positive_id(account)
    try:
        return (account_id, Product(product)) if account_id is not None else None
    except ValueError:
        return None


def selected_value(values: object, block_id: str, action_id: str) -> str | None:
    """The chosen option's value of a select in a view's ``state.values``."""
    state = _action_state(values, block_id, action_id)
    option = state.get("selected_option") if state else None
    value = option.get("value") if isinstance(option, Mapping) else None
    return value if isinstance(value, str) and len(value) <= 64 else None


def input_value(values: object, block_id: str, action_id: str, *, limit: int | None) -> str | None:
    """The typed value of an input in a view's ``state.values`` (``None`` when absent, or
    longer than ``limit`` characters when a limit is given)."""
    state = _action_state(values, block_id, action_id)
    return text_field(state.get("value"), limit) if state else None


def _action_state(values: object, block_id: str, action_id: str) -> Mapping[str, Any] | None:
    if not isinstance(values, Mapping):
        return None
    block = values.get(block_id)
    if not isinstance(block, Mapping):
        return None
    state = block.get(action_id)
    return state if isinstance(state, Mapping) else None


def view_values(view: object) -> object:
    """A view's ``state.values`` (anything; read it with :func:`selected_value`)."""
    if not isinstance(view, Mapping):
        return None
    state = view.get("state")
    return state.get("values") if isinstance(state, Mapping) else None
