"""Reference data the registry administrator keeps: methodology versions in
force, the registry's lists (retired values refused for new projects, kept on
old ones, added ones exported as CAD Trust values), the country's eligibility
rules (the pure rule and where it is checked), each change in the ledger."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from tonne import testing
from tonne.access.testing import stepped_up
from tonne.core import clock
from tonne.core.errors import RegistryError
from tonne.ledger.models import LedgerEntry
from tonne.projects import domain, eligibility, reference
from tonne.projects import services as projects
from tonne.projects.models import Project

pytestmark = pytest.mark.django_db
API = "/api/v1"


def refused(code: str, call: Any) -> RegistryError:
    with pytest.raises(RegistryError) as exc:
        call()
    assert exc.value.code == code, exc.value
    return exc.value


def entry(kind: str) -> dict:
    return json.loads(LedgerEntry.objects.filter(kind=kind).order_by("-seq").first().body)["data"]


@pytest.fixture
def reg() -> testing.Registry:
    return testing.build_registry()


def draft(reg: testing.Registry, **overrides: Any) -> Project:
    return projects.register_project(actor=reg.developer, data=testing.project_fields(**overrides))


# -- the pure rules ------------------------------------------------------------------------


@pytest.mark.parametrize(("versions", "on", "expected"), [
    ([("1", None, None)], dt.date(2020, 1, 1), "1"),
    ([("1", dt.date(2025, 1, 1), None)], dt.date(2024, 12, 31), None),
    ([("1", None, dt.date(2025, 1, 1)), ("2", dt.date(2025, 1, 1), None)], dt.date(2024, 12, 31), "1"),
    ([("1", None, dt.date(2025, 1, 1)), ("2", dt.date(2025, 1, 1), None)], dt.date(2025, 1, 1), "2"),
    ([("1", None, dt.date(2025, 1, 1))], dt.date(2025, 1, 1), None),
    ([("9.0", dt.date(2024, 1, 1), None), ("13.0", dt.date(2024, 1, 1), None)], dt.date(2024, 6, 1), "13.0"),
    ([("13.0", None, None), ("9.0", None, None), ("13.1", None, None)], dt.date(2024, 6, 1), "13.1"),
])
def test_the_version_in_force(versions: list, on: dt.date, expected: str | None) -> None:
    assert domain.version_in_force(versions, on) == expected


RULES = [domain.Eligibility("HOST-1", "host_party", ("CI", "GH")),
         domain.Eligibility("PROG-2", "programme", ("Gold Standard",)),
         domain.Eligibility("VIN-3", "vintage", (2021, None))]


@pytest.mark.parametrize(("facts", "complete", "code", "rule"), [
    ({"host_party": "ci", "programme": "gold  standard", "vintage": 2021}, True, None, None),
    ({"host_party": "SN", "programme": "Gold Standard", "vintage": 2021}, True, "NOT_ELIGIBLE_HOST_PARTY", "HOST-1"),
    ({"host_party": "CI", "programme": "Verra", "vintage": 2021}, True, "NOT_ELIGIBLE_PROGRAMME", "PROG-2"),
    ({"host_party": "CI", "programme": "Gold Standard", "vintage": 2020}, True, "NOT_ELIGIBLE_VINTAGE", "VIN-3"),
    ({"host_party": "CI", "vintage": 2022}, True, "NOT_ELIGIBLE_PROGRAMME", "PROG-2"),  # not stated: refused
    ({"host_party": "CI", "vintage": 2022}, False, None, None),  # a draft: held to what it states
])
def test_the_eligibility_rule(facts: dict, complete: bool, code: str | None, rule: str | None) -> None:
    if code is None:
        domain.check_eligibility(RULES, facts=facts, complete=complete)
        return
    err = refused(code, lambda: domain.check_eligibility(RULES, facts=facts, complete=complete))
    assert err.details["rule"] == rule and rule in err.message


def test_every_methodology_of_a_project_is_checked() -> None:
    rules = [domain.Eligibility("METH", "methodology", ("AMS-I.D",))]
    domain.check_eligibility(rules, facts={"methodology": ["AMS-I.D"]})
    refused("NOT_ELIGIBLE_METHODOLOGY", lambda: domain.check_eligibility(rules, facts={"methodology": ["AMS-I.D", "X"]}))


# -- methodologies ----------------------------------------------------------------------------


def test_a_superseded_version_is_refused_for_new_projects_and_kept_by_old_ones(reg: testing.Registry) -> None:
    today = clock.now().date()
    refused("NOT_REGISTRY_ADMINISTRATOR", lambda: reference.add_methodology(actor=reg.developer, code="M", name="M"))
    reference.add_methodology(actor=reg.admin, code="AMS-I.D", name="Grid electricity", version="18.0")
    assert entry("reference.methodology_version_added")["version"] == "18.0"
    later = reference.add_methodology(actor=reg.admin, code="FUT", name="Future", version="1",
                                      valid_from=today + dt.timedelta(days=30))
    assert [(m.code, v) for m, v in reference.accepted_methodologies()] == [("AMS-I.D", "18.0")]
    refused("METHODOLOGY_NOT_ACCEPTED", lambda: draft(reg, methodologies=[{"code": later.code}]))
    old = draft(reg, methodologies=[{"code": "AMS-I.D"}])
    assert old.methodologies.get().version == "18.0"
    reference.supersede_methodology_version(actor=reg.admin, code="AMS-I.D", version="18.0", superseded_from=today)
    assert entry("reference.methodology_version_superseded")["superseded_from"] == today.isoformat()
    refused("METHODOLOGY_VERSION_SUPERSEDED", lambda: reference.supersede_methodology_version(
        actor=reg.admin, code="AMS-I.D", version="18.0", superseded_from=today))
    refused("METHODOLOGY_VERSION_NOT_FOUND", lambda: reference.supersede_methodology_version(
        actor=reg.admin, code="AMS-I.D", version="99", superseded_from=today))
    refused("METHODOLOGY_VERSION_SUPERSEDED", lambda: draft(reg, methodologies=[{"code": "AMS-I.D"}]))
    # The draft already on it keeps it when edited.
    projects.update_project(actor=reg.developer, project=old, data={"methodologies": [{"code": "AMS-I.D"}]})
    assert old.methodologies.get().version == "18.0"
    # A new version in force is what a new project takes.
    reference.add_methodology(actor=reg.admin, code="AMS-I.D", name="Grid electricity", version="19.0", valid_from=today)
    assert draft(reg, methodologies=[{"code": "AMS-I.D"}]).methodologies.get().version == "19.0"


# -- the registry's lists -------------------------------------------------------------------------


def test_lists_are_extended_and_retired_by_the_administrator(reg: testing.Registry) -> None:
    refused("REFERENCE_CADT_VALUE_REQUIRED", lambda: reference.add_value(actor=reg.admin, list="project_sector",
                                                                         value="Blue carbon"))
    refused("PICKLIST_VALUE_NOT_ALLOWED", lambda: reference.add_value(
        actor=reg.admin, list="project_sector", value="Blue carbon", cadt_value="Oceans"))
    refused("SECTORAL_SCOPE_INVALID", lambda: reference.add_value(actor=reg.admin, list="sectoral_scope", value="16"))
    refused("UNIT_CLASS_INVALID", lambda: reference.add_value(actor=reg.admin, list="unit_class", value="bad class"))
    refused("REFERENCE_VALUE_EXISTS", lambda: reference.add_value(actor=reg.admin, list="unit_class", value="VER"))
    refused("NOT_REGISTRY_ADMINISTRATOR", lambda: reference.retire_value(actor=reg.developer, list="unit_class",
                                                                         value="VER"))
    reference.add_value(actor=reg.admin, list="project_sector", value="Blue carbon",
                        cadt_value="Afforestation and reforestation")
    assert entry("reference.value_added")["cadt_value"] == "Afforestation and reforestation"
    assert "Blue carbon" in reference.choices("project_sector")
    blue = draft(reg, sectors=["Blue carbon"])
    assert blue.sectors == ["Blue carbon"]
    # CAD Trust receives the value the registry's own stands for.
    assert reference.cadt_values(reference.cadt_mapping(), "project_sector", blue.sectors) == [
        "Afforestation and reforestation"]

    old = draft(reg, sectoral_scope=14, unit_class="VCU")
    reference.retire_value(actor=reg.admin, list="sectoral_scope", value="14")
    reference.retire_value(actor=reg.admin, list="unit_class", value="VCU")
    assert entry("reference.value_retired") == {"list": "unit_class", "value": "VCU",
                                                "retired_from": clock.now().date().isoformat()}
    assert "14" not in reference.choices("sectoral_scope")
    refused("REFERENCE_VALUE_RETIRED", lambda: draft(reg, sectoral_scope=14))
    refused("REFERENCE_VALUE_RETIRED", lambda: draft(reg, sectoral_scope=3, unit_class="VCU"))
    refused("REFERENCE_VALUE_RETIRED", lambda: reference.retire_value(actor=reg.admin, list="unit_class", value="VCU"))
    # The project holding them keeps them.
    projects.update_project(actor=reg.developer, project=old, data={"sectoral_scope": 14, "unit_class": "VCU",
                                                                    "description": "Kept."})
    reference.reinstate_value(actor=reg.admin, list="unit_class", value="VCU")
    assert draft(reg, sectoral_scope=3, unit_class="VCU").unit_class == "VCU"
    refused("REFERENCE_VALUE_NOT_FOUND", lambda: reference.reinstate_value(actor=reg.admin, list="unit_class",
                                                                           value="VCU"))


def test_lists_over_http(reg: testing.Registry) -> None:
    admin = stepped_up(reg.admin)
    lists = {row["name"]: row for row in Client().get(f"{API}/reference/lists").json()}
    assert lists["sectoral_scope"]["values"][:3] == ["1", "2", "3"]
    answer = admin.post(f"{API}/reference/lists/unit_class", {"value": "NCU"}, content_type="application/json")
    assert answer.status_code == 201 and "NCU" in answer.json()["values"]
    answer = admin.post(f"{API}/reference/lists/unit_class/retire", {"value": "NCU"}, content_type="application/json")
    assert answer.json()["retired"] == ["NCU"]
    answer = admin.post(f"{API}/reference/lists/colours", {"value": "red"}, content_type="application/json")
    assert answer.status_code == 422 and answer.json()["code"] == "FIELD_INVALID"
    answer = admin.post(f"{API}/reference/methodologies", {"code": "AMS-II.G", "name": "Biomass", "version": "13.0"},
                        content_type="application/json")
    assert answer.status_code == 201 and answer.json()["version_in_force"] == "13.0"
    rule = {"name": "ELIG-1", "fact": "vintage", "scope": "import", "accepted": [2021, None]}
    assert admin.post(f"{API}/reference/eligibility-rules", rule, content_type="application/json").status_code == 201
    assert Client().get(f"{API}/reference/eligibility-rules").json()[0]["accepted"] == [2021, None]
    assert admin.delete(f"{API}/reference/eligibility-rules/ELIG-1").status_code == 204


# -- eligibility rules ------------------------------------------------------------------------------


def test_rules_are_checked_at_registration_naming_the_rule(reg: testing.Registry) -> None:
    refused("PARTY_INVALID", lambda: eligibility.add_rule(actor=reg.admin, name="H", fact="host_party",
                                                          scope="registration", accepted=["XX"]))
    refused("FIELD_INVALID", lambda: eligibility.add_rule(actor=reg.admin, name="V", fact="vintage", scope="both",
                                                          accepted=[2030, 2020]))
    refused("FIELD_REQUIRED", lambda: eligibility.add_rule(actor=reg.admin, name="V", fact="vintage", scope="both",
                                                           accepted=[None, None]))
    eligibility.add_rule(actor=reg.admin, name="ELIG-PROG", fact="programme", scope="registration",
                         accepted=["Gold Standard", "National programme"])
    eligibility.add_rule(actor=reg.admin, name="ELIG-IMPORT", fact="host_party", scope="import", accepted=["ch"])
    assert entry("reference.eligibility_rule_added")["accepted"] == ["CH"]
    refused("ELIGIBILITY_RULE_EXISTS", lambda: eligibility.add_rule(actor=reg.admin, name="ELIG-PROG", fact="vintage",
                                                                   scope="both", accepted=[2020]))
    # A draft that names no programme yet is kept; it cannot be submitted so.
    unnamed = draft(reg)
    err = refused("NOT_ELIGIBLE_PROGRAMME", lambda: projects.change_project_status(
        actor=reg.developer, project=unnamed, status="submitted"))
    assert err.details["rule"] == "ELIG-PROG"
    refused("NOT_ELIGIBLE_PROGRAMME", lambda: draft(reg, crediting_program="Verra"))
    named = draft(reg, crediting_program="national  PROGRAMME")
    assert projects.change_project_status(actor=reg.developer, project=named, status="submitted").status == "submitted"
    # The import rule is not a registration rule, and the other way round.
    eligibility.check_import({"project": {"host_party": "CH", "host": "x"}, "vintage": 2020})
    refused("NOT_ELIGIBLE_HOST_PARTY", lambda: eligibility.check_import({"project": {"host_party": "SN"},
                                                                         "vintage": 2020}))
    eligibility.remove_rule(actor=reg.admin, name="ELIG-PROG")
    assert entry("reference.eligibility_rule_removed")["rule"] == "ELIG-PROG"
    assert projects.change_project_status(actor=reg.developer, project=unnamed, status="submitted").status == "submitted"
    refused("ELIGIBILITY_RULE_NOT_FOUND", lambda: eligibility.remove_rule(actor=reg.admin, name="ELIG-PROG"))
