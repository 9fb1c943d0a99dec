"""The App Home of an owner of more accounts than 100 blocks hold, over signed HTTP: the tab is
published in pages, "More accounts" publishes the next, "First accounts" the first, and a
forged page number is kept within the owner's accounts by the server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from seats_stack import TEAM, Stack
from slack_sdk.models.views import View

from billing.models import Account, Member
from handlers import ids

pytestmark = pytest.mark.slow

ACCOUNTS = 40  # and acme: 41 in all, by name "acme" first, then "zz-00"…


async def home_after(stack: Stack, send: Any) -> dict[str, Any]:
    """The view published after ``send()``, validated by slack_sdk.models."""
    mark = stack._seq()
    await send()
    call = await stack.next_call("views.publish", mark)
    await stack.settle()
    assert call.args["user_id"] == "U_OWNER"
    view = call.args["view"]
    data: dict[str, Any] = json.loads(view) if isinstance(view, str) else view
    View(**data).validate_json()
    assert len(data["blocks"]) <= 100
    return data


def headers(data: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in data["blocks"] if b["type"] == "header"]


def page_buttons(data: dict[str, Any]) -> dict[str, str]:
    return {
        element["text"]["text"]: element["value"]
        for block in data["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == ids.HOME_PAGE_ACTION
    }


async def test_the_home_of_an_owner_of_many_accounts_turns_its_pages(stack: Stack) -> None:
    with stack.sessions.begin() as session:
        for n in range(ACCOUNTS):
            account = Account(
                name=f"zz-{n:02d}", display_name=f"Zz {n:02d}", currency="USD",
                timezone="UTC", team_id=TEAM, channel_id=None,
            )  # fmt: skip
            session.add(account)
            session.flush()
            session.add(
                Member(account_id=account.id, team_id=TEAM, user_id="U_OWNER", role="owner")
            )
    opened = {"type": "app_home_opened", "user": "U_OWNER", "channel": "D_OWNER", "tab": "home"}
    first = await home_after(stack, lambda: stack.driver.event(opened))
    shown = headers(first)
    assert shown[0] == "Acme"
    assert shown[1:] == [f"Zz {n:02d}" for n in range(len(shown) - 1)]
    assert page_buttons(first) == {"More accounts": str(len(shown))}
    assert any(
        e.get("action_id") == ids.OPEN_FORM_ACTION
        for b in first["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    )

    def press(value: str) -> Any:
        return lambda: stack.send_press(ids.HOME_PAGE_ACTION, value, block_id="home_pages")

    second = await home_after(stack, press(page_buttons(first)["More accounts"]))
    assert headers(second)[0] == f"Zz {len(shown) - 1:02d}"
    assert page_buttons(second)["First accounts"] == "0"
    # Forged: past the end is the last account's page; not a number is the first page.
    last = await home_after(stack, press("99999"))
    assert headers(last) == [f"Zz {ACCOUNTS - 1:02d}"]
    assert page_buttons(last) == {"First accounts": "0"}
    assert f"Accounts {ACCOUNTS + 1}–{ACCOUNTS + 1} of {ACCOUNTS + 1}" in json.dumps(
        last, ensure_ascii=False
    )
    again = await home_after(stack, press("-3"))
    assert headers(again) == shown
