"""CAD Trust's node endpoints with what they mean in Tonne: organisations
(with their state hashes and sync state), governance, staging, offers, file
store, conflicts. Tonne is a read-only CAD Trust node with no Chia wallet:
what only a Chia node has is null or empty, as the README's CAD Trust table says."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from tonne.cadt import mapping, selectors
from tonne.cadt.models import ImportBatch, ImportedRecord, SyncDestination
from tonne.ledger.models import LedgerHead
from tonne.projects import picklists

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
CADT_VERSION = "1.7.24"  # the CAD Trust release whose API this one follows (see tests/test_conformance.py)


def data_model_hash(version: str) -> str:
    """The data model this registry serves, as a hash of its definition file."""
    return "0x" + hashlib.sha256((SCHEMA_DIR / f"cadt_v{version}.json").read_bytes()).hexdigest()


def sync_remaining() -> int:
    """Ledger entries not yet delivered to the CAD Trust nodes this registry pushes to."""
    cursors = list(SyncDestination.objects.filter(enabled=True).values_list("cursor", flat=True))
    if not cursors:  # no node to push to (the common case: one query on every /cadt/ answer)
        return 0
    size = LedgerHead.objects.values_list("size", flat=True).get(pk=1)
    return sum(max(size - cursor, 0) for cursor in cursors)


def organizations() -> dict[str, dict[str, Any]]:
    """CAD Trust's organisation map with its state fields: the home organisation's
    hashes are the ledger head's; an imported one's, its latest import file's."""
    head = LedgerHead.objects.get(pk=1)
    home = mapping.home_org_uid()
    latest = dict(
        ImportedRecord.objects.exclude(org_uid="").values("org_uid").annotate(batch=Max("batch_id"))
        .values_list("org_uid", "batch")
    )
    digests = dict(ImportBatch.objects.filter(pk__in=latest.values()).values_list("pk", "sha256"))
    remaining = sync_remaining()
    orgs = selectors.organizations()
    for org_uid, org in orgs.items():
        own = org_uid == home
        batch = latest.get(org_uid)
        state = "0x" + (head.last_hash if own else digests.get(batch, "0" * 64) if batch else "0" * 64)
        org.update(
            orgHash=state,
            registryHash=state,
            fileStoreSubscribed=False,
            sync_remaining=remaining if own else 0,
            dataModelVersionStoreId="v1",
            dataModelVersionStoreHash=data_model_hash("1"),
            xchAddress=None,  # no Chia wallet
            balance=None,
        )
    return orgs


def _governance_meta() -> list[dict[str, Any]]:
    return [
        {"id": 1, "metaKey": "pickList", "metaValue": json.dumps(picklists.picklists("1"))},
        {"id": 2, "metaKey": "orgList", "metaValue": json.dumps(org_list())},
        {"id": 3, "metaKey": "glossary", "metaValue": json.dumps(glossary("1"))},
    ]


def org_list() -> list[dict[str, Any]]:
    return [{"orgUid": uid, "name": org["name"], "registryId": org["registryId"]}
            for uid, org in selectors.organizations().items()]


def glossary(version: str) -> list[dict[str, str]]:
    """Every field of the data model with its definition, as CAD Trust's glossary lists terms."""
    doc = json.loads((SCHEMA_DIR / f"cadt_v{version}.json").read_text())
    seen: dict[str, str] = {}
    for table in doc["tables"].values() if isinstance(doc["tables"], dict) else doc["tables"]:
        for field in table.get("fields", []):
            name = field.get("field") or field.get("name")
            if name and name not in seen:
                seen[name] = field.get("description") or field.get("definition") or ""
    return [{"term": name, "definition": text} for name, text in seen.items()]


def install(
    api: NinjaAPI, *, viewer: Callable[[HttpRequest], Any], json_response: Callable[[Any], HttpResponse],
    error: Callable[..., HttpResponse],
) -> None:
    """The node endpoints, for v1 and (where CAD Trust's v2 has them) v2."""
    v1, v2 = ["CAD Trust v1"], ["CAD Trust v2"]

    def read(path: str, tags: list[str], doc: str) -> Callable[[Callable[[], Any]], None]:
        def register(make: Callable[[], Any]) -> None:
            def view(request: HttpRequest) -> HttpResponse:
                viewer(request)
                result = make()
                return result if isinstance(result, HttpResponse) else json_response(result)

            view.__name__ = "cadt_" + path.strip("/").replace("/", "_").replace("-", "_")
            view.__doc__ = doc
            api.get(path, response={200: Any, 400: dict[str, Any]}, tags=tags)(view)

        return register

    read("/v1/organizations", v1, "Organisations by orgUid (this registry isHome), with their state hashes.")(
        organizations)
    read("/v1/organizations/status", v1, "The home organisation's sync status.")(lambda: {
        "ready": sync_remaining() == 0,
        "status": {"wallet_synced": True, "home_org_synced": True, "pending_commits": 0,
                   "home_org_profile_synced": True},
        "success": True,
    })
    read("/v1/governance", v1, "The governance data this registry serves (metaKey, metaValue).")(_governance_meta)
    read("/v1/governance/exists", v1, "Whether this node is a governance body: it is not.")(
        lambda: {"created": False, "success": True})
    read("/v1/governance/meta/orgList", v1, "The organisations this registry knows.")(org_list)
    read("/v1/governance/meta/glossary", v1, "The v1 data model's terms and definitions.")(lambda: glossary("1"))
    read("/v1/governance/meta/pickList", v1, "The v1 picklists (CAD Trust's v1 governance names).")(_pick_list)
    read("/v1/audit/findConflicts", v1, "Conflicting DataLayer generations: Tonne's ledger is linear, so none.")(
        list)
    read("/v1/staging", v1, "Staged changes: Tonne stages nothing (changes are committed by its own services).")(
        list)
    read("/v1/staging/hasPendingTransactions", v1, "Pending DataLayer transactions: none.")(
        lambda: {"confirmed": True, "success": True})
    read("/v1/offer", v1, "Offer files need a writable CAD Trust node: refused, as CAD Trust refuses in read-only mode.")(
        lambda: error(400, "Error generating offer file.", error="You can not use this API in read-only mode"))
    read("/v1/filestore/get_file_list", v1, "The file store: this registry has no Chia file store.")(list)
    read("/v2/governance/glossary", v2, "The v2 data model's terms and definitions.")(lambda: glossary("2"))
    read("/v2/governance/exists", v2, "Whether this node is a governance body: it is not.")(
        lambda: {"created": False, "success": True})
    read("/v2/audit/conflicts", v2, "Conflicting DataLayer generations: Tonne's ledger is linear, so none.")(list)


def _pick_list() -> dict[str, list[str]]:
    return picklists.picklists("1")
