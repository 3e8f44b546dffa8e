"""Refreshing the CAD Trust picklists from a governance node
(GET /v1/governance/meta/pickList or /v2/governance/picklist). The new
lists are checked (every list the registry enforces is there, each a list
of text), kept in the data directory with their source and date, and
recorded in the ledger; until then the shipped lists apply."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from tonne.core import clock, outbound
from tonne.core.errors import ValidationFailed
from tonne.ledger.services import append_entry
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator
from tonne.projects import picklists

MAX_BYTES = 5 * 1024 * 1024


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def parse_picklists(version: str, data: object) -> dict[str, list[str]]:
    """Check a governance node's answer against the lists the registry enforces."""
    if isinstance(data, dict) and isinstance(data.get("picklists"), dict):
        data = data["picklists"]
    if not isinstance(data, dict):
        raise ValidationFailed("PICKLISTS_INVALID", "The governance node's answer is not an object of picklists.")
    current = picklists.picklists(version)
    found: dict[str, list[str]] = {}
    for name, values in data.items():
        key = name if version == "1" or name in current else _snake(name)
        if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values) or not values:
            raise ValidationFailed("PICKLISTS_INVALID", f"Picklist {name} must be a non-empty list of text values.")
        found[key] = [v.strip() for v in values]
    missing = sorted(set(current) - set(found))
    if missing:
        raise ValidationFailed(
            "PICKLISTS_INCOMPLETE", f"The governance node's picklists lack {', '.join(missing)}; nothing was changed."
        )
    return {name: found[name] for name in current} | {k: v for k, v in found.items() if k not in current}


def refresh(*, actor: User | None, url: str, version: str = "2") -> dict[str, object]:
    """Refresh from a governance node's URL or from a file holding its answer."""
    if actor is not None:
        require_registry_administrator(actor)
    if version not in ("1", "2"):
        raise ValidationFailed("CADT_VERSION_UNKNOWN", "version must be 1 or 2.", field="version")
    if url.startswith(("http://", "https://")):
        answer = outbound.send("GET", url, headers={"Accept": "application/json"}, timeout=30, max_bytes=MAX_BYTES)
        if not answer.ok:  # the status only, never the node's body
            raise ValidationFailed("PICKLISTS_UNREACHABLE", f"The governance node did not answer: {answer.reason}.")
        raw = answer.body
    else:
        # A file saved from a governance node: from the command line only (the server's operator),
        # never for a request naming a path on the server.
        path = Path(url.removeprefix("file://"))
        if actor is not None or not path.is_file():
            raise ValidationFailed("CADT_NODE_URL_INVALID", "url must start with http:// or https://, or name a file.",
                                   field="url")
        with path.open("rb") as stream:
            raw = stream.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise ValidationFailed("PICKLISTS_INVALID", "The governance node's answer is larger than 5 MB.")
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValidationFailed("PICKLISTS_INVALID", "The governance node's answer is not JSON.") from None
    lists = parse_picklists(version, data)
    now = clock.now()
    doc = {"_source": url, "version": version if version == "1" else "2.0.2", "date": now.date().isoformat(),
           "picklists": lists}
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    path = picklists.refreshed_path(version)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    append_entry(
        kind="cadt.picklists_refreshed",
        actor=actor,
        data={"version": version, "source": url, "sha256": hashlib.sha256(text.encode()).hexdigest(),
              "lists": {k: len(v) for k, v in lists.items()}},
    )
    os.replace(tmp, path)
    picklists.picklist_file.cache_clear()
    return {"version": version, "source": url, "lists": len(lists), "date": doc["date"]}
