"""The one place that lists who handles what when a lower app needs a
decision of an app above it. Installed by OpsConfig.ready()."""

from __future__ import annotations

from typing import Any

from tonne.controls import services as controls
from tonne.kyc import services as kyc
from tonne.organisations import handlers as organisations
from tonne.organisations.models import Organisation, User
from tonne.projects import handlers as projects
from tonne.projects.models import Project
from tonne.units.api import issuance_out


def _screen_at_onboarding(organisation: Organisation) -> object:
    return kyc.screen_organisation(organisation, trigger="onboarding")


def _request_representative_change(actor: User, member: User, after: dict[str, Any]) -> object:
    return controls.request_representative_change(actor=actor, member=member, after=after)


def _issuances_of(project: Project) -> list[dict[str, Any]]:
    return [issuance_out(i) for i in project.issuances.select_related("project", "report")]


def install() -> None:
    organisations.install(
        organisations.OrganisationHandlers(
            screen_new_organisation=_screen_at_onboarding,
            require_no_sanctions_hits=kyc.require_no_sanctions_hits,
            representative_change_needs_approval=controls.representative_change_needs_approval,
            request_representative_change=_request_representative_change,
        )
    )
    projects.install(projects.ProjectHandlers(issuances_of=_issuances_of))
