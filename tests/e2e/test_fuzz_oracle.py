"""The fuzzer's oracle (:mod:`fuzz_oracle`) and its tampering (:mod:`fuzz_traffic`), checked on
their own: a fuzzer whose oracle sees nothing would pass whatever the app shows."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fuzz_forms import METADATA_TAMPERS, tampered
from fuzz_oracle import AccountFacts, Audience, fallback_findings, findings, late_decisions
from fuzz_traffic import Actor

from billing.models import SeatChangeRequest
from handlers.payloads import ModalContext

ACME = AccountFacts(
    name="acme",
    display_name="Acme",
    team="T_ACME",
    account_id=1,
    subscription_id=1,
    currency_symbol="$",
    email_domain="@acme.example.com",
    people=frozenset({"Ana Costa", "Ben Brandt"}),
    roles={
        Actor("T_ACME", "U_OWNER"): "owner",
        Actor("T_ACME", "U_MANAGER"): "manager",
        Actor("T_ACME", "U_VIEWER"): "viewer",
    },
    approvers=frozenset({Actor("T_ACME", "U_MANAGER")}),
    approval_channel="C_APPROVALS",
)
GLOBEX = AccountFacts(
    name="globex",
    display_name="Globex",
    team="T_OTHER",
    account_id=2,
    subscription_id=2,
    currency_symbol="€",
    email_domain="@globex.example.com",
    people=frozenset({"Ana Costa", "Dev Haddad"}),
    roles={Actor("T_OTHER", "U_OWNER"): "owner"},
)
BOTH = (ACME, GLOBEX)
STATUS = "*Axiom* 10 seats · Price $30.00 per seat"
FORM = "• *Ana Costa* · user1@acme.example.com · ext 100\nNet now: $15.48"


@pytest.mark.parametrize(
    ("user", "text", "purposes", "expected"),
    [
        ("U_OWNER", FORM, "", []),
        ("U_VIEWER", STATUS, "read", []),
        ("U_VIEWER", STATUS, "", ["acme's price '$30.00'"]),
        ("U_VIEWER", STATUS, "decide", ["acme's price '$30.00'"]),  # not an approver
        ("U_MANAGER", STATUS, "decide", []),  # the approver, asked to decide
        (
            "U_MANAGER",
            FORM,
            "",
            [
                "an email of acme's platform users",
                "acme's platform user 'Ana Costa'",
                "acme's price '$15.48'",
                "globex's platform user 'Ana Costa'",  # globex has an Ana Costa too
            ],
        ),
        ("U_MANAGER", FORM, "decide", []),  # approving a decrease the users block
        ("U_NOBODY", STATUS, "read", ["acme's price '$30.00'"]),
        ("U_NOBODY", STATUS, "decide", ["acme's price '$30.00'"]),
        (
            "U_NOBODY",
            "Only members of Acme can see its seats. Ask <@U_OWNER> or <@U_MANAGER>.",
            "",
            [
                "the name of acme, to someone without a role in it",
                "acme's member <@U_MANAGER>, to someone without a role in it",
                "acme's member <@U_OWNER>, to someone without a role in it",
            ],
        ),
        ("U_NOBODY", "You hold no role in a Seatbot account; ask <@U_VIEWER>.", "", []),
        ("U_VIEWER", "Only the owners of Acme can change seats. Ask <@U_OWNER>.", "", []),
        ("U_NOBODY", "credit -$1,234.56", "", ["acme's price '-$1,234.56'"]),
        (
            "U_OWNER",
            "Globex: €77.77, user2@globex.example.com, Dev Haddad",
            "",
            [
                "an email of globex's platform users",
                "globex's platform user 'Dev Haddad'",
                "globex's price '€77.77'",
                "the name of globex, to someone without a role in it",
            ],
        ),
    ],
)
def test_the_oracle_knows_who_may_see_what(
    user: str, text: str, purposes: str, expected: list[str]
) -> None:
    actor = Actor("T_ACME", user)
    audience = Audience("T_ACME", actor, purposes=frozenset(purposes.split()))
    assert findings(text, audience, BOTH) == expected


def test_the_oracle_hides_an_account_from_other_workspaces_but_not_echoes() -> None:
    stranger = Actor("T_OTHER", "U_STRANGER")
    shown = "This workspace has no Seatbot account called “Acme”. Try $5."
    assert findings(shown, Audience("T_OTHER", stranger), BOTH) == [
        "acme's price '$5'",
        "the name of acme, to someone without a role in it",
    ]
    # A channel of another workspace does not read it either; acme's own channels may.
    elsewhere = Audience("T_OTHER", channel="C_GENERAL")
    assert findings("Acme", elsewhere, BOTH) == ["the name of acme, another workspace's account"]
    assert findings("Acme", Audience("T_ACME", channel="C_APPROVALS"), BOTH) == []
    typed = "status account Acme $5"
    assert findings(shown, Audience("T_OTHER", stranger, typed=typed), BOTH) == []


def test_the_approval_channel_sees_the_prices_of_its_account_only() -> None:
    posted = f"Approval needed: Axiom 10 → 8 seats for Acme, net -$30.97\n{FORM}"
    channel = Audience("T_ACME", channel="C_APPROVALS", purposes=frozenset({"decide"}))
    assert findings(posted, channel, BOTH) == [
        "an email of acme's platform users",
        "acme's platform user 'Ana Costa'",
        "globex's platform user 'Ana Costa'",
    ]
    elsewhere = Audience("T_ACME", channel="C_GENERAL", purposes=frozenset({"decide"}))
    assert "acme's price '-$30.97'" in findings(posted, elsewhere, BOTH)


@pytest.mark.parametrize(
    ("text", "typed", "expected"),
    [
        ("Denied by <@U_MANAGER>. Reason: R&amp;D &lt;!channel&gt;", "R&D <!channel>", []),
        ("Reason: &amp;lt;b&amp;gt; &amp;amp;", "&lt;b&gt; &amp;", []),  # typed entities
        (
            "Denied by &lt;@U_MANAGER&gt;. Reason: &amp;lt;!channel&amp;gt;",
            "<!channel>",
            ["'&lt;' escaped twice", "'&gt;' escaped twice", "a mention shown as markup"],
        ),
        ("R&amp;amp;D", "R&D", ["'&amp;' escaped twice"]),
        (
            "Reason: <!channel> <!here> <https://evil.example|x> <@U1|me>",
            "",
            [
                "markup '<!channel>' unescaped",
                "markup '<!here>' unescaped",
                "markup '<https://evil.example|x>' unescaped",
                "markup '<@U1|me>' unescaped",
            ],
        ),
    ],
)
def test_the_oracle_knows_a_fallback_text_escaped_once(
    text: str, typed: str, expected: list[str]
) -> None:
    assert fallback_findings(text, typed) == expected


ACME_FORM = {"a": 1, "c": "C_SEATS", "s": {"1": ["axiom", 10]}}
GLOBEX_FORM = {"a": 2, "c": "C_SEATS", "s": {"2": ["matrix", 6]}}


@pytest.mark.parametrize("tamper", sorted(set(METADATA_TAMPERS)))
def test_every_tamper_bends_the_genuine_context(tamper: str) -> None:
    bent = tampered(ACME_FORM, tamper, GLOBEX_FORM)
    if tamper == "none":
        assert ModalContext.loads(bent) == ModalContext.loads(json.dumps(ACME_FORM))
    else:
        assert bent != json.dumps(ACME_FORM)  # as text: True and 1.0 equal 1 in Python


def test_crossing_tampers_name_the_other_accounts_ids() -> None:
    assert json.loads(tampered(ACME_FORM, "other_subscription", GLOBEX_FORM))["s"] == {
        "2": ["matrix", 6]
    }
    both = json.loads(tampered(ACME_FORM, "both_subscriptions", GLOBEX_FORM))
    assert (both["a"], sorted(both["s"])) == (1, ["1", "2"])
    assert json.loads(tampered(ACME_FORM, "other_account_keep_subscription", GLOBEX_FORM)) == {
        "a": 2,
        "c": "C_SEATS",
        "s": {"1": ["axiom", 10]},
    }


SUBMITTED = datetime(2026, 1, 16, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "decided_after", "late"),
    [
        ("applied", timedelta(hours=7, minutes=59), False),
        ("applied", timedelta(hours=8), True),
        ("denied", timedelta(hours=9), True),
        ("cancelled", timedelta(hours=9), True),  # an approval that found nothing to change
        ("expired", None, False),
    ],
)
def test_the_oracle_sees_a_decision_after_the_deadline(
    status: str, decided_after: timedelta | None, late: bool
) -> None:
    request = SeatChangeRequest(
        id=7,
        status=status,
        submitted_at=SUBMITTED,
        decided_at=None if decided_after is None else SUBMITTED + decided_after,
    )
    deadline = replace(ACME, expire_after=timedelta(hours=8))
    assert bool(late_decisions(request, deadline)) is late
    assert late_decisions(request, ACME) == []  # no deadline, nothing is late
