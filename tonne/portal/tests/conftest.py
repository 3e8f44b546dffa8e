"""A small public registry for the portal's tests, built through the services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from tonne import testing
from tonne.ledger.services import make_checkpoint
from tonne.projects import services as projects
from tonne.projects.models import Project
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Transaction

MANGROVE_AREA = (
    '{"type":"Feature","geometry":{"type":"Polygon","coordinates":'
    "[[[-4.10,5.25],[-3.95,5.25],[-3.95,5.38],[-4.10,5.38],[-4.10,5.25]]]}}"
)


@dataclass
class Portal:
    reg: testing.Registry
    mangrove: Project
    solar: Project
    draft: Project
    retirement: Transaction


def key() -> str:
    return str(uuid.uuid4())


def build_portal() -> Portal:
    reg = testing.build_registry()
    projects.add_methodology(actor=reg.admin, code="AR-AM0014", name="Mangrove afforestation", type="Removal - nature")
    projects.add_methodology(actor=reg.admin, code="ACM0002", name="Renewable electricity", type="Avoidance - technical")
    mangrove = testing.registered_project(
        reg,
        name="Ebrié lagoon mangroves",
        description="Restoring mangroves along the Ebrié lagoon.",
        locations=[{"country": "Cote d'Ivoire", "region": "Lagunes", "gis": MANGROVE_AREA, "map_type": "GeoJSON"}],
        labels=[{"name": "Blue carbon", "type": "Certification"}],
        co_benefits=[{"co_benefit": "SDG 14 - Life below water"}, {"co_benefit": "SDG 13 - Climate action"}],
        methodologies=[{"code": "AR-AM0014"}],
        crediting_period_start="2022-01-01",
        crediting_period_end="2051-12-31",
        buffer_basis_points=1000,
    )
    solar = testing.registered_project(
        reg,
        name="Korhogo solar park",
        description="A 25 MW solar park in the savanna.",
        sectors=["Energy industries (renewable-/ non renewable sources)"],
        types=["Solar"],
        sectoral_scope=1,
        unit_type="Avoidance - technical",
        locations=[{"country": "Cote d'Ivoire", "region": "Savanes", "gis": "9.45,-5.63"}],
        co_benefits=[{"co_benefit": "SDG 7 - Affordable and clean energy"}],
        methodologies=[{"code": "ACM0002"}],
        article6_status="authorised",
    )
    draft = projects.register_project(
        actor=reg.developer, data=testing.project_fields(name="Secret draft cookstoves"), vvb=str(reg.vvb_org.uid)
    )
    testing.issue(reg, mangrove, {2022: 10000, 2023: 5000})
    testing.issue(reg, solar, {2023: 2000})
    units.transfer(
        actor=reg.developer,
        from_account=reg.developer_account.identifier,
        to_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=3000, project=mangrove.project_id, vintage=2022),
        idempotency_key=key(),
    )
    retirement = units.retire(
        actor=reg.buyer,
        from_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=1200),
        beneficiary="Abidjan Airways",
        purpose="corsia",
        jurisdiction="CI",
        idempotency_key=key(),
    )
    make_checkpoint(force=True)
    return Portal(reg=reg, mangrove=mangrove, solar=solar, draft=draft, retirement=retirement)


@pytest.fixture
def portal(db: None) -> Portal:
    from django.core.cache import cache

    cache.clear()
    return build_portal()
