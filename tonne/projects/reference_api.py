"""Reference data over HTTP: the methodologies and versions the registry
accepts, its lists, the country's eligibility rules and the programmes whose
VVB reports it approves. Anyone may read them (the country publishes them);
the registry administrator changes them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from tonne.access.policy import require_step_up
from tonne.core.api_support import ERRORS, StrictSchema
from tonne.organisations.api_auth import AUTH, actor, require_scope
from tonne.organisations.models import ApiToken
from tonne.projects import eligibility, reference
from tonne.projects.models import (
    ApprovedProgramme,
    EligibilityRule,
    Methodology,
    MethodologyVersion,
    ReferenceValue,
)

router = Router(tags=["reference"])


class MethodologyVersionOut(Schema):
    version: str
    valid_from: dt.date | None
    superseded_from: dt.date | None


class ReferenceMethodologyOut(Schema):
    code: str
    name: str
    type: str
    link: str
    version_in_force: str | None
    versions: list[MethodologyVersionOut]


class ReferenceMethodologyIn(StrictSchema):
    code: str = Field(max_length=100)
    name: str = Field(max_length=300)
    version: str = Field("", max_length=50)
    valid_from: dt.date | None = None
    type: str = Field("", max_length=100)
    link: str = Field("", max_length=500)


class SupersedeIn(StrictSchema):
    superseded_from: dt.date


class OwnValueOut(Schema):
    value: str
    cadt_value: str
    retired_from: dt.date | None


class ReferenceListOut(Schema):
    name: str
    values: list[str] = Field(description="What a new record may take")
    retired: list[str]
    own: list[OwnValueOut] = Field(description="The registry's own entries: values it added, values it retired")


class ValueIn(StrictSchema):
    value: str = Field(max_length=200)
    cadt_value: str = Field("", max_length=200, description="The CAD Trust value it is exported as (sectors, types)")


class RuleOut(Schema):
    name: str
    fact: str
    scope: str
    accepted: list[Any]
    added_at: dt.datetime


class RuleIn(StrictSchema):
    name: str = Field(max_length=50)
    fact: str = Field(description="host_party, programme, methodology or vintage")
    scope: str = Field(description="registration, import or both")
    accepted: list[Any] = Field(description="Accepted values; for a vintage, [first year, last year], either null")


class ProgrammeOut(Schema):
    name: str
    added_at: dt.datetime


class ProgrammeIn(StrictSchema):
    programme: str = Field(max_length=200)


def _methodology_out(m: Methodology, versions: list[MethodologyVersion], in_force: str | None) -> dict[str, Any]:
    return {"code": m.code, "name": m.name, "type": m.type, "link": m.link, "version_in_force": in_force,
            "versions": [{"version": v.version, "valid_from": v.valid_from, "superseded_from": v.superseded_from}
                         for v in versions]}


@router.get("/reference/methodologies", response={200: list[ReferenceMethodologyOut], **ERRORS})
def list_methodologies(request: HttpRequest):
    """Every methodology the registry lists, its versions and the one a new project takes today."""
    in_force = {m.pk: v for m, v in reference.accepted_methodologies()}
    versions: dict[int, list[MethodologyVersion]] = {}
    for v in MethodologyVersion.objects.order_by("valid_from", "version"):
        versions.setdefault(v.methodology_id, []).append(v)
    return [_methodology_out(m, versions.get(m.pk, []), in_force.get(m.pk)) for m in Methodology.objects.order_by("code")]


@router.post("/reference/methodologies", response={201: ReferenceMethodologyOut, **ERRORS}, auth=AUTH)
def add_methodology_version(request: HttpRequest, payload: ReferenceMethodologyIn):
    """Accept a methodology version for new projects and reports from a day (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    m = reference.add_methodology(actor=user, code=payload.code, name=payload.name, type=payload.type,
                                  version=payload.version, link=payload.link, valid_from=payload.valid_from)
    in_force = dict((x.pk, v) for x, v in reference.accepted_methodologies()).get(m.pk)
    return Status(201, _methodology_out(m, list(m.versions.order_by("valid_from", "version")), in_force))


@router.post("/reference/methodologies/{code}/versions/{version}/supersede", response={200: MethodologyVersionOut, **ERRORS},
             auth=AUTH)
def supersede_methodology_version(request: HttpRequest, code: str, version: str, payload: SupersedeIn):
    """From a day on, new projects and reports cannot take this version (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    return reference.supersede_methodology_version(actor=user, code=code, version=version,
                                                   superseded_from=payload.superseded_from)


def _list_out(name: str) -> dict[str, Any]:
    lists = reference.registry_lists()
    return {"name": name, "values": list(lists.active[name]), "retired": sorted(lists.retired[name]),
            "own": list(ReferenceValue.objects.filter(list=name).values("value", "cadt_value", "retired_from"))}


@router.get("/reference/lists", response={200: list[ReferenceListOut], **ERRORS})
def list_reference_lists(request: HttpRequest):
    """The registry's sectors, project types, sectoral scopes and unit classes."""
    return [_list_out(name) for name in ReferenceValue.List.values]


@router.post("/reference/lists/{name}", response={201: ReferenceListOut, **ERRORS}, auth=AUTH)
def add_reference_value(request: HttpRequest, name: str, payload: ValueIn):
    """Extend a list; a sector or project type names the CAD Trust value it is exported as (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    reference.add_value(actor=user, list=name, value=payload.value, cadt_value=payload.cadt_value)
    return Status(201, _list_out(name))


@router.post("/reference/lists/{name}/retire", response={200: ReferenceListOut, **ERRORS}, auth=AUTH)
def retire_reference_value(request: HttpRequest, name: str, payload: ValueIn):
    """New records can no longer take the value; those holding it keep it (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    reference.retire_value(actor=user, list=name, value=payload.value)
    return _list_out(name)


@router.post("/reference/lists/{name}/reinstate", response={200: ReferenceListOut, **ERRORS}, auth=AUTH)
def reinstate_reference_value(request: HttpRequest, name: str, payload: ValueIn):
    """A retired value may be taken again (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    reference.reinstate_value(actor=user, list=name, value=payload.value)
    return _list_out(name)


@router.get("/reference/eligibility-rules", response={200: list[RuleOut], **ERRORS})
def list_eligibility_rules(request: HttpRequest):
    """The country's eligibility rules for project registration and imports of foreign units."""
    return list(EligibilityRule.objects.order_by("name"))


@router.post("/reference/eligibility-rules", response={201: RuleOut, **ERRORS}, auth=AUTH)
def add_eligibility_rule(request: HttpRequest, payload: RuleIn):
    """Declare a rule: what is not accepted on its fact is refused, naming it (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    return Status(201, eligibility.add_rule(actor=user, name=payload.name, fact=payload.fact, scope=payload.scope,
                                            accepted=payload.accepted))


@router.delete("/reference/eligibility-rules/{name}", response={204: None, **ERRORS}, auth=AUTH)
def remove_eligibility_rule(request: HttpRequest, name: str):
    """Take a rule back (it lets more in: a recent second factor is asked)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    require_step_up(request, user)
    eligibility.remove_rule(actor=user, name=name)
    return Status(204, None)


@router.get("/reference/verification-approvals", response={200: list[ProgrammeOut], **ERRORS})
def list_verification_approvals(request: HttpRequest):
    """The programmes whose VVB reports the registry administrator approves before issuance."""
    return list(ApprovedProgramme.objects.order_by("programme"))


@router.post("/reference/verification-approvals", response={201: ProgrammeOut, **ERRORS}, auth=AUTH)
def add_verification_approval(request: HttpRequest, payload: ProgrammeIn):
    """The registry administrator approves VVB reports of this programme before issuance."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    return Status(201, eligibility.add_approved_programme(actor=user, programme=payload.programme))


@router.delete("/reference/verification-approvals/{programme}", response={204: None, **ERRORS}, auth=AUTH)
def remove_verification_approval(request: HttpRequest, programme: str):
    """Issuance no longer waits for the registry's approval of this programme's reports (a recent second factor)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    require_step_up(request, user)
    eligibility.remove_approved_programme(actor=user, programme=programme)
    return Status(204, None)
