"""Checking a CAD Trust file before anything is written: every row's
fields, picklists and references (v2 and v1), which records are new, changed,
unchanged or this registry's own, and every unit serial range against every
range already known (double counting). tonne.cadt.services writes what passes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from tonne.cadt import domain, formats, mapping, serial_series
from tonne.cadt.domain import Problem, UnitRange
from tonne.cadt.models import ImportedRecord, ImportedUnitRange
from tonne.cadt.schema import V1, V1_PROJECT_CHILDREN, V2, V2_REFERENCES, v1_tables, v2_tables
from tonne.core.errors import ValidationFailed
from tonne.units.domain import SerialRange, render_serial
from tonne.units.models import Issuance
from tonne.units.selectors import serial_prefix


@dataclass
class Incoming:
    table: str
    record_id: str
    data: dict[str, Any]
    row: int
    sheet: str | None
    parent_id: str = ""
    org_uid: str = ""
    origin_registry: str = ""
    serials: UnitRange | None = None
    status: str = "new"  # new, updated, unchanged, own


@dataclass
class Checked:
    records: list[Incoming]
    problems: list[Problem]
    double_counting: list[dict[str, Any]]
    warnings: list[Problem]



# -- v2 ----------------------------------------------------------------------------------


# Parents before children (CAD Trust's insert order lists stakeholder before
# project, though a stakeholder names its project).
V2_ORDER = ("program", "methodology", "label", "project", "stakeholder", "project_methodology", "validation",
            "verification", "location", "estimation", "rating", "co_benefit", "issuance", "unit", "unit_label")


def _natural_key(table: str, data: dict[str, Any]) -> str:
    """What identifies a row given without an id (or with a NEW-n placeholder)."""
    if table == "project":
        return f"{data.get('projectRegistryName')}|{data.get('projectId')}"
    if table == "unit":
        return f"{data.get('unitSerialId')}|{data.get('unitStartBlock')}|{data.get('unitEndBlock')}"
    if table in ("program", "methodology"):
        return f"{data.get('programRegistryId') or data.get('methodologyCode')}|{data.get('methodologyVersion')}"
    return domain.content_digest(data, ignore=("createdAt", "updatedAt"))


def check_v2(parsed: formats.Parsed, sha256: str) -> Checked:
    specs = v2_tables()
    problems: list[Problem] = []
    records: dict[tuple[str, str], Incoming] = {}
    placeholders: dict[tuple[str, str], str] = {}
    links = parsed.tables.pop("stakeholderProjects", [])
    warnings: list[Problem] = []
    for name in [t for t in V2_ORDER if t in parsed.tables]:
        spec = specs[name]
        for src in parsed.tables[name]:
            cleaned = domain.clean_row(spec, src.raw, row=src.row, sheet=src.sheet)
            problems.extend(cleaned.problems)
            warnings.extend(cleaned.warnings)
            data = cleaned.data
            for f in spec.fields:
                value = data.get(f.name)
                if f.reference and isinstance(value, str) and domain.PLACEHOLDER_RE.match(value):
                    data[f.name] = placeholders.get((f.reference, value))
                    if data[f.name] is None:
                        problems.append(
                            Problem(name, src.row, f.name, "REFERENCE_UNKNOWN",
                                    f"{f.name} {value} names no {f.reference} row of this file.", src.sheet)
                        )
            key = data.get(spec.key)
            if key is None or domain.PLACEHOLDER_RE.match(key):
                derived = domain.derived_id("v2", name, _natural_key(name, {**data, spec.key: None}))
                if key is not None:
                    placeholders[(name, key)] = derived
                key = data[spec.key] = derived
            for p in cleaned.problems:
                p.owner = (name, key)
            if (name, key) in records:
                first = records[(name, key)]
                problems.append(
                    Problem(name, src.row, spec.key, "RECORD_DUPLICATED",
                            f"{spec.key} {key} appears twice in the file (also row {first.row}).", src.sheet, key)
                )
                continue
            records[(name, key)] = Incoming(
                table=name, record_id=key, data=data, row=src.row, sheet=src.sheet,
                parent_id=str(data.get(spec.parent) or "") if spec.parent else "",
            )
    own = _index(mapping.v2_rows(), {n: specs[n].key for n in specs})
    imported = _imported_index(V2)
    _classify(records.values(), own, imported, problems)
    problems = _without_own(problems, records.values())
    # References: to a record in the file, one imported before, or this registry's own.
    for rec in records.values():
        for f in specs[rec.table].fields:
            target = f.reference
            value = rec.data.get(f.name)
            if target is None or value is None:
                continue
            if (target, value) not in records and value not in own[target] and value not in imported[target]:
                problems.append(
                    Problem(rec.table, rec.row, f.name, "REFERENCE_UNKNOWN",
                            f"{f.name} {value} names no {target} in this file or in the registry.", rec.sheet,
                            rec.record_id)
                )
    for src in links:
        stakeholder = placeholders.get(("stakeholder", str(src.raw.get("cadTrustStakeholderId"))),
                                       str(src.raw.get("cadTrustStakeholderId")))
        project = placeholders.get(("project", str(src.raw.get("cadTrustProjectId"))), str(src.raw.get("cadTrustProjectId")))
        known = records.get(("stakeholder", str(stakeholder)))
        if known is None or known.data.get("cadTrustProjectId") != project:
            problems.append(
                Problem("stakeholder", src.row, "cadTrustStakeholderId", "STAKEHOLDER_UNKNOWN",
                        f"Stakeholder {stakeholder} is not a stakeholder of project {project} in this file.",
                        src.sheet)
            )
    _origins(records, imported)
    double = _check_units(
        [r for r in records.values() if r.table == "unit"], problems, warnings, strict_count=True,
        fields=("unitSerialId", "unitStartBlock", "unitEndBlock", "unitCount", "cadTrustIssuanceId"),
    )
    return Checked(records=list(records.values()), problems=problems, double_counting=double, warnings=warnings)


def _origins(records: dict[tuple[str, str], Incoming], imported: dict[str, dict[str, ImportedRecord]]) -> None:
    """A record carries the organisation and registry of the project it belongs to."""

    def project_of(table: str, data: dict[str, Any]) -> tuple[str, str] | None:
        for _ in range(4):  # unit_label -> unit -> issuance -> verification -> project
            if table == "project":
                return str(data.get("orgUid") or ""), str(data.get("projectRegistryName") or "")
            link = {"issuance": ("verification", "cadTrustVerificationId")}.get(table)
            if link is None:
                parent_field = v2_tables()[table].parent
                if parent_field is None:
                    return None
                link = (V2_REFERENCES[parent_field], parent_field)
            target, fk = link
            value = str(data.get(fk) or "")
            nxt = records.get((target, value))
            if nxt is not None:
                table, data = target, nxt.data
            elif value in imported.get(target, {}):
                table, data = target, imported[target][value].data
            else:
                return None
        return None

    for rec in records.values():
        found = project_of(rec.table, rec.data)
        if found is not None:
            rec.org_uid, rec.origin_registry = found
        if not rec.org_uid:
            rec.org_uid = str(rec.data.get("orgUid") or "")


def _index(doc: dict[str, list[dict[str, Any]]], keys: dict[str, str]) -> dict[str, dict[str, dict[str, Any]]]:
    return {name: {row[keys[name]]: row for row in rows} for name, rows in doc.items()}


def _imported_index(version: str) -> dict[str, dict[str, ImportedRecord]]:
    out: dict[str, dict[str, ImportedRecord]] = defaultdict(dict)
    for record in ImportedRecord.objects.filter(model_version=version).select_related("serial_range"):
        out[record.table][record.record_id] = record
    return out


def _classify(
    records: Any,
    own: dict[str, dict[str, dict[str, Any]]],
    imported: dict[str, dict[str, ImportedRecord]],
    problems: list[Problem],
) -> None:
    for rec in records:
        mine = own.get(rec.table, {}).get(rec.record_id)
        if mine is not None:
            rec.status = "own"
            if not _agrees(mine, rec.data):
                problems.append(
                    Problem(rec.table, rec.row, None, "OWN_RECORD_CONFLICT",
                            f"{rec.table} {rec.record_id} is a record of this registry and differs from it; "
                            "an import cannot change this registry's own records.", rec.sheet, rec.record_id)
                )
            continue
        before = imported.get(rec.table, {}).get(rec.record_id)
        if before is None:
            rec.status = "new"
        elif before.digest == digest(rec.data):
            rec.status = "unchanged"
        else:
            rec.status = "updated"


_STAMPS = ("createdAt", "updatedAt", "timeStaged")


def _agrees(mine: Any, theirs: Any) -> bool:
    """Does a row agree with this registry's own record? Fields the row leaves
    empty (or that failed their checks) are not compared: an import never
    writes an own record, it only must not contradict it."""
    if isinstance(theirs, dict) and isinstance(mine, dict):
        return all(k in _STAMPS or v in (None, "", []) or _agrees(mine.get(k), v) for k, v in theirs.items())
    if isinstance(theirs, list) and isinstance(mine, list) and any(isinstance(v, dict) for v in theirs + mine):
        return len(theirs) == len(mine) and all(_agrees(a, b) for a, b in zip(mine, theirs, strict=True))
    return bool(mine == theirs)


def _without_own(problems: list[Problem], records: Any) -> list[Problem]:
    """Rows that are this registry's own records are not imported, so their field checks do not matter."""
    own = {(r.table, r.record_id) for r in records if r.status == "own"}
    return [p for p in problems if p.owner is None or p.owner not in own or p.code == "OWN_RECORD_CONFLICT"]


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in _STAMPS and v not in (None, "", [])}


def digest(data: dict[str, Any]) -> str:
    return domain.content_digest(_comparable(data))


# -- unit serial ranges ------------------------------------------------------------------


def _check_units(
    units: list[Incoming],
    problems: list[Problem],
    warnings: list[Problem],
    *,
    strict_count: bool,
    fields: tuple[str, str, str, str, str],
) -> list[dict[str, Any]]:
    """Parse each unit's serial range; refuse one that overlaps another unit in
    the file, a unit imported before, or units issued by this registry."""
    serial_f, start_f, end_f, count_f, issuance_f = fields
    for rec in units:
        if rec.status == "own":
            continue
        data = rec.data
        if data.get(start_f) is None or data.get(end_f) is None:
            continue
        try:
            # The range in its series (registry grammars, origin, CDM Party): the one serial rule.
            rec.serials = serial_series.import_range(data, fields)
        except ValidationFailed as exc:
            problems.append(Problem(rec.table, rec.row, start_f, exc.code, exc.message, rec.sheet, rec.record_id))
            continue
        count = data.get(count_f)
        span = rec.serials.end - rec.serials.start + 1
        if count is not None and count != span:
            problem = Problem(
                rec.table, rec.row, count_f, "UNIT_COUNT_MISMATCH",
                f"{count_f} is {count} but {data[start_f]}..{data[end_f]} holds {span} units.", rec.sheet,
                rec.record_id,
            )
            (problems if strict_count else warnings).append(problem)
    double: list[dict[str, Any]] = []
    checked = [r for r in units if r.serials is not None and r.status in ("new", "updated")]
    by_series: dict[str, list[Incoming]] = defaultdict(list)
    for rec in [r for r in units if r.serials is not None]:
        by_series[rec.serials.namespace].append(rec)  # type: ignore[union-attr]
    for series, group in by_series.items():
        group.sort(key=lambda r: r.serials.start)  # type: ignore[union-attr]
        for a, b in zip(group, group[1:], strict=False):
            if a.serials.overlaps(b.serials):  # type: ignore[union-attr,arg-type]
                double.append(_overlap(b, {"source": "file", "table": a.table, "row": a.row, "sheet": a.sheet,
                                           "record": a.record_id, "series": series,
                                           "serials": f"{a.serials.start}-{a.serials.end}"}))  # type: ignore[union-attr]
    ids = {r.record_id for r in units}
    for rec in checked:
        rng = rec.serials
        assert rng is not None
        for other in ImportedUnitRange.objects.filter(
            namespace=rng.namespace, serial_start__lte=rng.end, serial_end__gte=rng.start
        ).select_related("record"):
            if other.record.record_id in ids:
                continue  # the same unit, re-imported (or changed) by this file
            double.append(_overlap(rec, {
                "source": "imported", "table": other.record.table, "record": other.record.record_id,
                "origin_registry": other.record.origin_registry, "org_uid": other.record.org_uid,
                "series": other.namespace, "serials": f"{other.serial_start}-{other.serial_end}",
                "serial_id": other.serial_id,
            }))
        if rng.namespace == domain.tonne_namespace(settings.TONNE_COUNTRY):
            for issuance in Issuance.objects.filter(serial_start__lte=rng.end, serial_end__gte=rng.start).select_related(
                "project"
            ):
                lo, hi = max(rng.start, issuance.serial_start), min(rng.end, issuance.serial_end)
                double.append(_overlap(rec, {
                    "source": "issued_here", "issuance": str(issuance.uid), "project": issuance.project.project_id,
                    "serials": render_serial(serial_prefix(issuance), SerialRange(issuance.serial_start, issuance.serial_end)),
                    "overlap": f"{lo}-{hi}",
                }))
    return double


def _overlap(rec: Incoming, known: dict[str, Any]) -> dict[str, Any]:
    rng = rec.serials
    assert rng is not None
    where = {"file": "another row of this file", "imported": "units imported before",
             "issued_here": "units issued by this registry"}[known["source"]]
    return {
        "code": "SERIAL_RANGE_DOUBLE_COUNTED",
        "message": f"{rec.table} row {rec.row} ({rng.namespace} {rng.start}-{rng.end}) overlaps {where} "
                   f"({known.get('serials')}).",
        "row": {"table": rec.table, "row": rec.row, "sheet": rec.sheet, "record": rec.record_id,
                "series": rng.namespace, "serials": f"{rng.start}-{rng.end}"},
        "known": known,
    }


# -- v1 ----------------------------------------------------------------------------------


def check_v1(parsed: formats.Parsed) -> Checked:
    specs = v1_tables()
    problems: list[Problem] = []
    ignored: list[Problem] = []
    records: dict[tuple[str, str], Incoming] = {}
    for src in parsed.tables.get("projects", []):
        data, found = _clean_v1_project(src)
        key = data["warehouseProjectId"]
        for p in found:
            p.owner = ("projects", key)
        problems.extend(p for p in found if p.code != "FIELD_IGNORED")
        ignored.extend(p for p in found if p.code == "FIELD_IGNORED")
        if ("projects", key) in records:
            problems.append(Problem("projects", src.row, "warehouseProjectId", "RECORD_DUPLICATED",
                                    f"Project {key} appears twice in the file.", src.sheet, key))
            continue
        records[("projects", key)] = Incoming(
            table="projects", record_id=key, data=data, row=src.row, sheet=src.sheet,
            org_uid=str(data.get("orgUid") or ""), origin_registry=str(data.get("registryOfOrigin") or ""),
        )
    for src in parsed.tables.get("units", []):
        cleaned = domain.clean_row(specs["units"], src.raw, row=src.row, sheet=src.sheet)
        problems.extend(cleaned.problems)
        ignored.extend(cleaned.warnings)
        data = cleaned.data
        if not data.get("warehouseUnitId"):
            data["warehouseUnitId"] = domain.derived_id(
                "v1", "units", str(data.get("unitBlockStart")), str(data.get("unitBlockEnd"))
            )
        status = str(data.get("unitStatus") or "").lower()
        if status in ("cancelled", "retired") and not data.get("unitStatusReason"):
            # The live CAD Trust node exports retired and cancelled units without a reason: noted, not refused.
            ignored.append(Problem("units", src.row, "unitStatusReason", "FIELD_MISSING",
                                   f"unitStatusReason is empty although unitStatus is {data['unitStatus']}.", src.sheet))
        key = data["warehouseUnitId"]
        unit_problems_from = len(problems)
        issuance = src.raw.get("issuance")
        if isinstance(issuance, dict):
            child, found = _clean_v1_child("issuances", issuance, src, "issuance", data.get("warehouseUnitId"))
            problems.extend(p for p in found if p.code != "FIELD_IGNORED")
            ignored.extend(p for p in found if p.code == "FIELD_IGNORED")
            data["issuance"] = child
            data["issuanceId"] = child["id"]
        labels = []
        for n, raw in enumerate(src.raw.get("labels") or [], start=1):
            child, found = _clean_v1_child("labels", raw, src, f"labels[{n}]", key)
            problems.extend(p for p in found if p.code != "FIELD_IGNORED")
            ignored.extend(p for p in found if p.code == "FIELD_IGNORED")
            labels.append(child)
        data["labels"] = sorted(labels, key=lambda r: r["id"])
        for p in [*cleaned.problems, *problems[unit_problems_from:]]:
            p.owner = ("units", key)
        if ("units", key) in records:
            problems.append(Problem("units", src.row, "warehouseUnitId", "RECORD_DUPLICATED",
                                    f"Unit {key} appears twice in the file.", src.sheet, key))
            continue
        records[("units", key)] = Incoming(table="units", record_id=key, data=data, row=src.row, sheet=src.sheet,
                                           org_uid=str(data.get("orgUid") or ""))
    # Rows reading could not attach (a child naming a project not in the file): noted, never dropped silently.
    ignored.extend(Problem(n["table"], n["row"], n["field"], n["code"], n["message"], n["sheet"]) for n in parsed.notes)
    own_doc = mapping.v1_rows()
    own = {
        "projects": {r["warehouseProjectId"]: r for r in own_doc["projects"]},
        "units": {r["warehouseUnitId"]: r for r in own_doc["units"]},
    }
    imported = _imported_index(V1)
    _classify(records.values(), own, imported, problems)
    problems = _without_own(problems, records.values())
    warnings: list[Problem] = ignored
    double = _check_units(
        [r for r in records.values() if r.table == "units"], problems, warnings, strict_count=False,
        fields=("serialNumberBlock", "unitBlockStart", "unitBlockEnd", "unitCount", "issuanceId"),
    )
    return Checked(records=list(records.values()), problems=problems, double_counting=double, warnings=warnings)


def _clean_v1_project(src: formats.SourceRow) -> tuple[dict[str, Any], list[Problem]]:
    specs = v1_tables()
    raw = {k: v for k, v in src.raw.items() if k not in V1_PROJECT_CHILDREN}
    cleaned = domain.clean_row(specs["projects"], raw, row=src.row, sheet=src.sheet)
    problems = list(cleaned.problems) + list(cleaned.warnings)
    data = cleaned.data
    if not data.get("warehouseProjectId"):
        data["warehouseProjectId"] = domain.derived_id(
            "v1", "projects", str(data.get("registryOfOrigin")), str(data.get("projectId"))
        )
    pid = data["warehouseProjectId"]
    for child in V1_PROJECT_CHILDREN:
        rows = src.raw.get(child) or []
        if not isinstance(rows, list):
            problems.append(Problem("projects", src.row, child, "FIELD_INVALID", f"{child} must be a list.", src.sheet))
            rows = []
        out = []
        for n, item in enumerate(rows, start=1):
            row, found = _clean_v1_child(child, item, src, f"{child}[{n}]", pid)
            problems.extend(found)
            out.append(row)
        data[child] = sorted(out, key=lambda r: r["id"])
    return data, problems


def _clean_v1_child(
    table: str, raw: Any, src: formats.SourceRow, path: str, parent: Any
) -> tuple[dict[str, Any], list[Problem]]:
    if not isinstance(raw, dict):
        return {"id": domain.derived_id("v1", table, str(parent), path)}, [
            Problem(table, src.row, path, "FIELD_INVALID", f"{path} must be a record.", src.sheet)
        ]
    spec = v1_tables()[table]
    cleaned = domain.clean_row(spec, raw, row=src.row, sheet=src.sheet)
    for p in cleaned.problems + cleaned.warnings:
        p.field = f"{path}.{p.field}" if p.field else path
    data = cleaned.data
    if not data.get("id"):
        data["id"] = domain.derived_id("v1", table, str(parent), digest(data))
    return data, cleaned.problems + cleaned.warnings
