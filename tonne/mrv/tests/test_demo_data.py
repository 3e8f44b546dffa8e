"""The digital MRV part of the demo loads and is consistent."""

from __future__ import annotations

from tonne.mrv.computation import recompute
from tonne.mrv.demo_data import load_dmrv_demo
from tonne.mrv.models import Anomaly, MonitoringReport


def test_load_dmrv_demo(registry) -> None:
    loaded = load_dmrv_demo(admin=registry.admin, admin_approver=None, solar_developer=registry.other_developer,
                            mangrove_developer=registry.developer, vvb=registry.vvb, say=lambda _: None)
    reports = {k: MonitoringReport.objects.get(project=p) for k, p in loaded.items()}
    assert reports["solar"].status == "issued" and reports["mangroves"].status == "issued"
    assert reports["stoves"].status == "submitted"  # awaiting the VVB, anomalies in view
    assert {"RANGE", "GAP"} <= set(Anomaly.objects.filter(source__project=loaded["stoves"]).values_list("code", flat=True))
    assert all(recompute(r).matches for r in reports.values())
    assert reports["mangroves"].computation.adjustment_reason
