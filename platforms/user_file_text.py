"""The text of a user import file saved as CSV: which encoding its bytes are in, never guessed
silently.

Excel saves CSV as UTF-8 (with a byte-order mark: "CSV UTF-8"), as UTF-16 ("Unicode text") or in
the code page of the Windows it runs on: Windows-1252 in Western Europe and the Americas,
Shift-JIS (cp932) in Japan, and so on. A byte-order mark decides; valid UTF-8 is UTF-8. Other
bytes are read as Windows-1252 and as each multi-byte code page (Shift-JIS, Korean, Chinese)
that ``charset-normalizer`` finds plausible: one reading is used, and named; when readings differ
(Shift-JIS names are also valid Windows-1252 and Korean bytes: 山田 太郎 reads as ``ŽR“c ‘¾˜Y``
and ``랹밹 뫞쁚``) the file is refused naming them, with the advice to say its encoding
(``--encoding``), rather than read garbled. Other single-byte code pages (Windows-1250, -1251)
are never guessed, since they read any bytes: they are read when the operator names them.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from charset_normalizer import from_bytes
from charset_normalizer.utils import is_multi_byte_encoding

from billing.errors import InvalidInput


class UserFileError(InvalidInput):
    """The file itself cannot be read (missing, unknown type, not a workbook). The message is
    written for the account owner."""


class UserFileEncodingError(UserFileError):
    """The file's bytes are not text in any encoding Excel saves CSV files in, or could be
    several of them; re-reading the same file cannot help: the owner must save it again or say
    which encoding it is in."""


#: Byte-order marks, checked longest first: the encodings Excel's "CSV UTF-8" and "Unicode
#: text" exports start with.
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8 with BOM"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 BE"),
)

#: What people call the code pages a spreadsheet saves CSV in (Python's codec names as keys).
_LABELS = {
    "utf_8": "UTF-8",
    "cp1252": "Windows-1252",
    "cp1250": "Windows-1250",
    "cp1251": "Windows-1251",
    "cp932": "Shift-JIS",
    "shift_jis": "Shift-JIS",
    "shift_jis_2004": "Shift-JIS",
    "euc_jp": "EUC-JP",
    "euc_jis_2004": "EUC-JP",
    "cp949": "Korean (CP949)",
    "euc_kr": "Korean (EUC-KR)",
    "gb18030": "Chinese (GB18030)",
    "gb2312": "Chinese (GB2312)",
    "big5": "Chinese (Big5)",
    "big5hkscs": "Chinese (Big5-HKSCS)",
}

#: Excel's CSV encoding on Western Windows: the one single-byte code page guessed.
_WESTERN = "cp1252"

_SAVE_AS_UTF8 = "save it again from the spreadsheet as CSV UTF-8"


@dataclass(frozen=True)
class DecodedText:
    """A text file's content and how it was decoded: ``encoding`` is the Python codec,
    ``label`` the name people know it by (``UTF-8``, ``Windows-1252``, ``Shift-JIS``)."""

    text: str
    encoding: str
    label: str


def encoding_label(encoding: str) -> str:
    """The name people know ``encoding`` (a Python codec name or alias) by."""
    name = codecs.lookup(encoding).name.replace("-", "_")
    return _LABELS.get(name, encoding)


def check_encoding(encoding: str, option: str = "--encoding") -> str:
    """``encoding`` as a Python codec name, or :class:`billing.errors.InvalidInput` naming
    ``option`` when Python knows no such text encoding."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise InvalidInput(
            f"{option}: {encoding!r} is not a text encoding (for example utf-8, cp1252, shift_jis)"
        )
    return info.name


#: How the CLI's reader names an encoding (the example the advice gives).
ENCODING_FLAG_EXAMPLE = "--encoding shift_jis"


def decode_text(
    data: bytes, name: str, encoding: str | None = None, *, how_to_say: str = ENCODING_FLAG_EXAMPLE
) -> DecodedText:
    """Decode a CSV file's bytes, never guessing silently.

    With ``encoding`` (the operator said it), the bytes must be text in it. Otherwise a
    byte-order mark (UTF-8, UTF-16 LE/BE) decides; else strict UTF-8; else Windows-1252 and
    the multi-byte code pages ``charset-normalizer`` finds plausible: one reading is used;
    several is :class:`UserFileEncodingError` naming them and ``how_to_say`` (how the reader
    names an encoding, by example: ``--encoding shift_jis``, a connection's option); none is
    one naming ``name``.
    """
    if encoding is not None:
        decoded = _decode_as(data, name, encoding)
    else:
        marked = _decode_by_mark(data, name) or _decode_utf8(data)
        decoded = marked or _detect(data, name, how_to_say)
    if "\x00" in decoded.text:
        raise UserFileEncodingError(
            f"{name} is not a text file (it contains NUL bytes); save it from the spreadsheet "
            "as CSV UTF-8, or give the .xlsx workbook itself."
        )
    return decoded


def _decode_as(data: bytes, name: str, encoding: str) -> DecodedText:
    codec = check_encoding(encoding)
    label = encoding_label(codec)
    if codec == "utf-8" and data.startswith(codecs.BOM_UTF8):
        codec = "utf-8-sig"
    return _strict(
        data, codec, label, f"{name} is not {label} text", f"check the encoding, or {_SAVE_AS_UTF8}"
    )


def _decode_by_mark(data: bytes, name: str) -> DecodedText | None:
    for bom, encoding, label in _BOMS:
        if data.startswith(bom):
            return _strict(
                data, encoding, label, f"{name} starts like {label} text but is not", _SAVE_AS_UTF8
            )
    return None


def _strict(data: bytes, codec: str, label: str, refusal: str, advice: str) -> DecodedText:
    """``data`` read as ``codec``, or :class:`UserFileEncodingError`: ``refusal``, the first
    byte that is not ``label`` text, then ``advice``."""
    try:
        return DecodedText(data.decode(codec), codec, label)
    except UnicodeDecodeError as exc:
        raise UserFileEncodingError(
            f"{refusal} (byte 0x{data[exc.start]:02x} at offset {exc.start}); {advice}."
        ) from None


def _decode_utf8(data: bytes) -> DecodedText | None:
    try:
        return DecodedText(data.decode("utf-8"), "utf-8", "UTF-8")
    except UnicodeDecodeError:
        return None


def _detect(data: bytes, name: str, how_to_say: str) -> DecodedText:
    readings: dict[str, DecodedText] = {}  # one per distinct text, the likelier first
    # The multi-byte code pages charset-normalizer finds plausible (a CJK Excel's CSV), then
    # Windows-1252. Other single-byte code pages are never guessed: they read any bytes.
    guesses = [m.encoding for m in from_bytes(data) if is_multi_byte_encoding(m.encoding)]
    western_error: UnicodeDecodeError | None = None
    for codec in [*guesses, _WESTERN]:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            western_error = exc if codec == _WESTERN else western_error
            continue
        readings.setdefault(text, DecodedText(text, codec, encoding_label(codec)))
    choices = _distinct_labels(list(readings.values()))
    if len(choices) == 1:
        return choices[0]
    if not choices and western_error is not None:
        at = western_error.start
        raise UserFileEncodingError(
            f"{name} is not text in UTF-8, UTF-16 or Windows-1252 (byte 0x{data[at]:02x} at "
            f"offset {at}); {_SAVE_AS_UTF8}, or say its encoding (for example {how_to_say})."
        )
    shown = "; ".join(f"{r.label} {_sample(r.text)}" for r in choices[:3])
    raise UserFileEncodingError(
        f"{name} is not UTF-8, and which encoding it is in cannot be told for sure: it reads as "
        f"{shown}; say which (for example {how_to_say}), or {_SAVE_AS_UTF8}."
    )


def _distinct_labels(readings: list[DecodedText]) -> list[DecodedText]:
    seen: set[str] = set()
    kept = []
    for reading in readings:
        if reading.label not in seen:
            seen.add(reading.label)
            kept.append(reading)
    return kept


def _sample(text: str) -> str:
    """The first line with characters outside ASCII, around them: what a person checks."""
    line = next((line for line in text.splitlines() if not line.isascii()), "")
    start = next(i for i, char in enumerate(line) if not char.isascii()) if line else 0
    return repr(line[max(0, start - 10) : start + 20].strip())
