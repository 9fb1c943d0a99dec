"""The import-file validator and the import-file Platform."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest
from platform_fakes import file_row, write_user_file

from platforms.connection import PlatformConnection
from platforms.errors import PlatformDataError, PlatformUnavailable
from platforms.factory import build_platform
from platforms.importfile import COLUMNS, RowProblem, validate_user_file
from platforms.types import Level, Product, UserStatus
from platforms.user_file_text import UserFileEncodingError, UserFileError

SUFFIXES = [".csv", ".xlsx"]


def bad_file_rows() -> list[list[str]]:
    rows = [file_row(i) for i in range(6)]
    rows[2][1] = rows[0][1].upper()  # row 4: duplicate email (case does not matter)
    rows[3][2] = "99"  # row 5: extension below 100
    rows[4][4] = "3"  # row 6: a manager...
    rows[4][7] = ""  # ...without groups
    return rows


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_every_bad_row_is_reported(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"users{suffix}"
    write_user_file(path, bad_file_rows())
    report = validate_user_file(path)
    assert report.rows_checked == 6
    assert report.problems == [
        RowProblem(4, "Email", "duplicate of row 2"),
        RowProblem(5, "Ext_number", "must be between 100 and 9000"),
        RowProblem(6, "Groups", "required for managers"),
    ]
    assert report.bad_rows == [4, 5, 6]
    assert not report.ok
    assert len(report.users) == 3


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_clean_file_passes(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"users{suffix}"
    write_user_file(path, [file_row(i) for i in range(40)])
    report = validate_user_file(path)
    assert report.ok
    assert report.rows_checked == 40
    assert [user.extension for user in report.users] == list(range(100, 140))
    first = report.users[1]
    assert (first.email, first.level, first.status) == (
        "person1@acme.example.com",
        Level.MANAGER,
        UserStatus.INACTIVE,
    )


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("Email", "", "required"),
        ("Email", "not-an-email", "not a valid email address"),
        ("Ext_number", "", "required"),
        ("Ext_number", "12a", "must be a whole number"),
        ("Ext_number", "9001", "must be between 100 and 9000"),
        ("Level_ID", "5", "must be 2 (admin), 3 (manager) or 4 (agent)"),
        ("Level_ID", "", "required (2 admin, 3 manager, 4 agent)"),
        ("Groups", "10;11", "must be group ids separated by commas"),
        ("Type", "3", "must be 0 (web), 1 (SIP) or 2 (SIP/TLS)"),
        ("Call_waiting", "yes", "must be 0 or 1"),
        ("Status", "2", "must be 0 (inactive) or 1 (active)"),
        ("Force_login", "2", "must be 0 or 1"),
        ("Phone", "+49 30 1234", "must be digits only"),
        ("Language", "English", "must be a language code such as en, es or fr"),
        ("Role_id", "admin", "must be a whole number"),
    ],
)
def test_each_rule(tmp_path: Path, column: str, value: str, reason: str) -> None:
    rows = [file_row(i) for i in range(3)]
    rows[1][COLUMNS.index(column)] = value
    path = tmp_path / "users.csv"
    write_user_file(path, rows)
    assert validate_user_file(path).problems == [RowProblem(3, column, reason)]


def test_duplicate_extension_and_several_problems_in_one_row(tmp_path: Path) -> None:
    rows = [file_row(i) for i in range(3)]
    rows[2][2] = rows[0][2]
    rows[2][8] = "7"
    path = tmp_path / "users.csv"
    write_user_file(path, rows)
    assert validate_user_file(path).problems == [
        RowProblem(4, "Ext_number", "duplicate of row 2"),
        RowProblem(4, "Type", "must be 0 (web), 1 (SIP) or 2 (SIP/TLS)"),
    ]


def test_wrong_header_is_reported_and_rows_are_not_guessed(tmp_path: Path) -> None:
    header = list(COLUMNS)
    header[1] = "E-mail"
    path = tmp_path / "users.csv"
    write_user_file(path, [file_row(0)], header=tuple(header))
    report = validate_user_file(path)
    assert report.rows_checked == 0
    assert report.problems == [
        RowProblem(1, "Email", 'expected column "Email" here, found "E-mail"')
    ]


def test_blank_rows_are_skipped_and_row_numbers_stay_true(tmp_path: Path) -> None:
    path = tmp_path / "users.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    sheet.append(file_row(0))
    sheet.append([])
    sheet.append([])
    bad = file_row(1)
    bad[2] = "50"
    sheet.cell(row=5, column=1, value=bad[0])
    for column, value in enumerate(bad, start=1):
        sheet.cell(row=5, column=column, value=value)
    workbook.save(path)
    report = validate_user_file(path)
    assert report.rows_checked == 2
    assert report.problems == [RowProblem(5, "Ext_number", "must be between 100 and 9000")]


def test_semicolon_csv_from_a_european_excel(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    lines = [";".join(COLUMNS), ";".join(file_row(0)).replace("10,11", "10")]
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    assert validate_user_file(path).ok


def test_passwords_never_appear_in_problems(tmp_path: Path) -> None:
    rows = [file_row(i) for i in range(2)]
    rows[1][3] = "Hunter2-secret"
    rows[1][2] = "5"
    path = tmp_path / "users.csv"
    write_user_file(path, rows)
    problems = validate_user_file(path).problems
    assert problems
    assert all("Hunter2" not in f"{p.column} {p.reason}" for p in problems)


@pytest.mark.parametrize("name", ["missing.csv", "users.txt"])
def test_unreadable_files(tmp_path: Path, name: str) -> None:
    (tmp_path / "users.txt").write_text("x")
    with pytest.raises(UserFileError):
        validate_user_file(tmp_path / name)


def test_a_corrupt_workbook(tmp_path: Path) -> None:
    path = tmp_path / "users.xlsx"
    path.write_bytes(b"not a zip file")
    with pytest.raises(UserFileError, match=r"not a readable \.xlsx"):
        validate_user_file(path)


async def test_platform_refuses_a_file_with_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    write_user_file(path, bad_file_rows())
    platform = build_platform(
        PlatformConnection(product=Product.AXIOM, kind="import_file", file_path=path)
    )
    with pytest.raises(PlatformDataError, match=r"3 bad row\(s\) \(first: row 4, Email"):
        await platform.list_users()


async def test_platform_reports_a_missing_file(tmp_path: Path) -> None:
    platform = build_platform(
        PlatformConnection(product=Product.AXIOM, kind="import_file", file_path=tmp_path / "x.csv")
    )
    with pytest.raises(PlatformUnavailable, match="could not read the Axiom user file"):
        await platform.list_users()


def _csv_text(name: str = "José Núñez") -> str:
    row = file_row(0)
    row[0] = name
    return ",".join(COLUMNS) + "\r\n" + ",".join(row) + "\r\n"


@pytest.mark.parametrize(
    ("encoded", "label"),
    [
        (_csv_text().encode("utf-8"), "UTF-8"),
        (b"\xef\xbb\xbf" + _csv_text().encode("utf-8"), "UTF-8 with BOM"),
        (_csv_text().encode("cp1252"), "Windows-1252"),
        (b"\xff\xfe" + _csv_text().encode("utf-16-le"), "UTF-16 LE"),
        (b"\xfe\xff" + _csv_text().encode("utf-16-be"), "UTF-16 BE"),
    ],
)
def test_the_encodings_excel_saves_are_read_and_named(
    tmp_path: Path, encoded: bytes, label: str
) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(encoded)
    report = validate_user_file(path)
    assert report.ok, report.problems
    assert report.encoding == label
    assert report.users[0].name == "José Núñez"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_csv_text().encode("cp1252") + b"\x81", "not text in UTF-8, UTF-16 or Windows-1252"),
        (b"PK\x03\x04\x00\x00binary", "not a text file"),
        (b"\xff\xfe" + b"\x00\xd8", "starts like UTF-16 LE text"),
    ],
)
def test_undecodable_files_say_what_is_wrong(tmp_path: Path, data: bytes, words: str) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(data)
    with pytest.raises(UserFileEncodingError, match=words) as raised:
        validate_user_file(path)
    assert "users.csv" in str(raised.value)
    assert "CSV UTF-8" in str(raised.value)


async def test_platform_reports_an_undecodable_file_as_data_it_cannot_trust(
    tmp_path: Path,
) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(_csv_text().encode("cp1252") + b"\x81")
    platform = build_platform(
        PlatformConnection(product=Product.MATRIX, kind="import_file", file_path=path)
    )
    with pytest.raises(PlatformDataError, match="could not read the Matrix user file") as raised:
        await platform.list_users()
    # An owner-facing sentence: what is wrong and what to do, no Python error names.
    assert "UnicodeDecodeError" not in raised.value.message
    assert "save it again" in raised.value.message


def _japanese_file() -> bytes:
    names = ["山田 太郎", "佐藤 花子"]
    rows = [file_row(i) for i in range(len(names))]
    for row, name in zip(rows, names, strict=True):
        row[0] = name
    text = io.StringIO()
    csv.writer(text).writerows([list(COLUMNS), *rows])
    return text.getvalue().encode("shift_jis")


def test_a_shift_jis_file_is_refused_with_advice_or_read_as_said(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(_japanese_file())
    with pytest.raises(UserFileEncodingError) as raised:
        validate_user_file(path)
    message = str(raised.value)
    assert "cannot be told for sure" in message
    assert "Shift-JIS '山田 太郎" in message  # the reading a person recognises is shown
    assert "--encoding shift_jis" in message
    report = validate_user_file(path, "shift_jis")
    assert report.ok, report.problems
    assert [user.name for user in report.users] == ["山田 太郎", "佐藤 花子"]
    assert report.encoding == "Shift-JIS"


async def test_a_connection_reads_its_user_file_in_the_encoding_it_names(
    tmp_path: Path,
) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(_japanese_file())
    guessing = build_platform(
        PlatformConnection(product=Product.MATRIX, kind="import_file", file_path=path)
    )
    with pytest.raises(PlatformDataError) as raised:
        await guessing.list_users()
    # The owner is told how the encoding is named for a connection, not a CLI flag.
    assert "`encoding: shift_jis` in the connection's options" in raised.value.message
    named = build_platform(
        PlatformConnection(
            product=Product.MATRIX, kind="import_file", file_path=path, file_encoding="shift_jis"
        )
    )
    assert [user.name for user in await named.list_users()] == ["山田 太郎", "佐藤 花子"]


async def test_platform_reads_a_windows_1252_file(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(_csv_text().encode("cp1252"))
    platform = build_platform(
        PlatformConnection(product=Product.MATRIX, kind="import_file", file_path=path)
    )
    assert [user.name for user in await platform.list_users()] == ["José Núñez"]


def test_a_folder_is_not_a_user_file(tmp_path: Path) -> None:
    folder = tmp_path / "users.csv"
    folder.mkdir()
    with pytest.raises(UserFileError, match="is a folder, not a user file"):
        validate_user_file(folder)
