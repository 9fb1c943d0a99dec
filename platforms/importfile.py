"""The platforms' user import file (CSV or Excel ``.xlsx``): a validator that reports every bad
row, and a :class:`platforms.types.Platform` that reads the users from such a file, for accounts
without API access.

The columns, in this order, are those Squaretalk documents for its user import:
``User_name, Email, Ext_number, Password, Level_ID, Role_id, Language, Groups, Type,
Call_waiting, Status, Force_login, Phone``. The rules are in ``platforms/README.md``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path

import openpyxl

from platforms.errors import PlatformDataError, PlatformUnavailable
from platforms.types import Level, PlatformUser, Product, UserStatus
from platforms.user_file_text import (
    ENCODING_FLAG_EXAMPLE,
    UserFileEncodingError,
    UserFileError,
    decode_text,
)

COLUMNS: tuple[str, ...] = (
    "User_name",
    "Email",
    "Ext_number",
    "Password",
    "Level_ID",
    "Role_id",
    "Language",
    "Groups",
    "Type",
    "Call_waiting",
    "Status",
    "Force_login",
    "Phone",
)
LEVELS_BY_ID = {"2": Level.ADMIN, "3": Level.MANAGER, "4": Level.AGENT}
EXTENSION_MIN = 100
EXTENSION_MAX = 9000

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_LANGUAGE = re.compile(r"[a-z]{2}([-_][A-Za-z]{2})?")
_GROUP_ID = re.compile(r"[A-Za-z0-9_-]+")
_PHONE = re.compile(r"\+?[0-9]+")


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One reason a row is bad. ``row`` is the row number as a spreadsheet shows it (the header
    is row 1); ``column`` is the column's documented name."""

    row: int
    column: str
    reason: str


@dataclass(frozen=True)
class ValidationReport:
    """Every problem found in a file, and the users of the rows that had none."""

    rows_checked: int
    problems: list[RowProblem] = field(default_factory=list)
    users: list[PlatformUser] = field(default_factory=list)
    #: How a CSV file was decoded (``UTF-8``, ``UTF-8 with BOM``, ``UTF-16 LE``,
    #: ``Windows-1252``); ``None`` for a workbook.
    encoding: str | None = None

    @property
    def ok(self) -> bool:
        """True when no row has a problem."""
        return not self.problems

    @property
    def bad_rows(self) -> list[int]:
        """The distinct row numbers that have at least one problem, in order."""
        return sorted({problem.row for problem in self.problems})


def validate_user_file(
    path: Path, encoding: str | None = None, *, how_to_say: str = ENCODING_FLAG_EXAMPLE
) -> ValidationReport:
    """Read and check a user import file (``.csv`` or ``.xlsx``); report every bad row.

    A CSV file is read in ``encoding`` when given, else in the one encoding its bytes can be
    (:func:`platforms.user_file_text.decode_text`; ``how_to_say`` is how its reader names an
    encoding). Raises :class:`UserFileError` when the file cannot be read at all
    (:class:`UserFileEncodingError` when a CSV file's bytes are not text Excel writes, or its
    encoding cannot be told).
    """
    rows, label = _read_table(path, encoding, how_to_say)
    return replace(validate_rows(rows), encoding=label)


def read_rows(path: Path, encoding: str | None = None) -> list[tuple[int, list[str]]]:
    """The file's rows as ``(spreadsheet row number, cell texts)``, header included."""
    return _read_table(path, encoding, ENCODING_FLAG_EXAMPLE)[0]


def _read_table(
    path: Path, encoding: str | None, how_to_say: str
) -> tuple[list[tuple[int, list[str]]], str | None]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise UserFileError(f"{path.name} is neither a .csv nor an .xlsx file.")
    try:
        if path.is_dir():
            raise UserFileError(f"{path} is a folder, not a user file.")
        if suffix == ".csv":
            decoded = decode_text(path.read_bytes(), path.name, encoding, how_to_say=how_to_say)
            return list(_read_csv(decoded.text)), decoded.label
        return list(_read_xlsx(path)), None
    except FileNotFoundError:
        raise UserFileError(f"There is no file at {path}.") from None
    except PermissionError:
        raise UserFileError(f"{path} cannot be read: permission denied.") from None
    except OSError as exc:
        raise UserFileError(f"The file {path} could not be read ({exc.strerror}).") from None


def _read_csv(text: str) -> Iterator[tuple[int, list[str]]]:
    # The dialect is sniffed because Excel in many locales separates with semicolons.
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t")
    except csv.Error:
        dialect = csv.excel
    for number, cells in enumerate(csv.reader(io.StringIO(text, newline=""), dialect), start=1):
        yield number, [cell.strip() for cell in cells]


def _read_xlsx(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError:
        raise
    except Exception:  # openpyxl raises zipfile, KeyError and its own errors for bad files
        raise UserFileError(f"{path.name} is not a readable .xlsx workbook.") from None
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows():
            cells = [_cell_text(cell.value) for cell in row]
            number = next((c.row for c in row if getattr(c, "row", None)), None)
            if number is not None:
                yield number, cells
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores every number as a float: 101.0 is extension 101
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def validate_rows(rows: Iterable[tuple[int, list[str]]]) -> ValidationReport:
    """Check rows as read by :func:`read_rows` (the first is the header)."""
    iterator = iter(rows)
    header = next(iterator, None)
    if header is None:
        return ValidationReport(0, [RowProblem(1, "header", "the file is empty")])
    header_problems = _check_header(header[0], header[1])
    if header_problems:
        # Without the documented header the columns cannot be trusted to mean what they say.
        return ValidationReport(0, header_problems)
    problems: list[RowProblem] = []
    users: list[PlatformUser] = []
    first_row_by_email: dict[str, int] = {}
    first_row_by_extension: dict[int, int] = {}
    rows_checked = 0
    for number, cells in iterator:
        if not any(cells):
            continue  # spreadsheets keep blank rows at the end; they are not users
        rows_checked += 1
        row_problems, user = _check_row(number, cells, first_row_by_email, first_row_by_extension)
        problems.extend(row_problems)
        if user is not None and not row_problems:
            users.append(user)
    return ValidationReport(rows_checked, problems, users)


def _check_header(number: int, cells: list[str]) -> list[RowProblem]:
    while cells and not cells[-1]:
        cells = cells[:-1]
    problems = []
    for position, expected in enumerate(COLUMNS):
        found = cells[position] if position < len(cells) else ""
        if found.casefold() != expected.casefold():
            reason = f'expected column "{expected}" here, found "{found}"' if found else "missing"
            problems.append(RowProblem(number, expected, reason))
    for extra in cells[len(COLUMNS) :]:
        problems.append(RowProblem(number, extra, "not a documented column"))
    return problems


def _check_row(
    number: int,
    cells: list[str],
    first_row_by_email: dict[str, int],
    first_row_by_extension: dict[int, int],
) -> tuple[list[RowProblem], PlatformUser | None]:
    values = dict(zip(COLUMNS, cells + [""] * (len(COLUMNS) - len(cells)), strict=False))
    problems: list[RowProblem] = []

    def bad(column: str, reason: str) -> None:
        problems.append(RowProblem(number, column, reason))

    if any(cells[len(COLUMNS) :]):
        bad("(extra)", f"has values after the {len(COLUMNS)} documented columns")

    email_address = values["Email"]
    if not email_address:
        bad("Email", "required")
    elif not _EMAIL.fullmatch(email_address):
        bad("Email", "not a valid email address")
    elif email_address.casefold() in first_row_by_email:
        bad("Email", f"duplicate of row {first_row_by_email[email_address.casefold()]}")
    else:
        first_row_by_email[email_address.casefold()] = number

    extension: int | None = None
    raw_extension = values["Ext_number"]
    if not raw_extension:
        bad("Ext_number", "required")
    elif not raw_extension.isdigit():
        bad("Ext_number", "must be a whole number")
    elif not EXTENSION_MIN <= int(raw_extension) <= EXTENSION_MAX:
        bad("Ext_number", f"must be between {EXTENSION_MIN} and {EXTENSION_MAX}")
    elif int(raw_extension) in first_row_by_extension:
        bad("Ext_number", f"duplicate of row {first_row_by_extension[int(raw_extension)]}")
    else:
        extension = int(raw_extension)
        first_row_by_extension[extension] = number

    level = LEVELS_BY_ID.get(values["Level_ID"])
    if not values["Level_ID"]:
        bad("Level_ID", "required (2 admin, 3 manager, 4 agent)")
    elif level is None:
        bad("Level_ID", "must be 2 (admin), 3 (manager) or 4 (agent)")

    groups = values["Groups"]
    if groups:
        if not all(_GROUP_ID.fullmatch(group.strip()) for group in groups.split(",")):
            bad("Groups", "must be group ids separated by commas")
    elif level in (Level.MANAGER, Level.AGENT):
        bad("Groups", f"required for {level.value}s")

    if values["Role_id"] and not values["Role_id"].isdigit():
        bad("Role_id", "must be a whole number")
    if values["Language"] and not _LANGUAGE.fullmatch(values["Language"]):
        bad("Language", "must be a language code such as en, es or fr")
    if values["Type"] not in ("", "0", "1", "2"):
        bad("Type", "must be 0 (web), 1 (SIP) or 2 (SIP/TLS)")
    for flag in ("Call_waiting", "Force_login"):
        if values[flag] not in ("", "0", "1"):
            bad(flag, "must be 0 or 1")
    if values["Status"] not in ("", "0", "1"):
        bad("Status", "must be 0 (inactive) or 1 (active)")
    if values["Phone"] and not _PHONE.fullmatch(values["Phone"]):
        bad("Phone", "must be digits only")
    # Password is deliberately never checked against anything shown back: it is a secret.

    if problems or extension is None or level is None:
        return problems, None
    user = PlatformUser(
        platform_id=email_address.casefold(),
        email=email_address,
        name=values["User_name"],
        extension=extension,
        level=level,
        status=UserStatus.INACTIVE if values["Status"] == "0" else UserStatus.ACTIVE,
    )
    return problems, user


#: How the owner of a file read through a connection names its encoding.
ENCODING_OPTION_EXAMPLE = "`encoding: shift_jis` in the connection's options (accounts file)"


class ImportFilePlatform:
    """A :class:`platforms.types.Platform` whose users come from an import file.

    The file is read on every listing (in a worker thread), so an owner who fixes it is seen at
    once. A file with any bad row is not trusted: listing raises :class:`PlatformDataError`.
    """

    def __init__(self, product: Product, path: Path, encoding: str | None = None) -> None:
        self._product = product
        self._path = path
        self._encoding = encoding

    @property
    def product(self) -> Product:
        """The product the file describes."""
        return self._product

    @property
    def label(self) -> str:
        """The product's owner-facing name, marking that the source is a file."""
        return f"{self._product.label} (user file)"

    async def list_users(self) -> list[PlatformUser]:
        """Every user in the file; raises when the file is unreadable or has bad rows."""
        try:
            report = await asyncio.to_thread(
                validate_user_file, self._path, self._encoding, how_to_say=ENCODING_OPTION_EXAMPLE
            )
        except UserFileEncodingError as exc:
            raise PlatformDataError(
                f"Seatbot could not read the {self._product.label} user file: {exc} "
                "Nothing was changed.",
                product_label=self.label,
            ) from None
        except UserFileError as exc:
            raise PlatformUnavailable(
                f"Seatbot could not read the {self._product.label} user file: {exc} "
                "Nothing was changed; ask the operator to check it.",
                product_label=self.label,
            ) from None
        if not report.ok:
            first = report.problems[0]
            raise PlatformDataError(
                f"The {self._product.label} user file has {len(report.bad_rows)} bad row(s) "
                f"(first: row {first.row}, {first.column}: {first.reason}); nothing was changed; "
                "run `seatbot users validate` on it and fix them.",
                product_label=self.label,
            )
        return report.users

    async def aclose(self) -> None:
        """Nothing to release."""
