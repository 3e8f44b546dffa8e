"""The public registers of issuances, retirements and cancellations: listed,
searched, downloaded as CSV or Excel with formulas neutralised."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from tonne.portal.tests.conftest import Portal, key
from tonne.units import services as units
from tonne.units.domain import Selection


def get(path: str, **params: object):  # noqa: ANN201
    return Client().get(path, params, HTTP_ACCEPT_LANGUAGE="en")


def test_the_three_registers_list_and_search(portal: Portal) -> None:
    units.cancel(
        actor=portal.reg.developer, from_account=portal.reg.developer_account.identifier,
        selection=Selection.build(quantity=7), reason="=HYPERLINK(\"http://evil\") double counting", idempotency_key=key(),
    )
    issuances = get("/issuances/").content.decode()
    assert portal.mangrove.project_id in issuances and portal.solar.project_id in issuances
    retirements = get("/retirements/").content.decode()
    assert "Abidjan Airways" in retirements and f"/certificates/{portal.retirement.identifier}/" in retirements
    assert "1,200" in retirements
    assert "double counting" in get("/cancellations/").content.decode()
    assert "Abidjan Airways" not in get("/retirements/", q="nobody such").content.decode()
    assert "Abidjan Airways" in get("/retirements/", q="airways", year=portal.retirement.completed_at.year).content.decode()
    assert get("/retirements/", q="x" * 101).status_code == 400  # refused, not cut
    assert get("/retirements/", year="soon").status_code == 400


def test_registers_download_as_csv_and_excel(portal: Portal) -> None:
    units.cancel(
        actor=portal.reg.developer, from_account=portal.reg.developer_account.identifier,
        selection=Selection.build(quantity=7), reason="=1+1 formula", idempotency_key=key(),
    )
    response = get("/cancellations/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][0] == "Cancelled on" and len(rows) == 2
    assert rows[1][-1] == "'=1+1 formula"  # neutralised: read as text by spreadsheet programs
    assert rows[1][6] == "7"
    retired = list(csv.reader(io.StringIO(b"".join(get("/retirements/export.csv").streaming_content).decode("utf-8-sig"))))
    assert sum(int(r[6]) for r in retired[1:]) == 1200
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(get("/issuances/export.xlsx").content))
    sheet = book["issuances"]
    assert sheet.cell(1, 1).value == "Issued on" and sheet.max_row == 4  # three issuances
    assert get("/issuances/export.pdf").status_code == 404


@pytest.mark.parametrize("path", ["/issuances/", "/retirements/", "/cancellations/"])
def test_registers_are_public_pages(db: None, path: str) -> None:
    assert get(path).status_code == 200
