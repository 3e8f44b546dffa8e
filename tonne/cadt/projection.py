"""The CAD Trust rows the read API answers from (CadtRow), kept in step with
the ledger.

Every change to the registry writes a ledger entry in its own transaction;
the projection remembers the ledger position it has taken in
(CadtProjection.cursor). Before answering, a read takes in the entries
written since, under the projection's row lock and in one transaction: the
projects, issuances and serial ranges they touched (the same change set push
sync sends) are mapped again and upserted. So a read never answers from rows
older than the ledger it sees, and no write path pays for the projection
(the unit moves' path is the registry's hottest: mapping CAD Trust rows in
each move's transaction would slow every transfer for a read API's sake).
When nothing is behind, a read takes no lock and writes nothing.
Per-organisation row counts (CadtCount) are kept with the rows.
`tonne cadt check-rows` compares the rows with a fresh mapping; `tonne cadt
rebuild-rows` rebuilds them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Subquery

from tonne.cadt import derived, mapping, reads, rowfields, selectors
from tonne.cadt.models import CadtCount, CadtProjection, CadtRow, ImportedRecord
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
    key = V1_KEYS[table] if version == V1 else v2_tables()[table].key if table in v2_tables() else derived.key(table)
    return CadtRow(
        version=version, table=table, key=str(row[key]), org_uid=org,
        time_staged=str(row.get("timeStaged") or "") if version == V1 else "",
        search=" ".join(sorted(reads.row_tokens(row))), data=json.dumps(row, ensure_ascii=False),
        **rowfields.values(version, table, row),
    )


def build(scope: mapping.Scope, imported_from: int | None) -> Iterator[CadtRow]:
    """The rows of a scope (mapping.FULL: every row) and of the imported records
    of batches written at or after `imported_from` (None: every imported record).
    The sources, in order: this registry's records (mapping), records imported
    from other registries (ImportedRecord), the derived v2 tables (derived); a
    further source of CAD Trust rows joins here, with its own orgUid."""
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
            if table == "stakeholder":
                yield _record(V2, derived.STAKEHOLDER_PROJECTS, home, derived.stakeholder_project(row, home))
    for record in records.filter(model_version=V2).iterator():
        if record.table in v2_tables():
            yield _record(V2, record.table, record.org_uid, selectors.ordered(V2, record.table, record.data))
        elif record.table in derived.TABLES:
            yield _record(V2, record.table, record.org_uid, record.data)
    if scope is mapping.FULL:
        for table, row in derived.aef_rows():
            yield _record(V2, table, home, row)


def _upsert(rows: Iterable[CadtRow]) -> int:
    count, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            count += _write(batch)
            batch = []
    return count + (_write(batch) if batch else 0)


UPDATED = ["org_uid", "time_staged", "search", "data", *rowfields.TEXT_COLUMNS, *rowfields.NUMBER_COLUMNS]


Counted = tuple[str, str, str, str]  # version, table, org_uid, status ("" for none)


def _write(batch: list[CadtRow]) -> int:
    latest = {(r.version, r.table, r.key): r for r in batch}  # one row per key in a statement
    before: dict[tuple[str, str, str], Counted] = {}
    for version, table in {(v, t) for v, t, _ in latest}:
        keys = [k for v, t, k in latest if (v, t) == (version, table)]
        before.update(((version, table, k), (version, table, org, status or "")) for k, org, status in
                      CadtRow.objects.filter(version=version, table=table, key__in=keys)
                      .values_list("key", "org_uid", "status"))
    CadtRow.objects.bulk_create(
        list(latest.values()), update_conflicts=True, unique_fields=["version", "table", "key"],
        update_fields=UPDATED,
    )
    delta: Counter[Counted] = Counter()
    for (version, table, key), row in latest.items():
        old, new = before.get((version, table, key)), (version, table, row.org_uid, row.status or "")
        if old != new:
            delta[new] += 1
            if old is not None:
                delta[old] -= 1
    _add_counts(delta)
    return len(latest)


def _add_counts(delta: Counter[Counted]) -> None:
    for (version, table, org, status), change in delta.items():
        if change:
            at: dict[str, Any] = {"version": version, "table": table, "org_uid": org, "status": status}
            CadtCount.objects.get_or_create(**at)
            CadtCount.objects.filter(**at).update(rows=F("rows") + change)


def _delete(version: str, table: str, keys: list[str]) -> None:
    rows = CadtRow.objects.filter(version=version, table=table, key__in=keys)
    gone: Counter[Counted] = Counter()
    for org, status in rows.values_list("org_uid", "status"):
        gone[(version, table, org, status or "")] -= 1
    rows.delete()
    _add_counts(gone)


def _actual_counts() -> Counter[Counted]:
    counted: Counter[Counted] = Counter()
    for v, t, o, s, n in (CadtRow.objects.values("version", "table", "org_uid", "status").annotate(n=Count("id"))
                          .values_list("version", "table", "org_uid", "status", "n")):
        counted[(v, t, o, s or "")] += n
    return counted


def recount() -> None:
    """The counts counted afresh from the rows (after a bulk load)."""
    with transaction.atomic():
        CadtCount.objects.all().delete()
        CadtCount.objects.bulk_create(CadtCount(version=v, table=t, org_uid=o, status=s, rows=n)
                                      for (v, t, o, s), n in _actual_counts().items())


def _ledger_size() -> int:
    return LedgerHead.objects.values_list("size", flat=True).get(pk=1)


def catch_up() -> str:
    """Take in the ledger entries written since the projection's cursor; answers
    the ledger state the rows follow (its size and head hash)."""
    # One round trip when nothing is behind: the cursor and the ledger head together.
    head_of = LedgerHead.objects.filter(pk=1)
    found = CadtProjection.objects.filter(pk=1).values_list(
        "cursor", Subquery(head_of.values("size")), Subquery(head_of.values("last_hash"))).first()
    if found is not None and found[0] >= found[1]:
        return f"{found[1]}:{found[2]}"
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
                _delete(V1, "projects", gone)
                _delete(V2, "project", gone)
            _upsert(build(changes.scope, changes.batches_from))
        state.cursor = size
        state.save(update_fields=["cursor"])
    return _state()


def _state() -> str:
    size, head = LedgerHead.objects.values_list("size", "last_hash").get(pk=1)
    return f"{size}:{head}"


def _rebuild() -> int:
    CadtRow.objects.all().delete()
    CadtCount.objects.all().delete()
    count = _upsert(build(mapping.FULL, None))
    CadtProjection.objects.filter(pk=1).update(aef_state=_state())
    return count


def refresh_aef() -> str:
    """The AEF tables rebuilt if the ledger moved since they were (they come
    from replaying each reporting year, so they are built when read, not at
    every change); answers the ledger state the rows follow."""
    state = catch_up()
    if CadtProjection.objects.filter(pk=1, aef_state=state).exists():
        return state
    with transaction.atomic():
        projection = CadtProjection.objects.select_for_update().get(pk=1)
        if projection.aef_state == state:
            return state
        for table in derived.AEF_TABLES:
            _delete(V2, table, list(CadtRow.objects.filter(version=V2, table=table).values_list("key", flat=True)))
        home = mapping.home_org_uid()
        _upsert(_record(V2, table, home, row) for table, row in derived.aef_rows())
        projection.aef_state = state
        projection.save(update_fields=["aef_state"])
    return state


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
    """Rows that differ from a fresh mapping: missing, extra, changed (as
    version/table/key), and per-organisation counts that differ from the rows."""
    refresh_aef()
    columns = [*rowfields.TEXT_COLUMNS, *rowfields.NUMBER_COLUMNS]

    def digest(row: CadtRow) -> str:
        return "\n".join([row.data, row.org_uid, row.time_staged, row.search, *(repr(getattr(row, c)) for c in columns)])

    expected = {(r.version, r.table, r.key): digest(r) for r in build(mapping.FULL, None)}
    stored = {(r.version, r.table, r.key): digest(r) for r in CadtRow.objects.iterator()}
    counted = Counter({(v, t, o, st): n for v, t, o, st, n in
                       CadtCount.objects.values_list("version", "table", "org_uid", "status", "rows") if n})
    actual = _actual_counts()
    name = "/".join
    found = {
        "missing": sorted(name(k) for k in expected.keys() - stored.keys()),
        "extra": sorted(name(k) for k in stored.keys() - expected.keys()),
        "changed": sorted(name(k) for k in expected.keys() & stored.keys() if expected[k] != stored[k]),
    }
    wrong = sorted(name(k) for k in counted.keys() | actual.keys() if counted[k] != actual[k])
    if wrong:
        found["counts"] = wrong
    return found
