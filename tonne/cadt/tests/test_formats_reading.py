"""Reading CAD Trust workbooks with bounded work, whatever they declare."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from tonne.cadt import formats, schema
from tonne.core.errors import ValidationFailed


def _workbook(declared: str | None = None) -> bytes:
    columns = schema.v2_sheet_columns("projects")
    row = ["" for _ in columns]
    row[0] = "c0a6e9a2-2f0e-4bd4-9c3b-000000000001"
    book = formats.to_xlsx([("projects", columns, [row])])
    if declared is None:
        return book
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(book)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                data = re.sub(rb'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{declared}"/>'.encode(), data)
            dst.writestr(info, data)
    return out.getvalue()


def test_spreadsheet_bomb_declaring_every_cell_is_read_cheaply(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 13 item 4: a small xlsx declaring A1:XFD1048576 must not make the
    reader pad each row to 16,384 columns (the cap below would be spent at once)."""
    bomb = _workbook("A1:XFD1048576")
    assert len(bomb) < 20_000
    monkeypatch.setattr(formats, "MAX_CELLS", 2000)
    parsed = formats.parse(bomb, filename="bomb.xlsx")
    assert [r.raw.get("cadTrustProjectId") for r in parsed.tables["project"]] == ["c0a6e9a2-2f0e-4bd4-9c3b-000000000001"]


def test_a_workbook_of_empty_space_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "MAX_CELLS", 10)
    with pytest.raises(ValidationFailed) as refused:
        formats.parse(_workbook(), filename="big.xlsx")
    assert refused.value.code == "CADT_FILE_UNREADABLE"
