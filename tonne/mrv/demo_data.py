"""Digital MRV in the demo registry: a solar park fed by two signed meters, a
metered cookstove programme whose loggers send an implausible reading the
VVB sees, and a mangrove project computed from mapped area and plot data,
with a benefit-sharing plan, consent evidence and a grievance.

Entry point: load_dmrv_demo(...), called once by the demo command after the
registry's organisations and users exist. Device keys derive from their
identifiers, so the demo is the same on every run (they are not secrets)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings

from tonne.controls import services as controls
from tonne.core import clock
from tonne.mrv import computation, readings, sources, verification
from tonne.mrv import services as mrv
from tonne.mrv.models import DataSource, MonitoringReport
from tonne.organisations import services as orgs
from tonne.organisations.models import Organisation, User
from tonne.projects import benefits
from tonne.projects import services as projects
from tonne.projects.models import Project

UTC = dt.UTC


def device_key(identifier: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"tonne-demo-device:{identifier}".encode()).digest())


def _public(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def _project(developer: User, admin: User, vvb: User, **fields: Any) -> Project:
    fields.setdefault("locations", [{"country": "Cote d'Ivoire", "region": fields.pop("region", "")}])
    project = projects.register_project(actor=developer, data=fields, vvb=str(vvb.organisation.uid))  # type: ignore[union-attr]
    for status, who in (("submitted", developer), ("approved", admin), ("validated", vvb), ("registered", admin)):
        project = projects.change_project_status(actor=who, project=project, status=status)
    return project


def _source(developer: User, project: Project, identifier: str, year: int, **data: Any) -> tuple[DataSource, Ed25519PrivateKey]:
    key = device_key(identifier)
    source = sources.register_source(actor=developer, project=project, data={
        "identifier": identifier, "public_key": _public(key), **data})
    doc = projects.upload_document(
        actor=developer, project=project, kind="other", title=f"Calibration certificate {identifier}",
        filename=f"calibration-{identifier}.pdf", content_type="application/pdf",
        content=f"%PDF-1.4 calibration certificate of {identifier}, {year}\n".encode())
    sources.record_calibration(actor=developer, source=source, document=str(doc.uid), valid_from=dt.date(year - 1, 12, 1),
                               valid_until=dt.date(year + 1, 11, 30))
    return source, key


def _send(developer: User, project: Project, rows: list[dict[str, Any]], **kw: Any) -> None:
    for i in range(0, len(rows), readings.MAX_BATCH):
        readings.submit_readings(actor=developer, project=project, readings=rows[i:i + readings.MAX_BATCH], **kw)


def _signed(source: DataSource, key: Ed25519PrivateKey, n: int, at: dt.datetime, quantity: str) -> dict[str, Any]:
    return readings.sign_reading(key, source=source.identifier, reading_id=f"{source.identifier}-{n:05d}", taken_at=at,
                                 quantity=quantity, unit=source.unit)


def _issue(report: MonitoringReport, admin: User, approver: User | None) -> None:
    if "issuance" in settings.TONNE_FOUR_EYES and approver is not None:
        request = controls.request_issuance(actor=admin, report_uid=report.uid)
        controls.approve(actor=approver, uid=request.uid, request_hash=request.request_hash)
    else:
        mrv.approve_issuance(actor=admin, report=report)


def load_dmrv_demo(
    *, admin: User, admin_approver: User | None, solar_developer: User, mangrove_developer: User, vvb: User,
    say: Callable[[str], Any] = print,
) -> dict[str, Project]:
    """Three projects monitored from signed data over last calendar year."""
    year = clock.now().year - 1
    jan1 = dt.datetime(year, 1, 1, tzinfo=UTC)
    vvb_uid = str(vvb.organisation.uid)  # type: ignore[union-attr]
    period: dict[str, Any] = {"period_start": dt.date(year, 1, 1), "period_end": dt.date(year, 12, 31), "vvb": vvb_uid}

    # Solar: two export meters, one reading a day each (MWh exported that day).
    solar = _project(solar_developer, admin, vvb, name="Ferkessédougou 30 MW solar (metered)", region="Savanes",
                     description="Photovoltaic plant whose two export meters sign their daily readings.",
                     sectors=["Energy industries (renewable-/ non renewable sources)"], types=["Solar"],
                     sectoral_scope=1, unit_type="Avoidance - technical")
    rows = []
    for name, base in (("FKS-EXPORT-A", 62), ("FKS-EXPORT-B", 58)):
        meter, key = _source(solar_developer, solar, name, year, kind="meter", measurement="electricity_export",
                             unit="MWh", location="Ferkessédougou 90 kV substation", min_value="0", max_value="120",
                             max_change_per_hour="5", expected_interval_seconds=86400)
        for day in range(365):
            output = base + (day * 37 % 23) - 11 + (8 if 60 <= day % 365 <= 150 else 0)  # dry-season sun
            rows.append(_signed(meter, key, day, jan1 + dt.timedelta(days=day, hours=23), f"{output}.{day * 7 % 1000:03d}"))
    _send(solar_developer, solar, sorted(rows, key=lambda r: r["taken_at"]))
    report = computation.compute_report(actor=solar_developer, project=solar, methodology="AMS-I.D", version="18.0",
                                        parameters={"ef_grid_cm": "0.5346"}, **period)
    claimed = {v.vintage: v.claimed for v in report.vintages.all()}
    verification.accept_assignment(actor=vvb, report=report, no_conflict_of_interest=True)
    mrv.verify_report(actor=vvb, report=report, verified=[{"vintage": v, "quantity": q} for v, q in claimed.items()])
    _issue(report, admin, admin_approver)
    say(f"dMRV: {solar.project_id} computed from {len(rows)} signed meter readings under AMS-I.D and issued")

    # Cookstoves: five loggers, each for 400 metered stoves, weekly fuel saved (t).
    stoves = _project(mangrove_developer, admin, vvb, name="Yamoussoukro metered cookstoves", region="Lacs",
                      description="2,000 improved stoves with temperature sensors; loggers sign weekly fuel savings.",
                      sectors=["Energy demand"], types=["Energy Efficiency households"], sectoral_scope=3,
                      unit_type="Reduction - technical")
    rows = []
    for n in range(1, 6):
        logger, key = _source(mangrove_developer, stoves, f"YAM-LOGGER-{n}", year, kind="stove_sensor",
                              measurement="fuel_saved", unit="t", location=f"Yamoussoukro cluster {n}", min_value="0",
                              max_value="40", expected_interval_seconds=7 * 86400)
        for week in range(52):
            if n == 3 and 20 <= week < 24:
                continue  # the logger was offline for a month: a gap
            saved = "96.500" if (n == 2 and week == 31) else f"{14 + (week * n) % 9}.{(week * 13 + n) % 1000:03d}"
            rows.append(_signed(logger, key, week, jan1 + dt.timedelta(weeks=week, hours=6 + n), saved))
    _send(mangrove_developer, stoves, sorted(rows, key=lambda r: r["taken_at"]))
    computation.compute_report(actor=mangrove_developer, project=stoves, methodology="AMS-II.G", version="13.0",
                               parameters={"fnrb": "0.88"}, **period)
    say(f"dMRV: {stoves.project_id} computed from {len(rows)} logger readings, a spike and a gap flagged for the VVB")

    # Mangroves: quarterly area maps (Sentinel-2 classification) and a plot survey.
    mangroves = _project(mangrove_developer, admin, vvb, name="Fresco lagoon mangroves (mapped)", region="Gbôklé",
                         description="Mangrove reforestation monitored from satellite-mapped area and sample plots.",
                         sectors=["Afforestation and reforestation"], types=["Afforestation"], sectoral_scope=14,
                         unit_type="Removal - nature", non_permanence_risk="medium", buffer_basis_points=1500)
    sat, sat_key = _source(mangrove_developer, mangroves, "FRESCO-S2-AREA", year, kind="remote_sensing",
                           measurement="area", unit="ha", location="Fresco lagoon, 5.08 N 5.57 W")
    lab, lab_key = _source(mangrove_developer, mangroves, "FRESCO-PLOTS", year, kind="laboratory",
                           measurement="biomass_growth", unit="t/ha/yr", location="12 permanent sample plots")
    maps = [_signed(sat, sat_key, q, dt.datetime(year, 3 * q + 1, 15, tzinfo=UTC), area)
            for q, area in enumerate(("221.40", "258.75", "296.10", "310.35"))]
    plots = [_signed(lab, lab_key, 1, dt.datetime(year, 11, 20, tzinfo=UTC), "9.1")]
    _send(mangrove_developer, mangroves, maps + plots)
    report = computation.compute_report(actor=mangrove_developer, project=mangroves, methodology="AR-MANGROVE",
                                        version="1.0", **period)
    (row,) = report.vintages.all()
    verification.accept_assignment(actor=vvb, report=report, no_conflict_of_interest=True)
    mrv.verify_report(actor=vvb, report=report, verified=[{"vintage": row.vintage, "quantity": row.claimed - 120}],
                      adjustment_reason="Two plots on the lagoon edge re-measured lower; growth reduced accordingly")
    _issue(report, admin, admin_approver)
    say(f"dMRV: {mangroves.project_id} computed from area and plot data, verified with an adjustment, issued")

    # Benefit sharing and safeguards on the mangrove project.
    fund = orgs.apply_for_organisation(actor=None, name="Fresco Lagoon Communities Fund", kind=Organisation.Kind.OBSERVER,
                                       country=settings.TONNE_COUNTRY)
    fund = orgs.decide_organisation(actor=admin, organisation=fund, status="approved", reason="Community fund statutes checked")
    fund_account = orgs.open_holding_account(actor=admin, organisation=fund, name="Community units")
    money, _units = benefits.set_benefit_plan(actor=mangrove_developer, project=mangroves, shares=[
        {"beneficiary": "Fresco lagoon villages (6)", "beneficiary_kind": "community", "basis": "proceeds",
         "share_basis_points": 3000, "frequency": "quarterly", "currency": "XOF", "planned_amount": "4500000.00",
         "first_due": dt.date(year, 3, 31)},
        {"beneficiary": "Fresco Lagoon Communities Fund", "beneficiary_kind": "community", "basis": "units",
         "share_basis_points": 1000, "frequency": "per_issuance", "account": fund_account.identifier},
    ])
    for q, paid in enumerate((dt.date(year, 4, 12), dt.date(year, 7, 9), dt.date(year, 10, 14))):
        evidence = projects.upload_document(
            actor=mangrove_developer, project=mangroves, kind="other", title=f"Payment receipt Q{q + 1} {year}",
            filename=f"receipt-q{q + 1}-{year}.pdf", content_type="application/pdf",
            content=f"%PDF-1.4 receipt XOF 4,500,000 Q{q + 1} {year}\n".encode())
        benefits.record_disbursement(actor=mangrove_developer, share=money, amount="4500000.00", currency="XOF",
                                     paid_on=paid, evidence=str(evidence.uid))
    fpic = projects.upload_document(actor=mangrove_developer, project=mangroves, kind="other",
                                    title="FPIC: minutes of six village assemblies", filename="fpic-minutes.pdf",
                                    content_type="application/pdf", content=b"%PDF-1.4 FPIC minutes, Fresco\n")
    benefits.record_consent(actor=mangrove_developer, project=mangroves, community="Six villages of the Fresco lagoon",
                            obtained_on=dt.date(year - 2, 5, 20), document=str(fpic.uid))
    grievance = benefits.record_grievance(actor=mangrove_developer, project=mangroves, received_on=dt.date(year, 6, 3),
                                          channel="community liaison officer",
                                          summary="Fishers report that planting blocks a canoe channel to the lagoon.")
    benefits.update_grievance(actor=mangrove_developer, grievance=grievance, status="resolved",
                              resolution="Channel of 8 m kept open; planting moved; agreed at village assembly.")
    benefits.record_grievance(actor=admin, project=mangroves, received_on=dt.date(year, 11, 28), channel="registry hotline",
                              summary="A village says it was left out of the Q3 payment.")
    say("dMRV: benefit-sharing plan, disbursements, consent evidence and grievances recorded")
    return {"solar": solar, "stoves": stoves, "mangroves": mangroves}
