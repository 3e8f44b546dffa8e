"""The workspace shows every rule a service refused at once, each beside its
field, the first field in error first (forms.js focuses it)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tonne import testing
from tonne.access.testing import stepped_up
from tonne.controls.tests.conftest import World
from tonne.projects.models import Project
from tonne.units.models import Transaction
from tonne.workspace.tests.test_views import project_post

pytestmark = pytest.mark.django_db


def test_project_form_shows_every_refusal_beside_its_field(registry: testing.Registry) -> None:
    dev = Client()
    dev.force_login(registry.developer)
    answer = dev.post("/workspace/projects/new/", project_post(
        buffer_basis_points="20000", crediting_period_start="2031-01-01", crediting_period_end="2030-12-31",
        **{"estimations-0-start_date": "2022-12-31", "estimations-0-end_date": "2022-01-01"}))
    assert answer.status_code == 422 and not Project.objects.exists()
    body = answer.content.decode()
    summary = body[body.index('id="refusal"'):body.index("</div>", body.index('id="refusal"'))]
    assert re.findall(r"\b[A-Z_]{6,}_INVALID\b", summary) == [
        "BUFFER_INVALID", "CREDITING_PERIOD_INVALID", "ESTIMATION_PERIOD_INVALID"]
    # Each beside its field: the field's own error list names its code.
    for field, code in (("buffer_basis_points", "BUFFER_INVALID"), ("crediting_period_end", "CREDITING_PERIOD_INVALID"),
                        ("estimations-0-end_date", "ESTIMATION_PERIOD_INVALID")):
        at = body.index(f'name="{field}"')
        group = body[body.rindex('<div class="field', 0, at):body.index('<div class="field', at)]
        assert "has-error" in group and code in group, (field, group)
    # Only they are in error: the first of them is the first field the focus finds.
    assert body.count('class="field has-error"') == 3


@pytest.mark.controls
def test_retire_form_shows_every_refusal_beside_its_field(world: World) -> None:
    dev = stepped_up(world.reg.developer)
    answer = dev.post("/workspace/retire/", {
        "from_account": world.reg.developer_account.identifier, "quantity": "10", "project": "", "vintage": "",
        "ranges": "", "idempotency_key": "web-all-1", "step": "preview", "beneficiary": "Lagoon Ltd",
        "purpose": "voluntary", "jurisdiction": "foo", "compliance_period": "someday"})
    assert answer.status_code == 422 and not Transaction.objects.filter(kind="retirement").exists()
    body = answer.content.decode()
    for field, code in (("jurisdiction", "JURISDICTION_INVALID"), ("compliance_period", "COMPLIANCE_PERIOD_INVALID")):
        at = body.index(f'name="{field}"')
        group = body[body.rindex('<div class="field', 0, at):body.index("</div>", at)]
        assert "has-error" in group and code in group, (field, group)
