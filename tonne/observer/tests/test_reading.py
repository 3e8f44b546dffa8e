"""Reading exports as published: encodings, titles above the header, footers, values."""

import datetime as dt
import io
import re
import zipfile
from decimal import Decimal

import pytest

from tonne.observer.domain import formats, reading


def _rows(content: bytes):
    return list(reading.records(reading.csv_rows(io.BytesIO(content)), formats.header_test(None)))


def test_title_rows_blank_rows_footer_and_cp1252():
    content = (
        "Verra Registry export\n\n"
        "ID;Name;Proponent;Country/Area;Status\n"
        "5962;Récupération de méthane;KIS;Indonesia;Registered\n"
        ";;;;\n"
        "Total rows: 1\n"
    ).encode("cp1252")
    rows = _rows(content)
    assert [(r.values["Name"], r.footer) for r in rows] == [("Récupération de méthane", False), (None, True)]
    assert rows[0].number == 4


def test_values():
    assert reading.number("1,454,054") == Decimal(1454054)
    assert reading.number("1.454.054,5") == Decimal("1454054.5")
    assert reading.number("79565.0") == Decimal(79565)
    assert reading.whole("NaN") is None
    with pytest.raises(ValueError):
        reading.whole("6.37")
    assert reading.date("3/9/2026 4:16:10 PM") == dt.date(2026, 3, 9)
    assert reading.date("2026-04-13T12:35:58.842275") == dt.date(2026, 4, 13)
    assert reading.date("2011-01-18 00:05:45.701 +00:00") == dt.date(2011, 1, 18)
    assert reading.date("2026-04-09T18:21:22.047712Z") == dt.date(2026, 4, 9)
    assert reading.date(2024.0) == dt.date(2024, 1, 1)
    with pytest.raises(ValueError):
        reading.date("soon")


def _bomb() -> bytes:
    """A tiny workbook whose sheet declares every cell Excel allows (A1:XFD1048576)."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["ID", "Name", "Proponent", "Country/Area"])
    book.active.append([1, "A project", "Someone", "Kenya"])
    raw = io.BytesIO()
    book.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1:XFD1048576"/>', data)
                assert b"XFD1048576" in data
            dst.writestr(info, data)
    return out.getvalue()


def test_spreadsheet_bomb_declared_dimensions_are_ignored(monkeypatch):
    # Padding each row to the declared 16,384 columns would spend this budget at once.
    monkeypatch.setattr(reading, "MAX_CELLS", 100)
    bomb = _bomb()
    assert len(bomb) < 10_000
    sheets = reading.xlsx_sheets(io.BytesIO(bomb))
    title, rows = next(sheets)
    found = list(reading.records(rows, formats.header_test(None), title))
    assert [r.values["Name"] for r in found] == ["A project"]


def test_old_excel_refused():
    with pytest.raises(reading.Unreadable):
        reading.sniff_kind(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
