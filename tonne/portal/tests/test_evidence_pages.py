"""Public pages of digital MRV: the trail from a serial, the methodologies
page, and the project page's measurements, benefit sharing and safeguards."""

from __future__ import annotations

import datetime as dt

from django.test import Client

from tonne import testing
from tonne.mrv import computation, readings
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.mrv.tests.dmrv import UTC, device
from tonne.projects import benefits
from tonne.projects import services as projects
from tonne.units import selectors as unit_selectors


def test_trail_methodologies_and_project_page(registry) -> None:
    project = testing.registered_project(registry, name="Savanna solar")
    meter = device(registry, project, "EXP-1")
    t = dt.datetime(2021, 3, 1, tzinfo=UTC)
    readings.submit_readings(actor=registry.developer, project=project,
                             readings=[meter.reading(1, t, "1200.5"), meter.reading(2, t + dt.timedelta(days=1), "800")])
    report = computation.compute_report(actor=registry.developer, project=project, methodology="AMS-I.D", version="18.0",
                                        period_start="2021-01-01", period_end="2021-12-31", vvb=str(registry.vvb_org.uid))
    mrv_verification.accept_assignment(actor=registry.vvb, report=report, no_conflict_of_interest=True)
    mrv.verify_report(actor=registry.vvb, report=report, verified=[{"vintage": 2021, "quantity": 1200}])
    (issuance,) = mrv.approve_issuance(actor=registry.admin, report=report)
    benefits.set_benefit_plan(actor=registry.developer, project=project, shares=[
        {"beneficiary": "Korhogo villages fund", "beneficiary_kind": "community", "basis": "proceeds",
         "share_basis_points": 500, "frequency": "annual", "currency": "XOF", "planned_amount": "500000.00",
         "first_due": "2021-12-31"}])
    doc = projects.upload_document(actor=registry.developer, project=project, kind="other", title="FPIC minutes",
                                   filename="fpic.pdf", content=b"minutes")
    benefits.record_consent(actor=registry.developer, project=project, community="Korhogo", obtained_on="2020-05-01",
                            document=str(doc.uid))
    serial = unit_selectors.serial_text(issuance, issuance.serial_start, issuance.serial_start)
    page = Client().get(f"/serials/{serial}/trail/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "AMS-I.D" in html and report.computation.inputs_merkle_root in html
    assert registry.vvb.username in html and meter.source.public_key in html and "1200.5" in html
    assert Client().get("/serials/XX-NOPE-1/trail/").status_code == 404
    catalogue = Client().get("/methodologies/").content.decode()
    assert "AR-MANGROVE" in catalogue and "IPCC 2013 Wetlands Supplement" in catalogue
    project_page = Client().get(f"/projects/{project.project_id}/").content.decode()
    assert "EXP-1" in project_page and "Korhogo villages fund" in project_page and "Overdue" in project_page
    assert f"/serials/{serial}/trail/" in project_page
