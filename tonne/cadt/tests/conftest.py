from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from tonne import testing
from tonne.core import clock
from tonne.organisations import services as orgs
from tonne.organisations.models import Organisation
from tonne.projects import services as projects
from tonne.projects.models import Program, Project
from tonne.units import services as units
from tonne.units.domain import Selection

REFERENCE = Path(__file__).resolve().parent / "data"


def cadt_registry() -> testing.Registry:
    """A registry whose VVB is on the CAD Trust body list, with one project
    carrying every kind of CAD Trust child record, two issuances, a
    transfer, a retirement and a cancellation."""
    reg = testing.build_registry()
    vvb_org = testing.make_org(reg.admin, "350 Solutions", Organisation.Kind.VVB)
    vvb_org = orgs.set_accreditation(actor=reg.admin, organisation=vvb_org, accredited=True)
    reg.vvb_org = vvb_org
    reg.vvb = testing.make_user(vvb_org, f"{reg.admin.username}-vvb350", actor=reg.admin)
    now = clock.now()
    program = Program.objects.create(
        uid=uuid.uuid4(), name="National crediting programme", registry="Tonne", registry_id="NCP-1",
        created_at=now, updated_at=now,
    )
    projects.add_methodology(actor=reg.admin, code="AR-AM0014", name="Afforestation of degraded mangrove habitats",
                             version="3.0")
    project = testing.registered_project(
        reg,
        buffer_basis_points=1000,
        methodologies=[{"code": "AR-AM0014", "date": "2022-01-15", "description": "Mangrove planting"}],
        labels=[{"name": "CORSIA eligible", "type": "Certification", "link": "https://example.org/corsia", "date": "2023-01-01"}],
        stakeholders=[{"name": "Lagoon Villages Cooperative", "type": "Owner"}],
        ratings=[{"type": "CCQI", "name": "Quality score", "value": "4.1"}],
        crediting_period_start="2022-01-01",
        crediting_period_end="2031-12-31",
    )
    Project.objects.filter(pk=project.pk).update(program=program)
    report, issuances = testing.issue(reg, project, {2022: 1000, 2023: 500})
    reg.extra.update(project=Project.objects.get(pk=project.pk), issuances=issuances, program=program)
    first = issuances[0]
    units.transfer(
        actor=reg.developer, from_account=reg.developer_account.identifier, to_account=reg.buyer_account.identifier,
        selection=Selection.build(ranges=[(first.serial_start, first.serial_start + 299)]), idempotency_key="t1",
    )
    units.retire(
        actor=reg.buyer, from_account=reg.buyer_account.identifier,
        selection=Selection.build(ranges=[(first.serial_start, first.serial_start + 99)]),
        beneficiary="Acme Airlines", purpose="corsia", reason="Offsetting 2023 flights", idempotency_key="r1",
    )
    units.cancel(
        actor=reg.developer, from_account=reg.developer_account.identifier,
        selection=Selection.build(quantity=10), reason="Double issuance correction", idempotency_key="c1",
    )
    return reg


@pytest.fixture
def cadt_reg(db: None) -> testing.Registry:
    return cadt_registry()


def later(days: int = 1) -> None:
    clock.freeze(clock.now() + dt.timedelta(days=days))
