"""Permission-scoped reads of monitoring reports."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tonne.mrv.models import MonitoringReport
from tonne.organisations.models import User
from tonne.organisations.selectors import is_admin, organisation_id


def reports_for(user: User | None) -> QuerySet[MonitoringReport]:
    """Issued reports are public; a developer sees its projects' reports, a
    VVB those assigned to it, the administrator all."""
    qs = MonitoringReport.objects.select_related(
        "project", "vvb", "document", "verification_document"
    )
    if is_admin(user):
        return qs
    visible = Q(status=MonitoringReport.Status.ISSUED)
    own = organisation_id(user)
    if own is not None:
        visible |= Q(project__developer_id=own) | Q(vvb_id=own)
    return qs.filter(visible)
