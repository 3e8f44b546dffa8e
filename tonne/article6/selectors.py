"""Article 6 reads: what a serial range is (authorised or a mitigation
contribution unit, its ITMO identifier, first transfer and adjustment), and
where an authorisation stands. All public: Article 6 asks for transparency."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet, Sum

from tonne.article6 import domain, withdrawals
from tonne.article6.models import (
    Authorisation,
    AuthorisedRange,
    CorrespondingAdjustment,
    FirstTransfer,
    ImportedRange,
    InternationalTransfer,
    Withdrawal,
)
from tonne.core import clock
from tonne.core.errors import NotFound, ValidationFailed
from tonne.organisations.models import User
from tonne.organisations.services import is_registry_administrator
from tonne.units.domain import parse_lookup
from tonne.units.models import Issuance, Transaction, UnitBlock

MAX_LOOKUP = 100_000_000

MITIGATION_CONTRIBUTION = "mitigation_contribution"
AUTHORISED = "authorised"


def unit_totals(at: dt.datetime | None = None) -> dict[str, int]:
    """Units in this registry by Article 6 status (the public dashboard):
    authorised and first transferred, authorised and awaiting their first
    transfer, received from another Party, and mitigation contribution units
    (everything else issued here). A revocation takes back what was not yet
    first transferred, as `segments` says per range."""

    at = at or clock.now()
    size = Sum(F("serial_end") - F("serial_start") + 1)
    in_force = Q(authorisation__revoked_from__isnull=True) | Q(authorisation__revoked_from__gt=at)
    in_force_here = Q(revoked_from__isnull=True) | Q(revoked_from__gt=at)

    def total(qs: QuerySet[Any]) -> int:
        return int(qs.aggregate(n=size)["n"] or 0)

    first_transferred = total(FirstTransfer.objects.all())
    awaiting = total(AuthorisedRange.objects.filter(in_force)) - total(FirstTransfer.objects.filter(in_force))
    awaiting -= sum(withdrawals.withdrawn_not_first(a, at) for a in Authorisation.objects.filter(
        in_force_here, withdrawals__isnull=False).distinct())
    received = total(ImportedRange.objects.all())
    issued = int(Issuance.objects.aggregate(n=Sum("quantity"))["n"] or 0) - received
    return {
        "first_transferred": first_transferred,
        "awaiting_first_transfer": awaiting,
        "received": received,
        "mitigation_contribution": issued - first_transferred - awaiting,
    }


def authorisations() -> QuerySet[Authorisation]:
    return Authorisation.objects.prefetch_related("versions").order_by("created_at", "id")


def get(identifier: str) -> Authorisation:
    found = authorisations().filter(identifier=identifier).first()
    if found is None:
        raise NotFound("AUTHORISATION_NOT_FOUND", f"No authorisation {identifier}.", details={"authorisation": identifier})
    return found


def segments(start: int, end: int, at: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The range [start, end] cut where its Article 6 status changes."""
    at = at or clock.now()
    ranges = list(
        AuthorisedRange.objects.filter(serial_start__lte=end, serial_end__gte=start)
        .select_related("authorisation")
        .order_by("serial_start")
    )
    firsts = list(
        FirstTransfer.objects.filter(serial_start__lte=end, serial_end__gte=start)
        .select_related("adjustment")
        .order_by("serial_start")
    )
    imported = list(ImportedRange.objects.filter(serial_start__lte=end, serial_end__gte=start).order_by("serial_start"))
    withdrawn = list(Withdrawal.objects.filter(serial_start__lte=end, serial_end__gte=start, effective_from__lte=at))
    cuts = {start, end + 1}
    bounds = [(x.serial_start, x.serial_end) for x in ranges] + [(x.serial_start, x.serial_end) for x in firsts]
    bounds += [(x.serial_start, x.serial_end) for x in imported] + [(x.serial_start, x.serial_end) for x in withdrawn]
    for lo_, hi_ in bounds:
        cuts.update(c for c in (lo_, hi_ + 1) if start < c <= end)
    points = sorted(cuts)
    out: list[dict[str, Any]] = []
    for lo, hi in zip(points, points[1:], strict=False):
        hi -= 1
        r = next((x for x in ranges if x.serial_start <= lo and x.serial_end >= hi), None)
        f = next((x for x in firsts if x.serial_start <= lo and x.serial_end >= hi), None)
        i = next((x for x in imported if x.serial_start <= lo and x.serial_end >= hi), None)
        w = any(x.serial_start <= lo and x.serial_end >= hi for x in withdrawn)
        out.append(_received(lo, hi, i) if i is not None else _segment(lo, hi, r, f, at, withdrawn=w))
    # Neighbours that say the same thing read as one.
    merged: list[dict[str, Any]] = []
    for seg in out:
        prev = merged[-1] if merged else None
        if prev and prev["serial_end"] + 1 == seg["serial_start"] and _same(prev, seg):
            prev["serial_end"] = seg["serial_end"]
            prev["quantity"] += seg["quantity"]
            if prev["itmo_id"]:
                prev["itmo_id"] = _itmo(prev["_range"], prev["serial_start"], prev["serial_end"])
        else:
            merged.append(seg)
    for seg in merged:
        seg.pop("_range")
        seg.pop("_first")
        seg.pop("_withdrawn")
    return merged


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a["_range"] is b["_range"] and a["_first"] is b["_first"] and a["_range"] is not None
            and a["_withdrawn"] == b["_withdrawn"])


def _itmo(r: AuthorisedRange, lo: int, hi: int) -> str:
    a = r.authorisation
    return domain.itmo_identifier(a.cooperative_approach, settings.TONNE_ARTICLE6_REGISTRY_ID, a.authorising_party, lo, hi, r.vintage)


def _segment(
    lo: int, hi: int, r: AuthorisedRange | None, f: FirstTransfer | None, at: dt.datetime, *, withdrawn: bool = False
) -> dict[str, Any]:
    seg: dict[str, Any] = {
        "serial_start": lo,
        "serial_end": hi,
        "quantity": hi - lo + 1,
        "label": MITIGATION_CONTRIBUTION,
        "authorisation": None,
        "cooperative_approach": None,
        "itmo_id": None,
        "authorisation_revoked": False,
        "first_transferred": f is not None,
        "first_transfer": None,
        "corresponding_adjustment": None,
        "received_from": None,
        "_range": r,
        "_first": f,
        "_withdrawn": withdrawn,
    }
    if r is None:
        return seg
    a = r.authorisation
    # Revoked, or withdrawn by a change: what was not first-transferred is no longer authorised.
    revoked = a.revoked_from is not None and a.revoked_from <= at or withdrawn
    seg["withdrawn_by_change"] = withdrawn and f is None
    seg["authorisation"] = a.identifier
    seg["authorisation_revoked"] = revoked and f is None
    if f is not None or not revoked:  # first-transferred units keep their status
        seg.update(label=AUTHORISED, cooperative_approach=a.cooperative_approach, itmo_id=_itmo(r, lo, hi))
    if f is not None:
        seg["first_transfer"] = {"at": f.at, "definition": f.cause, "acquiring_party": f.acquiring_party or None,
                                 "transaction": f.transaction_identifier or None}
        adj = getattr(f, "adjustment", None)
        if adj is not None:
            seg["corresponding_adjustment"] = {"status": "applied", "vintage": adj.vintage,
                                               "acquiring_party": adj.acquiring_party or None, "recorded_at": adj.recorded_at}
    elif not revoked:
        seg["corresponding_adjustment"] = {"status": "pending"}
    return seg


def imported_itmo(i: ImportedRange, lo: int, hi: int) -> str:
    offset = i.origin_serial_start - i.serial_start
    return domain.itmo_identifier(i.cooperative_approach, i.originating_registry, i.first_transferring_party,
                                  lo + offset, hi + offset, i.vintage)


def _received(lo: int, hi: int, i: ImportedRange) -> dict[str, Any]:
    """Units received from another Party keep the identity they had there."""
    first = i.details.get("first_transfer")
    offset = i.origin_serial_start - i.serial_start
    return {
        "serial_start": lo, "serial_end": hi, "quantity": hi - lo + 1, "label": AUTHORISED,
        "authorisation": i.authorisation, "cooperative_approach": i.cooperative_approach,
        "itmo_id": imported_itmo(i, lo, hi), "authorisation_revoked": False, "first_transferred": first is not None,
        "first_transfer": first,
        "corresponding_adjustment": {"status": "applied by the first transferring Party" if first else "pending"},
        "received_from": {"registry": i.originating_registry, "serial_start": lo + offset, "serial_end": hi + offset},
        "_range": None, "_first": None, "_withdrawn": False,
    }


def lookup(text: str) -> dict[str, Any]:
    _, wanted = parse_lookup(text)
    if wanted.count > MAX_LOOKUP:
        raise ValidationFailed("SERIAL_RANGE_TOO_LARGE", f"Look up at most {MAX_LOOKUP} serials at once.", details={"limit": MAX_LOOKUP})
    return {"serial_start": wanted.start, "serial_end": wanted.end, "segments": segments(wanted.start, wanted.end)}


def block(block_id: int) -> dict[str, Any]:
    found = None
    if 0 < block_id < 2**62:
        found = UnitBlock.objects.filter(pk=block_id).values_list("serial_start", "serial_end").first()
    if found is None:
        raise NotFound("BLOCK_NOT_FOUND", f"No unit block {block_id}.", details={"block": block_id})
    return {"block": block_id, "serial_start": found[0], "serial_end": found[1], "segments": segments(*found)}


def status(authorisation: Authorisation, at: dt.datetime | None = None) -> dict[str, Any]:
    """Where an authorisation stands: units attached, first-transferred,
    still to be first-transferred or taken back by revocation, and the
    corresponding adjustments per vintage and acquiring Party."""
    at = at or clock.now()
    attached = sum(r.quantity for r in AuthorisedRange.objects.filter(authorisation=authorisation))
    adjustments: dict[tuple[int, str], int] = defaultdict(int)
    for adj in CorrespondingAdjustment.objects.filter(authorisation=authorisation):
        adjustments[(adj.vintage, adj.acquiring_party)] += adj.quantity
    first = sum(adjustments.values())
    revoked = authorisation.revoked_from is not None and authorisation.revoked_from <= at
    versions = sorted(authorisation.versions.all(), key=lambda v: v.version)
    current = [v for v in versions if v.effective_from <= at]
    changed = withdrawals.withdrawn_not_first(authorisation, at)
    live = attached - withdrawals.withdrawn_not_first(authorisation, None)
    return {
        "attached": attached,
        "first_transferred": first,
        "awaiting_first_transfer": 0 if revoked else attached - first - changed,
        "withdrawn_by_revocation": attached - first - changed if revoked else 0,
        "withdrawn_by_change": changed,
        "remaining_quantity": max(0, current[-1].quantity - live) if current and not revoked else 0,
        "adjustments": [
            {"vintage": v, "acquiring_party": p or None, "quantity": q} for (v, p), q in sorted(adjustments.items())
        ],
    }


def transaction_status(identifier: str) -> str:
    """An international transfer's transaction status (an export waits for its approval)."""
    return str(Transaction.objects.filter(identifier=identifier).values_list("status", flat=True).first() or "completed")


def sent_transfer(user: User, uid: str) -> InternationalTransfer:
    """An export, for the exporting holder or the registry administrator."""
    try:
        record = InternationalTransfer.objects.filter(direction="sent", uid=uid).first()
    except (ValueError, ValidationError):
        record = None
    txn = Transaction.objects.filter(identifier=record.transaction_identifier).select_related("from_account").first() if record else None
    mine = txn is not None and txn.from_account is not None and txn.from_account.organisation_id == user.organisation_id
    if record is None or not (mine or is_registry_administrator(user)):
        raise NotFound("TRANSFER_NOT_FOUND", "No such international transfer.")
    return record
