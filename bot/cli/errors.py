"""How every ``seatbot`` command reports trouble: one line on stderr, a documented exit status.

Status 2 is bad input (an argument, an option, a file or an environment variable the operator
can fix), 1 a failure (a platform or the database could not be used, a demo step went wrong).
:func:`exit_for` is the one place the CLI maps the error tree (:mod:`billing.errors`): every
command runs through it (:class:`bot.cli.commands.SeatbotCommand`), so a command only raises.
The same problem is worded the same way by every command: use the ``*_message`` helpers.
"""

from __future__ import annotations

import re

import typer

from billing.errors import ConfigurationError, Failure, InvalidInput, UserFacingError
from billing.products import MAX_SEATS, Product, product_choices, within_seat_limit

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


def one_line(text: str) -> str:
    """``text`` on one line: its lines joined with ``; ``, surrounding spaces trimmed."""
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


# Owner-facing messages send the owner to the operator; the CLI's reader is the operator.
_ASK_THE_OPERATOR = re.compile(r"\b([Aa])sk the operator to (\w)")


def for_the_operator(message: str) -> str:
    """``message``, written for an account owner, as the operator reads it at the command line:
    "ask the operator to check it" becomes "check it"."""
    return _ASK_THE_OPERATOR.sub(
        lambda m: m.group(2).upper() if m.group(1) == "A" else m.group(2), message
    )


def say(message: str) -> None:
    """Print ``seatbot: message`` as one line on stderr (owner-facing advice to "ask the
    operator" reworded for the operator who reads it: :func:`for_the_operator`)."""
    typer.echo(f"seatbot: {for_the_operator(one_line(message))}", err=True)


def exit_for(error: UserFacingError) -> typer.Exit:
    """Say ``error`` on stderr (one line, or one per problem of a configuration file: each
    names its line and field, and the operator fixes them all) and return the exit: status 1
    when something outside the operator's input failed (a :class:`billing.errors.Failure`: a
    platform, the database, a stored secret), 2 for everything the input can fix."""
    multiple = isinstance(error, ConfigurationError) and error.problems
    for line in error.message.splitlines() if multiple else [error.message]:
        say(line)
    return typer.Exit(EXIT_FAILURE if isinstance(error, Failure) else EXIT_BAD_INPUT)


def fail_bad_input(message: str) -> InvalidInput:
    """The error for bad input: said on one line, exit status 2."""
    return InvalidInput(message)


def fail(message: str) -> Failure:
    """The error for a failure: said on one line, exit status 1."""
    return Failure(message)


def no_account_message(name: str) -> str:
    """The one wording for an unknown account name."""
    return f"no account named {name!r} (see `seatbot accounts`)"


def not_a_product_message(text: str) -> str:
    """The one wording for a product nobody calls that."""
    return f"{text!r} is not a product ({product_choices()})"


def no_subscription_message(account_name: str, product: Product) -> str:
    """The one wording for an account without a subscription to ``product``."""
    return f"{account_name} has no {product.label} subscription (see `seatbot accounts`)"


def parse_seat_count(text: str, name: str) -> int:
    """A seat count given as ``name`` (``SEATS``, ``--to``): a whole number from 0 to
    :data:`~billing.products.MAX_SEATS`, else exit 2 naming ``name``."""
    value = text.strip()
    # isdigit() alone would accept other scripts' digits; int() of a 30-digit text is fine.
    if value.isascii() and value.isdigit() and within_seat_limit(int(value)):
        return int(value)
    raise fail_bad_input(f"{name}: must be a whole number from 0 to {MAX_SEATS:,} (got {text!r})")
