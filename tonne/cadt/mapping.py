"""Tonne's records as CAD Trust rows: v2.0.2 tables and v1 documents.

Only what is public leaves the registry: projects past draft, their child
records, issuances and the unit blocks (one CAD Trust unit per block, with
its serial range; the status follows the account the block is in)."""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q

from tonne.cadt import domain
from tonne.cadt.schema import v2_tables
from tonne.mrv.models import MonitoringReport
from tonne.projects import reference
from tonne.projects.models import (
    CoBenefit,
    Estimation,
    Label,
    Location,
    Methodology,
    Program,
    Project,
    ProjectMethodology,
    Rating,
    Stakeholder,
    ValidationRecord,
)
from tonne.units import as_stated
from tonne.units.domain import SerialRange, render_serial
from tonne.units.models import Issuance, Transaction, TransactionBlock, UnitBlock
from tonne.units.selectors import serial_prefix

Row = dict[str, Any]
Tables = dict[str, list[Row]]
PUBLIC_STATUSES = tuple(domain.PROJECT_STATUS_V2)


def home_org_uid() -> str:
    """This registry as a CAD Trust organisation (64 hex characters, as CADT's orgUid)."""
    return hashlib.sha256(f"tonne:{settings.TONNE_COUNTRY}:{settings.TONNE_REGISTRY_NAME}".encode()).hexdigest()


def unit_uid(block_start: int) -> str:
    """A unit block is known by its first serial: the piece of a split block
    that keeps the first serial keeps the id; new pieces get their own."""
    return str(uuid.uuid5(domain.NAMESPACE, f"unit|{settings.TONNE_COUNTRY}|{block_start}"))


def unit_label_uid(unit: str, label: str) -> str:
    return str(uuid.uuid5(domain.NAMESPACE, f"unit_label|{unit}|{label}"))


@dataclass(frozen=True)
class Scope:
    """What to export: everything, or the projects and serial ranges a change touched."""

    projects: frozenset[int] | None = None  # Project.pk
    ranges: tuple[SerialRange, ...] | None = None
    issuances: frozenset[int] | None = None  # Issuance.pk

    @property
    def full(self) -> bool:
        return self.projects is None and self.ranges is None and self.issuances is None

    @property
    def empty(self) -> bool:
        return not self.full and not self.projects and not self.ranges and not self.issuances


FULL = Scope()


def _row(table: str, **values: Any) -> Row:
    spec = v2_tables()[table]
    unknown = set(values) - set(spec.names)
    assert not unknown, f"{table}: {unknown}"
    return {name: values.get(name) for name in spec.names}


def _str(value: Any) -> str | None:
    return str(value) if value is not None else None


def _text(value: str | None) -> str | None:
    return value or None


def public_link(project: Project) -> str:
    """The project's own link, or its page on this registry's public portal (CAD Trust requires one)."""
    return project.link or f"{settings.TONNE_PUBLIC_URL}/projects/{project.project_id}/"


def _stamps(obj: Any) -> dict[str, Any]:
    return {"createdAt": domain.iso_datetime(obj.created_at), "updatedAt": domain.iso_datetime(obj.updated_at)}


def _projects(scope: Scope) -> list[Project]:
    qs = Project.objects.filter(status__in=PUBLIC_STATUSES).select_related("developer", "program")
    if scope.projects is not None:
        qs = qs.filter(pk__in=scope.projects)
    return list(qs.order_by("uid"))


def _blocks(scope: Scope) -> list[UnitBlock]:
    qs = UnitBlock.objects.select_related("issuance__project", "account__organisation").filter(
        project__status__in=PUBLIC_STATUSES
    )
    if not scope.full:
        cond = Q(pk__in=[])
        for r in scope.ranges or ():
            # With the neighbours: the rest of a split block is a new CAD Trust unit.
            cond |= Q(serial_start__lte=r.end + 1, serial_end__gte=r.start - 1)
        if scope.issuances:
            cond |= Q(issuance_id__in=scope.issuances)
        qs = qs.filter(cond)
    return list(qs.order_by("serial_start"))


def _last_moves(blocks: list[UnitBlock]) -> dict[int, Transaction]:
    """The transaction that brought each retired or cancelled block where it
    is (one query), each held to its ledger entry (units.as_stated): a row
    edited behind the ledger refuses the whole document with
    TRANSACTION_NOT_AS_STATED. Not left out: CAD Trust would read a missing
    unit as one deleted, and copies the rest onward where nothing says why."""
    wanted = [b for b in blocks if b.account.type in ("retirement", "cancellation", "omge", "export")]
    if not wanted:
        return {}
    candidates: dict[tuple[int, int], list[TransactionBlock]] = defaultdict(list)
    for tb in TransactionBlock.objects.select_related("transaction").filter(
        issuance_id__in={b.issuance_id for b in wanted},
        transaction__to_account_id__in={b.account_id for b in wanted},
        transaction__status=Transaction.Status.COMPLETED,
    ).order_by("-transaction__completed_at", "-id"):
        candidates[(tb.issuance_id, tb.transaction.to_account_id)].append(tb)
    found: dict[int, Transaction] = {}
    for block in wanted:
        hit = next((c for c in candidates[(block.issuance_id, block.account_id)]
                    if c.serial_start <= block.serial_start <= c.serial_end), None)
        if hit is not None:
            found[block.pk] = hit.transaction
    as_stated.require_as_stated(list({t.pk: t for t in found.values()}.values()))
    return found


@dataclass(frozen=True)
class Piece:
    """One CAD Trust unit: a block, or the part of it with one Article 6
    status (authorised under one authorisation, or a mitigation contribution
    unit), so that each unit carries one authorisation and adjustment."""

    block: UnitBlock
    start: int
    end: int
    article6: dict[str, Any]

    @property
    def quantity(self) -> int:
        return self.end - self.start + 1


def _pieces(blocks: list[UnitBlock]) -> list[Piece]:
    from tonne.article6 import selectors as article6
    from tonne.article6.models import AuthorisedRange, ImportedRange

    if not AuthorisedRange.objects.exists() and not ImportedRange.objects.exists():
        return [Piece(b, b.serial_start, b.serial_end, {"label": article6.MITIGATION_CONTRIBUTION}) for b in blocks]
    return [
        Piece(b, seg["serial_start"], seg["serial_end"], seg)
        for b in blocks
        for seg in article6.segments(b.serial_start, b.serial_end)
    ]


def _article6_label(segment: dict[str, Any], issued: Any) -> Row:
    """The label row that names a range's authorisation (or says it has none)."""
    registry = settings.TONNE_ARTICLE6_REGISTRY_ID
    if segment.get("label") != "authorised":
        uid = uuid.uuid5(domain.NAMESPACE, f"label|mitigation_contribution|{registry}")
        name, kind, day = domain.MITIGATION_CONTRIBUTION_LABEL, domain.MITIGATION_CONTRIBUTION_LABEL_TYPE, None
    else:
        origin = (segment.get("received_from") or {}).get("registry", registry)
        uid = uuid.uuid5(domain.NAMESPACE, f"label|article6|{origin}|{segment['authorisation']}")
        name, kind, day = f"Article 6 authorisation {segment['authorisation']}", domain.ARTICLE6_LABEL_TYPE, None
    return _row(
        "label", cadTrustLabelId=str(uid), labelName=name, labelType=kind, labelLink=None, labelDate=day,
        createdAt=domain.iso_datetime(issued), updatedAt=domain.iso_datetime(issued),
    )


def _first_by_project(model: Any, project_ids: Iterable[int]) -> dict[int, str]:
    first: dict[int, str] = {}
    for project_id, uid in model.objects.filter(project_id__in=list(project_ids)).order_by("created_at", "id").values_list(
        "project_id", "uid"
    ):
        first.setdefault(project_id, str(uid))
    return first


def _verification_reports(project_ids: Iterable[int]) -> list[MonitoringReport]:
    return list(
        MonitoringReport.objects.filter(project_id__in=list(project_ids), status__in=("verified", "issued"))
        .select_related("vvb", "project")
        .order_by("uid")
    )


def _field(name: str, convert: Any = None) -> Any:
    def get(obj: Any) -> Any:
        value = getattr(obj, name)
        return convert(value) if convert else value

    return get


# Child tables of a project that map field for field: CAD Trust table, model,
# id field and {CAD Trust field: how to read it}; each row also names its
# project and carries the record's time stamps.
CHILD_TABLES: tuple[tuple[str, Any, str, dict[str, Any]], ...] = (
    ("stakeholder", Stakeholder, "cadTrustStakeholderId",
     {"stakeholderName": _field("name"), "stakeholderType": _field("type"), "stakeholderLink": _field("link", _text)}),
    ("location", Location, "cadTrustLocationId",
     {"locationCountry": _field("country"), "locationRegion": _field("region", _text), "locationGis": _field("gis", _text),
      "locationMapType": _field("map_type", _text), "locationMapFileLink": _field("map_file_link", _text)}),
    ("estimation", Estimation, "cadTrustEstimationId",
     {"estimationStartDate": _field("start_date", domain.iso_date), "estimationEndDate": _field("end_date", domain.iso_date),
      "estimationUnitCount": _field("unit_count"), "estimationReferenceNo": _field("reference_no", _text)}),
    ("rating", Rating, "cadTrustRatingId",
     {"ratingType": _field("type"), "ratingName": _field("name"), "ratingValue": _field("value"),
      "ratingLink": _field("link", _text)}),
    ("co_benefit", CoBenefit, "cadTrustCobenefitId", {"cobenefit": _field("co_benefit")}),
)


def v2_rows(scope: Scope = FULL) -> Tables:
    """Every v2 table for the scope, rows sorted by their CAD Trust id."""
    tables: Tables = {name: [] for name in v2_tables()}
    projects = _projects(scope)
    pids = [p.pk for p in projects]
    org = home_org_uid()

    program_ids = {p.program_id for p in projects if p.program_id}
    programs = Program.objects.all() if scope.full else Program.objects.filter(pk__in=program_ids)
    for program in programs.order_by("uid"):
        tables["program"].append(
            _row(
                "program",
                cadTrustProgramId=str(program.uid),
                programName=program.name,
                programRegistry=program.registry,
                programRegistryId=program.registry_id,
                programDescription=_text(program.description),
                **_stamps(program),
            )
        )
    methodologies = Methodology.objects.all()
    if not scope.full:
        methodologies = methodologies.filter(projectmethodology__project_id__in=pids).distinct()
    for m in methodologies.order_by("uid"):
        tables["methodology"].append(
            _row(
                "methodology",
                cadTrustMethodologyId=str(m.uid),
                methodologyCode=m.code,
                methodologyName=m.name,
                methodologyType=_text(m.type),
                methodologyVersion=_text(m.version),
                methodologyDate=domain.iso_date(m.date),
                methodologyLink=_text(m.link),
                **_stamps(m),
            )
        )
    for label in Label.objects.filter(project_id__in=pids).order_by("uid"):
        tables["label"].append(
            _row(
                "label",
                cadTrustLabelId=str(label.uid),
                labelName=label.name,
                labelType=label.type,
                labelLink=_text(label.link),
                labelDate=domain.iso_date(label.date),
                **_stamps(label),
            )
        )
    exported = reference.cadt_mapping()
    for p in projects:
        tables["project"].append(
            _row(
                "project",
                cadTrustProjectId=str(p.uid),
                orgUid=org,
                projectRegistryName=p.registry_name,
                projectId=p.project_id,
                projectCreditingProgram=_text(p.crediting_program),
                projectName=p.name,
                projectLink=public_link(p),
                projectDescription=_text(p.description),
                projectSector=reference.cadt_values(exported, "project_sector", p.sectors),
                projectType=reference.cadt_values(exported, "project_type", p.types),
                projectSubtype=_text(p.subtype),
                projectStatus=domain.PROJECT_STATUS_V2[p.status],
                projectStatusDate=domain.iso_date(p.status_changed_at),
                projectUnitMetric=p.unit_metric,
                cadTrustReferenceProjectId=_text(p.reference_project_id),
                cadTrustProgramId=_str(p.program.uid) if p.program else None,
                **_stamps(p),
            )
        )
    project_uid = {p.pk: str(p.uid) for p in projects}
    for pm in ProjectMethodology.objects.filter(project_id__in=pids).select_related("methodology").order_by("uid"):
        tables["project_methodology"].append(
            _row(
                "project_methodology",
                cadTrustProjectMethodologyId=str(pm.uid),
                cadTrustProjectId=project_uid[pm.project_id],
                cadTrustMethodologyId=str(pm.methodology.uid),
                projectMethodologyDate=domain.iso_date(pm.date),
                projectMethodologyDescription=_text(pm.description),
                **_stamps(pm),
            )
        )
    last_validation: dict[int, str] = {}
    for v in ValidationRecord.objects.filter(project_id__in=pids).select_related("body").order_by("date", "id"):
        last_validation[v.project_id] = str(v.uid)
    for v in ValidationRecord.objects.filter(project_id__in=pids).select_related("body").order_by("uid"):
        tables["validation"].append(
            _row(
                "validation",
                cadTrustValidationId=str(v.uid),
                validationId=v.validation_id,
                validationType=v.type,
                validationBody=v.body.name,
                validationDate=domain.iso_date(v.date),
                validationCreditPeriodStartDate=domain.iso_date(v.credit_period_start),
                validationCreditPeriodEndDate=domain.iso_date(v.credit_period_end),
                cadTrustProjectId=project_uid[v.project_id],
                **_stamps(v),
            )
        )
    for r in _verification_reports(pids):
        tables["verification"].append(
            _row(
                "verification",
                cadTrustVerificationId=str(r.uid),
                verificationId=r.verification_id or f"{r.project.project_id}-MR-{r.number}",
                verificationStartDate=domain.iso_date(r.period_start),
                verificationEndDate=domain.iso_date(r.period_end),
                verificationBody=r.vvb.name,
                cadTrustProjectId=project_uid[r.project_id],
                cadTrustValidationId=last_validation.get(r.project_id),
                createdAt=domain.iso_datetime(r.submitted_at),
                updatedAt=domain.iso_datetime(r.verified_at or r.submitted_at),
            )
        )
    for table, model, id_field, fields in CHILD_TABLES:
        for obj in model.objects.filter(project_id__in=pids).order_by("uid"):
            values = {name: get(obj) for name, get in fields.items()}
            tables[table].append(
                _row(table, **{id_field: str(obj.uid)}, **values, cadTrustProjectId=project_uid[obj.project_id], **_stamps(obj))
            )
    _v2_units(tables, scope, org)
    return tables


def _v2_units(tables: Tables, scope: Scope, org: str) -> None:
    blocks = _blocks(scope)
    issuance_ids = {b.issuance_id for b in blocks}
    issuances = Issuance.objects.select_related("project", "report")
    if scope.full:
        issuances = issuances.filter(project__status__in=PUBLIC_STATUSES)
    else:
        issuances = issuances.filter(Q(pk__in=issuance_ids) | Q(pk__in=scope.issuances or ()))
    issuances = issuances.order_by("uid")
    project_ids = {i.project_id for i in issuances}
    first_pm = _first_by_project(ProjectMethodology, project_ids)
    first_location = _first_by_project(Location, project_ids)
    for i in issuances:
        tables["issuance"].append(
            _row(
                "issuance",
                cadTrustIssuanceId=str(i.uid),
                issuanceId=f"{i.project.project_id}-{i.number}",
                issuanceDate=domain.iso_date(i.issued_at),
                cadTrustVerificationId=str(i.report.uid),
                cadTrustProjectMethodologyId=first_pm.get(i.project_id),
                cadTrustLocationId=first_location.get(i.project_id),
                createdAt=domain.iso_datetime(i.issued_at),
                updatedAt=domain.iso_datetime(i.issued_at),
            )
        )
    moves = _last_moves(blocks)
    labels_of: dict[int, list[Label]] = defaultdict(list)
    for label in Label.objects.filter(project_id__in={b.project_id for b in blocks}).order_by("uid"):
        labels_of[label.project_id].append(label)
    units: list[Row] = []
    unit_labels: list[Row] = []
    article6_labels: dict[str, Row] = {}
    for piece in _pieces(blocks):
        b = piece.block
        issuance = b.issuance
        project = issuance.project
        account = b.account
        move = moves.get(b.pk)
        uid = unit_uid(piece.start)
        reason = domain.UNIT_STATUS_REASON[account.type]
        if move is not None and move.reason:
            reason = move.reason
        retired = account.type == "retirement" and move is not None
        units.append(
            _row(
                "unit",
                cadTrustUnitId=uid,
                orgUid=org,
                unitSerialId=render_serial(serial_prefix(issuance), SerialRange(piece.start, piece.end)),
                unitStartBlock=str(piece.start),
                unitEndBlock=str(piece.end),
                unitCount=piece.quantity,
                unitType=project.unit_type,
                unitVintageYear=b.vintage,
                unitStatus=domain.UNIT_STATUS_V2[account.type],
                unitStatusReason=reason,
                unitStatusDate=domain.iso_date(b.acquired_at),
                unitRetirementDetail=(f"{move.purpose}: {move.jurisdiction}".rstrip(": ") if retired and move else None),
                unitRetirementBeneficiary=(move.beneficiary or None) if retired and move else None,
                unitLink=public_link(project),
                unitMetric=project.unit_metric,
                # Who holds a block is not public in this registry.
                unitCurrentOwner=None,
                unitItmosReferenceId=piece.article6.get("itmo_id"),
                cadTrustIssuanceId=str(issuance.uid),
                createdAt=domain.iso_datetime(issuance.issued_at),
                updatedAt=domain.iso_datetime(b.acquired_at),
            )
        )
        label_row = _article6_label(piece.article6, issuance.issued_at)
        article6_labels.setdefault(label_row["cadTrustLabelId"], label_row)
        attached: list[tuple[str, Any, str | None]] = [
            (str(label.uid), label.date or issuance.issued_at, None) for label in labels_of.get(b.project_id, [])]
        attached.append((label_row["cadTrustLabelId"], issuance.issued_at, domain.article6_description(piece.article6)))
        for label_uid, day, description in attached:
            unit_labels.append(
                _row(
                    "unit_label",
                    cadTrustUnitLabelId=unit_label_uid(uid, label_uid),
                    cadTrustLabelId=label_uid,
                    cadTrustUnitId=uid,
                    labelUnitDate=domain.iso_date(day),
                    labelUnitDescription=description,
                    createdAt=domain.iso_datetime(issuance.issued_at),
                    updatedAt=domain.iso_datetime(issuance.issued_at),
                )
            )
    tables["label"] = sorted([*tables["label"], *article6_labels.values()], key=lambda r: r["cadTrustLabelId"])
    tables["unit"] = sorted(units, key=lambda r: r["cadTrustUnitId"])
    tables["unit_label"] = sorted(unit_labels, key=lambda r: r["cadTrustUnitLabelId"])


# -- v1 (tonne.cadt.mapping_v1) -------------------------------------------------------


def v1_rows(scope: Scope = FULL) -> dict[str, list[Row]]:
    """v1 documents: projects with their child lists, units with issuance and labels."""
    from tonne.cadt import (
        mapping_v1,  # mapping_v1 builds on this module's helpers: imported when used
    )

    return mapping_v1.v1_rows(scope)
