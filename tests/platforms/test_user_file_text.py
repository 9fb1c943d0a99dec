"""Decoding a user file's bytes: Excel's encodings, and never a silent guess."""

from __future__ import annotations

import pytest

from billing.errors import InvalidInput
from platforms.user_file_text import (
    DecodedText,
    UserFileEncodingError,
    check_encoding,
    decode_text,
)

HEADER = "User_name,Email,Ext_number\r\n"
JAPANESE = HEADER + "山田 太郎,taro@example.jp,101\r\n"


def test_cp1252_is_chosen_only_when_the_bytes_are_not_utf8() -> None:
    # "Ã©" in cp1252 is the UTF-8 encoding of "é": valid UTF-8 wins, as it must.
    assert decode_text("é".encode(), "x.csv") == DecodedText("é", "utf-8", "UTF-8")
    assert decode_text(b"\xe9", "x.csv") == DecodedText("é", "cp1252", "Windows-1252")


@pytest.mark.parametrize(
    "text",
    [
        HEADER + "José Núñez,jose@example.com,101\r\n",
        HEADER + "François Œuvre – “Fanfan”,f@example.com,102\r\n",
        HEADER + "Zoë Ångström,zoe@example.com,103\r\nJürgen Weiß,j@example.com,104\r\n",
    ],
)
def test_western_files_read_as_windows_1252(text: str) -> None:
    decoded = decode_text(text.encode("cp1252"), "x.csv")
    assert (decoded.text, decoded.label) == (text, "Windows-1252")


@pytest.mark.parametrize("encoding", ["shift_jis", "cp932", "euc_jp"])
def test_japanese_names_are_never_read_garbled(encoding: str) -> None:
    data = JAPANESE.encode(encoding)
    with pytest.raises(UserFileEncodingError) as raised:
        decode_text(data, "users.csv")
    message = str(raised.value)
    assert message.startswith("users.csv is not UTF-8, and which encoding it is in cannot be told")
    assert "山田 太郎" in message  # the right reading is among those shown
    assert "ŽR“c" not in decode_text(data, "users.csv", encoding).text
    assert decode_text(data, "users.csv", encoding).text == JAPANESE
    # How the reader names the encoding is the caller's (a flag, a connection option).
    with pytest.raises(UserFileEncodingError, match="say which \\(for example ENC shift_jis\\)"):
        decode_text(data, "users.csv", how_to_say="ENC shift_jis")


def test_a_named_encoding_is_labelled_and_must_fit() -> None:
    decoded = decode_text(JAPANESE.encode("shift_jis"), "u.csv", "Shift_JIS")
    assert (decoded.text, decoded.encoding, decoded.label) == (JAPANESE, "shift_jis", "Shift-JIS")
    with pytest.raises(UserFileEncodingError, match=r"u.csv is not UTF-8 text \(byte 0x8e"):
        decode_text(JAPANESE.encode("shift_jis"), "u.csv", "utf-8")
    bom = decode_text(b"\xef\xbb\xbf" + HEADER.encode(), "u.csv", "utf-8")
    assert bom.text == HEADER


@pytest.mark.parametrize("name", ["klingon", "rot13", "base64"])
def test_an_unknown_encoding_is_bad_input(name: str) -> None:
    with pytest.raises(InvalidInput, match=f"--encoding: '{name}' is not a text encoding"):
        check_encoding(name)
