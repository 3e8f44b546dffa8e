"""Reading registry exports as they are published, one row at a time.

CSV (any of the usual encodings, comma / semicolon / tab) and Excel read
with openpyxl's read-only streaming. A sheet's declared dimensions are
ignored (a tiny file may declare a million rows by a million columns):
rows are read as they come, trailing empty cells dropped, and a cap on
columns and on cells refuses a file that is nothing but empty space.
Header rows are found by content (titles and blank rows above them are
skipped), and values are cleaned: thousands separators, the dates of
several conventions, "NaN" and blanks as nothing."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO, Any

MAX_COLUMNS = 400
MAX_CELLS = 200_000_000  # cells read per file, empty ones included
MAX_EMPTY_ROWS = 10_000  # consecutive empty rows ending a sheet
HEADER_SCAN_ROWS = 30


class Unreadable(ValueError):
    """The file cannot be read as a registry export; the message says why."""


@dataclass
class Row:
    number: int  # 1-based row in its sheet or file
    values: dict[str, Any]
    sheet: str = ""
    footer: bool = False  # one value in the first column: a total or a note, reported, not mapped


def sniff_kind(head: bytes) -> str:
    if head[:2] == b"PK":
        return "xlsx"
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise Unreadable("Old binary Excel (.xls) files are not read; save the sheet as .xlsx or CSV.")
    return "csv"


def _decoder(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still UTF-8.
        if exc.start >= len(head) - 3:
            return "utf-8"
        return "cp1252"


def csv_rows(stream: IO[bytes]) -> Iterator[tuple[int, list[str]]]:
    head = stream.read(65536)
    stream.seek(0)
    encoding = _decoder(head)
    text = io.TextIOWrapper(stream, encoding=encoding, errors="replace" if encoding == "cp1252" else "strict", newline="")
    sample = head.decode(encoding.replace("-sig", ""), errors="ignore")
    lines = sample.splitlines()[:HEADER_SCAN_ROWS]
    delimiter = max((",", ";", "\t"), key=lambda d: max((line.count(d) for line in lines), default=0))
    csv.field_size_limit(10 * 1024 * 1024)
    reader = csv.reader(text, delimiter=delimiter)
    cells = 0
    try:
        for n, row in enumerate(reader, start=1):
            if len(row) > MAX_COLUMNS:
                row = _trim(row)
                if len(row) > MAX_COLUMNS:
                    raise Unreadable(f"Row {n} has more than {MAX_COLUMNS} columns.")
            cells += len(row)
            if cells > MAX_CELLS:
                raise Unreadable(f"The file holds more than {MAX_CELLS} cells.")
            yield n, row
    except UnicodeDecodeError:
        raise Unreadable("The file is not text in a known encoding.") from None
    except csv.Error as exc:
        raise Unreadable(f"The file is not readable CSV: {exc}.") from None


def _trim(values: list[Any]) -> list[Any]:
    end = len(values)
    while end and (values[end - 1] is None or values[end - 1] == ""):
        end -= 1
    return values[:end]


def xlsx_sheets(stream: IO[bytes]) -> Iterator[tuple[str, Iterator[tuple[int, list[Any]]]]]:
    """Each sheet as (title, rows) read in streaming mode with bounded work."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise Unreadable(f"The Excel workbook cannot be opened ({type(exc).__name__}).") from None
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a damaged file
        raise Unreadable(f"The Excel workbook cannot be opened ({type(exc).__name__}).") from None
    budget = [MAX_CELLS]
    try:
        for sheet in workbook.worksheets:
            yield sheet.title, _sheet_rows(sheet, budget)
    finally:
        workbook.close()


def _sheet_rows(sheet: Any, budget: list[int]) -> Iterator[tuple[int, list[Any]]]:
    # reset_dimensions makes openpyxl forget the declared size; rows then
    # come only as the sheet's XML holds them (no padding to the declared width).
    if hasattr(sheet, "reset_dimensions"):
        sheet.reset_dimensions()
    empty = 0
    try:
        for n, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            budget[0] -= len(row)
            if budget[0] < 0:
                raise Unreadable(f"Sheet {sheet.title!r} holds more than {MAX_CELLS} cells.")
            values = _trim(list(row))
            if not values:
                empty += 1
                if empty > MAX_EMPTY_ROWS:
                    return  # a sheet padded with empty rows ends here
                continue
            empty = 0
            if len(values) > MAX_COLUMNS:
                raise Unreadable(f"Sheet {sheet.title!r} row {n} has more than {MAX_COLUMNS} columns.")
            yield n, values
    except Unreadable:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged sheet fails while it is read
        raise Unreadable(f"Sheet {sheet.title!r} cannot be read ({type(exc).__name__}).") from None


@functools.lru_cache(maxsize=8192)
def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def norm(name: Any) -> str:
    """A column name compared loosely: case, spacing and punctuation ignored."""
    return _norm(str(name or ""))


def records(rows: Iterable[tuple[int, list[Any]]], is_header: Any, sheet: str = "") -> Iterator[Row]:
    """Rows as dicts keyed by the header found by `is_header(normalised names)`.

    Rows above the header (titles, notes) are skipped and blank rows dropped;
    footers (rows whose only value is in the first column) come marked."""
    header: list[str] | None = None
    plain, width = False, 0
    for n, values in rows:
        if header is None:
            names = {norm(v) for v in values if v not in (None, "")}
            if is_header(names):
                header = [str(v).strip() if v is not None else "" for v in values]
                # A header of distinct, named columns maps a full row by zipping (the usual case, fast).
                width = len(header)
                plain = all(header) and len(set(header)) == width and not any(
                    h.lower().startswith("unnamed:") for h in header)
            elif n > HEADER_SCAN_ROWS:
                return
            continue
        filled = len(values) - values.count("") - values.count(None)
        if not filled:
            continue
        footer = filled == 1 and values[0] not in (None, "") and len(header) > 3
        if plain and len(values) == width:
            yield Row(number=n, values=dict(zip(header, values, strict=True)), sheet=sheet, footer=footer)
            continue
        out: dict[str, Any] = {}
        for i, column in enumerate(header):
            if not column or column.lower().startswith("unnamed:"):
                if i < len(values) and values[i] not in (None, "") and column:
                    out[column] = values[i]
                continue
            out[column] = values[i] if i < len(values) else None
        yield Row(number=n, values=out, sheet=sheet, footer=footer)


# -- values --------------------------------------------------------------------------

_BLANK = {"", "nan", "none", "null", "n/a", "na", "-", "–", "—"}


def text(value: Any) -> str:
    if value is None:
        return ""
    if type(value) is str:
        s = value.strip()
        return "" if len(s) < 5 and s.lower() in _BLANK else s
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    s = str(value).strip()
    return "" if s.lower() in _BLANK else s


def number(value: Any) -> Decimal | None:
    """1,454,054 / 1 454 054 / 1454054.0 / (12) → Decimal; blank → None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    s = text(value).replace("\u00a0", "").replace(" ", "").replace("'", "")
    if not s:
        return None
    if s.isascii() and s.isdigit():
        return Decimal(s)
    negative = s.startswith("(") and s.endswith(")")
    s = s.strip("()")
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", s):
        s = s.replace(",", "")
    elif re.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d+)?", s):
        s = s.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"-?\d+,\d+", s):
        s = s.replace(",", ".")
    try:
        result = Decimal(s)
    except InvalidOperation:
        raise ValueError(f"{str(value)[:40]!r} is not a number") from None
    return -result if negative else result


def whole(value: Any) -> int | None:
    if type(value) is str and value.isascii() and value.isdigit():
        return int(value)  # the usual case, fast
    n = number(value)
    if n is None:
        return None
    if n != n.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    return int(n)


_DATE_FORMATS = (
    "%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%d-%b-%Y", "%d %b %Y", "%b %d, %Y",
    "%d-%m-%Y", "%Y%m%d",
)


def date(value: Any, *, day_first: bool = False) -> dt.date | None:
    """A date in any of the conventions the registries publish; times are dropped."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 1900 <= value <= 2200:
            return dt.date(int(value), 1, 1)  # a year
        if 20000 < value < 80000:
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))  # an Excel serial
        raise ValueError(f"{value!r} is not a date")
    s = text(value)
    if not s:
        return None
    if len(s) == 10 and s[4] == "-" and s[7] == "-":
        try:
            return dt.date.fromisoformat(s)  # the usual case, fast
        except ValueError:
            pass
    s = re.sub(r"[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(AM|PM|am|pm)?\s*(Z|[+-]\d{2}:?\d{2})?$", "", s).strip()
    if re.fullmatch(r"\d{4}(\.0)?", s):
        return dt.date(int(float(s)), 1, 1)
    formats: tuple[str, ...] = _DATE_FORMATS
    if day_first:
        formats = tuple(f for f in formats if f != "%m/%d/%Y") + ("%m/%d/%Y",)
    for fmt in formats:
        try:
            return dt.datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"{str(value)[:40]!r} is not a date")
