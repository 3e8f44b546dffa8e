"""tonne demo: a registry whose ledger verifies, with Article 6 figures on
every page that shows them (authorisation, issuance with share of proceeds
and OMGE, first transfer and adjustment, international transfer, use)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from tonne.article6 import aef, international
from tonne.article6.models import (
    Authorisation,
    CorrespondingAdjustment,
    FirstTransfer,
    InternationalTransfer,
)
from tonne.core import clock
from tonne.ledger import keys
from tonne.ledger.verify import verify_ledger
from tonne.organisations.models import Account
from tonne.portal import selectors as portal
from tonne.projects.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    out = io.StringIO()
    call_command("demo", stdout=out)
    clock.freeze(None)
    return out.getvalue()


def test_demo_carries_article6_through_the_services_and_its_ledger_verifies(demo):
    assert "Article 6: authorisation" in demo
    assert verify_ledger().ok
    (authorisation,) = Authorisation.objects.all()
    assert authorisation.cooperative_approach == "PACM" and authorisation.versions.get().acquiring_parties == ["CH"]
    # Share of proceeds and OMGE at the A6.4ER issuances.
    assert Account.objects.get(type="sop").blocks.exists() and Account.objects.get(type="omge").blocks.exists()
    # First transfer at issuance, one adjustment each, for the 10,000 authorised units.
    assert sum(f.quantity for f in FirstTransfer.objects.all()) == 10000
    assert sum(a.quantity for a in CorrespondingAdjustment.objects.all()) == 10000
    (sent,) = InternationalTransfer.objects.filter(direction="sent")
    assert sent.quantity == 1500 and sent.destination_party == "CH"
    assert international.read_transfer_file(sent.signed_file, keys.verifier_key_text())["destination_party"] == "CH"
    assert Project.objects.get(name="Korhogo 25 MW solar park").article6_status == "authorised"
    assert any(status == "authorised" and n > 0 for status, n, _ in portal.dashboard()["by_article6"])


def test_demo_aef_reports_are_consistent_and_hold_every_kind_of_action(demo):
    year = dt.date.today().year - 1
    report = aef.build(year)
    assert all(c["ok"] for c in report["checks"]), report["checks"]
    kinds = [(a["type"], a["subtype"], a["quantity_t_co2"]) for a in report["tables"]["actions"]]
    assert ("Transfer", "", 1500) in kinds and ("Use", "Use towards NDC", 1000) in kinds
    earlier = aef.build(year - 1)
    assert [(a["type"], a["quantity_t_co2"]) for a in earlier["tables"]["actions"]] == [
        ("Authorization", 10000), ("First Transfer", 10000)]
    assert all(c["ok"] for c in earlier["checks"])
    assert aef.build(year - 3)["tables"]["authorizations"][0]["sector"].startswith("Energy industries")
