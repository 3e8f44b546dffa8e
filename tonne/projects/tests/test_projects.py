"""Projects: registration with CAD Trust v2.0.2 fields and child records,
picklists enforced with errors naming the field and the allowed values, the
life cycle where each step belongs to one party, edits only in draft, and
documents recorded by their SHA-256."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from tonne import testing
from tonne.core import clock
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ledger.models import LedgerEntry, LedgerHead
from tonne.ledger.openings import opened_body
from tonne.organisations import services as orgs
from tonne.organisations.models import Organisation, User
from tonne.projects import domain, picklists
from tonne.projects import services as projects
from tonne.projects.models import (
    CoBenefit,
    Document,
    Estimation,
    Label,
    Location,
    Project,
    ProjectMethodology,
    ProjectStatusChange,
    Rating,
    RelatedProject,
    Stakeholder,
    ValidationRecord,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 5, 1, 9, 30, tzinfo=dt.UTC)


def ledger_size() -> int:
    return LedgerHead.objects.get(pk=1).size


def entries(kind: str) -> list[dict]:
    return [opened_body(e) for e in LedgerEntry.objects.filter(kind=kind).order_by("seq")]


def register(reg: testing.Registry, **overrides: object) -> Project:
    return projects.register_project(
        actor=reg.developer, data=testing.project_fields(**overrides), vvb=str(reg.vvb_org.uid)
    )


FULL_CHILDREN = {
    "locations": [
        {"country": "Cote d'Ivoire", "region": "Lagunes", "gis": "5.32,-4.03", "map_type": "GeoJSON",
         "map_file_link": "https://example.org/map.geojson"},
        {"country": "Ghana", "region": "Western"},
    ],
    "estimations": [
        {"start_date": "2022-01-01", "end_date": "2022-12-31", "unit_count": 50000, "reference_no": "E1"},
        {"start_date": "2023-01-01", "end_date": "2023-12-31", "unit_count": "45000"},
    ],
    "ratings": [{"type": "CCQI", "name": "CCQI score", "value": "4", "link": "https://example.org/ccqi"}],
    "co_benefits": [{"co_benefit": "SDG 13 - Climate action"}, {"co_benefit": "SDG 15 - Life on land"}],
    "labels": [{"name": "CORSIA eligible", "type": "Certification", "date": "2024-02-01"}],
    "stakeholders": [{"name": "Lagoon villages", "type": "Owner"}, {"name": "Mangrove Futures", "type": "Developer"}],
    "related_projects": [{"related_project_id": "VCS-1234", "relationship": "transitioned from", "registry": "Verra"}],
    "methodologies": [{"code": "AR-AMS0003", "date": "2021-06-01", "description": "Small-scale wetlands"}],
}


# --- registration ----------------------------------------------------------------


def test_register_with_all_child_records(registry) -> None:
    projects.add_methodology(
        actor=registry.admin, code="AR-AMS0003", name="Afforestation of wetlands", type="Removal - nature"
    )
    clock.freeze(T0)
    project = register(
        registry,
        host_party="CI",
        ndc_coverage="inside",
        article6_status="requested",
        non_permanence_risk="medium",
        buffer_basis_points=1500,
        unit_class="VCU",
        crediting_period_start="2022-01-01",
        crediting_period_end="2031-12-31",
        benefit_sharing_plan="30 % to communities",
        consent_evidence="FPIC minutes 2021",
        grievance_contact="grievance@example.org",
        unit_metric="tCO2e",
        **FULL_CHILDREN,
    )
    project = Project.objects.get(pk=project.pk)
    assert project.status == Project.Status.DRAFT
    assert project.developer_id == registry.developer_org.id
    assert project.vvb_id == registry.vvb_org.id
    assert project.project_id == f"CI-{project.number:04d}"
    assert project.created_at == project.status_changed_at == T0
    assert project.sectors == ["Afforestation and reforestation"]
    assert project.types == ["Afforestation"]
    assert project.sectoral_scope == 14
    assert project.unit_type == "Removal - nature"
    assert project.buffer_basis_points == 1500
    assert project.unit_class == "VCU"
    assert project.crediting_period_start == dt.date(2022, 1, 1)
    assert project.ndc_coverage == "inside"
    assert project.registry_name  # defaulted from settings

    locations = list(Location.objects.filter(project=project).order_by("country"))
    assert [(x.country, x.region, x.map_type) for x in locations] == [
        ("Cote d'Ivoire", "Lagunes", "GeoJSON"),
        ("Ghana", "Western", ""),
    ]
    estimations = list(Estimation.objects.filter(project=project).order_by("start_date"))
    assert [(e.start_date, e.end_date, e.unit_count) for e in estimations] == [
        (dt.date(2022, 1, 1), dt.date(2022, 12, 31), 50000),
        (dt.date(2023, 1, 1), dt.date(2023, 12, 31), 45000),
    ]
    assert Rating.objects.get(project=project).type == "CCQI"
    assert sorted(CoBenefit.objects.filter(project=project).values_list("co_benefit", flat=True)) == [
        "SDG 13 - Climate action",
        "SDG 15 - Life on land",
    ]
    label = Label.objects.get(project=project)
    assert (label.name, label.type, label.date) == ("CORSIA eligible", "Certification", dt.date(2024, 2, 1))
    assert Stakeholder.objects.filter(project=project).count() == 2
    related = RelatedProject.objects.get(project=project)
    assert (related.related_project_id, related.registry) == ("VCS-1234", "Verra")
    pm = ProjectMethodology.objects.select_related("methodology").get(project=project)
    assert pm.methodology.code == "AR-AMS0003"
    assert pm.date == dt.date(2021, 6, 1)
    for model in (Location, Estimation, Rating, CoBenefit, Label, Stakeholder, RelatedProject, ProjectMethodology):
        uids = list(model.objects.filter(project=project).values_list("uid", flat=True))
        assert all(uids) and len(set(uids)) == len(uids)

    body = entries("project.registered")[-1]
    assert body["data"]["project"] == project.project_id
    assert body["data"]["status"] == "draft"
    assert body["data"]["buffer_basis_points"] == 1500
    assert body["actor"] == f"user:{registry.developer.username}"


def test_project_numbers_are_sequential(registry) -> None:
    first = register(registry)
    second = register(registry, name="Second")
    assert second.number == first.number + 1
    assert second.project_id != first.project_id


def test_unknown_methodology_refused_and_nothing_saved(registry) -> None:
    count, size = Project.objects.count(), ledger_size()
    with pytest.raises(ValidationFailed) as exc:
        register(registry, methodologies=[{"code": "NOPE-1"}])
    assert exc.value.code == "METHODOLOGY_UNKNOWN"
    assert Project.objects.count() == count
    assert ledger_size() == size


def test_case_insensitive_picklist_value_is_canonicalised(registry) -> None:
    project = register(registry, sectors=["afforestation AND reforestation"], unit_type="removal - NATURE")
    assert project.sectors == ["Afforestation and reforestation"]
    assert project.unit_type == "Removal - nature"


PICKLIST_CASES = [
    ({"sectors": ["Space mining"]}, "sectors", "project_sector"),
    ({"sectors": ["Afforestation and reforestation", "Nope"]}, "sectors", "project_sector"),
    ({"types": ["Teleportation"]}, "types", "project_type"),
    ({"unit_metric": "tonnes"}, "unit_metric", "unit_metric"),
    ({"unit_type": "Removal"}, "unit_type", "unit_type"),
    ({"unit_type": 7}, "unit_type", "unit_type"),
    ({"locations": [{"country": "Atlantis"}]}, "locations[0].country", "location_country"),
    ({"locations": [{"country": "Ghana"}, {"country": "Ghana", "map_type": "PDF"}]}, "locations[1].map_type", "location_map_type"),
    ({"ratings": [{"type": "Moody", "name": "n", "value": "v"}]}, "ratings[0].type", "rating_type"),
    ({"co_benefits": [{"co_benefit": "SDG 18"}]}, "co_benefits[0].co_benefit", "co_benefit_id"),
    ({"labels": [{"name": "n", "type": "Gold"}]}, "labels[0].type", "label_type"),
    ({"stakeholders": [{"name": "n", "type": "Neighbour"}]}, "stakeholders[0].type", "stakeholder_type"),
]


@pytest.mark.parametrize(("overrides", "field", "picklist"), PICKLIST_CASES)
def test_picklist_violation_names_field_and_allowed_values(registry, overrides: dict, field: str, picklist: str) -> None:
    count, size = Project.objects.count(), ledger_size()
    with pytest.raises(ValidationFailed) as exc:
        register(registry, **overrides)
    err = exc.value
    assert err.code == "PICKLIST_VALUE_NOT_ALLOWED"
    assert err.field == field
    assert err.message.startswith(f"{field}:")
    allowed = picklists.allowed(picklist)
    assert allowed
    for value in allowed:
        assert value in err.message
    assert err.details.items() >= {"picklist": picklist, "allowed": allowed}.items()
    assert err.as_problem()["field"] == field
    assert Project.objects.count() == count
    assert ledger_size() == size


def test_every_picklist_field_is_enforced() -> None:
    """Every field that the spec ties to a picklist is covered above."""
    declared = {s.name for s in domain.PROJECT_FIELDS if s.picklist}
    for child, specs in domain.CHILD_FIELDS.items():
        declared |= {f"{child}.{s.name}" for s in specs if s.picklist}
    covered = {case[1].replace("[0]", "").replace("[1]", "") for case in PICKLIST_CASES}
    assert declared == covered


def test_validation_and_methodology_types_are_picklists(registry) -> None:
    with pytest.raises(ValidationFailed) as exc:
        projects.add_methodology(actor=registry.admin, code="X-1", name="X", type="Magic")
    assert exc.value.code == "PICKLIST_VALUE_NOT_ALLOWED"
    assert all(v in exc.value.message for v in picklists.allowed("methodology_type"))
    project = register(registry)
    project = projects.change_project_status(actor=registry.developer, project=project, status="submitted")
    project = projects.change_project_status(actor=registry.admin, project=project, status="approved")
    with pytest.raises(ValidationFailed) as vexc:
        projects.change_project_status(actor=registry.vvb, project=project, status="validated", validation={"type": "Desk review"})
    assert vexc.value.code == "PICKLIST_VALUE_NOT_ALLOWED"
    assert vexc.value.field == "validation.type"
    assert all(v in vexc.value.message for v in picklists.allowed("validation_type"))
    assert Project.objects.get(pk=project.pk).status == "approved"


@pytest.mark.parametrize(
    ("drop", "field"),
    [("name", "name"), ("sectors", "sectors"), ("types", "types"), ("sectoral_scope", "sectoral_scope")],
)
def test_required_fields(registry, drop: str, field: str) -> None:
    data = testing.project_fields()
    del data[drop]
    with pytest.raises(ValidationFailed) as exc:
        projects.register_project(actor=registry.developer, data=data)
    assert exc.value.code == "FIELD_REQUIRED"
    assert exc.value.field == field


@pytest.mark.parametrize("value", ["", None, []])
def test_required_picklist_lists_allowed_values(registry, value) -> None:  # noqa: ANN001
    with pytest.raises(ValidationFailed) as exc:
        register(registry, sectors=value)
    assert exc.value.code == "FIELD_REQUIRED"
    assert exc.value.field == "sectors"
    assert all(v in exc.value.message for v in picklists.allowed("project_sector"))


@pytest.mark.parametrize(
    ("child", "row", "field"),
    [
        ("locations", {"region": "x"}, "locations[0].country"),
        ("estimations", {"start_date": "2022-01-01", "unit_count": 5}, "estimations[0].end_date"),
        ("ratings", {"type": "CCQI", "name": "n"}, "ratings[0].value"),
        ("co_benefits", {}, "co_benefits[0].co_benefit"),
        ("labels", {"type": "Certification"}, "labels[0].name"),
        ("related_projects", {"related_project_id": "x"}, "related_projects[0].relationship"),
    ],
)
def test_required_child_fields(registry, child: str, row: dict, field: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        register(registry, **{child: [row]})
    assert exc.value.code == "FIELD_REQUIRED"
    assert exc.value.field == field


@pytest.mark.parametrize("scope", [1, 7, 15, "3"])
def test_sectoral_scope_in_range(registry, scope) -> None:  # noqa: ANN001
    assert register(registry, sectoral_scope=scope).sectoral_scope == int(scope)


@pytest.mark.parametrize(
    ("scope", "code"),
    [(0, "SECTORAL_SCOPE_INVALID"), (16, "SECTORAL_SCOPE_INVALID"), (99, "SECTORAL_SCOPE_INVALID"),
     (-1, "FIELD_INVALID"), ("three", "FIELD_INVALID"), (True, "FIELD_INVALID"), (3.5, "FIELD_INVALID")],
)
def test_sectoral_scope_out_of_range(registry, scope, code: str) -> None:  # noqa: ANN001
    with pytest.raises(ValidationFailed) as exc:
        register(registry, sectoral_scope=scope)
    assert exc.value.code == code
    assert exc.value.field == "sectoral_scope"


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"colour": "green"}, "FIELD_UNKNOWN", "colour"),
        ({"locations": [{"country": "Ghana", "altitude": 3}]}, "FIELD_UNKNOWN", "locations[0]"),
        ({"locations": {"country": "Ghana"}}, "FIELD_INVALID", "locations"),
        ({"locations": ["Ghana"]}, "FIELD_INVALID", "locations[0]"),
        ({"buffer_basis_points": 10001}, "BUFFER_INVALID", "buffer_basis_points"),
        ({"unit_class": "ver"}, "UNIT_CLASS_INVALID", "unit_class"),
        ({"unit_class": "V-R"}, "UNIT_CLASS_INVALID", "unit_class"),
        ({"link": "ftp://example.org"}, "FIELD_INVALID", "link"),
        ({"ndc_coverage": "partly"}, "FIELD_INVALID", "ndc_coverage"),
        ({"crediting_period_start": "2030-01-01", "crediting_period_end": "2029-12-31"}, "CREDITING_PERIOD_INVALID", "crediting_period_end"),
        ({"crediting_period_start": "1 May 2030"}, "FIELD_INVALID", "crediting_period_start"),
        ({"estimations": [{"start_date": "2023-01-01", "end_date": "2022-01-01", "unit_count": 1}]}, "ESTIMATION_PERIOD_INVALID", "estimations[0].end_date"),
        ({"sectors": "Energy"}, "FIELD_INVALID", "sectors"),
        ({"name": 42}, "FIELD_INVALID", "name"),
        ({"host_party": "XX"}, "PARTY_INVALID", "host_party"),
        ({"host_party": "Cote d'Ivoire"}, "PARTY_INVALID", "host_party"),
        ({"name": "N" * 301}, "TEXT_TOO_LONG", "name"),
        ({"stakeholders": [{"name": "S" * 201, "type": "Community"}]}, "TEXT_TOO_LONG", "stakeholders[0].name"),
    ],
)
def test_field_validation(registry, overrides: dict, code: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        register(registry, **overrides)
    assert exc.value.code == code
    assert exc.value.field == field


def test_text_limits_are_the_columns_own() -> None:
    """Each text field's limit is its column's: longer is refused, never cut."""
    from django.db.models import CharField

    from tonne.projects import domain
    from tonne.projects.models import Project

    for spec in domain.PROJECT_FIELDS:
        column = Project._meta.get_field(spec.name)
        if spec.kind in ("text", "url") and not spec.picklist and isinstance(column, CharField) and spec.name not in domain.CHOICES:
            assert spec.limit == column.max_length, spec.name
    for child, specs in domain.CHILD_FIELDS.items():
        model = Project._meta.get_field(child).related_model
        names = {f.name for f in model._meta.get_fields()}
        for spec in specs:
            if spec.kind in ("text", "url") and not spec.picklist and spec.name in names:
                column = model._meta.get_field(spec.name)
                if isinstance(column, CharField) and column.max_length:
                    assert spec.limit == column.max_length, f"{child}.{spec.name}"


def test_only_active_developers_register(registry) -> None:
    with pytest.raises(PermissionDenied) as vvb:
        projects.register_project(actor=registry.vvb, data=testing.project_fields())
    assert vvb.value.code == "NOT_A_DEVELOPER"
    viewer = testing.make_user(registry.developer_org, "dev-viewer", User.Role.VIEWER, actor=registry.admin)
    with pytest.raises(PermissionDenied) as role:
        projects.register_project(actor=viewer, data=testing.project_fields())
    assert role.value.code == "ROLE_NOT_ALLOWED"
    initiator = testing.make_user(registry.developer_org, "dev-init", User.Role.INITIATOR, actor=registry.admin)
    assert projects.register_project(actor=initiator, data=testing.project_fields()).status == "draft"


def test_vvb_must_be_accredited_and_approved(registry) -> None:
    unaccredited = testing.make_org(registry.admin, "Fresh Verifiers", Organisation.Kind.VVB)
    with pytest.raises(ValidationFailed) as exc:
        projects.register_project(actor=registry.developer, data=testing.project_fields(), vvb=str(unaccredited.uid))
    assert exc.value.code == "VVB_NOT_ACCREDITED"
    for bad in (str(registry.buyer_org.uid), "not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(ValidationFailed) as unknown:
            projects.register_project(actor=registry.developer, data=testing.project_fields(), vvb=bad)
        assert unknown.value.code == "VVB_UNKNOWN"


# --- life cycle ---------------------------------------------------------------------

STATUSES = ["draft", "submitted", "approved", "validated", "registered", "completed", "rejected", "withdrawn", "on_hold"]
D, A, V = "developer", "admin", "vvb"

# The rules of the issue, written out independently of domain.TRANSITIONS.
EXPECTED = {
    ("draft", "submitted"): D,
    ("submitted", "approved"): A,
    ("approved", "validated"): V,
    ("validated", "registered"): A,
    ("registered", "completed"): A,
    ("submitted", "rejected"): A,
    ("approved", "rejected"): V,
    ("validated", "rejected"): A,
    ("draft", "withdrawn"): D,
    ("submitted", "withdrawn"): D,
    ("approved", "withdrawn"): D,
    ("validated", "withdrawn"): D,
    ("submitted", "on_hold"): A,
    ("approved", "on_hold"): A,
    ("validated", "on_hold"): A,
    ("registered", "on_hold"): A,
    # The table's on_hold project was held while submitted: it lifts back there.
    ("on_hold", "submitted"): A,
    # A rejected project is reopened by its developer, corrected and resubmitted.
    ("rejected", "draft"): D,
}

# How to reach each status: (target, party) steps from draft.
PATHS = {
    "draft": [],
    "submitted": [("submitted", D)],
    "approved": [("submitted", D), ("approved", A)],
    "validated": [("submitted", D), ("approved", A), ("validated", V)],
    "registered": [("submitted", D), ("approved", A), ("validated", V), ("registered", A)],
    "completed": [("submitted", D), ("approved", A), ("validated", V), ("registered", A), ("completed", A)],
    "rejected": [("submitted", D), ("rejected", A)],
    "withdrawn": [("withdrawn", D)],
    "on_hold": [("submitted", D), ("on_hold", A)],
}

WRONG_PARTY_CODES = {
    D: {"PROJECT_NOT_YOURS", "NO_ORGANISATION"},
    A: {"NOT_REGISTRY_ADMINISTRATOR"},
    V: {"NOT_ASSIGNED_VVB", "NO_ORGANISATION"},
}


@pytest.fixture
def cast(registry) -> dict[str, User]:
    other_vvb_org = testing.make_org(registry.admin, "Other Verifiers", Organisation.Kind.VVB)
    other_vvb_org = orgs.set_accreditation(actor=registry.admin, organisation=other_vvb_org, accredited=True)
    dev_viewer = testing.make_user(registry.developer_org, "dev-viewer", User.Role.VIEWER, actor=registry.admin)
    gov_viewer = testing.make_user(registry.government, "gov-viewer", User.Role.VIEWER, actor=registry.admin)
    return {
        D: registry.developer,
        A: registry.admin,
        V: registry.vvb,
        "other_developer": registry.other_developer,
        "other_vvb": testing.make_user(other_vvb_org, "other-vvb", actor=registry.admin),
        "buyer": registry.buyer,
        "dev_viewer": dev_viewer,
        "gov_viewer": gov_viewer,
        "root": registry.root,
    }


def walk(cast: dict[str, User], project: Project, steps: list[tuple[str, str]]) -> Project:
    for status, party in steps:
        project = projects.change_project_status(actor=cast[party], project=project, status=status, reason="step")
    return project


def _state(project: Project) -> tuple:
    return (
        Project.objects.get(pk=project.pk).status,
        ProjectStatusChange.objects.filter(project=project).count(),
        ValidationRecord.objects.filter(project=project).count(),
        ledger_size(),
    )


@pytest.mark.parametrize("target", STATUSES)
@pytest.mark.parametrize("current", STATUSES)
def test_life_cycle_table(registry, cast, current: str, target: str) -> None:
    project = walk(cast, register(registry), PATHS[current])
    assert project.status == current
    party = EXPECTED.get((current, target))
    before = _state(project)
    # Root is a registry administrator, so it is the right party for A steps.
    wrong_actors = [name for name in cast if name != party and not (party == A and name == "root")]
    for name in wrong_actors:
        with pytest.raises((ValidationFailed, PermissionDenied)) as exc:
            projects.change_project_status(actor=cast[name], project=project, status=target, reason="attempt")
        if party is None:
            assert exc.value.code == "PROJECT_TRANSITION_NOT_ALLOWED", (name, exc.value)
        else:
            assert isinstance(exc.value, PermissionDenied), (name, exc.value)
            allowed_codes = WRONG_PARTY_CODES[party] | {"ROLE_NOT_ALLOWED"}
            assert exc.value.code in allowed_codes, (name, exc.value)
        assert _state(project) == before, name
    if party is None:
        return
    clock.freeze(T0)
    moved = projects.change_project_status(actor=cast[party], project=project, status=target, reason="decided")
    assert moved.status == target
    assert Project.objects.get(pk=project.pk).status == target
    assert moved.status_changed_at == T0
    change = ProjectStatusChange.objects.filter(project=project).order_by("-id").first()
    assert (change.from_status, change.to_status, change.actor_id, change.reason) == (
        current, target, cast[party].pk, "decided"
    )
    body = entries("project.status")[-1]
    assert body["data"]["from"] == current
    assert body["data"]["status"] == target
    assert body["data"]["project"] == project.project_id
    assert body["actor"] == f"user:{cast[party].username}"
    assert ledger_size() == before[3] + 1


def test_root_is_administrator_party(registry, cast) -> None:
    # Root is a registry administrator (and the table excluded it as a wrong party).
    project = walk(cast, register(registry), PATHS["submitted"])
    assert projects.change_project_status(actor=registry.root, project=project, status="approved").status == "approved"


def test_domain_table_matches_the_rules() -> None:
    table = {k: {"developer": D, "administrator": A, "vvb": V}[v] for k, v in domain.TRANSITIONS.items()}
    lifts = {("on_hold", s): A for s in ("submitted", "approved", "validated", "registered")}
    assert table == {**EXPECTED, **lifts}


@pytest.mark.parametrize("held_from", ["submitted", "approved", "validated", "registered"])
def test_hold_lifts_back_to_previous_status(registry, cast, held_from: str) -> None:
    project = walk(cast, register(registry), PATHS[held_from])
    project = projects.change_project_status(actor=registry.admin, project=project, status="on_hold", reason="complaint")
    assert project.status == "on_hold"
    for other in ("submitted", "approved", "validated", "registered", "draft", "completed"):
        if other == held_from:
            continue
        with pytest.raises(ValidationFailed) as exc:
            projects.change_project_status(actor=registry.admin, project=project, status=other, reason="lift")
        assert exc.value.code == "PROJECT_TRANSITION_NOT_ALLOWED"
        assert held_from in exc.value.message
    with pytest.raises(PermissionDenied):
        projects.change_project_status(actor=registry.developer, project=project, status=held_from)
    project = projects.change_project_status(actor=registry.admin, project=project, status=held_from)
    assert project.status == held_from


def test_second_hold_lifts_to_its_own_previous_status(registry, cast) -> None:
    project = walk(cast, register(registry), PATHS["submitted"])
    project = projects.change_project_status(actor=registry.admin, project=project, status="on_hold", reason="one")
    project = projects.change_project_status(actor=registry.admin, project=project, status="submitted")
    project = projects.change_project_status(actor=registry.admin, project=project, status="approved")
    project = projects.change_project_status(actor=registry.admin, project=project, status="on_hold", reason="two")
    with pytest.raises(ValidationFailed):
        projects.change_project_status(actor=registry.admin, project=project, status="submitted")
    assert projects.change_project_status(actor=registry.admin, project=project, status="approved").status == "approved"


@pytest.mark.parametrize(("path", "target"), [("submitted", "rejected"), ("submitted", "on_hold"), ("validated", "rejected")])
@pytest.mark.parametrize("reason", ["", "   "])
def test_reject_and_hold_need_reason(registry, cast, path: str, target: str, reason: str) -> None:
    project = walk(cast, register(registry), PATHS[path])
    before = _state(project)
    with pytest.raises(ValidationFailed) as exc:
        projects.change_project_status(actor=registry.admin, project=project, status=target, reason=reason)
    assert exc.value.code == "REASON_REQUIRED"
    assert _state(project) == before


def test_vvb_rejects_with_reason(registry, cast) -> None:
    project = walk(cast, register(registry), PATHS["approved"])
    with pytest.raises(ValidationFailed):
        projects.change_project_status(actor=registry.vvb, project=project, status="rejected")
    project = projects.change_project_status(actor=registry.vvb, project=project, status="rejected", reason="baseline flawed")
    assert project.status == "rejected"
    assert ProjectStatusChange.objects.filter(project=project).last().reason == "baseline flawed"


def test_validation_writes_validation_record(registry, cast) -> None:
    project = walk(cast, register(registry), PATHS["approved"])
    doc = projects.upload_document(
        actor=registry.vvb, project=project, kind="validation_report", title="VR", filename="vr.pdf", content=b"%PDF validation"
    )
    clock.freeze(T0)
    project = projects.change_project_status(
        actor=registry.vvb,
        project=project,
        status="validated",
        validation={
            "type": "validation of project design document",
            "report": str(doc.uid),
            "crediting_period_start": "2022-01-01",
            "crediting_period_end": "2031-12-31",
        },
    )
    record = ValidationRecord.objects.get(project=project)
    assert record.body_id == registry.vvb_org.id
    assert record.type == "Validation of Project Design Document"
    assert record.validation_id == f"{project.project_id}-VAL-1"
    assert record.date == T0.date()
    assert record.report_id == doc.id
    assert record.credit_period_start == dt.date(2022, 1, 1)
    body = entries("project.status")[-1]
    assert body["data"]["validation"] == {"id": record.validation_id, "type": record.type, "date": "2025-05-01"}


def test_validation_report_must_belong_to_project(registry, cast) -> None:
    project = walk(cast, register(registry), PATHS["approved"])
    other = register(registry, name="Other")
    doc = projects.upload_document(
        actor=registry.developer, project=other, kind="other", title="x", filename="x.txt", content=b"x"
    )
    with pytest.raises(ValidationFailed) as exc:
        projects.change_project_status(actor=registry.vvb, project=project, status="validated", validation={"report": str(doc.uid)})
    assert exc.value.code == "DOCUMENT_NOT_FOUND"
    assert Project.objects.get(pk=project.pk).status == "approved"


def test_vvb_losing_accreditation_cannot_validate(registry, cast) -> None:
    project = walk(cast, register(registry), PATHS["approved"])
    orgs.set_accreditation(actor=registry.admin, organisation=registry.vvb_org, accredited=False)
    with pytest.raises(PermissionDenied) as exc:
        projects.change_project_status(actor=User.objects.get(pk=registry.vvb.pk), project=project, status="validated")
    assert exc.value.code == "VVB_NOT_ACCREDITED"


def test_project_without_vvb_cannot_be_validated(registry, cast) -> None:
    project = projects.register_project(actor=registry.developer, data=testing.project_fields())
    assert project.vvb_id is None
    project = walk(cast, project, PATHS["approved"])
    with pytest.raises(PermissionDenied) as exc:
        projects.change_project_status(actor=registry.vvb, project=project, status="validated")
    assert exc.value.code == "NOT_ASSIGNED_VVB"


def test_suspended_developer_cannot_submit(registry, cast) -> None:
    project = register(registry)
    orgs.decide_organisation(actor=registry.admin, organisation=registry.developer_org, status="suspended", reason="audit")
    with pytest.raises(PermissionDenied) as exc:
        projects.change_project_status(actor=User.objects.get(pk=registry.developer.pk), project=project, status="submitted")
    assert exc.value.code == "ORGANISATION_NOT_APPROVED"


# --- edits -------------------------------------------------------------------------


def test_edit_in_draft(registry) -> None:
    project = register(registry, locations=[{"country": "Ghana"}, {"country": "Cote d'Ivoire"}])
    clock.freeze(T0)
    project = projects.update_project(
        actor=registry.developer,
        project=project,
        data={"name": "Renamed", "sectoral_scope": 3, "locations": [{"country": "Togo"}]},
    )
    project = Project.objects.get(pk=project.pk)
    assert project.name == "Renamed"
    assert project.sectoral_scope == 3
    assert project.updated_at == T0
    assert project.sectors == ["Afforestation and reforestation"]  # untouched
    assert list(Location.objects.filter(project=project).values_list("country", flat=True)) == ["Togo"]
    assert CoBenefit.objects.filter(project=project).count() == 1  # not in the edit: kept
    body = entries("project.updated")[-1]
    assert body["data"]["fields"] == ["locations", "name", "sectoral_scope"]


def test_edit_validates_like_registration(registry) -> None:
    project = register(registry)
    with pytest.raises(ValidationFailed) as exc:
        projects.update_project(actor=registry.developer, project=project, data={"sectoral_scope": 16})
    assert exc.value.code == "SECTORAL_SCOPE_INVALID"
    with pytest.raises(ValidationFailed) as pick:
        projects.update_project(actor=registry.developer, project=project, data={"types": ["Nope"]})
    assert pick.value.code == "PICKLIST_VALUE_NOT_ALLOWED"
    assert Project.objects.get(pk=project.pk).sectoral_scope == 14


@pytest.mark.parametrize("status", [s for s in STATUSES if s != "draft"])
def test_edits_only_in_draft(registry, cast, status: str) -> None:
    project = walk(cast, register(registry), PATHS[status])
    size = ledger_size()
    with pytest.raises(ValidationFailed) as exc:
        projects.update_project(actor=registry.developer, project=project, data={"name": "Changed"})
    # Closed (or rejected, until reopened): nothing changes; else the name, relied upon, is locked.
    closed = status in ("rejected", "withdrawn", "completed")
    assert exc.value.code == ("PROJECT_NOT_EDITABLE" if closed else "PROJECT_FIELD_LOCKED")
    assert Project.objects.get(pk=project.pk).name != "Changed"
    assert ledger_size() == size


@pytest.mark.parametrize("who", ["other_developer", "admin", "vvb", "buyer"])
def test_only_developer_edits(registry, who: str) -> None:
    project = register(registry)
    with pytest.raises(PermissionDenied) as exc:
        projects.update_project(actor=getattr(registry, who), project=project, data={"name": "Changed"})
    assert exc.value.code == "PROJECT_NOT_YOURS"
    assert Project.objects.get(pk=project.pk).name != "Changed"


# --- documents -------------------------------------------------------------------


@pytest.fixture
def documents_dir(settings, tmp_path):  # noqa: ANN001, ANN201
    settings.TONNE_DOCUMENTS_DIR = tmp_path / "documents"
    return settings.TONNE_DOCUMENTS_DIR


def test_document_upload_records_sha256(registry, documents_dir) -> None:  # noqa: ANN001
    project = register(registry)
    content = b"%PDF-1.7 project design document \x00\xff"
    digest = hashlib.sha256(content).hexdigest()
    clock.freeze(T0)
    doc = projects.upload_document(
        actor=registry.developer,
        project=project,
        kind="design",
        title="PDD v1",
        filename="../../etc/pdd.pdf",
        content=content,
        content_type="application/pdf",
    )
    doc = Document.objects.get(pk=doc.pk)
    assert doc.sha256 == digest
    assert doc.size == len(content)
    assert doc.filename == "pdd.pdf"
    assert doc.uploaded_at == T0
    assert doc.uploaded_by_id == registry.developer.pk
    stored = projects.document_path(doc)
    assert stored == documents_dir / digest[:2] / digest
    assert stored.read_bytes() == content
    entry = LedgerEntry.objects.filter(kind="document.uploaded").order_by("-seq").first()
    body = opened_body(entry)
    assert body["data"] == {
        "document": str(doc.uid),
        "project": project.project_id,
        "kind": "design",
        "filename": "pdd.pdf",
        "size": len(content),
        "sha256": digest,
    }


def test_same_content_stored_once(registry, documents_dir) -> None:  # noqa: ANN001
    project = register(registry)
    a = projects.upload_document(actor=registry.developer, project=project, kind="other", title="a", filename="a", content=b"same")
    b = projects.upload_document(actor=registry.developer, project=project, kind="other", title="b", filename="b", content=b"same")
    assert a.pk != b.pk
    assert a.storage_name == b.storage_name
    assert len([p for p in documents_dir.rglob("*") if p.is_file()]) == 1
    assert len(entries("document.uploaded")) >= 2


def test_document_upload_refusals(registry, documents_dir, settings) -> None:  # noqa: ANN001
    project = register(registry)
    cases = [
        ({"kind": "selfie"}, ValidationFailed, "DOCUMENT_KIND_INVALID"),
        ({"content": b""}, ValidationFailed, "DOCUMENT_EMPTY"),
        ({"actor": registry.other_developer}, PermissionDenied, "PROJECT_NOT_YOURS"),
        ({"actor": registry.buyer}, PermissionDenied, "PROJECT_NOT_YOURS"),
    ]
    for overrides, exc_type, code in cases:
        kwargs = {"actor": registry.developer, "project": project, "kind": "other", "title": "t", "filename": "f", "content": b"x", **overrides}
        size, count = ledger_size(), Document.objects.count()
        with pytest.raises(exc_type) as exc:
            projects.upload_document(**kwargs)
        assert exc.value.code == code
        assert (ledger_size(), Document.objects.count()) == (size, count)
    settings.TONNE_MAX_DOCUMENT_BYTES = 10
    with pytest.raises(ValidationFailed) as big:
        projects.upload_document(actor=registry.developer, project=project, kind="other", title="t", filename="f", content=b"x" * 11)
    assert big.value.code == "DOCUMENT_TOO_LARGE"


def test_assigned_vvb_and_administrator_may_upload(registry, documents_dir) -> None:  # noqa: ANN001
    project = register(registry)
    for actor in (registry.vvb, registry.admin):
        doc = projects.upload_document(actor=actor, project=project, kind="letter", title="t", filename="f.txt", content=b"letter")
        assert doc.project_id == project.pk
