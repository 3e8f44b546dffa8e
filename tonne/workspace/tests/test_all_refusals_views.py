"""The workspace shows every rule a service refused at once, each beside its
field, the first field in error first (forms.js focuses it)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tonne import testing
from tonne.projects.models import Project
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
