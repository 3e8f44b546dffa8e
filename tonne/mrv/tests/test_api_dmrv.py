"""Digital MRV over HTTP: a device's batches, the CSV upload, the computed
report and the trail from a serial back to the readings."""

from __future__ import annotations

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tonne import testing
from tonne.core.tests.test_api_core import API, assert_problem, get, post
from tonne.mrv import readings
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.mrv.models import MonitoringReport
from tonne.mrv.tests.dmrv import UTC, device
from tonne.mrv.tests.test_api_mrv import logged_in
from tonne.projects import services as projects


def test_device_batches_compute_and_trail(registry) -> None:
    project = testing.registered_project(registry, name="Cookstoves Bouaké", types=["Energy Efficiency households"])
    stove = device(registry, project, "STOVE-1", measurement="fuel_saved", unit="t", max_value="5")
    dev = logged_in(registry.developer)
    t = dt.datetime(2023, 2, 1, tzinfo=UTC)
    batch = [stove.reading(1, t, "400"), stove.reading(2, t + dt.timedelta(days=30), "600")]
    accepted = post(dev, f"/projects/{project.project_id}/readings", {"readings": batch})
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["accepted"] == 2 and {a["code"] for a in accepted.json()["anomalies"]} == {"RANGE"}
    assert post(dev, f"/projects/{project.project_id}/readings", {"readings": batch}).json()["already_accepted"] == 2
    forged = {**stove.reading(3, t + dt.timedelta(days=60), "1"), "quantity": "2"}
    body = assert_problem(post(dev, f"/projects/{project.project_id}/readings", {"readings": [forged]}), 422,
                          "READING_SIGNATURE_INVALID")
    assert body["details"]["rejected"][0]["index"] == 0
    assert_problem(post(Client(), f"/projects/{project.project_id}/readings", {"readings": batch}), 401,
                   "NOT_AUTHENTICATED")
    csv = readings.as_csv([stove.reading(4, t + dt.timedelta(days=90), "0.5")])
    uploaded = dev.post(f"{API}/projects/{project.project_id}/readings.csv",
                        {"file": SimpleUploadedFile("r.csv", csv, "text/csv")})
    assert uploaded.status_code == 201, uploaded.content
    assert get(dev, f"/projects/{project.project_id}/anomalies").json()["count"] == 2
    # The public sees the sources and (not confidential) the signed readings.
    listed = get(Client(), f"/projects/{project.project_id}/data-sources").json()
    assert listed[0]["calibrations"][0]["sha256"] and listed[0]["aggregate"]["count"] == 3
    assert get(Client(), f"/data-sources/{stove.source.uid}/readings").json()["count"] == 3
    computed = post(dev, "/reports/compute", {
        "project": project.project_id, "methodology": "AMS-II.G", "version": "13.0", "period_start": "2023-01-01",
        "period_end": "2023-12-31", "vvb": str(registry.vvb_org.uid), "parameters": {"fnrb": "0.3"}})
    assert computed.status_code == 201, computed.content
    assert computed.json()["vintages"][0]["claimed"] == 286  # 1,000.5 t × 0.3 × 0.015 × 63.7 = 286.79…
    report = MonitoringReport.objects.get(uid=computed.json()["uid"])
    mrv_verification.accept_assignment(actor=registry.vvb, report=report, no_conflict_of_interest=True)
    mrv.verify_report(actor=registry.vvb, report=report, verified=[{"vintage": 2023, "quantity": 286}])
    (issuance,) = mrv.approve_issuance(actor=registry.admin, report=report)
    trail = get(Client(), f"/serials/{issuance.serial_start}/trail")
    assert trail.status_code == 200, trail.content
    (step,) = trail.json()["trails"]
    assert step["verification"]["verified_by"] == registry.vvb.username
    comp = step["computation"]
    assert comp["methodology"]["code"] == "AMS-II.G" and comp["reading_count"] == 3
    assert comp["sources"][0]["readings"][0]["signature"] == batch[0]["signature"]
    assert get(Client(), f"/reports/{report.uid}/computation").json()["recomputed"] is None
    assert_problem(get(Client(), f"/reports/{report.uid}/computation", recompute="true"), 403, "PROJECT_NOT_YOURS")
    assert get(dev, f"/reports/{report.uid}/computation", recompute="true").json()["recomputed"]["matches"] is True
    assert {m["code"] for m in get(Client(), "/methodology-catalogue").json()} == {"AMS-I.D", "AMS-II.G", "AR-MANGROVE", "GS-MECD"}


def test_confidential_raw_data_shows_aggregates(registry) -> None:
    project = testing.registered_project(registry)
    meter = device(registry, project, raw_confidential=True)
    readings.submit_readings(actor=registry.developer, project=project,
                             readings=[meter.reading(1, dt.datetime(2023, 1, 1, tzinfo=UTC), "5")])
    assert_problem(get(Client(), f"/data-sources/{meter.source.uid}/readings"), 403, "READINGS_CONFIDENTIAL")
    assert get(logged_in(registry.developer), f"/data-sources/{meter.source.uid}/readings").json()["count"] == 1
    assert get(Client(), f"/projects/{project.project_id}/data-sources").json()[0]["aggregate"]["total"] == "5"


def test_benefit_sharing_over_http(registry, settings) -> None:
    settings.TONNE_BENEFIT_MINIMUM_BASIS_POINTS = {"Afforestation": 500}
    project = testing.registered_project(registry)
    dev = logged_in(registry.developer)
    base = f"/projects/{project.project_id}"
    plan = {"shares": [{"beneficiary": "Lagoon villages", "beneficiary_kind": "community", "basis": "proceeds",
                        "share_basis_points": 400, "frequency": "annual", "currency": "XOF",
                        "planned_amount": "1000.00", "first_due": "2023-12-31"}]}
    assert_problem(dev.put(f"{API}{base}/benefit-plan", plan, content_type="application/json"), 422,
                   "BENEFIT_SHARE_BELOW_MINIMUM")
    plan["shares"][0]["share_basis_points"] = 600
    response = dev.put(f"{API}{base}/benefit-plan", plan, content_type="application/json")
    assert response.status_code == 200, response.content
    share = response.json()["shares"][0]
    assert share["overdue"] is True  # the first payment fell due and none is recorded
    doc = projects.upload_document(actor=registry.developer, project=project, kind="other", title="receipt",
                                   filename="r.pdf", content=b"receipt")
    paid = post(dev, f"{base}/disbursements", {"share": share["uid"], "amount": "1000.00", "currency": "XOF",
                                               "paid_on": "2024-01-05", "evidence": str(doc.uid)})
    assert paid.status_code == 201, paid.content
    assert paid.json()["disbursements"][0]["evidence_sha256"] == doc.sha256
    grievance = post(dev, f"{base}/grievances", {"received_on": "2024-02-01", "channel": "hotline",
                                                 "summary": "Fence blocks the path"})
    uid = grievance.json()["grievances"][0]["uid"]
    assert_problem(post(logged_in(registry.buyer), f"/grievances/{uid}/status", {"status": "resolved"}), 403,
                   "PROJECT_NOT_YOURS")
    public = get(Client(), f"{base}/benefits").json()
    assert public["minimum_community_basis_points"] == 500 and public["grievances"][0]["status"] == "received"
