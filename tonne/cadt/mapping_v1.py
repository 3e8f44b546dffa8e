"""Tonne's records as CAD Trust v1 documents: projects with their child
lists, units with their issuance and labels (the v2 tables and the helpers
both share are in tonne.cadt.mapping)."""

from __future__ import annotations

from typing import Any

from tonne.cadt import domain
from tonne.cadt.mapping import (
    FULL,
    Row,
    Scope,
    _blocks,
    _first_by_project,
    _last_moves,
    _pieces,
    _projects,
    _text,
    home_org_uid,
    public_link,
    unit_uid,
)
from tonne.cadt.schema import v1_tables
from tonne.projects import reference
from tonne.projects.models import Label, Location, Project, RelatedProject
from tonne.units.models import Issuance

# -- v1 -------------------------------------------------------------------------------


def v1_unit_type(unit_type: str) -> str:
    """v1's unit types are reductions and removals: an avoidance is a reduction
    there, and a type not yet determined is listed as a technical reduction
    (v1 has no such value; v2 carries the registry's own)."""
    kind, _, nature = unit_type.partition(" - ")
    if kind == "Removal":
        return unit_type
    return f"Reduction - {nature}" if nature in ("nature", "technical") else "Reduction - technical"


def _v1(table: str, **values: Any) -> Row:
    spec = v1_tables()[table]
    names = [f.name for f in spec.fields if f.name != "timeStaged" and f.kind not in ("object", "array")]
    unknown = set(values) - set(names)
    assert not unknown, f"{table}: {unknown}"
    return {name: values.get(name) for name in names}


def _v1_stamps(obj: Any) -> dict[str, Any]:
    return {"createdAt": domain.iso_datetime(obj.created_at), "updatedAt": domain.iso_datetime(obj.updated_at)}


def v1_rows(scope: Scope = FULL) -> dict[str, list[Row]]:
    """v1 documents: projects with their child lists, units with issuance and labels."""
    org = home_org_uid()
    projects = _projects(scope)
    out_projects: list[Row] = []
    exported = reference.cadt_mapping()
    for p in projects:
        pid = str(p.uid)
        child = {"warehouseProjectId": pid, "orgUid": org}
        methodologies = [
            f"{pm.methodology.code} {pm.methodology.name}".strip()
            for pm in p.methodologies.select_related("methodology").order_by("created_at", "id")
        ]
        validation = p.validations.select_related("body").order_by("-date", "-id").first()
        row = _v1(
            "projects",
            warehouseProjectId=pid,
            orgUid=org,
            currentRegistry=p.registry_name,
            projectId=p.project_id,
            originProjectId=p.project_id,
            registryOfOrigin=p.registry_name,
            program=(p.program.name if p.program else _text(p.crediting_program)),
            projectName=p.name,
            projectLink=public_link(p),
            projectDeveloper=p.developer.name,
            sector=reference.cadt_values(exported, "project_sector", p.sectors[:1])[0] if p.sectors else None,
            projectType=reference.cadt_values(exported, "project_type", p.types[:1])[0] if p.types else None,
            projectTags=_text(p.subtype),
            coveredByNDC=domain.NDC_COVERAGE_V1[p.ndc_coverage],
            ndcInformation=None,
            projectStatus=domain.PROJECT_STATUS_V1[p.status],
            projectStatusDate=domain.iso_datetime(p.status_changed_at),
            unitMetric=p.unit_metric,
            methodology=methodologies[0] if methodologies else None,
            methodology2=methodologies[1] if len(methodologies) > 1 else None,
            validationBody=validation.body.name if validation else None,
            validationDate=domain.iso_datetime(validation.created_at) if validation else None,
            description=_text(p.description),
            **_v1_stamps(p),
        )
        row["projectLocations"] = [
            _v1(
                "projectLocations", id=str(loc.uid), country=loc.country, inCountryRegion=_text(loc.region),
                geographicIdentifier=_text(loc.gis), fileId=None, **child, **_v1_stamps(loc),
            )
            for loc in p.locations.order_by("uid")
        ]
        row["labels"] = [_v1_label(label, p, child) for label in p.labels.order_by("uid")]
        row["issuances"] = [
            _v1_issuance_of(i, child) for i in Issuance.objects.filter(project=p).select_related("report__vvb").order_by("uid")
        ]
        row["coBenefits"] = [
            _v1("coBenefits", id=str(c.uid), cobenefit=c.co_benefit, **child, **_v1_stamps(c))
            for c in p.co_benefits.order_by("uid")
        ]
        row["relatedProjects"] = [
            _v1(
                "relatedProjects", id=str(r.uid), relatedProjectId=r.related_project_id,
                relationshipType=_text(r.relationship), registry=_text(r.registry), **child, **_v1_stamps(r),
            )
            for r in RelatedProject.objects.filter(project=p).order_by("uid")
        ]
        row["projectRatings"] = [
            _v1(
                "projectRatings", id=str(r.uid), ratingType=r.type,
                ratingRangeLowest=domain.RATING_SCALES.get(r.type, (None, None))[0],
                ratingRangeHighest=domain.RATING_SCALES.get(r.type, (None, None))[1],
                rating=r.value, ratingLink=r.link or public_link(p), **child, **_v1_stamps(r),
            )
            for r in p.ratings.order_by("uid")
        ]
        row["estimations"] = [
            _v1(
                "estimations", id=str(e.uid),
                creditingPeriodStart=domain.iso_datetime(_midnight(e.start_date)),
                creditingPeriodEnd=domain.iso_datetime(_midnight(e.end_date)),
                unitCount=e.unit_count, **child, **_v1_stamps(e),
            )
            for e in p.estimations.order_by("uid")
        ]
        out_projects.append(row)
    return {"projects": out_projects, "units": _v1_units(scope, org)}


def _midnight(day: Any) -> Any:
    import datetime as dt

    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) if day else None


def _v1_label(label: Label, p: Project, child: dict[str, Any]) -> Row:
    # v1 labels carry periods and a quantity: the project's crediting period
    # and issued units stand for them.
    issued = sum(Issuance.objects.filter(project=p).values_list("quantity", flat=True))
    return _v1(
        "labels",
        id=str(label.uid),
        label=label.name,
        labelType=domain.LABEL_TYPE_V1.get(label.type, "Certification"),
        creditingPeriodStartDate=domain.iso_datetime(_midnight(p.crediting_period_start)),
        creditingPeriodEndDate=domain.iso_datetime(_midnight(p.crediting_period_end)),
        validityPeriodStartDate=domain.iso_datetime(_midnight(label.date or p.crediting_period_start)),
        validityPeriodEndDate=domain.iso_datetime(_midnight(p.crediting_period_end)),
        unitQuantity=issued,
        labelLink=label.link or public_link(p),
        **child,
        **_v1_stamps(label),
    )


def _v1_issuance_of(i: Issuance, child: dict[str, Any]) -> Row:
    r = i.report
    return _v1(
        "issuances",
        id=str(i.uid),
        startDate=domain.iso_datetime(_midnight(r.period_start)),
        endDate=domain.iso_datetime(_midnight(r.period_end)),
        verificationApproach=f"Verified monitoring report {r.number}",
        verificationBody=r.vvb.name,
        verificationReportDate=domain.iso_datetime(r.verified_at),
        createdAt=domain.iso_datetime(i.issued_at),
        updatedAt=domain.iso_datetime(i.issued_at),
        **child,
    )


def _v1_units(scope: Scope, org: str) -> list[Row]:
    blocks = _blocks(scope)
    moves = _last_moves(blocks)
    first_location = _first_by_project(Location, {b.project_id for b in blocks})
    countries = dict(Location.objects.filter(project_id__in={b.project_id for b in blocks}).values_list("project_id", "country"))
    out: list[Row] = []
    for piece in _pieces(blocks):
        b = piece.block
        i = b.issuance
        project = i.project
        account = b.account
        move = moves.get(b.pk)
        uid = unit_uid(piece.start)
        declaration, adjustment = domain.corresponding_adjustment(piece.article6)
        status = domain.UNIT_STATUS_V1[account.type]
        reason = (move.reason if move and move.reason else None) or domain.UNIT_STATUS_REASON[account.type]
        child = {"warehouseProjectId": str(project.uid), "orgUid": org}
        row = _v1(
            "units",
            warehouseUnitId=uid,
            issuanceId=str(i.uid),
            projectLocationId=first_location.get(project.pk),
            orgUid=org,
            unitOwner=None,  # who holds a block is not public
            countryJurisdictionOfOwner=countries.get(project.pk),
            inCountryJurisdictionOfOwner=None,
            serialNumberBlock=f"{piece.start}-{piece.end}",
            unitBlockStart=str(piece.start),
            unitBlockEnd=str(piece.end),
            unitCount=piece.quantity,
            vintageYear=b.vintage,
            unitType=v1_unit_type(project.unit_type),
            marketplace=None,
            marketplaceLink=None,
            marketplaceIdentifier=None,
            # v1 has no ITMO field: the tags name the authorisation and ITMO, or say there is none.
            unitTags=(f"Article 6 authorisation {piece.article6['authorisation']}; ITMO {piece.article6['itmo_id']}"
                      if piece.article6.get("label") == "authorised" else domain.MITIGATION_CONTRIBUTION_TAG),
            unitStatus=status,
            unitStatusReason=reason,
            unitRegistryLink=public_link(project),
            correspondingAdjustmentDeclaration=declaration,
            correspondingAdjustmentStatus=adjustment,
            createdAt=domain.iso_datetime(i.issued_at),
            updatedAt=domain.iso_datetime(b.acquired_at),
        )
        row["issuance"] = _v1_issuance_of(i, child)
        row["labels"] = [_v1_label(label, project, child) for label in project.labels.order_by("uid")]
        out.append(row)
    return sorted(out, key=lambda r: r["warehouseUnitId"])
