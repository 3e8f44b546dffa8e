"""State changes for projects: registration, edits, life cycle, documents."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from tonne.core import clock, text, uploads
from tonne.core.errors import PermissionDenied, RuleChecks, ValidationFailed
from tonne.ledger.models import LedgerHead
from tonne.ledger.services import append_entry
from tonne.organisations.models import Organisation, User
from tonne.organisations.services import (
    is_registry_administrator,
    require_active_member,
    require_in_force,
    require_registry_administrator,
)
from tonne.projects import domain, eligibility, reference
from tonne.projects.models import (
    CoBenefit,
    Document,
    Estimation,
    Label,
    Location,
    Methodology,
    Project,
    ProjectChange,
    ProjectMethodology,
    ProjectStatusChange,
    Rating,
    RelatedProject,
    Stakeholder,
    ValidationRecord,
)
from tonne.projects.picklists import check_value
from tonne.projects.signals import project_changed

CHILD_MODELS: dict[str, Any] = {
    "locations": Location,
    "estimations": Estimation,
    "ratings": Rating,
    "co_benefits": CoBenefit,
    "labels": Label,
    "stakeholders": Stakeholder,
    "related_projects": RelatedProject,
}
EDITORS = (User.Role.ADMIN, User.Role.INITIATOR)


def _require_developer_of(actor: User, project: Project) -> None:
    org = require_active_member(actor, EDITORS)
    if project.developer_id != org.id:
        raise PermissionDenied("PROJECT_NOT_YOURS", f"Project {project.project_id} belongs to another organisation.", details={"project": project.project_id})


def _replace_children(project: Project, cleaned: dict[str, Any], now: dt.datetime) -> None:
    for child, model in CHILD_MODELS.items():
        if child not in cleaned:
            continue
        model.objects.filter(project=project).delete()
        model.objects.bulk_create(
            [model(project=project, uid=uuid.uuid4(), created_at=now, updated_at=now, **row) for row in cleaned[child]]
        )
    if "methodologies" in cleaned:
        # A methodology the project already follows keeps its version; a new one takes the version in force.
        kept = dict(ProjectMethodology.objects.filter(project=project).values_list("methodology__code", "version"))
        ProjectMethodology.objects.filter(project=project).delete()
        for row in cleaned["methodologies"]:
            methodology = Methodology.objects.filter(code=row["code"]).first()
            if methodology is None:
                raise ValidationFailed(
                    "METHODOLOGY_UNKNOWN",
                    f"Methodology {row['code']!r} is not in the registry's methodology list.",
                    field="methodologies",
                    details={"methodology": row["code"]},
                )
            ProjectMethodology.objects.create(
                project=project,
                methodology=methodology,
                version=kept[row["code"]] if row["code"] in kept else reference.version_for_new(methodology),
                uid=uuid.uuid4(),
                date=row.get("date"),
                description=row.get("description", ""),
                created_at=now,
                updated_at=now,
            )
    project_changed.send(sender=Project, project_ids=[project.pk])


def _vvb(organisation_uid: str | None) -> Organisation | None:
    if not organisation_uid:
        return None
    vvb = Organisation.objects.filter(uid=organisation_uid).first() if _is_uuid(organisation_uid) else None
    if vvb is None or vvb.kind != Organisation.Kind.VVB:
        raise ValidationFailed("VVB_UNKNOWN", "vvb must name a validation / verification body.", field="vvb")
    if not vvb.accredited or vvb.status != Organisation.Status.APPROVED:
        raise ValidationFailed("VVB_NOT_ACCREDITED", f"{vvb.name} is not an accredited, approved VVB.", field="vvb", details={"organisation": vvb.name})
    return vvb


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True


def project_snapshot(project: Project) -> dict[str, Any]:
    return {
        "project": project.project_id,
        "uid": str(project.uid),
        "name": project.name,
        "status": project.status,
        "developer": str(project.developer.uid),
        "host_party": project.host_party,
        "sectoral_scope": project.sectoral_scope,
        "buffer_basis_points": project.buffer_basis_points,
        "unit_class": project.unit_class,
    }


@transaction.atomic
def register_project(*, actor: User, data: dict[str, Any], vvb: str | None = None) -> Project:
    """A developer registers a project (draft)."""
    org = require_active_member(actor, EDITORS)
    if org.kind != Organisation.Kind.DEVELOPER:
        raise PermissionDenied("NOT_A_DEVELOPER", "Only project developers register projects.")
    checks = RuleChecks()  # every broken rule at once, the VVB's too
    with checks.rule():
        cleaned = domain.clean_project_fields(data, lists=reference.registry_lists())
    with checks.rule():
        chosen_vvb = _vvb(vvb)
    checks.done()
    now = clock.now()
    LedgerHead.objects.select_for_update().get(pk=1)  # numbers are max+1: queue
    number = (Project.objects.aggregate(m=Max("number"))["m"] or 0) + 1
    fields = {k: v for k, v in cleaned.items() if k not in domain.CHILD_FIELDS}
    fields.setdefault("host_party", settings.TONNE_COUNTRY)
    fields.setdefault("registry_name", settings.TONNE_REGISTRY_NAME)
    project = Project.objects.create(
        number=number,
        uid=uuid.uuid4(),
        project_id=f"{settings.TONNE_COUNTRY}-{number:04d}",
        developer=org,
        vvb=chosen_vvb,
        status=Project.Status.DRAFT,
        status_changed_at=now,
        created_at=now,
        updated_at=now,
        **fields,
    )
    _replace_children(project, cleaned, now)
    eligibility.check_project(project, complete=False)
    append_entry(kind="project.registered", actor=actor, data=project_snapshot(project))
    return project


@transaction.atomic
def update_project(
    *, actor: User, project: Project, data: dict[str, Any], vvb: str | None = None, reason: str = ""
) -> Project:
    """Edit a draft freely; after submission only the fields accounting does
    not rely on (domain.AMENDABLE), each change kept in the project's change log."""
    project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    _require_developer_of(actor, project)
    if project.status not in domain.EDITABLE:
        if project.status in domain.TERMINAL or project.status == Project.Status.REJECTED:
            raise ValidationFailed(
                "PROJECT_NOT_EDITABLE",
                f"Project {project.project_id} is {project.status}; "
                + ("reopen it as a draft to correct it." if project.status == Project.Status.REJECTED else "it can no longer change."),
            )
        if vvb is not None:
            domain.check_amendable({"vvb": vvb})
        return _amend(actor, project, data, reason)
    # Values the draft already holds stay allowed, retired or not.
    lists = reference.keeping(reference.registry_lists(), {
        "project_sector": project.sectors, "project_type": project.types,
        "sectoral_scope": [project.sectoral_scope], "unit_class": [project.unit_class]})
    checks = RuleChecks()
    with checks.rule():
        cleaned = domain.clean_project_fields(data, partial=True, lists=lists)
    with checks.rule():
        chosen_vvb = _vvb(vvb) if vvb is not None else project.vvb
    checks.done()
    now = clock.now()
    for key, value in cleaned.items():
        if key not in domain.CHILD_FIELDS:
            setattr(project, key, value)
    project.vvb = chosen_vvb
    project.updated_at = now
    project.save()
    _replace_children(project, cleaned, now)
    eligibility.check_project(project, complete=False)
    append_entry(
        kind="project.updated", actor=actor, data={**project_snapshot(project), "fields": sorted(cleaned)}
    )
    return project


def _values(project: Project, names: Any) -> dict[str, Any]:
    """The current values of fields and child lists, as the change log keeps them (JSON)."""
    out: dict[str, Any] = {}
    for name in names:
        if name in CHILD_MODELS:
            specs = [s.name for s in domain.CHILD_FIELDS[name]]
            out[name] = [{k: _json(row[k]) for k in specs if row[k] not in (None, "")}
                         for row in CHILD_MODELS[name].objects.filter(project=project).order_by("id").values(*specs)]
        else:
            out[name] = _json(getattr(project, name))
    return out


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _amend(actor: User, project: Project, data: dict[str, Any], reason: str) -> Project:
    checks = RuleChecks()
    with checks.rule():
        domain.check_amendable(data)
    with checks.rule():
        cleaned = domain.clean_project_fields(data, partial=True)
    checks.done()
    for name in data:  # a field sent empty is cleared
        cleaned.setdefault(name, [] if name in CHILD_MODELS else "")
    before = _values(project, cleaned)
    changes = domain.changed_fields(before, {k: _json(v) if k not in CHILD_MODELS else v for k, v in cleaned.items()})
    if not changes:
        raise ValidationFailed("NOTHING_CHANGED", "The values sent are those the project already has.")
    now = clock.now()
    for key, value in cleaned.items():
        if key not in CHILD_MODELS:
            setattr(project, key, value)
    project.updated_at = now
    project.save()
    _replace_children(project, {k: v for k, v in cleaned.items() if k in CHILD_MODELS}, now)
    changes = domain.changed_fields(before, _values(project, cleaned))
    reason = text.bounded((reason or "").strip(), "reason", 2000)
    ProjectChange.objects.create(project=project, changes=changes, reason=reason, actor=actor, at=now)
    append_entry(
        kind="project.amended",
        actor=actor,
        data={**project_snapshot(project), "changes": changes, "reason": reason},
    )
    return project


def register_foreign_project(
    *, actor: User, origin_registry: str, info: dict[str, Any], unit_class: str
) -> Project:
    """The project of units received from another Party's registry, as that
    registry describes it: registered here under "<origin registry>/<its id>"
    (once; later transfers from it find it), developed, for this registry's
    purposes, by the receiving administrator's organisation."""
    require_registry_administrator(actor)
    project_id = text.fits(Project, "project_id", f"{origin_registry}/{info['project_id']}")
    found = Project.objects.filter(project_id=project_id).first()
    if found is not None:
        return found
    assert actor.organisation is not None
    now = clock.now()
    project = Project.objects.create(
        number=(Project.objects.aggregate(m=Max("number"))["m"] or 0) + 1, uid=uuid.uuid4(),
        developer=actor.organisation, status="registered", status_changed_at=now, registry_name=origin_registry,
        project_id=project_id, name=text.fits(Project, "name", info["name"]), sectors=info.get("sectors") or [],
        types=info.get("types") or [], unit_type=text.fits(Project, "unit_type", info["unit_type"]), host_party=info["host_party"],
        sectoral_scope=info["sectoral_scope"], unit_class=text.fits(Project, "unit_class", unit_class),
        reference_project_id=text.fits(Project, "reference_project_id", info["project_id"]), created_at=now, updated_at=now,
    )
    append_entry(kind="project.registered", actor=actor, data={**project_snapshot(project), "origin_registry": origin_registry})
    return project


def mark_article6_authorised(*, actor: User, project_ids: list[str], authorisation: str) -> list[Project]:
    """An approved Article 6 authorisation covers these projects: their
    public Article 6 status becomes "authorised" (in the caller's transaction)."""
    changed = []
    now = clock.now()
    for project in Project.objects.select_for_update(no_key=True).filter(project_id__in=project_ids).exclude(
        article6_status="authorised"
    ).order_by("pk"):
        project.article6_status = "authorised"
        project.updated_at = now
        project.save(update_fields=["article6_status", "updated_at"])
        append_entry(
            kind="project.updated",
            actor=actor,
            data={**project_snapshot(project), "fields": ["article6_status"], "authorisation": authorisation},
        )
        changed.append(project)
    return changed


@transaction.atomic
def change_project_status(
    *,
    actor: User,
    project: Project,
    status: str,
    reason: str = "",
    validation: dict[str, Any] | None = None,
) -> Project:
    """Move a project along its life cycle; each step belongs to one party."""
    project = Project.objects.select_for_update(of=("self",), no_key=True).select_related("developer", "vvb").get(pk=project.pk)
    current = project.status
    if current == Project.Status.ON_HOLD and status != Project.Status.ON_HOLD:
        # A hold lifts back to the status the project had before it.
        before = project.status_history.filter(to_status="on_hold").order_by("-at", "-id").first()
        if before is None or before.from_status != status:
            raise ValidationFailed(
                "PROJECT_TRANSITION_NOT_ALLOWED",
                f"A hold on this project lifts back to {before.from_status if before else 'its previous status'}.",
                field="status",
                details={"status": before.from_status} if before else {},
            )
    party = domain.party_for_transition(current, status)
    if party == domain.DEVELOPER:
        _require_developer_of(actor, project)
    elif party == domain.ADMINISTRATOR:
        if not is_registry_administrator(actor):
            raise PermissionDenied("NOT_REGISTRY_ADMINISTRATOR", "Only the registry administrator may do this.")
        require_in_force(actor)  # a newly made administrator decides nothing until the delay has passed
    else:
        org = require_active_member(actor, EDITORS)
        if project.vvb_id is None or project.vvb_id != org.id:
            raise PermissionDenied("NOT_ASSIGNED_VVB", "Only the VVB assigned to this project may validate it.")
        if not org.accredited:
            raise PermissionDenied("VVB_NOT_ACCREDITED", f"{org.name} is not accredited.", details={"organisation": org.name})
    if status in (Project.Status.SUBMITTED, Project.Status.REGISTERED):
        eligibility.check_project(project)  # the rules in force now, every fact stated
    reason = (reason or "").strip()
    if status in ("rejected", "on_hold") and not reason:
        raise ValidationFailed("REASON_REQUIRED", f"Setting a project {status} needs a reason.", field="reason", details={"status": status})
    now = clock.now()
    record = None
    if status == Project.Status.VALIDATED:
        record = _record_validation(actor, project, validation or {}, now)
    project.status = status
    project.status_changed_at = now
    project.updated_at = now
    project.save(update_fields=["status", "status_changed_at", "updated_at"])
    ProjectStatusChange.objects.create(
        project=project, from_status=current, to_status=status, actor=actor, reason=reason, at=now
    )
    data = {**project_snapshot(project), "from": current, "reason": reason}
    if record is not None:
        data["validation"] = {"id": record.validation_id, "type": record.type, "date": record.date}
    append_entry(kind="project.status", actor=actor, data=data)
    return project


def _record_validation(actor: User, project: Project, data: dict[str, Any], now: dt.datetime) -> ValidationRecord:
    vtype = data.get("type") or "Validation of Project Design Document"

    vtype = check_value("validation.type", "validation_type", vtype)
    report = None
    if data.get("report"):
        report = Document.objects.filter(uid=data["report"], project=project, removed_at__isnull=True).first() if _is_uuid(data["report"]) else None
        if report is None:
            raise ValidationFailed("DOCUMENT_NOT_FOUND", "validation.report must be a document of this project.")
    cleaned = domain.clean_project_fields(
        {
            k: data[k]
            for k in ("crediting_period_start", "crediting_period_end")
            if data.get(k)
        },
        partial=True,
    )
    number = ValidationRecord.objects.filter(project=project).count() + 1
    assert actor.organisation is not None
    return ValidationRecord.objects.create(
        project=project,
        uid=uuid.uuid4(),
        validation_id=f"{project.project_id}-VAL-{number}",
        type=vtype,
        body=actor.organisation,
        date=now.date(),
        credit_period_start=cleaned.get("crediting_period_start"),
        credit_period_end=cleaned.get("crediting_period_end"),
        report=report,
        created_at=now,
        updated_at=now,
    )


# -- documents -----------------------------------------------------------------


def _store(content: bytes, sha256: str) -> str:
    """Content-addressed storage: the same bytes are kept once."""
    name = f"{sha256[:2]}/{sha256}"
    path = settings.TONNE_DOCUMENTS_DIR / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(content)
        os.replace(tmp, path)
    return name


def document_path(document: Document):
    return settings.TONNE_DOCUMENTS_DIR / document.storage_name


@transaction.atomic
def upload_document(
    *,
    actor: User,
    project: Project | None,
    kind: str,
    title: str,
    filename: str,
    content: bytes,
    content_type: str = "application/octet-stream",
    is_public: bool = True,
) -> Document:
    if kind not in Document.Kind.values:
        raise ValidationFailed("DOCUMENT_KIND_INVALID", f"kind must be one of {', '.join(Document.Kind.values)}.", details={"allowed": list(Document.Kind.values)})
    # The declared content_type is not trusted: the type stored (and served) is the one found in the content.
    content_type = uploads.check(content)
    if project is not None:
        org = require_active_member(actor, EDITORS)
        allowed = (
            project.developer_id == org.id
            or project.vvb_id == org.id
            or is_registry_administrator(actor)
            or project.monitoring_reports.filter(vvb=org).exists()
        )
        if not allowed:
            raise PermissionDenied("PROJECT_NOT_YOURS", "You may not add documents to this project.")
    sha256 = hashlib.sha256(content).hexdigest()
    document = Document.objects.create(
        uid=uuid.uuid4(),
        project=project,
        kind=kind,
        title=text.fits(Document, "title", title or filename or "document"),
        filename=text.fits(Document, "filename", os.path.basename(filename or "document")),
        content_type=content_type,
        size=len(content),
        sha256=sha256,
        storage_name=_store(content, sha256),
        is_public=is_public,
        uploaded_by=actor,
        uploaded_at=clock.now(),
    )
    append_entry(
        kind="document.uploaded",
        actor=actor,
        data={
            "document": str(document.uid),
            "project": project.project_id if project else None,
            "kind": kind,
            "filename": document.filename,
            "size": document.size,
            "sha256": sha256,
        },
    )
    return document


def relied_upon(document: Document) -> bool:
    """Whether any record cites the document (a monitoring, verification or
    validation report, a calibration, evidence, a letter of authorisation...).
    Read from the model's relations, so a table added later counts too."""
    for relation in Document._meta.related_objects:
        if relation.one_to_many or relation.one_to_one:
            model = relation.related_model
            if model._base_manager.filter(**{relation.field.name: document}).exists():  # type: ignore[union-attr]
                return True
    return False


@transaction.atomic
def remove_document(*, actor: User, document: Document, reason: str) -> Document:
    """Its uploader takes back a mistaken upload before anything relies on it.
    The row stays, marked removed (the ledger keeps its hash); it is no longer
    listed or served. (Its bytes stay in the content-addressed store, which
    another upload of the same content may share.)"""
    document = Document.objects.select_for_update(of=("self",), no_key=True).select_related("project").get(pk=document.pk)
    require_active_member(actor, EDITORS)
    if document.uploaded_by_id != actor.pk:
        raise PermissionDenied("NOT_THE_UPLOADER", "Only the person who uploaded a document may remove it.")
    if document.removed_at is not None:
        raise ValidationFailed("DOCUMENT_ALREADY_REMOVED", f"{document.title} was already removed.", details={"document": document.title})
    reason = text.bounded(reason, "reason", 2000)
    if not reason:
        raise ValidationFailed("REASON_REQUIRED", "Say why the document is removed.", field="reason")
    if relied_upon(document):
        raise ValidationFailed(
            "DOCUMENT_RELIED_UPON",
            f"{document.title} is cited by a report, validation or other record of the registry; it can no longer be removed.",
            details={"document": document.title},
        )
    document.removed_at = clock.now()
    document.removed_by = actor
    document.removal_reason = reason
    document.save(update_fields=["removed_at", "removed_by", "removal_reason"])
    append_entry(
        kind="document.removed",
        actor=actor,
        data={
            "document": str(document.uid),
            "project": document.project.project_id if document.project else None,
            "filename": document.filename,
            "sha256": document.sha256,
            "reason": reason,
        },
    )
    return document


def store_upload(*, actor: User, project: Project, upload: domain.Upload, kind: str) -> Document:
    """A file sent with a form becomes a document of the project, titled by its name."""
    return upload_document(
        actor=actor,
        project=project,
        kind=kind,
        title=upload.filename or kind,
        filename=upload.filename or "document",
        content=upload.content,
        content_type=upload.content_type or "application/octet-stream",
    )


@transaction.atomic
def record_validation(
    *, actor: User, project: Project, validation: dict[str, Any], report: domain.Upload | None = None
) -> Project:
    """The assigned VVB validates the project, with its validation report (if
    sent) stored in the same transaction."""
    validation = dict(validation)
    if report is not None:
        document = store_upload(actor=actor, project=project, upload=report, kind=Document.Kind.VALIDATION_REPORT)
        validation["report"] = str(document.uid)
    return change_project_status(actor=actor, project=project, status=Project.Status.VALIDATED, validation=validation)


# Listed here as every other project service is; kept with the reference data.
add_methodology = reference.add_methodology
