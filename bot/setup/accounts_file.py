"""The operator's accounts file (YAML): read, validated, and turned into setup values.

Parsing walks PyYAML's node tree (not plain dicts) so that every problem is reported with its
line and field, all of them at once; nothing is returned unless the whole file is valid. The
result is :class:`LoadedConfig`: billing's :class:`~billing.setup.specs.AccountSetup` values
(what ``bot.setup.loader.apply_config`` applies) and, kept apart from them, each platform
connection's credentials, which only ever leave this process encrypted.

An account's ``approval``, ``subscriptions`` and ``platforms`` (with their credentials) have
readers of their own (:mod:`bot.setup.approval`, :mod:`bot.setup.subscriptions`,
:mod:`bot.setup.connections`); the rest is read here. An account's ``billing_webhook`` (``url``,
a Standard Webhooks ``secret``, and ``allow_private_destinations``) is where its billing events
go; its secret and its URL (whose query may hold a secret) are kept apart like the credentials,
the setup holding the URL's shown form only. Problems never quote a credential's value, a
secret or a URL with credentials.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from billing.access import Role
from billing.errors import ConfigurationError, Problem
from billing.events import webhook_url_problem
from billing.formatting import shown_url
from billing.money import MoneyError, normalise_currency
from billing.periods import PeriodError, zone
from billing.products import Product
from billing.reports import parse_digest_time
from billing.setup import AccountSetup, MemberSetup, WebhookSetup
from bot.runtime.platform_credentials import PlatformCredentials
from bot.setup.approval import parse_approval
from bot.setup.connections import parse_platforms
from bot.setup.subscriptions import parse_subscriptions
from bot.setup.yaml_nodes import NodeReader, is_null
from bot.webhooks.config import NOT_WHSEC_MESSAGE, is_webhook_secret

__all__ = ["LoadedConfig", "load_file", "parse_config"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


#: Which connection's credentials: (account name, product).
ConnectionKey = tuple[str, Product]


@dataclass(frozen=True)
class LoadedConfig:
    """A validated file, ready to apply. The platform setups in ``accounts`` carry no
    credentials (``credentials_encrypted`` is ``None``): those are in ``credentials``, in
    clear, until ``bot.setup.loader.apply_config`` encrypts them. Likewise each account's billing
    webhook secret and URL are in ``webhook_secrets`` and ``webhook_urls`` (by account name);
    its setup holds the URL's shown form only."""

    accounts: tuple[AccountSetup, ...]
    credentials: Mapping[ConnectionKey, PlatformCredentials] = field(
        default_factory=dict, repr=False
    )
    webhook_secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    webhook_urls: Mapping[str, str] = field(default_factory=dict, repr=False)


def load_file(path: Path) -> LoadedConfig:
    """Read and validate the YAML file at ``path``; a :class:`billing.errors.ConfigurationError`
    says what is wrong (a file that cannot be read is one problem, in words: no such file, a
    folder, ...)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _unreadable("no such file") from None
    except IsADirectoryError:
        raise _unreadable("a folder, not a YAML file") from None
    except PermissionError:
        raise _unreadable("permission denied") from None
    except UnicodeDecodeError:
        raise _unreadable("not UTF-8 text (save it as UTF-8)") from None
    except OSError as error:
        raise _unreadable(f"cannot be read ({error.strerror or type(error).__name__})") from None
    return parse_config(text, base_dir=path.resolve().parent)


def _unreadable(reason: str) -> ConfigurationError:
    return ConfigurationError.of([Problem(0, "", reason)])


_LOOKS_LIKE_CSV = (
    "this looks like a CSV file (values separated by commas), not a YAML accounts file "
    "like examples/accounts.yml; a platform's user file (CSV or .xlsx) is named by a "
    "connection's file_path in the accounts file, and `seatbot users validate FILE` checks it"
)
_NOT_ACCOUNTS = (
    "this is not an accounts file: it must start with `accounts:` and list the accounts "
    "under it, as examples/accounts.yml does"
)


def _not_yaml(reason: str) -> ConfigurationError:
    return ConfigurationError.of([Problem(0, "", reason)])


def _looks_like_csv(text: str) -> bool:
    """Whether ``text``'s first line reads as a CSV header (separators, no YAML key)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return ":" not in first and any(first.count(separator) >= 2 for separator in ",;\t")


def parse_config(text: str, *, base_dir: Path | None = None) -> LoadedConfig:
    """Validate a YAML document; raise a :class:`billing.errors.ConfigurationError` listing every
    problem.

    Relative ``file_path`` values are resolved against ``base_dir`` (the file's folder).
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        if _looks_like_csv(text):
            raise _not_yaml(_LOOKS_LIKE_CSV) from None
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigurationError.of([Problem(line, "(syntax)", str(exc.problem or exc))]) from None
    reader = NodeReader()
    if root is None:
        raise ConfigurationError.of([Problem(1, "accounts", "the file is empty")])
    if not isinstance(root, yaml.MappingNode):
        # Not an accounts file at all: say what it looks like, not "expected a mapping".
        raise _not_yaml(_LOOKS_LIKE_CSV if _looks_like_csv(text) else _NOT_ACCOUNTS)
    top = reader.mapping(root, "", required={"accounts"}, optional=set())
    accounts: list[AccountSetup] = []
    credentials: dict[ConnectionKey, PlatformCredentials] = {}
    webhook_secrets: dict[str, str] = {}
    webhook_urls: dict[str, str] = {}
    if top is not None and "accounts" in top:
        items = reader.sequence(top["accounts"], "accounts")
        if not items and not reader.problems:
            reader.problem(top["accounts"], "accounts", "lists no accounts")
        for index, item in enumerate(items):
            parsed = _parse_account(reader, item, f"accounts[{index}]", base_dir or Path.cwd())
            if parsed is not None:
                account, account_credentials, webhook = parsed
                accounts.append(account)
                for product, values in account_credentials.items():
                    credentials[(account.name, product)] = values
                if webhook is not None:
                    webhook_urls[account.name], webhook_secrets[account.name] = webhook
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
        raise ConfigurationError.of(reader.problems)
    return LoadedConfig(tuple(accounts), credentials, webhook_secrets, webhook_urls)


# -- accounts -----------------------------------------------------------------------------------


def _parse_account(
    reader: NodeReader, node: yaml.Node, path: str, base_dir: Path
) -> tuple[AccountSetup, dict[Product, PlatformCredentials], tuple[str, str] | None] | None:
    """The account's setup, its connections' credentials, and its webhook's URL and secret in
    clear (or ``None``)."""
    fields = reader.mapping(
        node,
        path,
        required={"name", "currency", "slack"},
        optional={
            "display_name",
            "timezone",
            "members",
            "subscriptions",
            "platforms",
            "approval",
            "reports",
            "billing_webhook",
        },
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
            team_id = reader.slack_id(slack.get("team_id"), f"{path}.slack.team_id", "team")
            if "channel_id" in slack:
                channel_id = reader.slack_id(
                    slack["channel_id"], f"{path}.slack.channel_id", "channel", optional=True
                )
    members = _parse_members(reader, fields.get("members"), f"{path}.members", team_id)
    subscriptions = parse_subscriptions(
        reader, fields.get("subscriptions"), f"{path}.subscriptions", currency
    )
    platforms = parse_platforms(reader, fields.get("platforms"), f"{path}.platforms", base_dir)
    approval = parse_approval(reader, fields.get("approval"), f"{path}.approval", team_id, currency)
    digest_at = _parse_reports(reader, fields.get("reports"), f"{path}.reports")
    webhook: tuple[WebhookSetup, tuple[str, str]] | None = None
    if "billing_webhook" in fields:
        webhook = _parse_webhook(reader, fields["billing_webhook"], f"{path}.billing_webhook")
    if len(reader.problems) > before or name is None or currency is None or team_id is None:
        return None
    account = AccountSetup(
        name=name,
        display_name=display_name or name,
        currency=currency,
        timezone=timezone,
        team_id=team_id,
        channel_id=channel_id,
        members=tuple(members),
        subscriptions=tuple(subscriptions),
        platforms=tuple(setup for setup, _ in platforms),
        line=node.start_mark.line + 1,
        approval=approval,
        digest_at=digest_at,
        billing_webhook=None if webhook is None else webhook[0],
    )
    credentials = {setup.product: values for setup, values in platforms if values}
    return account, credentials, None if webhook is None else webhook[1]


def _parse_webhook(
    reader: NodeReader, node: yaml.Node, path: str
) -> tuple[WebhookSetup, tuple[str, str]] | None:
    """``billing_webhook: {url, secret, allow_private_destinations}``: the setup (the URL's
    shown form, no secret) and the URL and secret in clear."""
    fields = reader.mapping(
        node, path, required={"url", "secret"}, optional={"allow_private_destinations"}
    )
    if fields is None:
        return None
    url = reader.text(fields.get("url"), f"{path}.url")
    problem = None if url is None else webhook_url_problem(url)
    if problem is not None:
        reader.problem(fields["url"], f"{path}.url", problem)
        url = None
    allow_private = "allow_private_destinations" in fields and reader.flag(
        fields["allow_private_destinations"], f"{path}.allow_private_destinations"
    )
    # Read as text whatever YAML would make of it, and never quoted back in a problem.
    secret = reader.text(fields.get("secret"), f"{path}.secret")
    if secret is not None and not is_webhook_secret(secret.strip()):
        reader.problem(fields["secret"], f"{path}.secret", NOT_WHSEC_MESSAGE)
        secret = None
    if url is None or secret is None:
        return None
    setup = WebhookSetup(
        url=shown_url(url), allow_private=allow_private, line=node.start_mark.line + 1
    )
    return setup, (url, secret.strip())


def _parse_reports(reader: NodeReader, node: yaml.Node | None, path: str) -> str | None:
    """``reports: {digest_at: "09:00"}``: the daily digest's local time, or ``None``."""
    if node is None or is_null(node):
        return None
    fields = reader.mapping(node, path, required=set(), optional={"digest_at"})
    if fields is None or "digest_at" not in fields:
        return None
    # The node's own text: YAML 1.1 would read an unquoted 09:00 as the number 540.
    text = reader.text(fields["digest_at"], f"{path}.digest_at", optional=True)
    if text is None:
        return None
    try:
        return parse_digest_time(text).strftime("%H:%M")
    except ValueError as error:
        reader.problem(fields["digest_at"], f"{path}.digest_at", str(error))
        return None


def _parse_members(
    reader: NodeReader, node: yaml.Node | None, path: str, team_id: str | None
) -> list[MemberSetup]:
    members: list[MemberSetup] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(reader.sequence(node, path)):
        where = f"{path}[{index}]"
        fields = reader.mapping(item, where, required={"user_id", "role"}, optional={"team_id"})
        if fields is None:
            continue
        user_id = reader.slack_id(fields.get("user_id"), f"{where}.user_id", "user")
        member_team = (
            reader.slack_id(fields["team_id"], f"{where}.team_id", "team")
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
        members.append(MemberSetup(member_team, user_id, role))
    return members
