"""Article 6 in the CAD Trust mapping: authorised units carry their ITMO
identifier, authorisation and corresponding adjustment (v1 fields, v2 ITMO
reference and unit label); the rest are labelled mitigation contribution
units; all of it survives export and import into another registry."""

from __future__ import annotations

import pytest
from django.db import transaction

from tonne import testing
from tonne.article6 import services as a6
from tonne.article6.models import Authorisation
from tonne.cadt import domain, mapping, selectors, services
from tonne.cadt.models import ImportedRecord
from tonne.cadt.schema import v1_tables, v2_tables
from tonne.cadt.tests.conftest import cadt_registry
from tonne.controls import services as controls
from tonne.organisations.models import User
from tonne.units.models import Issuance

pytestmark = pytest.mark.django_db


def authorised_registry() -> tuple[testing.Registry, Issuance]:
    """1000 units issued: 400 authorised with first transfer at issuance
    (adjustment recorded), 300 authorised awaiting their first transfer, 300
    mitigation contribution units."""
    reg = cadt_registry()  # its VVB is on the CAD Trust list; its other units are mitigation contribution units
    project = testing.registered_project(reg, methodologies=[{"code": "AR-AM0014"}])
    approver = testing.make_user(reg.government, f"{reg.admin.username}-a6", User.Role.APPROVER, actor=reg.root)
    for identifier, definition, quantity in (("CI-A6-1", "issuance", 400), ("CI-A6-2", "first_international_transfer", 300)):
        approval = a6.request_authorisation(actor=reg.admin, data={
            "identifier": identifier, "cooperative_approach": "CI-CH-2024", "first_transfer_definition": definition,
            "acquiring_parties": ["CH"], "purposes": ["ndc"], "quantity": quantity, "vintage_from": 2024,
            "projects": [project.project_id], "authorisation_date": "2026-02-01",
        })
        controls.approve(actor=approver, uid=approval.uid, request_hash=approval.request_hash)
    assert Authorisation.objects.count() == 2
    _, (issuance,) = testing.issue(reg, project, {2024: 1000})
    return reg, issuance


def test_v2_units_carry_itmo_authorisation_and_adjustment_and_mcus_are_labelled():
    _, issuance = authorised_registry()
    s = issuance.serial_start
    tables = mapping.v2_rows()
    units = sorted([u for u in tables["unit"] if u["cadTrustIssuanceId"] == str(issuance.uid)],
                   key=lambda u: int(u["unitStartBlock"]))
    assert [(int(u["unitStartBlock"]), int(u["unitEndBlock"]), u["unitItmosReferenceId"]) for u in units] == [
        (s, s + 399, f"CI-CH-2024:CI-TONNE:CI:{s}-{s + 399}:2024"),
        (s + 400, s + 699, f"CI-CH-2024:CI-TONNE:CI:{s + 400}-{s + 699}:2024"),
        (s + 700, s + 999, None),
    ]
    labels = {row["cadTrustLabelId"]: row for row in tables["label"]}
    described = {}
    for ul in tables["unit_label"]:
        label = labels[ul["cadTrustLabelId"]]
        unit = next((u for u in units if u["cadTrustUnitId"] == ul["cadTrustUnitId"]), None)
        if unit is None or not label["labelType"].startswith(("Article 6", "Certification")):
            continue
        if label["labelType"] == "Certification" and label["labelName"] != "Mitigation contribution unit":
            continue
        described[int(unit["unitStartBlock"])] = (label["labelType"], label["labelName"], ul["labelUnitDescription"])
    assert described[s] == ("Article 6 - Authorisation", "Article 6 authorisation CI-A6-1",
                            f"Authorisation CI-A6-1; ITMO CI-CH-2024:CI-TONNE:CI:{s}-{s + 399}:2024; "
                            "corresponding adjustment: Committed, Completed")
    assert described[s + 400][2].endswith("corresponding adjustment: Committed, Not Started")
    assert described[s + 700] == ("Certification", "Mitigation contribution unit",
                                  "Mitigation contribution unit (not authorised under Article 6); "
                                  "corresponding adjustment: Not Required")


def test_v1_units_carry_the_corresponding_adjustment_declaration_and_status():
    _, issuance = authorised_registry()
    s = issuance.serial_start
    units = sorted([u for u in mapping.v1_rows()["units"] if u["issuanceId"] == str(issuance.uid)],
                   key=lambda u: int(u["unitBlockStart"]))
    assert [(int(u["unitBlockStart"]), u["correspondingAdjustmentDeclaration"], u["correspondingAdjustmentStatus"])
            for u in units] == [(s, "Committed", "Completed"), (s + 400, "Committed", "Not Started"),
                                (s + 700, "Not Required", "Not Started")]
    assert units[0]["unitTags"] == f"Article 6 authorisation CI-A6-1; ITMO CI-CH-2024:CI-TONNE:CI:{s}-{s + 399}:2024"
    assert units[2]["unitTags"] == "Mitigation contribution unit (not authorised under Article 6)"


def test_the_article6_fields_pass_the_cadt_field_and_picklist_checks():
    authorised_registry()
    tables = mapping.v2_rows()
    for name in ("unit", "label", "unit_label"):
        for n, row in enumerate(tables[name], start=1):
            assert domain.clean_row(v2_tables()[name], row, row=n).problems == [], (name, row)
    for unit in mapping.v1_rows()["units"]:
        scalar = {k: v for k, v in unit.items() if k not in ("issuance", "labels")}
        assert domain.clean_row(v1_tables()["units"], scalar, row=1).problems == []


@pytest.mark.parametrize("name", ["2.json", "2.xlsx", "1.json", "1.csv"])
def test_article6_fields_survive_export_and_import_elsewhere(name):
    version, file_format = name.split(".")
    with transaction.atomic():
        authorised_registry()
        doc, _ = selectors.export_document(version)
        content = selectors.render(version, file_format, doc)
        transaction.set_rollback(True)
    reg = testing.build_registry()
    services.import_file(actor=reg.admin, content=content, filename=f"other.{file_format}")
    if version == "2":
        imported = [r.data for r in ImportedRecord.objects.filter(table="unit")]
        itmos = [u["unitItmosReferenceId"] for u in imported if u["unitItmosReferenceId"]]
        assert len(itmos) == 2 and all(i.startswith("CI-CH-2024:CI-TONNE:CI:") for i in itmos)
        descriptions = [r.data["labelUnitDescription"] or "" for r in ImportedRecord.objects.filter(table="unit_label")]
        assert sum("Committed, Completed" in d for d in descriptions) == 1
        assert {r.data["labelType"] for r in ImportedRecord.objects.filter(table="label")} >= {
            "Article 6 - Authorisation", "Certification"}
    else:
        imported = [r.data for r in ImportedRecord.objects.filter(table="units")
                    if str(r.data["unitTags"]).startswith("Article 6") or int(r.data["unitCount"]) == 300]
        assert sorted((u["correspondingAdjustmentDeclaration"], u["correspondingAdjustmentStatus"]) for u in imported) == [
            ("Committed", "Completed"), ("Committed", "Not Started"), ("Not Required", "Not Started")]
    # Exported again from the importing registry: the same file.
    again, _ = selectors.export_document(version)
    assert selectors.render(version, file_format, again) == content


def test_a_revocation_sends_its_units_again_although_none_of_them_moved():
    reg, issuance = authorised_registry()
    s = issuance.serial_start
    cursor = selectors.ledger_cursor()
    assert selectors.changes_since(cursor).scope.empty
    approver = User.objects.get(username=f"{reg.admin.username}-a6")
    approval = a6.request_revocation(actor=reg.admin, identifier="CI-A6-2", reason="Withdrawn by the Party")
    controls.approve(actor=approver, uid=approval.uid, request_hash=approval.request_hash)
    changes = selectors.changes_since(cursor)
    # Exactly the units of the revoked authorisation, nothing else.
    assert sorted((r.start, r.end) for r in changes.scope.ranges) == [(s + 400, s + 699)]
    # The mapping sends whole blocks, split where the Article 6 status changes.
    units = {int(u["unitBlockStart"]): u for u in mapping.v1_rows(changes.scope)["units"]
             if u["issuanceId"] == str(issuance.uid)}
    revoked = units[s + 400]
    assert (int(revoked["unitBlockEnd"]), revoked["correspondingAdjustmentDeclaration"]) == (s + 699, "Not Required")
    assert revoked["unitTags"].startswith("Mitigation contribution unit")
    assert units[s]["correspondingAdjustmentDeclaration"] == "Committed"  # first transferred before: stays
