"""Parsing the text of ``/seats``: pure functions from what the owner typed to a typed command.

Forms (case-insensitive, extra spaces ignored)::

    /seats                          open the seat-change modal
    /seats status | history | help
    /seats add N PRODUCT            N more seats
    /seats remove N PRODUCT         N fewer seats
    /seats set N PRODUCT            exactly N seats

Any form may carry ``account NAME`` (first or last) to pick one of several accounts of the
workspace. Anything else parses to :class:`Unrecognised` with the closest valid command.

The input is bounded before anything looks at it: a command longer than :data:`MAX_TEXT`
characters, or a number longer than six digits, is answered without being analysed, so no text
can make parsing slow (the suggester is quadratic in what it compares).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from billing.products import MAX_SEATS, PRODUCT_ALIASES, Product, parse_product, product_choices
from billing.seats import ChangeMode
from handlers.ids import SEATS_COMMAND as COMMAND

#: The longest text after ``/seats`` that is analysed; every real command is far shorter.
MAX_TEXT = 200
#: The most words of a command the suggester compares.
_MAX_WORDS = 8
#: The most of a typed word a problem repeats.
_ECHO = 40


@dataclass(frozen=True, slots=True)
class OpenModal:
    account: str | None = None


@dataclass(frozen=True, slots=True)
class ShowStatus:
    account: str | None = None


@dataclass(frozen=True, slots=True)
class ShowHistory:
    account: str | None = None


@dataclass(frozen=True, slots=True)
class ShowHelp:
    account: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeSeats:
    """``add``/``remove``/``set`` ``count`` seats of ``product``."""

    mode: ChangeMode
    count: int
    product: Product
    account: str | None = None

    @property
    def as_text(self) -> str:
        """The command in its canonical spelling, e.g. ``/seats add 3 axiom``."""
        return f"{COMMAND} {self.mode.value} {self.count} {self.product.slug}"


@dataclass(frozen=True, slots=True)
class Unrecognised:
    """Text that is not a valid command; ``suggestion`` is the closest one (``/seats …``)."""

    text: str
    problem: str
    suggestion: str


SeatsCommand = OpenModal | ShowStatus | ShowHistory | ShowHelp | ChangeSeats | Unrecognised

_SIMPLE: dict[str, type[ShowStatus | ShowHistory | ShowHelp]] = {
    "status": ShowStatus,
    "history": ShowHistory,
    "help": ShowHelp,
}
_VERBS = ("status", "history", "help", "add", "remove", "set")
_VERB_SYNONYMS = {
    "buy": "add",
    "plus": "add",
    "increase": "add",
    "delete": "remove",
    "drop": "remove",
    "minus": "remove",
    "decrease": "remove",
    "rm": "remove",
    "del": "remove",
}
_INTEGER = re.compile(r"[+-]?[0-9]+")
#: Numbers with more digits than this are never seat counts (and are not converted).
_MAX_DIGITS = 6


def product_from_alias(text: str) -> Product | None:
    """The product an owner means by ``text`` (``"CC"``, ``"contact center"``), or ``None``."""
    return parse_product(text)


def parse_seats_command(text: str) -> SeatsCommand:
    """Parse the text after ``/seats``. Never raises: bad input is :class:`Unrecognised`."""
    if len(text) > MAX_TEXT:
        return Unrecognised(
            text=text[:_ECHO],
            problem=f"That is too long to be a {COMMAND} command.",
            suggestion=f"{COMMAND} help",
        )
    words = text.split()
    account, words, account_problem = _split_account(words)
    if account_problem:
        return _unrecognised(text, account_problem, words)
    if not words:
        return OpenModal(account)
    verb = words[0].lower()
    if verb in _SIMPLE and len(words) == 1:
        return _SIMPLE[verb](account)
    if verb in (mode.value for mode in ChangeMode):
        return _parse_change(text, ChangeMode(verb), words[1:], account)
    return _unrecognised(text, f"I don't know the command `{words[0][:_ECHO]}`.", words)


def _split_account(words: list[str]) -> tuple[str | None, list[str], str | None]:
    lowered = [word.lower() for word in words]
    if "account" not in lowered:
        return None, words, None
    at = lowered.index("account")
    if at + 1 >= len(words):
        return None, words[:at], "`account` needs the account's name after it."
    if at not in (0, len(words) - 2):
        return None, words[:at] + words[at + 2 :], "Put `account NAME` first or last."
    return words[at + 1], words[:at] + words[at + 2 :], None


def _parse_change(
    text: str, mode: ChangeMode, rest: list[str], account: str | None
) -> SeatsCommand:
    if not rest or not _INTEGER.fullmatch(rest[0]) or rest[0].startswith("-"):
        return _unrecognised(
            text, f"`{mode.value}` needs a whole number of seats.", [mode.value, *rest]
        )
    if len(rest[0].lstrip("+")) > _MAX_DIGITS:
        # Syntax, not policy: no seat count has this many digits (billing judges the rest).
        problem = f"That number is too large: at most {MAX_SEATS:,} seats can be requested."
        return _unrecognised(text, problem, [mode.value, *rest])
    count = int(rest[0])
    product_text = " ".join(rest[1:])
    product = product_from_alias(product_text)
    if product is None:
        problem = (
            f"`{mode.value} {count}` needs a product: {product_choices()}."
            if not product_text
            else f"I don't know the product `{product_text[:_ECHO]}`."
        )
        return _unrecognised(text, problem, [mode.value, *rest])
    return ChangeSeats(mode, count, product, account)


def _unrecognised(text: str, problem: str, words: list[str]) -> Unrecognised:
    return Unrecognised(text=text, problem=problem, suggestion=suggest_command(words[:_MAX_WORDS]))


def suggest_command(words: list[str]) -> str:
    """The valid command closest to ``words`` (``["ad", "3", "axium"]`` → ``/seats add 3
    axiom``); ``/seats help`` when nothing is close."""
    lowered = [word.lower()[:_ECHO] for word in words[:_MAX_WORDS]]
    if not lowered:
        return f"{COMMAND} help"
    verb = _closest_verb(lowered[0])
    if verb is None:
        # "3 axiom add": look for a verb anywhere before giving up.
        found = [v for v in (_closest_verb(word) for word in lowered) if v is not None]
        verb = found[0] if found else None
    if verb is None:
        return f"{COMMAND} help"
    if verb in _SIMPLE:
        return f"{COMMAND} {verb}"
    numbers = [
        abs(int(word))
        for word in lowered
        if _INTEGER.fullmatch(word) and len(word.lstrip("+-")) <= _MAX_DIGITS
    ]
    count = min(max(numbers[0] if numbers else 1, 0 if verb == "set" else 1), MAX_SEATS)
    product = _closest_product(lowered)
    return f"{COMMAND} {verb} {count} {product.slug}"


def _closest_verb(word: str) -> str | None:
    if word in _VERB_SYNONYMS:
        return _VERB_SYNONYMS[word]
    matches = difflib.get_close_matches(word, _VERBS, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _closest_product(words: list[str]) -> Product:
    candidates = [word for word in words if not _INTEGER.fullmatch(word)]
    joined = " ".join(candidates[1:]) if len(candidates) > 1 else ""
    exact = product_from_alias(joined) if joined else None
    if exact is not None:
        return exact
    best: tuple[float, Product] = (0.0, Product.AXIOM)
    for word in [joined, *candidates[1:]]:
        for alias, product in PRODUCT_ALIASES.items():
            score = difflib.SequenceMatcher(None, word, alias).ratio()
            if score > best[0]:
                best = (score, product)
    return best[1]
