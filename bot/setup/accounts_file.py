"""The operator's accounts file (YAML): read, validated, and turned into setup values.

Parsing walks PyYAML's node tree (not plain dicts) so that every problem is reported with its
line and field, all of them at once; nothing is returned unless the whole file is valid. The
result is :class:`LoadedConfig`: billing's :class:`~billing.setup.specs.AccountSetup` values
(what ``bot.setup.loader.apply_config`` applies) and, kept apart from them, each platform
connection's credentials, which only ever leave this process encrypted.

A connection's ``options`` may hold credentials
(``bot.runtime.platform_credentials.CREDENTIAL_KEYS``: ``api_key``, ``login_email``, ``token``) and
settings (``SETTING_KEYS``); any other option is
refused, so that no secret reaches the database readable under a name nobody expected. An
account's ``billing_webhook`` (``url``, a Standard Webhooks ``secret``, and
``allow_private_destinations``) is where its billing events go; its secret and its URL (whose
query may hold a secret) are kept apart like the credentials, the setup holding the URL's shown
form only. Problems never quote a credential's value, a secret or a URL with credentials.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from billing.errors import ConfigurationError, Problem
from billing.events.destinations import webhook_url_problem
from billing.formatting import shown_url
from billing.models import Role
from billing.money import Money, MoneyError, normalise_currency
from billing.periods import Interval, PeriodError, zone
from billing.products import MAX_SEATS, ConnectionKind, Product
from billing.proration import DecreasePolicy, ProrationRule
from billing.reports.facts import parse_digest_time
from billing.setup.specs import (
    AccountSetup,
    MemberSetup,
    PlatformSetup,
    SubscriptionSetup,
    WebhookSetup,
)
from bot.runtime.platform_credentials import CREDENTIAL_KEYS, SETTING_KEYS, PlatformCredentials
from bot.setup.approval import parse_approval
from bot.setup.yaml_nodes import NodeReader, is_null
from bot.webhooks.config import NOT_WHSEC_MESSAGE, is_webhook_secret

__all__ = ["LoadedConfig", "load_file", "parse_config"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")


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


def parse_config(text: str, *, base_dir: Path | None = None) -> LoadedConfig:
    """Validate a YAML document; raise a :class:`billing.errors.ConfigurationError` listing every
    problem.

    Relative ``file_path`` values are resolved against ``base_dir`` (the file's folder).
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigurationError.of([Problem(line, "(syntax)", str(exc.problem or exc))]) from None
    reader = NodeReader()
    if root is None:
        raise ConfigurationError.of([Problem(1, "accounts", "the file is empty")])
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
    allow_private = False
    if "allow_private_destinations" in fields:
        value = reader.plain(
            fields["allow_private_destinations"], f"{path}.allow_private_destinations"
        )
        if not isinstance(value, bool):
            reader.problem(
                fields["allow_private_destinations"],
                f"{path}.allow_private_destinations",
                "must be true or false",
            )
        allow_private = value is True
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


def _slack_id(
    reader: NodeReader, node: yaml.Node | None, path: str, *, optional: bool = False
) -> str | None:
    value = reader.text(node, path, optional=optional)
    if value is not None and node is not None and not _SLACK_ID.fullmatch(value):
        reader.problem(node, path, f"{value!r} is not a Slack id (like T0123ABCD)")
        return None
    return value


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
        members.append(MemberSetup(member_team, user_id, role))
    return members


def _parse_subscriptions(
    reader: NodeReader, node: yaml.Node | None, path: str, currency: str | None
) -> list[SubscriptionSetup]:
    specs: list[SubscriptionSetup] = []
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
        seats = reader.whole_number(
            fields.get("seats"), f"{where}.seats", minimum=0, maximum=MAX_SEATS
        )
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
            SubscriptionSetup(
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


def _parse_options(
    reader: NodeReader, node: yaml.Node, path: str
) -> tuple[dict[str, Any], PlatformCredentials]:
    """A connection's ``options``, split into settings and credentials."""
    settings: dict[str, Any] = {}
    credentials: dict[str, str] = {}
    if is_null(node):
        return settings, PlatformCredentials(credentials)
    allowed = CREDENTIAL_KEYS | SETTING_KEYS
    fields = reader.mapping(node, path, required=set(), optional=set(allowed))
    for key, value in (fields or {}).items():
        if key in CREDENTIAL_KEYS:
            # Read as text whatever YAML would make of it, and never quoted back in a problem.
            secret = reader.text(value, f"{path}.{key}")
            if secret is not None:
                credentials[key] = secret
        else:
            settings[key] = reader.plain(value, f"{path}.{key}")
    return settings, PlatformCredentials(credentials)


def _parse_platforms(
    reader: NodeReader, node: yaml.Node | None, path: str, base_dir: Path
) -> list[tuple[PlatformSetup, PlatformCredentials]]:
    specs: list[tuple[PlatformSetup, PlatformCredentials]] = []
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
        credentials = PlatformCredentials({})
        if "options" in fields:
            options, credentials = _parse_options(reader, fields["options"], f"{where}.options")
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
        setup = PlatformSetup(
            product=product,
            kind=kind,
            base_url=base_url if kind is ConnectionKind.API else None,
            file_path=file_path,
            options=options,
            line=item.start_mark.line + 1,
        )
        specs.append((setup, credentials))
    return specs
