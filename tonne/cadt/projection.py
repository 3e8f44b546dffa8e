"""The CAD Trust rows the read API answers from (CadtRow), kept in step with
the ledger.

Every change to the registry writes a ledger entry in its own transaction;
the projection remembers the ledger position it has taken in
(CadtProjection.cursor). Before answering, a read takes in the entries
written since, under the projection's row lock and in one transaction: the
projects, issuances and serial ranges they touched (the same change set push
sync sends) are mapped again and upserted. So a read never answers from rows
older than the ledger it sees, and no write path pays for the projection.
`tonne cadt check-rows` compares the rows with a fresh mapping; `tonne cadt
rebuild-rows` rebuilds them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import transaction

from tonne.cadt import mapping, reads, selectors
from tonne.cadt.models import CadtProjection, CadtRow, ImportedRecord
from tonne.cadt.schema import V1, V2, v2_tables
from tonne.ledger.models import LedgerHead
from tonne.projects.models import Project

V1_KEYS = {"projects": "warehouseProjectId", "units": "warehouseUnitId", "issuances": "id", "labels": "id"}
BATCH = 1000


def _v1_children(pairs: list[tuple[str, str, dict[str, Any]]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """v1 issuances and labels, gathered from projects and units as CAD Trust lists them."""
    seen: set[tuple[str, str]] = set()
    for org, table, row in pairs:
        if table == "projects":
            nested = [("issuances", r) for r in row.get("issuances") or []]
            nested += [("labels", r) for r in row.get("labels") or []]
        else:
            nested = [("issuances", row["issuance"])] if row.get("issuance") else []
            nested += [("labels", r) for r in row.get("labels") or []]
        for kind, child in nested:
            if (kind, child["id"]) not in seen:
                seen.add((kind, child["id"]))
                yield org, kind, child


def _record(version: str, table: str, org: str, row: dict[str, Any]) -> CadtRow:
    key = V1_KEYS[table] if version == V1 else v2_tables()[table].key
    return CadtRow(
        version=version, table=table, key=str(row[key]), org_uid=org,
        time_staged=str(row.get("timeStaged") or "") if version == V1 else "",
        search=" ".join(sorted(reads.row_tokens(row))), data=json.dumps(row, ensure_ascii=False),
    )


def build(scope: mapping.Scope, imported_from: int | None) -> Iterator[CadtRow]:
    """The rows of a scope (mapping.FULL: every row) and of the imported records
    of batches written at or after `imported_from` (None: every imported record)."""
    home = mapping.home_org_uid()
    own_v1 = mapping.v1_rows(scope) if not scope.empty else {"projects": [], "units": []}
    v1: list[tuple[str, str, dict[str, Any]]] = [
        (home, table, reads.with_time_staged(row)) for table in ("projects", "units") for row in own_v1[table]
    ]
    records = ImportedRecord.objects.order_by("record_id")
    if imported_from is not None:
        records = records.filter(batch__ledger_seq__gte=imported_from)
    for record in records.filter(model_version=V1).iterator():
        v1.append((record.org_uid, record.table, reads.with_time_staged(selectors.ordered(V1, record.table, record.data))))
    for org, table, row in v1:
        yield _record(V1, table, org, row)
    for org, table, row in _v1_children(v1):
        yield _record(V1, table, org, row)
    own_v2 = mapping.v2_rows(scope) if not scope.empty else {}
    for table, rows in own_v2.items():
        for row in rows:
            yield _record(V2, table, home, row)
    for record in records.filter(model_version=V2).iterator():
        yield _record(V2, record.table, record.org_uid, selectors.ordered(V2, record.table, record.data))


def _upsert(rows: Iterable[CadtRow]) -> int:
    count, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            count += _write(batch)
            batch = []
    return count + (_write(batch) if batch else 0)


def _write(batch: list[CadtRow]) -> int:
    latest = {(r.version, r.table, r.key): r for r in batch}  # one row per key in a statement
    CadtRow.objects.bulk_create(
        list(latest.values()), update_conflicts=True, unique_fields=["version", "table", "key"],
        update_fields=["org_uid", "time_staged", "search", "data"],
    )
    return len(latest)


def _ledger_size() -> int:
    return LedgerHead.objects.values_list("size", flat=True).get(pk=1)


def catch_up() -> str:
    """Take in the ledger entries written since the projection's cursor; answers
    the ledger state the rows follow (its size and head hash)."""
    cursor = CadtProjection.objects.filter(pk=1).values_list("cursor", flat=True).first()
    size, head = LedgerHead.objects.values_list("size", "last_hash").get(pk=1)
    if cursor is not None and cursor >= size:
        return f"{size}:{head}"
    with transaction.atomic():
        CadtProjection.objects.get_or_create(pk=1)
        state = CadtProjection.objects.select_for_update().get(pk=1)
        size = _ledger_size()
        if state.cursor >= size:
            return _state()  # another read took them in while this one waited
        if state.cursor == 0:
            _rebuild()
        else:
            changes = selectors.changes_since(state.cursor, size)
            # A project that left the public list leaves the read API.
            gone = [str(uid) for uid in Project.objects.filter(pk__in=changes.scope.projects or ())
                    .exclude(status__in=mapping.PUBLIC_STATUSES).values_list("uid", flat=True)]
            if gone:
                CadtRow.objects.filter(version=V1, table="projects", key__in=gone).delete()
                CadtRow.objects.filter(version=V2, table="project", key__in=gone).delete()
            _upsert(build(changes.scope, changes.batches_from))
        state.cursor = size
        state.save(update_fields=["cursor"])
    return _state()


def _state() -> str:
    size, head = LedgerHead.objects.values_list("size", "last_hash").get(pk=1)
    return f"{size}:{head}"


def _rebuild() -> int:
    CadtRow.objects.all().delete()
    return _upsert(build(mapping.FULL, None))


def rebuild() -> int:
    """Every row mapped afresh; answers how many."""
    with transaction.atomic():
        CadtProjection.objects.get_or_create(pk=1)
        state = CadtProjection.objects.select_for_update().get(pk=1)
        size = _ledger_size()
        count = _rebuild()
        state.cursor = size
        state.save(update_fields=["cursor"])
    return count


def drift() -> dict[str, list[str]]:
    """Rows that differ from a fresh mapping: missing, extra, changed (as version/table/key)."""
    catch_up()
    def digest(row: CadtRow) -> str:
        return "\n".join([row.data, row.org_uid, row.time_staged, row.search])

    expected = {(r.version, r.table, r.key): digest(r) for r in build(mapping.FULL, None)}
    stored = {(r.version, r.table, r.key): digest(r) for r in CadtRow.objects.iterator()}
    name = "/".join
    return {
        "missing": sorted(name(k) for k in expected.keys() - stored.keys()),
        "extra": sorted(name(k) for k in stored.keys() - expected.keys()),
        "changed": sorted(name(k) for k in expected.keys() & stored.keys() if expected[k] != stored[k]),
    }
