"""{% project_evidence project %}: the project page's digital MRV, benefit
sharing and safeguards section."""

from __future__ import annotations

from typing import Any

from django import template

from tonne.portal.evidence import project_evidence as evidence_context
from tonne.projects.models import Project

register = template.Library()


@register.inclusion_tag("portal/_evidence.html")
def project_evidence(project: Project) -> dict[str, Any]:
    return evidence_context(project)
