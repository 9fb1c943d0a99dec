"""What the fuzzer sends in the seat-change form: its metadata (genuine, bent, or garbage),
the product chosen, the count and the reason typed, as a change of input or a submission."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from fuzz_traffic import (
    ACME_OWNER,
    OTHER_OWNER,
    AccountName,
    Actor,
    Blob,
    Command,
    accounts,
    actors,
    numbers,
    reasons,
    weighted,
)
from hypothesis import strategies as st

from handlers import ids

#: How a genuine form context is bent before it is sent back (see ``test_fuzz.tampered``).
METADATA_TAMPERS = (
    *("none", "none", "none", "none"),
    # Naming the other account's ids: the tampers that would cross accounts.
    *("other_account", "other_subscription", "both_subscriptions"),
    *("other_account_keep_subscription", "other_account", "other_subscription"),
    *("both_subscriptions", "other_account_keep_subscription"),
    *("account_as_text", "account_bool", "account_zero", "account_negative", "account_huge"),
    *("account_float", "no_account", "no_subscriptions", "empty_subscriptions"),
    *("subscriptions_list", "seats_as_text", "seats_huge", "unknown_product", "channel_number"),
    *("channel_other", "channel_bogus", "extra_keys"),
)
RAW_METADATA = (
    *("", "null", "[]", "{}", "not json", "{", '{"a": 1}', '{"a": 1, "s": {"1": "axiom"}}'),
    *('{"a": 1, "c": null, "s": {"1": ["axiom", 10]}}', "x" * 3001),
)


def tampered(context: dict[str, Any], tamper: str, other: dict[str, Any]) -> str:
    """A genuine form context ``{"a": account, "c": channel, "s": {sub: [product, seats]}}``
    bent as ``tamper`` (one of :data:`METADATA_TAMPERS`) says; ``other`` is the other account's
    genuine context."""
    data = json.loads(json.dumps(context))
    ours = data["s"]
    theirs = other["s"]
    changes: dict[str, dict[str, Any]] = {
        "none": {},
        "other_account": {"a": other["a"], "s": theirs},
        "other_account_keep_subscription": {"a": other["a"]},
        "other_subscription": {"s": theirs},
        "both_subscriptions": {"s": {**ours, **theirs}},
        "account_as_text": {"a": str(data["a"])},
        "account_bool": {"a": True},
        "account_zero": {"a": 0},
        "account_negative": {"a": -data["a"]},
        "account_huge": {"a": 10**30},
        "account_float": {"a": float(data["a"])},
        "no_account": {"a": _DROP},
        "no_subscriptions": {"s": _DROP},
        "empty_subscriptions": {"s": {}},
        "subscriptions_list": {"s": list(ours.items())},
        "seats_as_text": {"s": {k: [v[0], str(v[1])] for k, v in ours.items()}},
        "seats_huge": {"s": {k: [v[0], 10**9] for k, v in ours.items()}},
        "unknown_product": {"s": {k: ["bogus", v[1]] for k, v in ours.items()}},
        "channel_number": {"c": 7},
        "channel_other": {"c": "C_ELSEWHERE"},
        "channel_bogus": {"c": "not a channel"},
        "extra_keys": {"x": [1, 2], "y": {"a": 1}},
    }
    for key, value in changes[tamper].items():
        if value is _DROP:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data)


_DROP = object()


@dataclass(frozen=True, slots=True)
class Genuine:
    """The context of ``account``'s form as Seatbot writes it, bent by ``tamper``."""

    account: AccountName
    tamper: str


@dataclass(frozen=True, slots=True)
class RawMetadata:
    text: str


Metadata = Genuine | RawMetadata


@dataclass(frozen=True, slots=True)
class ChooseSubscription:
    """The subscription of the account the form's metadata names (``same``), or of the other
    account (``other``), chosen in the product select."""

    which: Literal["same", "other"]


@dataclass(frozen=True, slots=True)
class ChooseValue:
    """This value chosen in the product select (``None``: nothing chosen)."""

    value: str | None


@dataclass(frozen=True, slots=True)
class NoProductBlock:
    """The state has no product block at all."""


ProductChoice = ChooseSubscription | ChooseValue | NoProductBlock

product_choices: st.SearchStrategy[ProductChoice] = weighted(
    (4, st.builds(ChooseSubscription, st.sampled_from(["same", "same", "other"]))),
    (1, st.builds(ChooseValue, st.none() | st.sampled_from(["", "0", "-1", "abc", "1" * 20]))),
    (1, st.just(NoProductBlock())),
)
FormKind = Literal["count", "product", "submit"]


@dataclass(frozen=True, slots=True)
class FormEvent:
    """``actor`` changes the count or the product of a seat-change form, or submits it.

    ``own_view``: in the last form Seatbot opened for the actor (a forged view when it opened
    none); otherwise in a view id nobody was given.
    """

    actor: Actor
    kind: FormKind
    own_view: bool
    metadata: Metadata
    product: ProductChoice
    count: str | None
    typed_reason: str | Blob | None
    callback_id: str

    @property
    def reason(self) -> str | None:
        return self.typed_reason.text if isinstance(self.typed_reason, Blob) else self.typed_reason


form_events = st.builds(
    FormEvent,
    # Owners get furthest into a tampered form (they pass the role checks): more of them.
    weighted((1, actors), (1, st.sampled_from([ACME_OWNER, OTHER_OWNER]))),
    st.sampled_from(["count", "count", "product", "submit", "submit"]),
    weighted((3, st.just(True)), (1, st.just(False))),
    weighted(
        (6, st.builds(Genuine, accounts, st.sampled_from(METADATA_TAMPERS))),
        (1, st.builds(RawMetadata, st.sampled_from(RAW_METADATA))),
    ),
    product_choices,
    st.none() | numbers,
    reasons,
    weighted((8, st.just(ids.MODAL_CALLBACK)), (1, st.just("other_modal"))),
)

#: The owners open their form (``/seats``) often, so that there are real views to tamper with.
open_forms = st.builds(
    Command,
    st.sampled_from([ACME_OWNER, OTHER_OWNER]),
    st.sampled_from(["", "", "account acme", "account globex"]),
)
