"""AEF reports: the revocation scenario row by row, the formats (Excel with
one sheet per table, CSV, JSON), the consistency checks and the command."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command

from tonne import testing
from tonne.article6 import aef
from tonne.article6 import services as a6
from tonne.article6.models import CorrespondingAdjustment
from tonne.article6.tests.conftest import T0, key
from tonne.core import clock
from tonne.core.errors import ValidationFailed
from tonne.units.domain import Selection

pytestmark = pytest.mark.django_db


def use(world, start, end, use="ndc", **kw):
    kw.setdefault("using_party", "CH")
    return a6.use_units(actor=world.reg.developer, from_account=world.reg.developer_account.identifier,
                        selection=Selection.build(ranges=[(start, end)]), use=use, idempotency_key=key(), **kw)


@pytest.fixture
def revoked(world):
    """Authorised 1000 (first transfer at use or cancellation); 100 used
    towards CH's NDC; revoked; 50 cancelled afterwards as mitigation
    contribution units; 850 taken back while still held."""
    authorisation = world.authorise(first_transfer_definition="use_or_cancellation", quantity=1000,
                                    purposes=["ndc", "oimp"], oimp_purposes="CORSIA")
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 1000})
    s = issuance.serial_start
    clock.freeze(T0 + dt.timedelta(days=1))
    use(world, s, s + 99)
    world.approve(a6.request_revocation(actor=world.reg.admin, identifier=authorisation.identifier, reason="Withdrawn"))
    clock.freeze(T0 + dt.timedelta(days=2))
    use(world, s + 100, s + 149, use="voluntary_cancellation")
    return world, s


def test_revocation_scenario_rows(revoked):
    world, s = revoked
    report = aef.build(2026, submission_date=dt.date(2027, 4, 15))
    itmo = lambda n: f"CI-CH-2024:CI-TONNE:CI:{n}:2024"  # noqa: E731
    assert [(a["date"], a["type"], a["subtype"], a["quantity_t_co2"], a["itmo_first_id"], a["itmo_last_id"],
             a["acquiring_party_id"], a["using_participating_party_id"], a["itmo_used_year"])
            for a in report["tables"]["actions"]] == [
        ("2026-03-03", "Authorization", "", 1000, itmo(s), itmo(s + 999), "CH", "", ""),
        ("2026-03-04", "First Transfer", "", 100, itmo(s), itmo(s + 99), "CH", "", ""),
        ("2026-03-04", "Use", "Use towards NDC", 100, itmo(s), itmo(s + 99), "", "CH", 2026),
        # The revocation takes back what was not first-transferred: an action row, not a silent drop.
        ("2026-03-04", "Authorization", "Revocation", 900, itmo(s + 100), itmo(s + 999), "", "", ""),
    ]
    assert report["review"] == []
    assert report["tables"]["holdings"] == []  # what was not first-transferred was taken back
    (row,) = report["tables"]["authorizations"]
    assert row["purposes_for_authorization"] == "NDC and OIMP"
    assert row["oimp_authorized_party"] == "CORSIA"
    assert row["additional_information"].startswith("revoked from 2026-03-04")
    assert report["tables"]["submission"] == [
        {"party": "CI", "version": "1", "report_year": 2026, "submission_date": "2027-04-15"}]
    assert all(c["ok"] for c in report["checks"]), report["checks"]
    # Another year has none of this year's actions.
    assert aef.build(2025)["tables"]["actions"] == []


def test_the_year_before_a_change_keeps_its_holdings(world):
    world.authorise(first_transfer_definition="issuance", quantity=400)
    clock.freeze(T0 + dt.timedelta(hours=1))
    testing.issue(world.reg, world.project, {2024: 1000})
    report = aef.build(2026)
    assert [a["type"] for a in report["tables"]["actions"]] == ["Authorization", "First Transfer"]
    assert [h["quantity_t_co2"] for h in report["tables"]["holdings"]] == [400]
    assert all(c["ok"] for c in report["checks"])


def test_formats(revoked):
    report = aef.build(2026)
    content, content_type, ext = aef.render(report, "xlsx")
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == ["submission", "authorizations", "actions", "holdings", "authorized_entities",
                               "aef_t1_submission", "aef_t2_authorizations", "aef_t3_actions", "aef_t4_holdings",
                               "aef_t5_authorized_entities", "checks"]
    header = [c.value for c in book["actions"][1]]
    assert header[:4] == ["Date", "Type", "Subtype", "Cooperative approach ID"]
    assert "ITMO first ID" in header and "Quantity t CO2" in header
    assert book["actions"].max_row == 5
    t3 = [c.value for c in book["aef_t3_actions"][1]]
    assert "aefT3ActionsItmoFirstId" in t3 and "cadTrustAefT2AuthorizationsId" in t3
    zipped, _, ext = aef.render(report, "csv")
    names = zipfile.ZipFile(io.BytesIO(zipped)).namelist()
    assert ext == "zip" and "actions.csv" in names and "aef_t4_holdings.csv" in names
    body, _, _ = aef.render(report, "json")
    assert json.loads(body)["tables"]["actions"][0]["type"] == "Authorization"
    with pytest.raises(ValidationFailed) as exc:
        aef.render(report, "pdf")
    assert exc.value.code == "FORMAT_INVALID"


def test_consistency_checks_stop_the_export(revoked, tmp_path):
    world, _ = revoked
    out = tmp_path / "aef.xlsx"
    call_command("article6", "aef", "--year", "2026", "--output", str(out), stdout=io.StringIO())
    assert out.exists()
    CorrespondingAdjustment.objects.all().delete()  # an adjustment gone behind the registry's back
    report = aef.build(2026)
    failed = [c for c in report["checks"] if not c["ok"]]
    assert [c["check"] for c in failed] == ["first transfer has its corresponding adjustment"]
    assert "no adjustment for first transfer" in aef.summary(report)
    again = tmp_path / "again.json"
    text = io.StringIO()
    with pytest.raises(CommandError):
        call_command("article6", "aef", "--year", "2026", "--output", str(again), stdout=text)
    assert not again.exists() and "FAILED" in text.getvalue()
    call_command("article6", "aef", "--year", "2026", "--output", str(again), "--force", stdout=io.StringIO())
    assert again.exists()
    with pytest.raises(CommandError):
        call_command("article6", "aef", "--year", "2026", "--output", str(tmp_path / "x.pdf"), stdout=io.StringIO())


def test_authorisation_rows_carry_the_sector_and_activity_type_of_the_covered_projects(world):
    second = testing.registered_project(world.reg, sectors=["Energy industries (renewable-/ non renewable sources)"],
                                        types=["Solar"])
    world.authorise(quantity=100)
    world.authorise(identifier="CI-A6-2026-002", quantity=100, projects=[world.project.project_id, second.project_id])
    report = aef.build(2026)
    rows = {r["authorization_id"]: r for r in report["tables"]["authorizations"]}
    assert (rows["CI-A6-2026-001"]["sector"], rows["CI-A6-2026-001"]["activity_type"]) == (
        "Afforestation and reforestation", "Afforestation")
    assert (rows["CI-A6-2026-002"]["sector"], rows["CI-A6-2026-002"]["activity_type"]) == (
        "Any combination of the above", "Any combination of the above")
    t2 = {r["aefT2AuthorizationsId"]: r for r in report["cadt"]["aef_t2_authorizations"]}
    assert t2["CI-A6-2026-001"]["aefT2AuthorizationsSector"] == "Afforestation and reforestation"
    assert t2["CI-A6-2026-001"]["aefT2AuthorizationsActivityType"] == "Afforestation"
    # The ledger entry carries them: the report does not depend on the project as it is later.
    world.project.sectors = ["Transport"]
    world.project.save(update_fields=["sectors"])
    again = {r["authorization_id"]: r for r in aef.build(2026)["tables"]["authorizations"]}
    assert again["CI-A6-2026-001"]["sector"] == "Afforestation and reforestation"


def test_aef_sector_and_activity_type_use_the_aef_picklist_spelling():
    from tonne.article6 import domain

    assert domain.aef_sector(["Agriculture, forestry and other land use (AFOLU)"]) == (
        "Agriculture forestry and other land use (AFOLU)")
    assert domain.aef_activity_type(["Agriculture, forestry and other land use (AFOLU)"]) == "Agriculture"
    assert domain.aef_sector([]) == ""
    assert domain.aef_activity_type(["Solar", "Solar"]) == "Solar"


def test_formula_injection_in_aef_exports_is_neutralised():
    from openpyxl import load_workbook

    evil = '=HYPERLINK("http://evil.example","x")'
    report = {"tables": {"actions": [{"cooperative_approach_id": evil, "quantity_t_co2": -5}]}, "cadt": {},
              "checks": [{"check": "+1+cmd", "ok": True, "detail": "-2.5"}]}
    book = load_workbook(io.BytesIO(aef.render(report, "xlsx")[0]))
    assert book["actions"]["A2"].value == "'" + evil and book["actions"]["B2"].value == -5
    assert book["checks"]["A2"].value == "'+1+cmd" and book["checks"]["C2"].value == "-2.5"
    archive = zipfile.ZipFile(io.BytesIO(aef.render(report, "csv")[0]))
    assert archive.read("actions.csv").decode().splitlines()[1] == "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",-5"
