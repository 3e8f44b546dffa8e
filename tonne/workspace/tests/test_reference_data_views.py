"""The reference data page: the registry administrator accepts and
supersedes methodology versions, extends and retires the registry's lists,
declares eligibility rules and chooses the programmes whose verifications it
approves; the project form offers what those tables hold."""

from __future__ import annotations

import pytest
from django.test import Client

from tonne import testing
from tonne.access.testing import stepped_up
from tonne.core import clock
from tonne.projects.models import ApprovedProgramme, EligibilityRule, MethodologyVersion

pytestmark = pytest.mark.django_db
W = "/workspace/reference"


def test_the_administrator_keeps_reference_data_and_the_project_form_follows() -> None:
    reg = testing.build_registry()
    developer = Client()
    developer.force_login(reg.developer)
    assert developer.get(W + "/").status_code == 403
    assert developer.post(W + "/eligibility/", {"name": "X"}).status_code == 403
    admin = stepped_up(reg.admin)
    page = admin.get(W + "/").content.decode()
    assert "AMS-I.D" in page  # an executable methodology the registry has not accepted yet, offered

    answer = admin.post(W + "/methodologies/", {"code": "AMS-I.D", "name": "Grid electricity", "version": "18.0"})
    assert answer.status_code == 302
    assert "AMS-I.D v18.0" in developer.get("/workspace/projects/new/").content.decode()
    today = clock.now().date().isoformat()
    answer = admin.post(W + "/methodologies/AMS-I.D/18.0/supersede/", {"superseded_from": today})
    assert answer.status_code == 302 and MethodologyVersion.objects.get(version="18.0").superseded_from
    assert "AMS-I.D v18.0" not in developer.get("/workspace/projects/new/").content.decode()

    # A sector without its CAD Trust value is refused beside the field, then added.
    answer = admin.post(W + "/lists/", {"list": "project_sector", "value": "Blue carbon"})
    assert answer.status_code == 400 and "REFERENCE_CADT_VALUE_REQUIRED" in answer.content.decode()
    admin.post(W + "/lists/", {"list": "project_sector", "value": "Blue carbon",
                               "cadt_value": "Afforestation and reforestation"})
    admin.post(W + "/lists/unit_class/retire/", {"value": "CER"})
    form = developer.get("/workspace/projects/new/").content.decode()
    assert "Blue carbon" in form and 'value="CER"' not in form

    answer = admin.post(W + "/eligibility/", {"name": "SG-VIN", "fact": "vintage", "scope": "import",
                                              "first_vintage": "2021"})
    assert answer.status_code == 302
    assert EligibilityRule.objects.get(name="SG-VIN").accepted == [2021, None]
    answer = admin.post(W + "/eligibility/", {"name": "SG-HOST", "fact": "host_party", "scope": "both",
                                              "accepted": "CI, gh\nSN"})
    assert EligibilityRule.objects.get(name="SG-HOST").accepted == ["CI", "GH", "SN"]
    assert admin.post(W + "/eligibility/SG-VIN/remove/").status_code == 302
    assert not EligibilityRule.objects.filter(name="SG-VIN").exists()

    admin.post(W + "/verification-approvals/", {"programme": "Gold Standard"})
    assert ApprovedProgramme.objects.get().name == "Gold Standard"
    page = admin.get(W + "/").content.decode()
    assert "SG-HOST" in page and "Gold Standard" in page and "Blue carbon" in page
    admin.post(W + "/verification-approvals/remove/", {"programme": "Gold Standard"})
    assert not ApprovedProgramme.objects.exists()


def test_the_page_speaks_french() -> None:
    reg = testing.build_registry()
    admin = stepped_up(reg.admin)
    page = admin.get(W + "/", headers={"Accept-Language": "fr"}).content.decode()
    assert "Règles d’éligibilité" in page
    answer = admin.post(W + "/eligibility/", {"name": "X", "fact": "host_party", "scope": "import", "accepted": "CI"})
    answer = admin.post(W + "/eligibility/", {"name": "X", "fact": "host_party", "scope": "import", "accepted": "CI"},
                        headers={"Accept-Language": "fr"})
    assert answer.status_code == 400 and "Une règle porte déjà ce nom." in answer.content.decode()
