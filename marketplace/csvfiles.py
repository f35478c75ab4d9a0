"""CSV in and out for every area: safe cells, a writer Excel and Sheets open cleanly, a reader that sniffs the file.

Exports start with a UTF-8 byte-order mark (Excel otherwise guesses a legacy code page) and use CRLF line ends.
A cell that a spreadsheet would read as a formula (``= + - @``, or a leading tab / carriage return) gets a leading
``'`` so opening an export never runs anything (OWASP "CSV injection").
Imports accept UTF-8 with or without the mark, comma or semicolon delimiters (Excel writes semicolons where the
decimal separator is a comma), and say clearly what is wrong with anything else.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from marketplace.errors import InvalidInput
from marketplace.i18n import gettext

BOM = "\ufeff"
#: Litestar appends "; charset=utf-8" to every text/* media type itself; naming it here sent it twice.
CSV_MEDIA_TYPE = "text/csv"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DELIMITERS = (",", ";")
#: Files bigger than this are refused before parsing (the web server's body limit comes first).
MAX_CSV_BYTES = 20 * 1024 * 1024


def safe_cell(value: object) -> str:
    """The text of one cell, with anything a spreadsheet would evaluate made inert."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    # A value that itself starts with the escape gets one more, so ``unescape_cell`` gives it back unchanged.
    if text.startswith((*FORMULA_STARTS, "'")):
        return "'" + text
    return text


def unescape_cell(text: str) -> str:
    """Undo ``safe_cell`` on import, so an exported file re-imports to the same values."""
    if len(text) > 1 and text[0] == "'" and text[1:].startswith((*FORMULA_STARTS, "'")):
        return text[1:]
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A whole CSV document (BOM, CRLF, every cell through ``safe_cell``)."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    return csv_text(header, rows).encode("utf-8")


def attachment_headers(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"', "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class CsvTable:
    """A parsed file: its header and its rows (each as long as the header), numbered as a spreadsheet shows them."""

    header: list[str]
    rows: list[list[str]]
    delimiter: str

    def records(self) -> Iterable[tuple[int, dict[str, str]]]:
        """(row number as the spreadsheet shows it — the header is row 1, header -> cell) for each data row."""
        for index, row in enumerate(self.rows, start=2):
            yield index, dict(zip(self.header, row, strict=False))


def decode_csv(data: bytes | str) -> str:
    """UTF-8 text without its byte-order mark; anything else is refused with a message people can act on."""
    if isinstance(data, str):
        text = data
    else:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise InvalidInput(
                {
                    "file": gettext(
                        "This file is UTF-16 (Excel's \"Unicode text\"). Save it as \"CSV UTF-8 (comma delimited)\" "
                        "and upload it again."
                    )
                }
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                {
                    "file": gettext(
                        "This file isn't UTF-8 text (byte %(start)s). In Excel choose \"CSV UTF-8 (comma "
                        "delimited)\"; in Google Sheets, File > Download > CSV.",
                        start=exc.start + 1,
                    )
                }
            ) from exc
    text = text.removeprefix(BOM)
    if "\x00" in text:
        raise InvalidInput({"file": gettext("This doesn't look like a CSV file (it contains binary data).")})
    return text


def sniff_delimiter(first_line: str) -> str:
    """Comma or semicolon, whichever splits the header into more columns (quoted cells counted properly)."""
    best, best_count = ",", 0
    for delimiter in DELIMITERS:
        count = len(next(csv.reader([first_line], delimiter=delimiter), []))
        if count > best_count:
            best, best_count = delimiter, count
    return best


def read_csv(data: bytes | str, *, max_rows: int = 100_000) -> CsvTable:
    """Parse an uploaded CSV into a header and rows; blank lines are skipped, every row padded to the header."""
    if isinstance(data, bytes) and len(data) > MAX_CSV_BYTES:
        raise InvalidInput(
            {
                "file": gettext(
                    "The file is larger than %(max_csv_bytes)s MB; split it.",
                    max_csv_bytes=MAX_CSV_BYTES // (1024 * 1024),
                )
            }
        )
    text = decode_csv(data)
    if not text.strip():
        raise InvalidInput({"file": gettext('The file is empty.')})
    first_line = text.splitlines()[0]
    delimiter = sniff_delimiter(first_line)
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
                if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise InvalidInput(
            {"file": gettext("The CSV is malformed (%(exc)s). Check for an unclosed quote.", exc=exc)}
        ) from exc
    if not rows:
        raise InvalidInput({"file": gettext('The file is empty.')})
    header = [unescape_cell(h.strip()) for h in rows[0]]
    if len(header) < 1 or not any(header):
        raise InvalidInput({"file": gettext('The first row must name the columns.')})
    body = rows[1:]
    if len(body) > max_rows:
        raise InvalidInput(
            {
                "file": gettext(
                    "The file has %(body)s rows; at most %(max_rows)s at a time.",
                    body=format(len(body), ","),
                    max_rows=format(max_rows, ","),
                )
            }
        )
    width = len(header)
    padded = [[unescape_cell(c) for c in (row + [""] * (width - len(row)))[:width]] for row in body]
    return CsvTable(header, padded, delimiter)
