"""What the apps above do when an organisation or a person changes here.

Organisations sit below the apps that screen them (kyc) and hold the
four-eyes rules (controls), so they cannot import those apps. Instead this
module names, with types, each decision it needs from above; the ops app
installs the handlers once at start-up (tonne/ops/handlers.py is the one
place that lists who handles what). A decision asked before installation is
an error, never silently skipped."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from tonne.organisations.models import Organisation, User


@dataclass(frozen=True)
class OrganisationHandlers:
    # kyc: compare the new organisation's names with the sanctions lists.
    screen_new_organisation: Callable[[Organisation], object]
    # kyc: refuse approval while a sanctions hit is unresolved.
    require_no_sanctions_hits: Callable[[Organisation], None]
    # controls: does this change of a person ({role, active} before and after)
    # wait for a second person of the organisation?
    representative_change_needs_approval: Callable[[User, dict[str, Any], dict[str, Any]], bool]
    # controls: record that change (actor, member, state after) for a second person.
    request_representative_change: Callable[[User, User, dict[str, Any]], object]


_installed: OrganisationHandlers | None = None


def install(handlers: OrganisationHandlers) -> None:
    global _installed
    _installed = handlers


def handlers() -> OrganisationHandlers:
    if _installed is None:
        raise ImproperlyConfigured("Organisation handlers are not installed: add tonne.ops to INSTALLED_APPS.")
    return _installed
