"""Running one fuzzing program: send each step over signed HTTP, wait for the app to finish
it, and check everything it caused against :mod:`fuzz_oracle`."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fuzz_forms import ChooseSubscription, ChooseValue, FormEvent, Genuine, RawMetadata, tampered
from fuzz_oracle import (
    Audience,
    database_findings,
    fallback_findings,
    findings,
    restore,
    strings_in,
)
from fuzz_programs import Request, Step
from fuzz_traffic import (
    ANSWERED_ACTIONS,
    APPROVAL_ACTIONS,
    CHANNEL,
    Actor,
    ButtonValue,
    Click,
    Command,
    DenySubmission,
    HomeOpened,
    PlatformUsers,
    Seen,
    SlowClientsArrive,
    Sweep,
    TimePasses,
    Verbatim,
)
from fuzz_world import AXIOM_SEED, World
from seats_stack import AXIOM_USERS, NOW, buttons_of
from slow_clients import SlowClients, healthz_answer
from sqlalchemy import select

from billing.models import SeatChangeRequest, Subscription
from bot.offline.standin import RecordedCall
from bot.offline.standin.slack_driver import (
    DriverResult,
    button,
    number_input_value,
    static_select_value,
    text_input_value,
)
from handlers import ids
from handlers.commands import ShowHistory, ShowStatus, parse_seats_command


@dataclass(frozen=True)
class Sent:
    """One request as sent, and what Slack would have handed the app with it."""

    status: int
    body: str
    typed: str  # everything the actor put in the request: echoes of it are not leaks
    response_url: str | None = None
    trigger_id: str | None = None
    view_id: str | None = None
    purposes: frozenset[str] = frozenset()  # see fuzz_oracle.Audience
    expects_reply: bool = False
    clicked_in: str | None = None  # the channel of the posted message a button was clicked on


def _answer_in_ack(sent: Sent) -> dict[str, Any] | None:
    """The message an ack carried (``/seats help``, a command that cannot be read), if any."""
    if sent.status != 200 or not sent.body.strip().startswith("{"):
        return None
    answer = json.loads(sent.body)
    return answer if isinstance(answer, dict) and "blocks" in answer else None


#: How far a program may move the app's clock from :data:`seats_stack.NOW` (16 January: the
#: seeded period ends on 1 February).
MAX_TIME_PASSED = timedelta(days=7)
#: How many slow clients a program may open in all (this process holds their sockets).
MAX_SLOW_CLIENTS = 450


def _exception(record: logging.LogRecord) -> str:
    if not record.exc_info or record.exc_info[1] is None:
        return ""
    error = record.exc_info[1]
    return f"({type(error).__module__}.{type(error).__name__}: {str(error)[:300]})"


def _response_key(url: str | None) -> str | None:
    return url.rsplit("/", 1)[-1] if url else None


@dataclass
class Program:
    """What one program learnt while running: forms opened (by actor, and whose each is),
    response URLs handed out (whose each is), button values shown, accounts whose owner acted."""

    views: dict[Actor, list[str]] = field(default_factory=dict)
    view_owners: dict[str, Actor] = field(default_factory=dict)
    response_urls: dict[str, Actor] = field(default_factory=dict)  # by key, whom it answers
    seen_values: list[str] = field(default_factory=list)
    posted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (channel, message)
    acted: set[str] = field(default_factory=set)
    forged_views: int = 0
    typed: list[str] = field(default_factory=list)  # what every step so far put in its request
    slow: list[SlowClients] = field(default_factory=list)  # open until the program ends


class Fuzzer:
    """Sends steps one at a time, waits for the app to finish each, and checks its answers."""

    def __init__(self, world: World, caplog: pytest.LogCaptureFixture) -> None:
        self.world = world
        self.stack = world.stack
        self.driver = world.stack.driver
        self.standin = world.stack.standin
        self.caplog = caplog
        self.accounts = list(world.accounts.values())

    async def run(self, steps: Sequence[Step]) -> None:
        program = Program()
        text_at = len(self.caplog.text)
        try:
            for number, step in enumerate(steps):
                records = len(self.caplog.records)
                await self.send(program, number, step)
                self.check_logs(records, f"step {number} ({step!r})")
            assert "Traceback" not in self.caplog.text[text_at:]
            problems = database_findings(
                self.world.sessions, self.world.baseline, self.accounts, program.acted
            )
            assert problems == [], f"the database changed illegitimately: {problems}"
        finally:
            for attack in program.slow:
                await asyncio.to_thread(attack.stop)
            restore(self.world.sessions, self.world.baseline)
            self.stack.sandbox.set_account("acme", "axiom", users=AXIOM_USERS, seed=AXIOM_SEED)
            self.stack.clock.now = NOW

    def check_logs(self, records: int, where: str) -> None:
        """Nothing logged since the ``records``-th record at ERROR or with a traceback."""
        bad = [
            f"{r.levelname} {r.name}: {r.getMessage()} {_exception(r)}"
            for r in self.caplog.records[records:]
            if r.levelno >= logging.ERROR
            or r.exc_info
            or r.stack_info
            or "Traceback" in r.getMessage()
        ]
        assert bad == [], f"{where}: logged {bad}"

    async def send(self, program: Program, number: int, step: Step) -> None:
        if isinstance(step, PlatformUsers):
            self.stack.sandbox.set_account("acme", "axiom", users=step.count, seed=AXIOM_SEED)
            return
        if isinstance(step, TimePasses):
            # Within the seeded billing period: a renewal is no attack, and its ledger line
            # would belong to no request.
            if self.stack.clock.now + timedelta(hours=step.hours) <= NOW + MAX_TIME_PASSED:
                self.stack.clock.advance(timedelta(hours=step.hours))
            return
        if isinstance(step, SlowClientsArrive):
            await self._slow_clients(program, step, f"step {number} ({step!r})")
            return
        for account in self.accounts:
            if account.role_of(step.actor) == "owner":
                program.acted.add(account.name)
        before = len(self.standin.calls())
        if isinstance(step, Command):
            sent = await self._command(step)
        elif isinstance(step, Click):
            sent = await self._click(program, step)
        elif isinstance(step, DenySubmission):
            sent = await self._deny(program, step)
        elif isinstance(step, HomeOpened):
            sent = await self._home(step)
        else:
            sent = await self._form(program, step)
        await self.stack.settle()
        calls = self.standin.calls()[before:]
        where = f"step {number} ({step!r})"
        assert sent.status < 500, f"{where}: HTTP {sent.status}"
        assert self.standin.violations == [], f"{where}: Slack would refuse a payload"
        acked = _answer_in_ack(sent)
        if sent.expects_reply and sent.status == 200:
            assert calls or acked is not None, f"{where}: no answer"
        self._learn(program, step.actor, sent, calls)
        asker = Audience(step.actor.team, step.actor, purposes=sent.purposes, typed=sent.typed)
        for text, audience in [(sent.body, asker), *self._shown(program, step, sent, calls)]:
            problems = findings(text, audience, self.accounts)
            assert problems == [], f"{where}: {audience} was shown {problems} in {text!r}"
        # Earlier steps' words may come back too (a denial's reason in "Already decided").
        program.typed.append(sent.typed)
        typed = "\n".join(program.typed)
        answers = [(call.method, call.args) for call in calls]
        for method, args in [*answers, *([("ack", acked)] if acked is not None else [])]:
            fallback = args.get("text")
            if isinstance(fallback, str):
                problems = fallback_findings(fallback, typed)
                assert problems == [], f"{where}: {method} text {fallback!r}: {problems}"

    def _shown(
        self, program: Program, step: Request, sent: Sent, calls: list[RecordedCall]
    ) -> list[tuple[str, Audience]]:
        """What each call shows, and to whom. The answers go to the person who asked, and
        only there (their response URL, ephemeral message, DM, form); messages to others
        (an approval request, the requester's notice, App Homes) are judged by what their
        recipients may see."""
        actor, where = step.actor, f"{step!r}"
        asker = Audience(actor.team, actor, purposes=sent.purposes, typed=sent.typed)
        shown: list[tuple[str, Audience]] = []
        for call in calls:
            args = call.args
            # The people a request concerns are in the asker's workspace (a single-workspace
            # stand-in records every call under its one token's workspace).
            team = actor.team
            if call.method == "response_url":
                minted_for = program.response_urls.get(str(args.get("response_url")))
                assert minted_for == actor, f"{where}: answered at {minted_for}'s response URL"
                audience = asker
                if args.get("replace_original") and sent.clicked_in is not None:
                    # The answer replaces a posted message: its readers see it too. (Slack
                    # sends a click only from someone who sees the message, so a click "on"
                    # another person's DM, which the fuzzer forges, replaces nothing of theirs.)
                    reader = self._reader_of(sent.clicked_in, team, asker)
                    if reader.person is None or reader == asker:
                        shown.append(("\n".join(strings_in(args)), reader))
            elif call.method == "chat.postEphemeral":
                assert args.get("user") == actor.user, f"{where}: ephemeral for {args['user']}"
                audience = asker
            elif call.method == "views.open":
                assert args.get("trigger_id") == sent.trigger_id, where
                audience = asker
            elif call.method == "views.update":
                owner = program.view_owners.get(str(args.get("view_id")), actor)
                assert owner == actor, f"{where}: updated {owner}'s form"
                audience = asker
            elif call.method in ("chat.postMessage", "chat.update"):
                audience = self._reader_of(str(args.get("channel")), team, asker)
            elif call.method == "views.publish":
                home_of = Actor(team, str(args.get("user_id")))
                audience = Audience(team, home_of, purposes=frozenset({"read", "decide"}))
                if home_of == actor:
                    audience = replace(audience, typed=sent.typed)
            else:
                assert call.method in ("auth.test", "users.info", "conversations.info"), where
                continue
            shown.append(("\n".join(strings_in(args)), audience))
        return shown

    @staticmethod
    def _reader_of(channel: str, team: str, asker: Audience) -> Audience:
        """Who reads a message posted to ``channel`` (a user id or a DM opens their DM)."""
        user = "U" + channel[1:] if channel[:1] in ("U", "D") else None
        if user is None:
            return Audience(team, channel=channel, purposes=frozenset({"decide"}))
        if asker.person is not None and user == asker.person.user:
            return asker
        return Audience(team, Actor(team, user), purposes=frozenset({"decide"}))

    def _learn(self, program: Program, actor: Actor, sent: Sent, calls: list[RecordedCall]) -> None:
        key = _response_key(sent.response_url)
        if key is not None:
            program.response_urls[key] = actor
        for call in calls:
            if call.method == "views.open" and call.ok:
                view_id = str(call.response["view"]["id"])
                program.views.setdefault(actor, []).append(view_id)
                program.view_owners[view_id] = actor
            if call.method == "chat.postMessage" and call.ok:
                program.posted.append((str(call.response["channel"]), call.response["message"]))
            if call.method in ("response_url", "chat.postEphemeral", "chat.postMessage"):
                program.seen_values.extend(
                    str(b.get("value")) for b in buttons_of(call.args).values() if b.get("value")
                )

    async def _slow_clients(self, program: Program, step: SlowClientsArrive, where: str) -> None:
        """Open the slow clients (they stay until the program ends), then ask for ``/healthz``
        on a new connection: its answer comes once the server has taken every one in (closing
        those it had no room for), so the next request meets the server full."""
        if sum(len(attack.clients) for attack in program.slow) + step.count > MAX_SLOW_CLIENTS:
            return
        app = httpx.URL(self.driver.app_url)
        attack = SlowClients((app.host, app.port or 80), step.count, kinds=[step.kind])
        attack.reopening = False  # one closed by the server (to make room, say) stays closed
        program.slow.append(attack)
        await asyncio.to_thread(attack.start)
        status, _ = await healthz_answer(self.driver.app_url)
        assert status == 200, f"{where}: /healthz answered {status}"

    # ---------------------------------------------------------------- commands and clicks

    async def _command(self, step: Command) -> Sent:
        result = await self.driver.slash_command(
            step.text, user_id=step.actor.user, channel_id=CHANNEL, team_id=step.actor.team
        )
        reads = isinstance(parse_seats_command(step.text), ShowStatus | ShowHistory)
        return self._sent(result, step.text, purposes={"read"} if reads else set())

    async def _click(self, program: Program, step: Click) -> Sent:
        value = self._value(program, step.value)
        action = button(step.action_id, value, block_id=step.block_id, text="x")
        user, team = step.actor.user, step.actor.team
        if step.surface == "home":
            home = {"id": "VHOME", "type": "home", "callback_id": "", "private_metadata": ""}
            result = await self.driver.block_action(action, user_id=user, view=home, team_id=team)
        elif step.surface == "posted" and program.posted:
            channel, message = program.posted[-1]
            result = await self.driver.block_action(
                action, user_id=user, channel_id=channel, message=message, team_id=team
            )
        else:
            result = await self.driver.block_action(
                action, user_id=user, channel_id=CHANNEL, team_id=team
            )
        clicked_in = program.posted[-1][0] if step.surface == "posted" and program.posted else None
        deciding = step.action_id in APPROVAL_ACTIONS
        # On the App Home there is no response URL: only Approve and Deny answer there.
        answered = APPROVAL_ACTIONS if step.surface == "home" else ANSWERED_ACTIONS
        sent = self._sent(
            result,
            f"{value}\n{step.block_id}",
            purposes={"decide"} if deciding else set(),
            expects_reply=step.action_id in answered,
        )
        return replace(sent, clicked_in=clicked_in)

    async def _deny(self, program: Program, step: DenySubmission) -> Sent:
        value = self._value(program, step.value)
        view = {
            "id": "VDENY",
            "type": "modal",
            "callback_id": ids.DENY_MODAL_CALLBACK,
            "private_metadata": value,
            "blocks": [],
        }
        values = {ids.DENY_REASON_BLOCK: {ids.DENY_REASON_ACTION: text_input_value(step.reason)}}
        result = await self.driver.view_submission(
            view, user_id=step.actor.user, values=values, team_id=step.actor.team
        )
        # Answered in the ack (the form's errors), by stamping the approval messages, or by DM.
        return self._sent(
            result, f"{value}\n{step.reason}", purposes={"decide"}, expects_reply=False
        )

    async def _home(self, step: HomeOpened) -> Sent:
        event = {
            "type": "app_home_opened",
            "user": step.actor.user,
            "channel": "D" + step.actor.user[1:],
            "tab": "home",
        }
        result = await self.driver.event(event, team_id=step.actor.team)
        return self._sent(result, "", purposes={"read"})

    def _sent(
        self,
        result: DriverResult,
        typed: str,
        *,
        purposes: set[str],
        expects_reply: bool = True,
    ) -> Sent:
        return Sent(
            status=result.status_code,
            body=result.text,
            typed=typed,
            response_url=result.response_url,
            trigger_id=result.trigger_id,
            purposes=frozenset(purposes),
            expects_reply=expects_reply,
        )

    def _value(self, program: Program, spec: ButtonValue) -> str:
        if isinstance(spec, Verbatim):
            return spec.text
        if isinstance(spec, Seen):
            seen = program.seen_values
            return seen[-1 - spec.pick % len(seen)] if seen else "1.1"
        with self.world.sessions() as session:
            if isinstance(spec, Sweep):
                newest = session.scalar(
                    select(SeatChangeRequest.id).order_by(SeatChangeRequest.id.desc()).limit(1)
                )
                return f"{(newest or 0) + spec.offset}{spec.suffix}"
            rows = session.execute(
                select(SeatChangeRequest.id, SeatChangeRequest.quote_revision)
                .where(
                    SeatChangeRequest.subscription_id
                    == self.world.accounts[spec.account].subscription_id
                )
                .order_by(SeatChangeRequest.id.desc())
            ).all()
        if not rows:
            return str(spec.pick + 1)
        request_id, revision = rows[spec.pick % len(rows)]
        return str(request_id) if spec.bare else f"{request_id}.{revision + spec.shift}"

    # ---------------------------------------------------------------- the form

    async def _form(self, program: Program, step: FormEvent) -> Sent:
        view = self._view(program, step)
        state: dict[str, dict[str, Any]] = {}
        chosen: str | None = None
        if isinstance(step.product, ChooseSubscription):
            named = step.metadata.account if isinstance(step.metadata, Genuine) else "acme"
            if step.product.which == "other":
                named = "globex" if named == "acme" else "acme"
            chosen = str(self.world.accounts[named].subscription_id)
        elif isinstance(step.product, ChooseValue):
            chosen = step.product.value
        if isinstance(step.product, ChooseSubscription | ChooseValue):
            state[ids.PRODUCT_BLOCK] = {ids.PRODUCT_ACTION: static_select_value(chosen)}
        state[ids.COUNT_BLOCK] = {ids.COUNT_ACTION: number_input_value(step.count)}
        if step.reason is not None:
            state[ids.REASON_BLOCK] = {ids.REASON_ACTION: text_input_value(step.reason)}
        user, team = step.actor.user, step.actor.team
        if step.kind == "submit":
            result = await self.driver.view_submission(
                view, user_id=user, values=state, team_id=team
            )
        else:
            if step.kind == "count":
                action: dict[str, Any] = {
                    "type": "number_input",
                    "action_id": ids.COUNT_ACTION,
                    "block_id": ids.COUNT_BLOCK,
                    "value": step.count or "",
                    "action_ts": f"{time.time():.6f}",
                }
            else:
                action = {
                    "type": "static_select",
                    "action_id": ids.PRODUCT_ACTION,
                    "block_id": ids.PRODUCT_BLOCK,
                    "selected_option": static_select_value(chosen)["selected_option"],
                    "action_ts": f"{time.time():.6f}",
                }
            result = await self.driver.block_action(
                action, user_id=user, view=view, state_values=state, team_id=team
            )
        typed = "\n".join(strings_in([view.get("private_metadata"), state]))
        return Sent(result.status_code, result.text, typed, view_id=str(view.get("id")))

    def _view(self, program: Program, step: FormEvent) -> dict[str, Any]:
        """The view the event happens in, with the metadata the step asks for."""
        opened = program.views.get(step.actor)
        if step.own_view and opened:
            view = self.standin.view(opened[-1])
        else:
            program.forged_views += 1
            view = {"id": f"VFUZZ{program.forged_views}", "type": "modal", "blocks": []}
        view["callback_id"] = step.callback_id
        if isinstance(step.metadata, RawMetadata):
            view["private_metadata"] = step.metadata.text
        else:
            view["private_metadata"] = self._metadata(step.metadata)
        return view

    def _metadata(self, spec: Genuine) -> str:
        other = "globex" if spec.account == "acme" else "acme"
        return tampered(self._context(spec.account), spec.tamper, self._context(other))

    def _context(self, name: str) -> dict[str, Any]:
        """The context Seatbot writes in ``name``'s form, as the database stands now."""
        account = self.world.accounts[name]
        with self.world.sessions() as session:
            subscription = session.get_one(Subscription, account.subscription_id)
            subscriptions = {str(subscription.id): [subscription.product, subscription.seats]}
        return {"a": account.account_id, "c": CHANNEL, "s": subscriptions}


def listen(caplog: pytest.LogCaptureFixture) -> None:
    """Capture everything the app logs at INFO and above (HTTP clients' request lines aside)."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.WARNING, logger="httpx")
