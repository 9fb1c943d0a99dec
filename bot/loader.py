"""Accounts, members, subscriptions and platform connections from a YAML file.

Parsing walks PyYAML's node tree (not plain dicts) so every problem is reported with its line
and field, all of them at once; nothing is written unless the whole file is valid. Applying is
idempotent: rows are matched by natural keys (account name; member team + user; product) and
only written when something differs, so loading the same file twice leaves the same state.

Policy choices (documented in ``examples/accounts.yml``):

- ``seats`` is the count a subscription starts with. Afterwards seats change only through
  seat-change requests (and so the ledger); reloading a file never overwrites them.
- The file is the truth for an account's members and platform connections: those missing from
  it are removed. Subscriptions missing from it are left alone (they have ledger history).
- Credentials in ``options`` are stored as given and never printed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.errors import UserFacingError
from billing.models import (
    Account,
    AuditEvent,
    Member,
    PlatformConnection,
    Role,
    Subscription,
)
from billing.money import Money, MoneyError, normalise_currency
from billing.periods import Interval, PeriodError, period_at, zone
from billing.products import ConnectionKind, Product
from billing.proration import DecreasePolicy, ProrationRule

LOAD_ACTOR = "cli:load"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")
_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: where (1-based line) and which field."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class ConfigError(UserFacingError):
    """The file is invalid; ``problems`` lists every problem with its line and field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (p.line, p.field)))
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class MemberSpec:
    team_id: str
    user_id: str
    role: Role


@dataclass(frozen=True)
class SubscriptionSpec:
    product: Product
    seats: int
    unit_price_minor: int
    interval: Interval
    anchor: date
    rule: ProrationRule
    decrease_policy: DecreasePolicy
    line: int


@dataclass(frozen=True)
class PlatformSpec:
    product: Product
    kind: ConnectionKind
    base_url: str | None
    file_path: str | None
    options: dict[str, Any] = field(hash=False)
    line: int


@dataclass(frozen=True)
class AccountSpec:
    name: str
    display_name: str
    currency: str
    timezone: str
    team_id: str
    channel_id: str | None
    members: tuple[MemberSpec, ...]
    subscriptions: tuple[SubscriptionSpec, ...]
    platforms: tuple[PlatformSpec, ...]
    line: int


@dataclass(frozen=True)
class LoadedConfig:
    """A validated file, ready to apply."""

    accounts: tuple[AccountSpec, ...]


@dataclass(frozen=True)
class LoadReport:
    """What applying a file changed, one owner-readable line per change (never credentials)."""

    changes: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.changes)


# -- parsing ------------------------------------------------------------------------------------


class _Reader:
    """Typed access to YAML nodes that records problems instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, node: yaml.Node, path: str, message: str) -> None:
        self.problems.append(Problem(node.start_mark.line + 1, path, message))

    def mapping(
        self, node: yaml.Node, path: str, *, required: set[str], optional: set[str]
    ) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, "expected a mapping of fields")
            return None
        fields: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where = f"{path}.{key}" if path else key
            if key in fields:
                self.problem(key_node, where, "appears twice")
            elif key not in required | optional:
                allowed = ", ".join(sorted(required | optional))
                self.problem(key_node, where, f"unknown field (allowed: {allowed})")
            else:
                fields[key] = value_node
        for key in sorted(required - fields.keys()):
            self.problem(node, f"{path}.{key}" if path else key, "is required")
        return fields

    def sequence(self, node: yaml.Node | None, path: str) -> list[yaml.Node]:
        if node is None or _is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, path, "expected a list")
            return []
        return list(node.value)

    def text(self, node: yaml.Node | None, path: str, *, optional: bool = False) -> str | None:
        if node is None or _is_null(node):
            if not optional and node is not None:
                self.problem(node, path, "must not be empty")
            return None
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            self.problem(node, path, "expected a non-empty text value")
            return None
        return str(node.value).strip()

    def integer(
        self, node: yaml.Node | None, path: str, *, minimum: int, maximum: int
    ) -> int | None:
        value = self.text(node, path)
        if value is None or node is None:
            return None
        if not re.fullmatch(r"[0-9]+", value):
            self.problem(node, path, f"{value!r} is not a whole number")
            return None
        number = int(value)
        if not minimum <= number <= maximum:
            self.problem(node, path, f"must be between {minimum} and {maximum}")
            return None
        return number

    def choice(
        self, node: yaml.Node | None, path: str, kind: type[Any], default: Any = None
    ) -> Any:
        if node is None:
            return default
        value = self.text(node, path)
        if value is None:
            return None
        try:
            return kind(value.lower())
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            self.problem(node, path, f"{value!r} is not one of {allowed}")
            return None

    def plain(self, node: yaml.Node, path: str) -> Any:
        """A JSON-ready value (options): mappings, lists, text, numbers, booleans."""
        if isinstance(node, yaml.MappingNode):
            fields = self.mapping(
                node, path, required=set(), optional={str(k.value) for k, _ in node.value}
            )
            return {
                key: self.plain(value, f"{path}.{key}") for key, value in (fields or {}).items()
            }
        if isinstance(node, yaml.SequenceNode):
            return [self.plain(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        tag = node.tag.rsplit(":", 1)[-1]
        value = str(node.value)
        if tag == "null":
            return None
        if tag == "bool":
            return value.lower() in {"true", "yes", "on"}
        if tag == "int":
            return int(value.replace("_", ""), 0)
        if tag == "float":
            return float(value)
        return value


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def parse_config(text: str, *, base_dir: Path | None = None) -> LoadedConfig:
    """Validate a YAML document; raise :class:`ConfigError` listing every problem.

    Relative ``file_path`` values are resolved against ``base_dir`` (the file's folder).
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError([Problem(line, "(syntax)", str(exc.problem or exc))]) from None
    reader = _Reader()
    if root is None:
        raise ConfigError([Problem(1, "accounts", "the file is empty")])
    top = reader.mapping(root, "", required={"accounts"}, optional=set())
    accounts: list[AccountSpec] = []
    if top is not None and "accounts" in top:
        items = reader.sequence(top["accounts"], "accounts")
        if not items and not reader.problems:
            reader.problem(top["accounts"], "accounts", "lists no accounts")
        for index, item in enumerate(items):
            spec = _parse_account(reader, item, f"accounts[{index}]", base_dir or Path.cwd())
            if spec is not None:
                accounts.append(spec)
        seen: dict[str, int] = {}
        for index, account_node in enumerate(items):
            spec_name = next(
                (a.name for a in accounts if a.line == account_node.start_mark.line + 1), None
            )
            if spec_name is None:
                continue
            if spec_name in seen:
                reader.problem(
                    account_node, f"accounts[{index}].name", f"{spec_name!r} is listed twice"
                )
            seen[spec_name] = index
    if reader.problems:
        raise ConfigError(reader.problems)
    return LoadedConfig(tuple(accounts))


def load_file(path: Path) -> LoadedConfig:
    """Read and validate the YAML file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [Problem(1, "(file)", f"cannot read {path}: {exc.__class__.__name__}")]
        ) from None
    return parse_config(text, base_dir=path.resolve().parent)


def _parse_account(
    reader: _Reader, node: yaml.Node, path: str, base_dir: Path
) -> AccountSpec | None:
    fields = reader.mapping(
        node,
        path,
        required={"name", "currency", "slack"},
        optional={"display_name", "timezone", "members", "subscriptions", "platforms"},
    )
    if fields is None:
        return None
    before = len(reader.problems)
    name = reader.text(fields.get("name"), f"{path}.name")
    if name is not None and not _NAME.fullmatch(name):
        reader.problem(
            fields["name"], f"{path}.name", "use lower-case letters, digits, '-' and '_' (a slug)"
        )
    display_name = reader.text(fields.get("display_name"), f"{path}.display_name", optional=True)
    currency = reader.text(fields.get("currency"), f"{path}.currency")
    if currency is not None:
        try:
            currency = normalise_currency(currency)
        except MoneyError as exc:
            reader.problem(fields["currency"], f"{path}.currency", str(exc))
            currency = None
    timezone = reader.text(fields.get("timezone"), f"{path}.timezone", optional=True) or "UTC"
    if "timezone" in fields:
        try:
            zone(timezone)
        except PeriodError as exc:
            reader.problem(fields["timezone"], f"{path}.timezone", str(exc))
    team_id: str | None = None
    channel_id: str | None = None
    if "slack" in fields:
        slack = reader.mapping(
            fields["slack"], f"{path}.slack", required={"team_id"}, optional={"channel_id"}
        )
        if slack is not None:
            team_id = _slack_id(reader, slack.get("team_id"), f"{path}.slack.team_id")
            if "channel_id" in slack:
                channel_id = _slack_id(
                    reader, slack["channel_id"], f"{path}.slack.channel_id", optional=True
                )
    members = _parse_members(reader, fields.get("members"), f"{path}.members", team_id)
    subscriptions = _parse_subscriptions(
        reader, fields.get("subscriptions"), f"{path}.subscriptions", currency
    )
    platforms = _parse_platforms(reader, fields.get("platforms"), f"{path}.platforms", base_dir)
    if len(reader.problems) > before or name is None or currency is None or team_id is None:
        return None
    return AccountSpec(
        name=name,
        display_name=display_name or name,
        currency=currency,
        timezone=timezone,
        team_id=team_id,
        channel_id=channel_id,
        members=tuple(members),
        subscriptions=tuple(subscriptions),
        platforms=tuple(platforms),
        line=node.start_mark.line + 1,
    )


def _slack_id(
    reader: _Reader, node: yaml.Node | None, path: str, *, optional: bool = False
) -> str | None:
    value = reader.text(node, path, optional=optional)
    if value is not None and node is not None and not _SLACK_ID.fullmatch(value):
        reader.problem(node, path, f"{value!r} is not a Slack id (like T0123ABCD)")
        return None
    return value


def _parse_members(
    reader: _Reader, node: yaml.Node | None, path: str, team_id: str | None
) -> list[MemberSpec]:
    members: list[MemberSpec] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(reader.sequence(node, path)):
        where = f"{path}[{index}]"
        fields = reader.mapping(item, where, required={"user_id", "role"}, optional={"team_id"})
        if fields is None:
            continue
        user_id = _slack_id(reader, fields.get("user_id"), f"{where}.user_id")
        member_team = (
            _slack_id(reader, fields["team_id"], f"{where}.team_id")
            if "team_id" in fields
            else team_id
        )
        role = reader.choice(fields.get("role"), f"{where}.role", Role)
        if user_id is None or member_team is None or role is None:
            continue
        if (member_team, user_id) in seen:
            reader.problem(item, where, f"{member_team}/{user_id} is listed twice")
            continue
        seen.add((member_team, user_id))
        members.append(MemberSpec(member_team, user_id, role))
    return members


def _parse_subscriptions(
    reader: _Reader, node: yaml.Node | None, path: str, currency: str | None
) -> list[SubscriptionSpec]:
    specs: list[SubscriptionSpec] = []
    seen: set[Product] = set()
    for index, item in enumerate(reader.sequence(node, path)):
        where = f"{path}[{index}]"
        fields = reader.mapping(
            item,
            where,
            required={"product", "seats", "unit_price", "anchor"},
            optional={"interval", "proration", "decrease_policy"},
        )
        if fields is None:
            continue
        product = reader.choice(fields.get("product"), f"{where}.product", Product)
        seats = reader.integer(fields.get("seats"), f"{where}.seats", minimum=0, maximum=10_000)
        price_text = reader.text(fields.get("unit_price"), f"{where}.unit_price")
        price: Money | None = None
        if price_text is not None and currency is not None:
            try:
                price = Money.parse(price_text, currency)
            except MoneyError as exc:
                reader.problem(fields["unit_price"], f"{where}.unit_price", str(exc))
            else:
                if price.minor < 0:
                    reader.problem(
                        fields["unit_price"], f"{where}.unit_price", "cannot be negative"
                    )
                    price = None
        anchor_text = reader.text(fields.get("anchor"), f"{where}.anchor")
        anchor: date | None = None
        if anchor_text is not None:
            try:
                anchor = date.fromisoformat(anchor_text)
            except ValueError:
                reader.problem(
                    fields["anchor"],
                    f"{where}.anchor",
                    f"{anchor_text!r} is not a date (YYYY-MM-DD)",
                )
        interval = reader.choice(
            fields.get("interval"), f"{where}.interval", Interval, Interval.MONTHLY
        )
        rule = reader.choice(
            fields.get("proration"), f"{where}.proration", ProrationRule, ProrationRule.DAILY
        )
        policy = reader.choice(
            fields.get("decrease_policy"),
            f"{where}.decrease_policy",
            DecreasePolicy,
            DecreasePolicy.PRORATED,
        )
        if product is not None and product in seen:
            reader.problem(
                fields["product"], f"{where}.product", f"{product.value} is listed twice"
            )
            continue
        if (
            product is None
            or seats is None
            or price is None
            or anchor is None
            or None in (interval, rule, policy)
        ):
            continue
        seen.add(product)
        specs.append(
            SubscriptionSpec(
                product,
                seats,
                price.minor,
                interval,
                anchor,
                rule,
                policy,
                item.start_mark.line + 1,
            )
        )
    return specs


def _parse_platforms(
    reader: _Reader, node: yaml.Node | None, path: str, base_dir: Path
) -> list[PlatformSpec]:
    specs: list[PlatformSpec] = []
    seen: set[Product] = set()
    for index, item in enumerate(reader.sequence(node, path)):
        where = f"{path}[{index}]"
        fields = reader.mapping(
            item, where, required={"product", "kind"}, optional={"base_url", "file_path", "options"}
        )
        if fields is None:
            continue
        product = reader.choice(fields.get("product"), f"{where}.product", Product)
        kind = reader.choice(fields.get("kind"), f"{where}.kind", ConnectionKind)
        base_url = reader.text(fields.get("base_url"), f"{where}.base_url", optional=True)
        file_text = reader.text(fields.get("file_path"), f"{where}.file_path", optional=True)
        options: dict[str, Any] = {}
        if "options" in fields:
            value = reader.plain(fields["options"], f"{where}.options")
            if isinstance(value, dict):
                options = value
            elif value is not None:
                reader.problem(fields["options"], f"{where}.options", "expected a mapping")
        file_path: str | None = None
        if kind is ConnectionKind.API:
            if base_url is None:
                reader.problem(item, f"{where}.base_url", "is required for kind api")
            elif not re.match(r"^https?://[^/\s]+", base_url):
                reader.problem(
                    fields["base_url"], f"{where}.base_url", "must be an http:// or https:// URL"
                )
            if file_text is not None:
                reader.problem(
                    fields["file_path"], f"{where}.file_path", "only for kind import_file"
                )
        elif kind is ConnectionKind.IMPORT_FILE:
            if file_text is None:
                reader.problem(item, f"{where}.file_path", "is required for kind import_file")
            else:
                resolved = (base_dir / file_text).resolve()
                if not resolved.is_file():
                    reader.problem(
                        fields["file_path"], f"{where}.file_path", f"no such file: {resolved}"
                    )
                file_path = str(resolved)
            if base_url is not None:
                reader.problem(fields["base_url"], f"{where}.base_url", "only for kind api")
        if product is not None and product in seen:
            reader.problem(
                fields["product"], f"{where}.product", f"{product.value} is listed twice"
            )
            continue
        if product is None or kind is None:
            continue
        seen.add(product)
        specs.append(
            PlatformSpec(
                product,
                kind,
                base_url if kind is ConnectionKind.API else None,
                file_path,
                options,
                item.start_mark.line + 1,
            )
        )
    return specs


# -- applying -----------------------------------------------------------------------------------


def apply_config(session: Session, config: LoadedConfig, at: datetime) -> LoadReport:
    """Create or update everything in ``config`` inside the caller's transaction.

    ``at`` (aware) places new subscriptions in their current billing period. Raises
    :class:`ConfigError` (with the account's line) when the file contradicts stored history.
    """
    changes: list[str] = []
    for spec in config.accounts:
        changes.extend(_apply_account(session, spec, at))
    session.flush()
    return LoadReport(tuple(changes))


def _audit(session: Session, account_id: int, action: str, at: datetime, **details: Any) -> None:
    session.add(
        AuditEvent(
            account_id=account_id,
            actor=LOAD_ACTOR,
            action=action,
            details=json.dumps(details, sort_keys=True, default=str),
            at=at,
        )
    )


def _update(row: Any, values: dict[str, Any]) -> list[str]:
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, values[name])
    return changed


def _apply_account(session: Session, spec: AccountSpec, at: datetime) -> Iterator[str]:
    values = {
        "display_name": spec.display_name,
        "currency": spec.currency,
        "timezone": spec.timezone,
        "team_id": spec.team_id,
        "channel_id": spec.channel_id,
    }
    account = session.scalars(select(Account).where(Account.name == spec.name)).one_or_none()
    if account is None:
        account = Account(name=spec.name, **values)
        session.add(account)
        session.flush()
        _audit(session, account.id, "account.created", at, name=spec.name)
        yield f"account {spec.name}: created"
    else:
        if account.currency != spec.currency:
            has_subscriptions = session.scalars(
                select(Subscription.id).where(Subscription.account_id == account.id).limit(1)
            ).first()
            if has_subscriptions is not None:
                raise ConfigError(
                    [
                        Problem(
                            spec.line,
                            f"{spec.name}.currency",
                            f"cannot change from {account.currency} once the account has "
                            "subscriptions",
                        )
                    ]
                )
        changed = _update(account, values)
        if changed:
            _audit(session, account.id, "account.updated", at, fields=changed)
            yield f"account {spec.name}: updated {', '.join(changed)}"
    yield from _apply_members(session, account, spec, at)
    yield from _apply_subscriptions(session, account, spec, at)
    yield from _apply_platforms(session, account, spec, at)


def _apply_members(
    session: Session, account: Account, spec: AccountSpec, at: datetime
) -> Iterator[str]:
    existing = {
        (row.team_id, row.user_id): row
        for row in session.scalars(select(Member).where(Member.account_id == account.id))
    }
    for member in spec.members:
        key = (member.team_id, member.user_id)
        row = existing.pop(key, None)
        who = f"{member.team_id}/{member.user_id}"
        if row is None:
            session.add(
                Member(
                    account_id=account.id,
                    team_id=member.team_id,
                    user_id=member.user_id,
                    role=member.role.value,
                )
            )
            _audit(session, account.id, "member.added", at, member=who, role=member.role.value)
            yield f"account {spec.name}: member {who} added as {member.role.value}"
        elif row.role != member.role.value:
            _audit(
                session,
                account.id,
                "member.role_changed",
                at,
                member=who,
                old=row.role,
                new=member.role.value,
            )
            row.role = member.role.value
            yield f"account {spec.name}: member {who} is now {member.role.value}"
    for (team_id, user_id), row in sorted(existing.items()):
        session.delete(row)
        _audit(session, account.id, "member.removed", at, member=f"{team_id}/{user_id}")
        yield f"account {spec.name}: member {team_id}/{user_id} removed"


def _apply_subscriptions(
    session: Session, account: Account, spec: AccountSpec, at: datetime
) -> Iterator[str]:
    tz = zone(spec.timezone)
    existing = {
        row.product: row
        for row in session.scalars(
            select(Subscription).where(Subscription.account_id == account.id)
        )
    }
    for sub in spec.subscriptions:
        row = existing.get(sub.product.value)
        values: dict[str, Any] = {
            "unit_price_minor": sub.unit_price_minor,
            "currency": spec.currency,
            "interval": sub.interval.value,
            "anchor": sub.anchor,
            "proration_rule": sub.rule.value,
            "decrease_policy": sub.decrease_policy.value,
        }
        if row is None:
            period = period_at(sub.anchor, sub.interval, at, tz)
            session.add(
                Subscription(
                    account_id=account.id,
                    product=sub.product.value,
                    seats=sub.seats,
                    initial_seats=sub.seats,
                    started_at=period.start,
                    current_period_start=period.start,
                    current_period_end=period.end,
                    version=1,
                    **values,
                )
            )
            _audit(
                session,
                account.id,
                "subscription.created",
                at,
                product=sub.product.value,
                seats=sub.seats,
            )
            yield f"account {spec.name}: {sub.product.value} created with {sub.seats} seats"
            continue
        changed = _update(row, values)
        if {"anchor", "interval"} & set(changed):
            period = period_at(sub.anchor, sub.interval, at, tz)
            row.current_period_start, row.current_period_end = period.start, period.end
        if changed:
            # Moving the version makes every open quote on this subscription stale.
            row.version += 1
            _audit(
                session,
                account.id,
                "subscription.updated",
                at,
                product=sub.product.value,
                fields=changed,
            )
            yield f"account {spec.name}: {sub.product.value} updated {', '.join(changed)}"


def _apply_platforms(
    session: Session, account: Account, spec: AccountSpec, at: datetime
) -> Iterator[str]:
    existing = {
        row.product: row
        for row in session.scalars(
            select(PlatformConnection).where(PlatformConnection.account_id == account.id)
        )
    }
    for platform in spec.platforms:
        values: dict[str, Any] = {
            "kind": platform.kind.value,
            "base_url": platform.base_url,
            "file_path": platform.file_path,
            "options": json.dumps(platform.options, sort_keys=True),
        }
        row = existing.pop(platform.product.value, None)
        if row is None:
            session.add(
                PlatformConnection(account_id=account.id, product=platform.product.value, **values)
            )
            _audit(
                session,
                account.id,
                "platform.added",
                at,
                product=platform.product.value,
                kind=platform.kind.value,
            )
            yield f"account {spec.name}: {platform.product.value} platform connection added"
            continue
        changed = _update(row, values)
        if changed:
            # Field names only: option values may be credentials.
            _audit(
                session,
                account.id,
                "platform.updated",
                at,
                product=platform.product.value,
                fields=changed,
            )
            names = ", ".join(changed)
            yield f"account {spec.name}: {platform.product.value} connection updated {names}"
    for product, row in sorted(existing.items()):
        session.delete(row)
        _audit(session, account.id, "platform.removed", at, product=product)
        yield f"account {spec.name}: {product} platform connection removed"
