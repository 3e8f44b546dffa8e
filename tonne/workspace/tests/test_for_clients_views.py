"""The workspace's doors for exchanges and brokers: the administrator marks
an organisation as acting for clients; such a holder transfers and retires
for a client in one request; others may not retire on behalf of someone."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tonne import testing
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Transaction, UnitBlock

pytestmark = pytest.mark.django_db
W = "/workspace"


@pytest.fixture
def stocked(registry: testing.Registry) -> testing.Registry:
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2022: 1000})
    units.transfer(actor=registry.developer, from_account=registry.developer_account.identifier,
                   to_account=registry.buyer_account.identifier, selection=Selection.build(quantity=100),
                   idempotency_key="stock")
    return registry


def _form(reg: testing.Registry, **kw: str) -> dict:
    return {"from_account": reg.buyer_account.identifier, "to_account": reg.other_developer_account.identifier,
            "quantity": "20", "project": "", "vintage": "", "ranges": "", "beneficiary": "Commune de Jacqueville",
            "purpose": "voluntary", "jurisdiction": "CI", "reason": "", "compliance_period": "", "using_entity": "",
            "idempotency_key": "web-onward-1", "step": "preview", **kw}


def test_the_administrator_marks_an_exchange_and_it_transfers_and_retires(stocked: testing.Registry) -> None:
    reg = stocked
    admin, buyer = Client(), Client()
    admin.force_login(reg.admin)
    page = admin.get(f"{W}/organisations/{reg.buyer_org.uid}/").content.decode()
    assert "Exchange or broker" in page
    assert admin.post(f"{W}/organisations/{reg.buyer_org.uid}/clients/", {"acts_for_clients": "on"}).status_code == 302
    reg.buyer_org.refresh_from_db()
    assert reg.buyer_org.acts_for_clients
    # A developer is not an exchange: refused beside the form, with its code.
    refused = admin.post(f"{W}/organisations/{reg.developer_org.uid}/clients/", {"acts_for_clients": "on"})
    assert refused.status_code == 422 and "NOT_A_TRADER" in refused.content.decode()

    buyer.force_login(reg.buyer)
    assert "Transfer and retire for a client" in buyer.get(f"{W}/").content.decode()
    preview = buyer.post(f"{W}/transfer-and-retire/", _form(reg)).content.decode()
    assert "Confirm the transfer and the retirement" in preview and "Commune de Jacqueville" in preview
    shown = re.findall(r'name="confirmed_range" value="([\d-]+)"', preview)
    done = buyer.post(f"{W}/transfer-and-retire/", {**_form(reg, step="confirm"), "confirmed_range": shown})
    assert done.status_code == 302
    retired = Transaction.objects.get(kind="retirement", idempotency_key__endswith="/retirement")
    assert done["Location"].endswith(f"/transactions/{retired.identifier}/")
    assert (retired.beneficiary, retired.on_behalf_of) == ("Commune de Jacqueville", reg.other_developer_org.name)
    assert not UnitBlock.objects.filter(account=reg.other_developer_account).exists()


def test_a_holder_not_acting_for_clients_is_refused_at_the_form(stocked: testing.Registry) -> None:
    reg = stocked
    buyer = Client()
    buyer.force_login(reg.buyer)
    assert "Transfer and retire for a client" not in buyer.get(f"{W}/").content.decode()
    preview = buyer.post(f"{W}/transfer-and-retire/", _form(reg)).content.decode()
    shown = re.findall(r'name="confirmed_range" value="([\d-]+)"', preview)
    refused = buyer.post(f"{W}/transfer-and-retire/", {**_form(reg, step="confirm"), "confirmed_range": shown})
    assert refused.status_code == 422 and "ON_BEHALF_NOT_PERMITTED" in refused.content.decode()
    retire = {**_form(reg, step="preview"), "on_behalf_of": "Client 9"}
    retire.pop("to_account")
    preview = buyer.post(f"{W}/retire/", retire).content.decode()
    shown = re.findall(r'name="confirmed_range" value="([\d-]+)"', preview)
    refused = buyer.post(f"{W}/retire/", {**retire, "step": "confirm", "confirmed_range": shown})
    assert refused.status_code == 422 and "ON_BEHALF_NOT_PERMITTED" in refused.content.decode()
    assert not Transaction.objects.filter(kind="retirement").exists()
