"""The workspace's measurements page and the VVB's view of a computed report."""

from __future__ import annotations

from django.test import Client

from tonne.mrv.demo_data import load_dmrv_demo
from tonne.mrv.models import MonitoringReport


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_measurements_and_vvb_verification(registry) -> None:
    loaded = load_dmrv_demo(admin=registry.admin, admin_approver=None, solar_developer=registry.other_developer,
                            mangrove_developer=registry.developer, vvb=registry.vvb, say=lambda _: None)
    stoves = loaded["stoves"]
    page = _client(registry.developer).get(f"/workspace/projects/{stoves.project_id}/data/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and 'class="flag"' in html and "YAM-LOGGER-2" in html and "RANGE" in html
    assert _client(registry.buyer).get(f"/workspace/projects/{stoves.project_id}/data/").status_code == 404
    assert Client().get(f"/workspace/projects/{stoves.project_id}/data/").status_code == 302
    report = MonitoringReport.objects.get(project=stoves)
    url = f"/workspace/reports/{report.uid}/computation/"
    vvb = _client(registry.vvb)
    html = vvb.get(url).content.decode()
    assert "matches" in html and "96.500" in html and "Verify, adjust or reject" in html
    (row,) = report.vintages.all()
    # Not before the VVB accepted the assignment, declaring no conflict of interest.
    refused = vvb.post(url, {"action": "verify", f"verified-{row.vintage}": str(row.claimed)}, follow=True)
    assert "ASSIGNMENT_NOT_ACCEPTED" in refused.content.decode()
    vvb.post(f"/workspace/reports/{report.uid}/assignment/", {"decision": "accepted", "no_conflict_of_interest": "on"})
    report.refresh_from_db()
    assert report.assignment == "accepted"
    # Less than computed without a reason: refused, nothing recorded.
    vvb.post(url, {"action": "verify", f"verified-{row.vintage}": str(row.claimed - 300)})
    report.refresh_from_db()
    assert report.status == "submitted"
    vvb.post(url, {"action": "verify", f"verified-{row.vintage}": str(row.claimed - 300),
                   "adjustment_reason": "Logger 2 spike in week 32 excluded"})
    report.refresh_from_db()
    assert report.status == "verified" and report.vintages.get().verified == row.claimed - 300
