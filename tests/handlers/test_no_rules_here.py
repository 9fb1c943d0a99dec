"""The Slack edge holds no rule: handlers/ never decides whether a change is allowed.

Who may act, whether a decrease is allowed, whether a quote is stale and what a click does are
billing's decisions (billing.access, billing.seats.decrease, billing.seats.rules,
billing.seats.service). This test reads handlers/ and fails if it imports those rules, reads a role
or a request status,
or compares seat counts itself. Rendering a decision billing made (check.blocked, a field error
from billing's own seat_count_problem) is fine.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"

#: Names whose use in handlers/ would mean a rule is decided there.
FORBIDDEN_NAMES = {
    "Role",  # who may do what
    "RequestStatus",  # what a request's state allows
    "DecreaseVerdict",
    "Action",
    "authorise",
    "answer_place",  # where an answer to a click may be shown
    "may",
    "choose_account",
    "check_seat_change",
    "confirm_step",
    "staleness",
    "target_seats",
    "check_seat_count",
    "deletion_candidate_order",
    "may_take_over",  # whether a claimed run may be taken over (billing.jobs.rules)
    "stale_after",
    "start_step",  # whether a scheduled run is due, skipped or retried (billing.jobs.rules)
    "posted_part",  # what a run has posted, so what remains (billing.jobs.rules)
}
#: Billing modules handlers may not import at all (persistence and its rules).
FORBIDDEN_MODULES = {
    "billing.models",
    "billing.storage",
    "billing.requests",
    "billing.seats.renewal",
    "billing.jobs.rules",  # scheduled work is billing's: the edge only renders and sends
    "billing.jobs.store",
}
#: Billing names the edge may use to pre-check a form in the ack (billing's own rule, re-run by
#: the use case anyway).
ALLOWED_RULE_CALLS = {"seat_count_problem", "clean_reason"}


def _sources() -> list[Path]:
    return sorted(HANDLERS.rglob("*.py"))


def offences(source: str) -> list[str]:
    """Every place in ``source`` that decides a rule instead of asking billing."""
    tree = ast.parse(source)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module in FORBIDDEN_MODULES:
                found.append(f"line {node.lineno}: imports {node.module}")
            for alias in node.names:
                if alias.name in FORBIDDEN_NAMES:
                    found.append(f"line {node.lineno}: imports {alias.name}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(f"line {node.lineno}: uses {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_NAMES:
            found.append(f"line {node.lineno}: uses .{node.attr}")
        elif isinstance(node, ast.Compare) and _compares_seats(node):
            found.append(f"line {node.lineno}: compares seat counts")
    return found


def _compares_seats(node: ast.Compare) -> bool:
    ordering = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
    if not any(isinstance(op, ordering) for op in node.ops):
        return False
    names = [node.left, *node.comparators]
    return any("seat" in ast.unparse(part).lower() for part in names)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(HANDLERS)))
def test_handlers_decide_nothing(path: Path) -> None:
    assert offences(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "from billing.models import Role\n",
        "if request.new_seats < request.old_seats:\n    pass\n",
        "allowed = role is Role.OWNER\n",
        "from billing.seats.decrease import check_seat_change\n",
        "status = request.status is RequestStatus.DRAFT\n",
    ],
)
def test_the_check_sees_a_rule(source: str) -> None:
    assert offences(source) != []


def test_the_edge_only_pre_checks_forms_with_billings_own_rules() -> None:
    used: set[str] = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "billing.seats.rules":
                used.update(alias.name for alias in node.names)
    assert used <= ALLOWED_RULE_CALLS | {"ChangeMode", "MAX_REASON_LENGTH"}
