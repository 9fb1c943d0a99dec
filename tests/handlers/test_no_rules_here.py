"""The edges hold no rule: handlers/ and bot/ never decide whether a change is allowed.

Who may act, whether a decrease is allowed, whether a quote is stale and what a click does are
billing's decisions (billing.access, billing.seats.decrease, billing.seats.rules,
billing.seats.service). This test reads handlers/ and bot/ and fails if they import those rules
or billing's persistence, read a role or a request status, or compare seat counts themselves.
Rendering a decision billing made (check.blocked, a field error from billing's own
seat_count_problem) is fine. In bot/ the runtime (the composition root: it builds the engine,
the stores and the scheduler) and the migrations (they describe the tables) are exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from billing.faces import offered

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = ROOT / "handlers"
BOT = ROOT / "bot"
#: The parts of bot/ that may build on billing's storage: the composition root and migrations.
BOT_EXEMPT = (BOT / "runtime", BOT / "migrations")
#: bot/ modules that still break the rule when this test was extended (issue 17, area A): each
#: is owned by another area's fresh work and goes when its code moves to billing.
LEFT_IN_BOT = {
    "cli/reports.py": "renders billing.jobs.rules.PostOutcome (the posting port's outcome)",
    "cli/report_documents.py": "the same PostOutcome, as JSON",
    "web/metered.py": "meters billing.jobs.store.JobClaims by subclassing it",
    "webhooks/config.py": "its webhook table's SQL joins billing.models.Account",
    "setup/accounts_file.py": "reads a member's role from YAML into billing.access.Role",
}

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


def _bot_sources() -> list[Path]:
    return sorted(
        path
        for path in BOT.rglob("*.py")
        if not any(path.is_relative_to(exempt) for exempt in BOT_EXEMPT)
        and path.relative_to(BOT).as_posix() not in LEFT_IN_BOT
    )


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
                elif _home(node.module, alias.name) in FORBIDDEN_MODULES:
                    found.append(
                        f"line {node.lineno}: imports {alias.name} "
                        f"(from {_home(node.module, alias.name)})"
                    )
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(f"line {node.lineno}: uses {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_NAMES:
            found.append(f"line {node.lineno}: uses .{node.attr}")
        elif isinstance(node, ast.Compare) and _compares_seats(node):
            found.append(f"line {node.lineno}: compares seat counts")
    return found


def _home(module: str, name: str) -> str:
    """The module a package's face takes ``name`` from (``module`` itself when it has none)."""
    init = ROOT.joinpath(*module.split("."), "__init__.py")
    if not module.startswith("billing.") or not init.exists():
        return module
    return offered(module, str(init)).get(name, module)


def _compares_seats(node: ast.Compare) -> bool:
    ordering = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
    if not any(isinstance(op, ordering) for op in node.ops):
        return False
    names = [node.left, *node.comparators]
    return any("seat" in ast.unparse(part).lower() for part in names)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(HANDLERS)))
def test_handlers_decide_nothing(path: Path) -> None:
    assert offences(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", _bot_sources(), ids=lambda p: str(p.relative_to(BOT)))
def test_bot_decides_nothing(path: Path) -> None:
    assert offences(path.read_text(encoding="utf-8")) == []


def test_what_is_left_in_bot_still_breaks_the_rule() -> None:
    """An entry of LEFT_IN_BOT whose module no longer breaks the rule (or is gone) must go."""
    for name in LEFT_IN_BOT:
        path = BOT / name
        assert path.exists(), name
        assert offences(path.read_text(encoding="utf-8")) != [], name


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
