"""The country's eligibility rules (which host Party, programme, methodology
and vintage it accepts, as it publishes them), checked at project
registration and when foreign units come in; and the programmes whose VVB
reports the registry administrator approves before issuance. Every change is
one transaction with its ledger entry."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from tonne.core import clock, iso3166
from tonne.core.errors import Conflict, NotFound, ValidationFailed
from tonne.core.text import fits
from tonne.ledger.services import append_entry
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator
from tonne.projects import domain
from tonne.projects.models import ApprovedProgramme, EligibilityRule, Project

REGISTRATION, IMPORT = EligibilityRule.Scope.REGISTRATION, EligibilityRule.Scope.IMPORT
FIRST_VINTAGE, LAST_VINTAGE = 1990, 2100


def _year(value: object, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        year = int(str(value), 10)
    except ValueError:
        year = 0
    if not FIRST_VINTAGE <= year <= LAST_VINTAGE:
        raise ValidationFailed("FIELD_INVALID", f"{field} is a year from {FIRST_VINTAGE} to {LAST_VINTAGE}.", field=field)
    return year


def _accepted(fact: str, values: list[Any]) -> list[Any]:
    if fact == EligibilityRule.Fact.VINTAGE:
        if len(values) > 2:
            raise ValidationFailed("FIELD_INVALID", "A vintage rule names a first and a last year.", field="accepted")
        first, last = (list(values) + [None, None])[:2]
        first, last = _year(first, "accepted"), _year(last, "accepted")
        if first is None and last is None:
            raise ValidationFailed("FIELD_REQUIRED", "A vintage rule names a first or a last year.", field="accepted")
        if first is not None and last is not None and last < first:
            raise ValidationFailed("FIELD_INVALID", "The last vintage comes before the first.", field="accepted")
        return [first, last]
    cleaned: list[Any] = []
    for value in values:
        text = " ".join(str(value or "").split())
        if not text:
            continue
        if fact == EligibilityRule.Fact.HOST_PARTY:
            text = iso3166.country(text, "accepted", code="PARTY_INVALID")
        if len(text) > 200:
            raise ValidationFailed("TEXT_TOO_LONG", "A value is at most 200 characters.", field="accepted")
        if text not in cleaned:
            cleaned.append(text)
    if not cleaned:
        raise ValidationFailed("FIELD_REQUIRED", "Name at least one accepted value.", field="accepted")
    return cleaned


def add_rule(*, actor: User, name: str, fact: str, scope: str, accepted: list[Any]) -> EligibilityRule:
    require_registry_administrator(actor)
    name = fits(EligibilityRule, "name", " ".join((name or "").split()))
    if not name:
        raise ValidationFailed("FIELD_REQUIRED", "Name the rule (as the country publishes it).", field="name")
    if fact not in EligibilityRule.Fact.values:
        raise ValidationFailed("FIELD_INVALID", f"fact is one of {', '.join(EligibilityRule.Fact.values)}.", field="fact")
    if scope not in EligibilityRule.Scope.values:
        raise ValidationFailed("FIELD_INVALID", f"scope is one of {', '.join(EligibilityRule.Scope.values)}.", field="scope")
    if not isinstance(accepted, list):
        raise ValidationFailed("FIELD_INVALID", "accepted is a list of values.", field="accepted")
    values = _accepted(fact, accepted)
    try:
        with transaction.atomic():
            rule = EligibilityRule.objects.create(name=name, fact=fact, scope=scope, accepted=values, added_by=actor,
                                                  added_at=clock.now())
            append_entry(kind="reference.eligibility_rule_added", actor=actor,
                         data={"rule": name, "fact": fact, "scope": scope, "accepted": values})
    except IntegrityError:
        raise Conflict("ELIGIBILITY_RULE_EXISTS", f"A rule is already named {name}.", field="name") from None
    return rule


@transaction.atomic
def remove_rule(*, actor: User, name: str) -> None:
    require_registry_administrator(actor)
    rule = EligibilityRule.objects.select_for_update().filter(name=name).first()
    if rule is None:
        raise NotFound("ELIGIBILITY_RULE_NOT_FOUND", f"No rule is named {name}.", field="name")
    rule.delete()
    append_entry(kind="reference.eligibility_rule_removed", actor=actor,
                 data={"rule": name, "fact": rule.fact, "scope": rule.scope, "accepted": rule.accepted})


def rules_for(scope: str) -> list[domain.Eligibility]:
    return [domain.Eligibility(name=r.name, fact=r.fact, accepted=tuple(r.accepted))
            for r in EligibilityRule.objects.filter(scope__in=(scope, EligibilityRule.Scope.BOTH)).order_by("name")]


def check_project(project: Project, *, complete: bool = True) -> None:
    """A project the country's registration rules do not accept is refused,
    naming the rule; a draft (`complete=False`) is held only to what it states."""
    domain.check_eligibility(rules_for(REGISTRATION), complete=complete, facts={
        "host_party": project.host_party,
        "programme": project.crediting_program or (project.program.name if project.program else None),
        "methodology": list(project.methodologies.values_list("methodology__code", flat=True)),
        "vintage": project.crediting_period_start.year if project.crediting_period_start else None,
    })


def check_import(block: dict[str, Any]) -> None:
    """Foreign units the country's import rules do not accept are refused,
    naming the rule: the host Party, vintage, and, where the file states
    them, programme and methodology of each block."""
    project = block.get("project") or {}
    domain.check_eligibility(rules_for(IMPORT), facts={
        "host_party": project.get("host_party") or block.get("authorisation", {}).get("authorising_party"),
        "programme": project.get("programme"),
        "methodology": project.get("methodologies"),
        "vintage": block.get("vintage"),
    })


# -- verification approval per programme ---------------------------------------------------------


def add_approved_programme(*, actor: User, programme: str) -> ApprovedProgramme:
    """From now on, the registry administrator approves VVB reports of this programme's projects."""
    require_registry_administrator(actor)
    name = fits(ApprovedProgramme, "name", " ".join((programme or "").split()))
    if not name:
        raise ValidationFailed("FIELD_REQUIRED", "Name the programme or standard.", field="programme")
    try:
        with transaction.atomic():
            row = ApprovedProgramme.objects.create(programme=domain.fold(name), name=name, added_by=actor,
                                                   added_at=clock.now())
            append_entry(kind="reference.verification_approval_added", actor=actor, data={"programme": name})
    except IntegrityError:
        raise Conflict("APPROVED_PROGRAMME_EXISTS", f"Reports of {name} are already approved by the registry.",
                       field="programme") from None
    return row


@transaction.atomic
def remove_approved_programme(*, actor: User, programme: str) -> None:
    require_registry_administrator(actor)
    row = ApprovedProgramme.objects.select_for_update().filter(programme=domain.fold(programme)).first()
    if row is None:
        raise NotFound("APPROVED_PROGRAMME_NOT_FOUND", f"The registry does not approve reports of {programme}.",
                       field="programme")
    row.delete()
    append_entry(kind="reference.verification_approval_removed", actor=actor, data={"programme": row.name})


def verification_approval_required(project: Project) -> bool:
    """The registry approves a VVB's report before issuance: for every
    programme (TONNE_VERIFICATION_APPROVAL) or for the programmes it chose."""
    if settings.TONNE_VERIFICATION_APPROVAL:
        return True
    programme = project.crediting_program or (project.program.name if project.program else "")
    return bool(programme) and ApprovedProgramme.objects.filter(programme=domain.fold(programme)).exists()
