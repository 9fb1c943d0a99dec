"""Reading PyYAML nodes with their line numbers: typed values, and every problem at once.

:class:`NodeReader` records a :class:`Problem` (line and field) instead of stopping at the first
one, so a file's mistakes are all reported together
(:meth:`billing.errors.ConfigurationError.of` carries them).
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Literal

import yaml

from billing.errors import Problem
from billing.money import Money, MoneyError

_NULL_TAG = "tag:yaml.org,2002:null"
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")
#: A channel's: public (C), private made before 2021 (G), a direct message (D); not a team's T….
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{1,31}$")

#: The kinds of Slack id an accounts file names, and an example of each as Slack shows them.
SlackIdKind = Literal["team", "user", "channel"]
_EXAMPLES: dict[str, str] = {"team": "T0123ABCD", "user": "U0123ABCD", "channel": "C0123ABCD"}


class NodeReader:
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
                close = difflib.get_close_matches(key, sorted(required | optional), n=1)
                guess = f"; did you mean {close[0]}?" if close else ""
                self.problem(key_node, where, f"unknown field (allowed: {allowed}){guess}")
            else:
                fields[key] = value_node
        for key in sorted(required - fields.keys()):
            self.problem(node, f"{path}.{key}" if path else key, "is required")
        return fields

    def sequence(self, node: yaml.Node | None, path: str) -> list[yaml.Node]:
        if node is None or is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, path, "expected a list")
            return []
        return list(node.value)

    def text(self, node: yaml.Node | None, path: str, *, optional: bool = False) -> str | None:
        if node is None or is_null(node):
            if not optional and node is not None:
                self.problem(node, path, "must not be empty")
            return None
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            self.problem(node, path, "expected a non-empty text value")
            return None
        return str(node.value).strip()

    def whole_number(
        self, node: yaml.Node | None, path: str, *, minimum: int, maximum: int
    ) -> int | None:
        value = self.text(node, path)
        if value is None or node is None:
            return None
        if re.fullmatch(r"[+-]?[0-9]+", value) and minimum <= int(value) <= maximum:
            return int(value)
        self.problem(
            node,
            path,
            f"must be a whole number from {minimum:,} to {maximum:,} (the file says {value})",
        )
        return None

    def slack_id(
        self,
        node: yaml.Node | None,
        path: str,
        kind: SlackIdKind,
        *,
        optional: bool = False,
    ) -> str | None:
        """A Slack id of ``kind`` (team, user, channel): capital letters and digits, a channel's
        starting with C, G or D; a bad one is named with an example of that kind."""
        value = self.text(node, path, optional=optional)
        pattern = _CHANNEL_ID if kind == "channel" else _SLACK_ID
        if value is not None and node is not None and not pattern.fullmatch(value):
            self.problem(node, path, f"{value!r} is not a Slack {kind} id (like {_EXAMPLES[kind]})")
            return None
        return value

    def amount(self, node: yaml.Node | None, path: str, currency: str | None) -> Money | None:
        """A non-negative amount in ``currency`` written as text (``"500.00"``); ``None`` when
        there is no currency to read it in."""
        text = self.text(node, path)
        if text is None or node is None or currency is None:
            return None
        try:
            amount = Money.parse(text, currency)
        except MoneyError as exc:
            self.problem(node, path, str(exc))
            return None
        if amount.minor < 0:
            self.problem(node, path, "cannot be negative")
            return None
        return amount

    def flag(self, node: yaml.Node, path: str) -> bool:
        """``true`` or ``false``; anything else is a problem, and false."""
        value = self.plain(node, path)
        if not isinstance(value, bool):
            self.problem(node, path, "must be true or false")
        return value is True

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


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG
