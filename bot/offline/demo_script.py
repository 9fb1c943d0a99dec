"""The scripted people of ``seatbot demo``: an owner and a manager who send the app requests signed
exactly as Slack signs them, wait for its replies at the Slack stand-in, check each one says
what it should, and print it all as a readable transcript; and the script they follow (steps
1–8: a blocked decrease, the users deleted, approval by a manager, an increase from the form,
a typo, the history).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from bot.offline.demo_setup import ACCOUNT, CHANNEL, MANAGER, OWNER, DemoStepFailed
from bot.offline.render import render_message, render_view
from bot.offline.standin import RecordedCall, SlackDriver, SlackStandIn
from bot.offline.standin.slack_driver import button, number_input_value, static_select_value
from handlers import ids

#: How long a step waits for the app's reply.
REPLY_WITHIN_S = 15.0


@dataclass
class Reply:
    """The app's answer to one step: the recorded Web API call (or response URL post)."""

    call: RecordedCall

    @property
    def args(self) -> dict[str, Any]:
        return self.call.args

    @property
    def text(self) -> str:
        return "\n".join(render_message(self.args))

    def button(self, action_id: str) -> dict[str, Any]:
        for block in self.args.get("blocks") or []:
            if block.get("type") == "actions":
                for element in block["elements"]:
                    if element.get("action_id") == action_id:
                        return dict(element, block_id=block.get("block_id"))
        raise DemoStepFailed(f"the reply offers no {action_id!r} button")


class Transcript:
    """Prints who said what, and the app's replies rendered as text."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def heading(self, text: str) -> None:
        self.console.rule(Text(text, style="bold cyan"))

    def said(self, who: str, what: str) -> None:
        self.console.print(Text.assemble((f"{who} ", "bold green"), ("› ", "dim"), (what, "bold")))

    def note(self, text: str) -> None:
        self.console.print(Text(f"  ({text})", style="italic yellow"))

    @property
    def width(self) -> int:
        """Text width inside a reply's frame."""
        return max(40, self.console.width - 6)

    def bot(self, lines: Sequence[str], *, title: str = "Seatbot · only visible to you") -> None:
        self.console.print(
            Panel(Text("\n".join(lines)), title=title, title_align="left", border_style="blue")
        )

    def failed(self, text: str) -> None:
        self.console.print(Text(f"✗ {text}", style="bold red"))


class DemoSession:
    """The scripted owner: sends signed Slack requests and waits for the app's replies."""

    def __init__(self, standin: SlackStandIn, driver: SlackDriver, transcript: Transcript) -> None:
        self.standin = standin
        self.driver = driver
        self.out = transcript

    def _last_seq(self) -> int:
        calls = self.standin.calls()
        return calls[-1].seq if calls else 0

    async def _next(self, method: str, after: int) -> Reply:
        calls = await self.standin.wait_for(
            method, within_s=REPLY_WITHIN_S, where=lambda call: call.seq > after
        )
        return Reply(calls[0])

    async def command(self, text: str, *, expect: str) -> Reply:
        self.out.said(OWNER, f"/seats {text}".rstrip())
        before = self._last_seq()
        sent = await self.driver.slash_command(text, user_id=OWNER, channel_id=CHANNEL)
        if sent.status_code != 200:
            raise DemoStepFailed(f"/seats {text} was answered with HTTP {sent.status_code}")
        acked = sent.answer(before)
        if acked is not None:  # answered in the ack itself
            return self._check(Reply(acked), expect)
        return self._check(await self._next("response_url", before), expect)

    async def click(self, reply: Reply, action_id: str, *, expect: str) -> Reply:
        element = reply.button(action_id)
        label = element["text"]["text"]
        self.out.said(OWNER, f"clicks [{label}]")
        before = self._last_seq()
        action = button(action_id, element["value"], block_id=element["block_id"], text=label)
        sent = await self.driver.block_action(action, user_id=OWNER, channel_id=CHANNEL)
        if sent.status_code != 200:
            raise DemoStepFailed(f"[{label}] was answered with HTTP {sent.status_code}")
        return self._check(await self._next("response_url", before), expect)

    async def modal(self, count: str, *, expect: str) -> Reply:
        """``/seats``, type ``count`` in the modal (live preview), submit it."""
        self.out.said(OWNER, "/seats")
        before = self._last_seq()
        await self.driver.slash_command("", user_id=OWNER, channel_id=CHANNEL)
        opened = await self._next("views.open", before)
        updated = await self._next("views.update", opened.call.seq)
        view = self.standin.view(opened.call.response["view"]["id"])
        self.out.bot(render_view(view, width=self.out.width), title="Seatbot · modal")
        self.out.said(OWNER, f"types {count} as the new number of seats")
        product = _initial_option(view, ids.PRODUCT_BLOCK)
        typed = {
            ids.PRODUCT_BLOCK: {
                ids.PRODUCT_ACTION: static_select_value(product["value"], product["text"]["text"])
            },
            ids.COUNT_BLOCK: {ids.COUNT_ACTION: number_input_value(count)},
        }
        action = {
            "type": "number_input",
            "action_id": ids.COUNT_ACTION,
            "block_id": ids.COUNT_BLOCK,
            "value": count,
            "action_ts": f"{datetime.now(UTC).timestamp():.6f}",
        }
        await self.driver.block_action(action, user_id=OWNER, view=view, state_values=typed)
        preview = await self._next("views.update", updated.call.seq)
        view = self.standin.view(view["id"])
        self.out.bot(
            render_view(dict(view, state={"values": typed}), width=self.out.width),
            title="Seatbot · modal",
        )
        if " charged now" not in "\n".join(render_view(view)):
            raise DemoStepFailed("the modal showed no live preview")
        self.out.said(OWNER, "clicks [Review change]")
        await self.driver.view_submission(view, user_id=OWNER, values=typed)
        return self._check(await self._next("chat.postEphemeral", preview.call.seq), expect)

    async def posted_to(self, channel: str, after: int, *, expect: str, title: str) -> Reply:
        """The message the app posted to ``channel`` (a DM when it is a user id) after seq
        ``after``, shown as its recipient sees it."""
        calls = await self.standin.wait_for(
            "chat.postMessage",
            within_s=REPLY_WITHIN_S,
            where=lambda call: call.seq > after and call.args.get("channel") == channel,
        )
        reply = Reply(calls[0])
        self.out.bot(render_message(reply.args, width=self.out.width), title=title)
        if expect not in reply.text:
            raise DemoStepFailed(f"expected the message to {channel} to say {expect!r}")
        return reply

    async def click_as(self, user: str, posted: Reply, action_id: str, *, expect: str) -> Reply:
        """``user`` clicks a button of a message the app posted (not an ephemeral reply)."""
        element = posted.button(action_id)
        label = element["text"]["text"]
        self.out.said(user, f"clicks [{label}]")
        before = self._last_seq()
        action = button(action_id, element["value"], block_id=element["block_id"], text=label)
        sent = await self.driver.block_action(
            action,
            user_id=user,
            channel_id=str(posted.call.response["channel"]),
            message=dict(posted.call.response["message"]),
        )
        if sent.status_code != 200:
            raise DemoStepFailed(f"[{label}] was answered with HTTP {sent.status_code}")
        return self._check(await self._next("response_url", before), expect)

    async def right_size(self, digest: Reply, action_id: str, *, expect: str) -> Reply:
        """The owner clicks the digest's right-size button: the form opens preset to the users
        that exist, with what it does to the bill (``expect`` among it); they submit it as it
        is. Returns the prompt, which must say ``expect`` too."""
        element = digest.button(action_id)
        label = element["text"]["text"]
        self.out.said(OWNER, f"clicks [{label}] on the digest")
        before = self._last_seq()
        action = button(action_id, element["value"], block_id=element["block_id"], text=label)
        await self.driver.block_action(
            action,
            user_id=OWNER,
            channel_id=str(digest.call.response["channel"]),
            message=dict(digest.call.response["message"]),
        )
        opened = await self._next("views.open", before)
        filled = await self._next("views.update", opened.call.seq)
        view = self.standin.view(opened.call.response["view"]["id"])
        self.out.bot(render_view(view, width=self.out.width), title="Seatbot · modal")
        shown = "\n".join(render_view(view))
        if " less" not in shown or expect not in shown:
            raise DemoStepFailed(f"the right-size form did not show the new bill and {expect!r}")
        product = _initial_option(view, ids.PRODUCT_BLOCK)
        count = next(
            b["element"].get("initial_value")
            for b in view["blocks"]
            if b.get("block_id") == ids.COUNT_BLOCK
        )
        typed = {
            ids.PRODUCT_BLOCK: {
                ids.PRODUCT_ACTION: static_select_value(product["value"], product["text"]["text"])
            },
            ids.COUNT_BLOCK: {ids.COUNT_ACTION: number_input_value(count)},
        }
        self.out.said(OWNER, f"clicks [Review change] ({count} seats, as preset)")
        await self.driver.view_submission(view, user_id=OWNER, values=typed)
        return self._check(await self._next("chat.postEphemeral", filled.call.seq), expect)

    def _check(self, reply: Reply, expect: str) -> Reply:
        self.out.bot(render_message(reply.args, width=self.out.width))
        if expect not in reply.text:
            raise DemoStepFailed(f"expected the reply to say {expect!r}")
        return reply


def _initial_option(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    """The option a select shows when the view opens (Slack sends it back in the state)."""
    for block in view.get("blocks") or []:
        if block.get("block_id") == block_id:
            option: dict[str, Any] = block["element"]["initial_option"]
            return option
    raise DemoStepFailed(f"the modal has no {block_id!r} block")


async def _delete_blocking_users(
    http: httpx.AsyncClient, sandbox_url: str, product: str, reply: Reply, out: Transcript
) -> int:
    """Delete, on the sandbox platform, the users the blocked reply names (as an admin would)."""
    base = f"{sandbox_url}/_sandbox/accounts/{ACCOUNT}/{product}/users"
    listing = await http.get(base)
    listing.raise_for_status()
    users: list[dict[str, Any]] = listing.json()["data"]
    named = [user for user in users if str(user["email"]) in reply.text]
    for user in named:
        out.said("Acme admin", f"deletes {user['email']} on the {product} platform (sandbox)")
        deleted = await http.delete(f"{base}/{user['id']}")
        deleted.raise_for_status()
    return len(named)


async def play_script(session: DemoSession, http: httpx.AsyncClient, sandbox_url: str) -> None:
    """Steps 1–8: the owner's and the manager's conversation with the app."""
    out = session.out
    out.heading("1. What do we pay for, and who uses it?")
    await session.command("status", expect="Contact Center: 25 seats")

    out.heading("2. Remove 5 Contact Center seats: 23 users still exist")
    blocked = await session.command("remove 5 cc", expect="must be deleted on Contact Center")

    out.heading("3. Delete the named users on Contact Center, then check again")
    if await _delete_blocking_users(http, sandbox_url, "contact_center", blocked, out) != 3:
        raise DemoStepFailed("the blocked reply should name exactly 3 users to delete")
    prompt = await session.click(
        blocked, ids.CHECK_AGAIN_ACTION, expect="back as credit on your next invoice"
    )

    out.heading("4. Confirm the decrease: Acme's policy sends every decrease to a manager")
    before = session._last_seq()
    await session.click(prompt, ids.CONFIRM_ACTION, expect="Waiting for approval by @U0ACMEMGR")
    await session.click(prompt, ids.CONFIRM_ACTION, expect="waiting for a manager's approval")
    ask = await session.posted_to(
        MANAGER,
        before,
        expect="Approving applies the change at once.",
        title="Seatbot · DM to the manager",
    )

    out.heading("5. The manager approves; every approval message is stamped, the owner told")
    before = session._last_seq()
    await session.click_as(MANAGER, ask, ids.APPROVE_ACTION, expect="Done.")
    await session.posted_to(
        OWNER, before, expect="Approved by @U0ACMEMGR", title="Seatbot · DM to the owner"
    )
    await session.click_as(MANAGER, ask, ids.APPROVE_ACTION, expect="Already decided")

    out.heading("6. Add 2 Axiom seats from the form (within policy: no approval needed)")
    prompt = await session.modal("14", expect=" charged now")
    await session.click(prompt, ids.CONFIRM_ACTION, expect="Done.")

    out.heading("7. A typo")
    await session.command("ad 3 axim", expect="Did you mean /seats add 3 axiom?")

    out.heading("8. What changed")
    await session.command("history", expect="25 → 20")
