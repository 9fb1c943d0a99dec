"""The ``approval:`` key of the accounts file: an account's approval policy.

::

    approval:
      approvers: [U0ACMEMGR]          # Slack user ids; default: the account's managers
      channel_id: C0ACMEAPPROVE       # optional: post requests here too
      require_for:                    # any that matches routes the request to approval
        decrease: true                # every decrease
        increase_over_seats: 5        # an increase of more than 5 seats at once
        net_charge_over: "500.00"     # a net charge above this, in the account's currency
      remind_after: 4h                # durations: 30m, 4h, 2d
      escalate_after: 24h
      escalate_to: [U0ACMECFO]
      expire_after: 72h
"""

from __future__ import annotations

import re
from datetime import timedelta

import yaml

from billing.approvals import ApprovalPolicy, Person
from billing.products import MAX_SEATS
from bot.setup.yaml_nodes import NodeReader

_DURATION = re.compile(r"^([1-9][0-9]{0,4})([mhd])$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
#: No reminder, escalation or expiry is set further out than this.
_LONGEST = timedelta(days=365)


def parse_duration(text: str) -> timedelta | None:
    """``30m``, ``4h`` or ``2d`` as a duration; ``None`` for anything else."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        return None
    duration = int(match.group(1)) * _UNITS[match.group(2)]
    return duration if duration <= _LONGEST else None


def parse_approval(
    reader: NodeReader,
    node: yaml.Node | None,
    path: str,
    team_id: str | None,
    currency: str | None,
) -> ApprovalPolicy | None:
    """The policy under ``approval:`` (``None`` when absent or invalid; problems recorded)."""
    if node is None:
        return None
    fields = reader.mapping(
        node,
        path,
        required=set(),
        optional={
            "approvers",
            "channel_id",
            "require_for",
            "remind_after",
            "escalate_after",
            "escalate_to",
            "expire_after",
        },
    )
    if fields is None or team_id is None:
        return None
    before = len(reader.problems)
    approvers = _people(reader, fields.get("approvers"), f"{path}.approvers", team_id)
    escalate_to = _people(reader, fields.get("escalate_to"), f"{path}.escalate_to", team_id)
    channel = reader.slack_id(
        fields.get("channel_id"), f"{path}.channel_id", "channel", optional=True
    )
    decrease, over, net = _require_for(
        reader, fields.get("require_for"), f"{path}.require_for", currency
    )
    durations = {
        name: _duration(reader, fields.get(name), f"{path}.{name}")
        for name in ("remind_after", "escalate_after", "expire_after")
    }
    if durations["escalate_after"] is not None and not escalate_to:
        reader.problem(node, f"{path}.escalate_to", "is required with escalate_after")
    if escalate_to and durations["escalate_after"] is None:
        reader.problem(node, f"{path}.escalate_after", "is required with escalate_to")
    if len(reader.problems) > before:
        return None
    return ApprovalPolicy(
        approvers=approvers,
        channel_id=channel,
        require_decrease=decrease,
        increase_over_seats=over,
        net_charge_over_minor=net,
        remind_after=durations["remind_after"],
        escalate_after=durations["escalate_after"],
        escalate_to=escalate_to,
        expire_after=durations["expire_after"],
    )


def _people(
    reader: NodeReader, node: yaml.Node | None, path: str, team_id: str
) -> tuple[Person, ...]:
    found: list[Person] = []
    for index, item in enumerate(reader.sequence(node, path)):
        value = reader.slack_id(item, f"{path}[{index}]", "user")
        if value is not None and (team_id, value) not in found:
            found.append((team_id, value))
    return tuple(found)


def _require_for(
    reader: NodeReader, node: yaml.Node | None, path: str, currency: str | None
) -> tuple[bool, int | None, int | None]:
    if node is None:
        return False, None, None
    fields = reader.mapping(
        node, path, required=set(), optional={"decrease", "increase_over_seats", "net_charge_over"}
    )
    if fields is None:
        return False, None, None
    decrease = "decrease" in fields and reader.flag(fields["decrease"], f"{path}.decrease")
    over = (
        reader.whole_number(
            fields["increase_over_seats"],
            f"{path}.increase_over_seats",
            minimum=0,
            maximum=MAX_SEATS,
        )
        if "increase_over_seats" in fields
        else None
    )
    net = None  # read in the account's currency only
    if currency is not None:
        net = reader.amount(fields.get("net_charge_over"), f"{path}.net_charge_over", currency)
    return decrease, over, None if net is None else net.minor


def _duration(reader: NodeReader, node: yaml.Node | None, path: str) -> timedelta | None:
    if node is None:
        return None
    text = reader.text(node, path)
    if text is None:
        return None
    duration = parse_duration(text)
    if duration is None:
        reader.problem(
            node, path, f"{text!r} is not a duration like 30m, 4h or 2d (at most 365 days)"
        )
    return duration
