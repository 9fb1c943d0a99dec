"""How every ``seatbot`` command reports trouble: one line on stderr, a documented exit status.

Status 2 is bad input (an argument, an option, a file or an environment variable the operator
can fix), 1 a failure (a platform or the database could not be used, a demo step went wrong).
The same problem is worded the same way by every command: use the ``*_message`` helpers.
"""

from __future__ import annotations

import typer

from billing.errors import UserFacingError
from billing.products import MAX_SEATS, Product, product_choices
from bot.runtime.db import DatabaseUnavailable
from platforms.errors import PlatformError

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


def one_line(text: str) -> str:
    """``text`` on one line: its lines joined with ``; ``, surrounding spaces trimmed."""
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


def say(message: str) -> None:
    """Print ``seatbot: message`` as one line on stderr."""
    typer.echo(f"seatbot: {one_line(message)}", err=True)


def fail_bad_input(message: str) -> typer.Exit:
    """Print ``message`` as one line on stderr and return the exit for bad input (status 2)."""
    say(message)
    return typer.Exit(EXIT_BAD_INPUT)


def fail(message: str) -> typer.Exit:
    """Print ``message`` as one line on stderr and return the exit for a failure (status 1)."""
    say(message)
    return typer.Exit(EXIT_FAILURE)


def exit_status(error: UserFacingError) -> int:
    """The exit status for an expected error: 1 when something outside the operator's input
    failed (a platform, the database), 2 for everything the input can fix."""
    if isinstance(error, PlatformError | DatabaseUnavailable):
        return EXIT_FAILURE
    return EXIT_BAD_INPUT


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
    if value.isascii() and value.isdigit() and int(value) <= MAX_SEATS:
        return int(value)
    raise fail_bad_input(f"{name}: must be a whole number from 0 to {MAX_SEATS:,} (got {text!r})")
