"""Permission-scoped reads of projects and their documents."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tonne.organisations.models import User
from tonne.organisations.selectors import is_admin, organisation_id
from tonne.projects.models import Document, Project

PRIVATE_STATUSES = (Project.Status.DRAFT,)


def projects_for(user: User | None) -> QuerySet[Project]:
    """Drafts are seen by their developer, their VVB and the administrator;
    every project past draft is public."""
    qs = Project.objects.select_related("developer", "vvb")
    if is_admin(user):
        return qs
    visible = ~Q(status__in=PRIVATE_STATUSES)
    own = organisation_id(user)
    if own is not None:
        visible |= Q(developer_id=own) | Q(vvb_id=own)
    return qs.filter(visible)


def is_project_party(user: User | None, project: Project) -> bool:
    """The developer, the project's VVB (or a VVB verifying one of its
    reports) and the administrator."""
    if is_admin(user):
        return True
    own = organisation_id(user)
    if own is None:
        return False
    return (
        project.developer_id == own
        or project.vvb_id == own
        or project.monitoring_reports.filter(vvb_id=own).exists()
    )


def documents_for(user: User | None, project: Project | None = None) -> QuerySet[Document]:
    """Public documents of visible projects; private ones for the project's parties."""
    qs = Document.objects.select_related("project").filter(removed_at__isnull=True)
    if project is not None:
        qs = qs.filter(project=project)
        if is_project_party(user, project):
            return qs
        return qs.filter(is_public=True)
    if is_admin(user):
        return qs
    visible_projects = projects_for(user).values("pk")
    public = Q(is_public=True, project__in=visible_projects)
    own = organisation_id(user)
    if own is not None:
        public |= (
            Q(project__developer_id=own)
            | Q(project__vvb_id=own)
            | Q(project__monitoring_reports__vvb_id=own)
        )
        public |= Q(project__isnull=True, uploaded_by__organisation_id=own)
    return qs.filter(public).distinct()


def removed_documents(user: User | None, project: Project) -> QuerySet[Document]:
    """Documents taken back by their uploader: their parties still see that they existed."""
    if not is_project_party(user, project):
        return Document.objects.none()
    return Document.objects.filter(project=project, removed_at__isnull=False).select_related("removed_by")
