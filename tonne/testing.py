"""Builders for tests, the demo and benchmarks. Everything goes through the
service functions, exactly as the API and the web UI do."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

from tonne.controls import services as controls
from tonne.core import clock
from tonne.linkage import services as linkage
from tonne.linkage.models import Partner, PartnerKey
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.mrv.models import MonitoringReport
from tonne.organisations import services as orgs
from tonne.organisations.models import Account, Organisation, User
from tonne.projects import services as projects
from tonne.projects.models import Project
from tonne.units.models import Issuance

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


def project_fields(**overrides: object) -> dict:
    fields: dict = {
        "name": "Lagoon mangrove restoration",
        "description": "Restoring mangroves along the lagoon.",
        "sectors": ["Afforestation and reforestation"],
        "types": ["Afforestation"],
        "sectoral_scope": 14,
        "unit_type": "Removal - nature",
        "link": "https://example.org/projects/mangrove",
        "locations": [{"country": "Cote d'Ivoire", "region": "Lagunes", "gis": "5.32,-4.03"}],
        "estimations": [{"start_date": "2022-01-01", "end_date": "2022-12-31", "unit_count": 50000}],
        "co_benefits": [{"co_benefit": "SDG 13 - Climate action"}],
    }
    fields.update(overrides)
    return fields


@dataclass
class Registry:
    """A small registry: administrator, two developers, a VVB and a buyer."""

    root: User
    admin: User
    government: Organisation
    developer: User
    developer_org: Organisation
    developer_account: Account
    other_developer: User
    other_developer_org: Organisation
    other_developer_account: Account
    vvb: User
    vvb_org: Organisation
    buyer: User
    buyer_org: Organisation
    buyer_account: Account
    extra: dict = field(default_factory=dict)


def make_user(org: Organisation | None, username: str, role: str = User.Role.ADMIN, *, actor: User | None = None) -> User:
    """A person. The registry administrator's people are set up as the
    command line sets up an installation's first people (at once); those a
    holder adds go through the same four-eyes as at run time."""
    bootstrap = actor is None or orgs.is_registry_administrator(actor)
    return orgs.create_user(
        actor=None if bootstrap else actor, organisation=org, username=username, email=f"{username}@example.org", password=PASSWORD, role=role
    )


def make_org(admin: User | None, name: str, kind: str, country: str = "CI") -> Organisation:
    org = orgs.apply_for_organisation(actor=None, name=name, kind=kind, country=country)
    if admin is not None:
        org = orgs.decide_organisation(actor=admin, organisation=org, status="approved", reason="KYC complete")
    return org


def build_registry(prefix: str = "") -> Registry:
    n = next(_counter)
    p = prefix or f"r{n}"
    root = orgs.create_user(
        actor=None, organisation=None, username=f"{p}-root", email="root@example.org", password=PASSWORD, is_root=True
    )
    government = make_org(root, f"{p} Ministry of Environment", Organisation.Kind.GOVERNMENT)
    admin = make_user(government, f"{p}-admin", actor=root)
    dev_org = make_org(admin, f"{p} Mangrove Futures", Organisation.Kind.DEVELOPER)
    developer = make_user(dev_org, f"{p}-dev", actor=admin)
    other_org = make_org(admin, f"{p} Solar Savanna", Organisation.Kind.DEVELOPER)
    other = make_user(other_org, f"{p}-dev2", actor=admin)
    vvb_org = make_org(admin, f"{p} Verifiers SA", Organisation.Kind.VVB)
    vvb_org = orgs.set_accreditation(actor=admin, organisation=vvb_org, accredited=True)
    vvb = make_user(vvb_org, f"{p}-vvb", actor=admin)
    buyer_org = make_org(admin, f"{p} Carbon Buyers Ltd", Organisation.Kind.TRADER)
    buyer = make_user(buyer_org, f"{p}-buyer", actor=admin)
    return Registry(
        root=root,
        admin=admin,
        government=government,
        developer=developer,
        developer_org=dev_org,
        developer_account=orgs.open_holding_account(actor=developer, organisation=dev_org, name="Main"),
        other_developer=other,
        other_developer_org=other_org,
        other_developer_account=orgs.open_holding_account(actor=other, organisation=other_org, name="Main"),
        vvb=vvb,
        vvb_org=vvb_org,
        buyer=buyer,
        buyer_org=buyer_org,
        buyer_account=orgs.open_holding_account(actor=buyer, organisation=buyer_org, name="Trading"),
    )


def registered_project(reg: Registry, **overrides: object) -> Project:
    project = projects.register_project(actor=reg.developer, data=project_fields(**overrides), vvb=str(reg.vvb_org.uid))
    project = projects.change_project_status(actor=reg.developer, project=project, status="submitted")
    project = projects.change_project_status(actor=reg.admin, project=project, status="approved")
    project = projects.change_project_status(actor=reg.vvb, project=project, status="validated")
    return projects.change_project_status(actor=reg.admin, project=project, status="registered")


def issue(
    reg: Registry,
    project: Project,
    vintages: dict[int, int],
    *,
    period: tuple[dt.date, dt.date] | None = None,
) -> tuple[MonitoringReport, list[Issuance]]:
    years = sorted(vintages)
    start, end = period or (dt.date(years[0], 1, 1), dt.date(years[-1], 12, 31))
    report = mrv.submit_report(
        actor=reg.developer,
        project=project,
        period_start=start,
        period_end=end,
        vintages=[{"vintage": v, "quantity": q} for v, q in vintages.items()],
        vvb=str(reg.vvb_org.uid),
    )
    mrv_verification.accept_assignment(actor=reg.vvb, report=report, no_conflict_of_interest=True)
    report = mrv.verify_report(
        actor=reg.vvb, report=report, verified=[{"vintage": v, "quantity": q} for v, q in vintages.items()]
    )
    return report, mrv.approve_issuance(actor=reg.admin, report=report)


def link_partner(
    admin: User, approver: User, *, registry_id: str, party: str, verifier_key: str,
    endpoint: str = "https://registry.example", in_force: bool = True,
) -> Partner:
    """Another Party's registry on the partner list: asked by one
    administrator, approved by a second; `in_force`: as though the
    trusted-list delay had passed."""
    approval = linkage.request_partner(actor=admin, registry_id=registry_id, party=party, endpoint=endpoint,
                                       verifier_key=verifier_key)
    controls.approve(actor=approver, uid=approval.uid, request_hash=approval.request_hash)
    partner = Partner.objects.get(registry_id=registry_id)
    if in_force:
        now = clock.now()
        Partner.objects.filter(pk=partner.pk).update(effective_at=now)
        PartnerKey.objects.filter(partner=partner).update(valid_from=now)
        partner.refresh_from_db()
    return partner
