"""Reconciliation with partner registries (docs/linkage.md §3.6): each side
sends each active partner a signed statement of the transfers between them
(in transit, completed, received, by origin serial ranges) with its latest
checkpoint; the receiver compares it with its own account
(`reconciliation_domain.compare`), witnesses the checkpoint (cosigned if it
extends the last one seen, a rollback or fork is a mismatch), and answers
with the mismatches so that both sides record them. A mismatch freezes the
units concerned (a serials freeze of the controls) until an administrator
resolves it. A replayed statement gets the answer it got the first time."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction

from tonne.article6.models import ImportedRange, InternationalTransfer
from tonne.audit.models import AuditEvent
from tonne.audit.services import record
from tonne.controls import services as controls
from tonne.controls.models import Freeze
from tonne.core import clock, text
from tonne.core.errors import Conflict, NotFound, RegistryError, ValidationFailed
from tonne.ledger import keys, proofs, witness
from tonne.ledger import selectors as ledger
from tonne.ledger.checkpoint import Checkpoint, CheckpointError, parse_note, verify_checkpoint
from tonne.ledger.models import WitnessedLog
from tonne.ledger.services import append_entry
from tonne.linkage import reconciliation_domain as domain
from tonne.linkage import statements
from tonne.linkage.models import Mismatch, Outbound, Partner, Statement
from tonne.linkage.services import sender_of
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator

PATH = "/api/v1/linkage/statements"
LEDGER_MISMATCHES = (witness.WITNESS_ROLLBACK, witness.WITNESS_FORK)
Post = Callable[[str, str, str], tuple[str, str]]  # (endpoint, note, path) -> (answer, error)


def _sha(note: str) -> str:
    return hashlib.sha256(note.encode("utf-8")).hexdigest()


def _file_ranges(signed: str) -> domain.Ranges:
    """The blocks of a transfer file this registry stored (its own record: read, not verified again)."""
    body = json.loads(parse_note(signed)[0])
    return domain.merge([(b["serial_start"], b["serial_end"]) for b in body["blocks"]])


def our_lines(partner: Partner) -> list[domain.Line]:
    """This registry's account of the transfers with a partner: sent
    (completed: the files of units that left for it; in transit: proposals
    not yet settled) and received (the origin serials of what was created)."""
    lines: dict[tuple[str, str], domain.Line] = {}
    for uid, signed in InternationalTransfer.objects.filter(
            direction=InternationalTransfer.Direction.SENT, destination_registry=partner.registry_id
    ).exclude(signed_file="").values_list("uid", "signed_file"):  # no file yet: the units have not left
        lines[(str(uid), "sent")] = domain.Line(str(uid), "sent", "completed", _file_ranges(signed))
    for out in Outbound.objects.filter(partner=partner, state__in=(Outbound.State.PROPOSED, Outbound.State.COMPLETING)):
        lines[(str(out.uid), "sent")] = domain.Line(str(out.uid), "sent", str(out.state), _file_ranges(out.proposal))
    received: dict[str, list[tuple[int, int]]] = {}
    for uid, start, end in ImportedRange.objects.filter(
            transfer__direction=InternationalTransfer.Direction.RECEIVED, transfer__origin_registry=partner.registry_id
    ).values_list("transfer__uid", "origin_serial_start", "origin_serial_end"):
        received.setdefault(str(uid), []).append((start, end))
    for transfer, ranges in received.items():
        lines[(transfer, "received")] = domain.Line(transfer, "received", "completed", domain.merge(ranges))
    return [lines[k] for k in sorted(lines)]


def _local(partner: Partner, transfer: str | None, ours_sent: bool, ranges: domain.Ranges) -> domain.Ranges:
    """This registry's serials a mismatch concerns: ours as they are when we
    sent; when the partner sent, the local serials its origin serials (and
    that transfer) were received as."""
    if ours_sent:
        return ranges
    local: list[tuple[int, int]] = []
    rows = ImportedRange.objects.filter(transfer__direction=InternationalTransfer.Direction.RECEIVED,
                                        transfer__origin_registry=partner.registry_id)
    for r in rows:
        if transfer is not None and str(r.transfer.uid) == transfer:
            local.append((r.serial_start, r.serial_end))
            continue
        for s, e in ranges:
            lo, hi = max(s, r.origin_serial_start), min(e, r.origin_serial_end)
            if lo <= hi:
                local.append((r.serial_start + lo - r.origin_serial_start, r.serial_start + hi - r.origin_serial_start))
    return domain.merge(local)


def _record(statement: Statement, transfer: str | None, code: str, found_by: str, detail: dict[str, Any],
            frozen: domain.Ranges) -> Mismatch:
    """A mismatch, once while open (the same one found again is the same
    row); its serials frozen through the controls, so the gate refuses to
    move them until it is resolved."""
    partner = statement.partner
    same = Mismatch.objects.filter(partner=partner, transfer=transfer, code=code, state=Mismatch.State.OPEN).first()
    if same is not None:
        return same
    reason = f"Reconciliation with {partner.registry_id}: {code}" + (f" on transfer {transfer}" if transfer else "")
    freezes = [str(controls.freeze_serials_found(serial_start=s, serial_end=e, reason=reason).uid) for s, e in frozen]
    mismatch = Mismatch.objects.create(
        uid=uuid.uuid4(), partner=partner, statement=statement, transfer=transfer, code=code, found_by=found_by,
        detail=detail, frozen=[list(r) for r in frozen], freezes=freezes, found_at=clock.now())
    data = {"mismatch": str(mismatch.uid), "registry_id": partner.registry_id, "transfer": transfer, "code": code,
            "found_by": found_by, "frozen": mismatch.frozen, "freezes": freezes}
    append_entry(kind="linkage.mismatch_found", actor=None, data=data)
    record(AuditEvent.Category.CONTROL, "linkage.mismatch_found", target=partner.registry_id, detail=data)
    return mismatch


def _told(mismatch: Mismatch, partner: Partner) -> dict[str, Any]:
    """A mismatch as the answer tells the partner: whose serials its ranges are."""
    detail = mismatch.detail
    if "told" in detail:  # recorded from the partner's own answer: said back as it said it
        return {**detail["told"], "transfer": str(mismatch.transfer) if mismatch.transfer else None}
    ranges: list[list[int]] = []
    for side in ("ours", "theirs"):
        said = detail.get(side) or {}
        ranges += said.get("ranges") or []
    ours_sent = detail.get("ours_sent")
    sender = None if ours_sent is None else (settings.TONNE_ARTICLE6_REGISTRY_ID if ours_sent else partner.registry_id)
    return {"transfer": str(mismatch.transfer) if mismatch.transfer else None, "code": mismatch.code,
            "sender": sender, "ranges": [list(r) for r in domain.merge([tuple(r) for r in ranges])]}  # type: ignore[misc]


# -- the sending side ----------------------------------------------------------------


def _witnessed_size(partner: Partner) -> int:
    """The size of our checkpoint the partner last cosigned (from its answers), 0 if none."""
    for answer in Statement.objects.filter(partner=partner, direction=Statement.Direction.SENT).exclude(
            answer="").order_by("-at").values_list("answer", flat=True)[:1]:
        body = json.loads(parse_note(answer)[0])
        cosigned = body.get("cosigned")
        try:
            return verify_checkpoint(cosigned, keys.verifier_key_text()).size if cosigned else 0
        except CheckpointError:
            return 0
    return 0


def statement_for(partner: Partner) -> str:
    """Our signed statement to a partner, kept as sent."""
    now = clock.now()
    latest = ledger.latest_checkpoint()
    consistency = None
    old = _witnessed_size(partner)
    if latest is not None and 0 < old <= latest.size:
        try:
            consistency = {"old_size": old, "proof": proofs.consistency_bundle(old, latest.size)["proof"]}
        except RegistryError:
            consistency = None
    note = statements.statement(to=partner.registry_id, at=now, lines=our_lines(partner),
                                checkpoint=latest.note if latest else None, consistency=consistency)
    Statement.objects.create(partner=partner, direction=Statement.Direction.SENT, note=note, note_sha256=_sha(note),
                             checkpoint_size=latest.size if latest else None, at=now)
    return note


def take_answer(note: str) -> Statement:
    """The partner's answer to our statement: the mismatches it found are recorded here too (once)."""
    if not isinstance(note, str) or len(note) > statements.MAX_NOTE:
        raise ValidationFailed("LINKAGE_MESSAGE_INVALID", "An answer is a signed note.", field="note")
    now = clock.now()
    sender = sender_of(note, now)
    body = statements.read(note, sender.verifier_key, sender=sender.registry, kind="answer")
    with transaction.atomic():
        statement = Statement.objects.select_for_update().select_related("partner").filter(
            partner__registry_id=sender.registry, direction=Statement.Direction.SENT,
            note_sha256=body["statement_sha256"]).first()
        if statement is None:
            raise ValidationFailed("STATEMENT_UNKNOWN", "This answers no statement of ours to that partner.",
                                   field="statement_sha256")
        if statement.answer:
            return statement  # taken before
        partner, here = statement.partner, settings.TONNE_ARTICLE6_REGISTRY_ID
        for m in body["mismatches"]:
            ranges = tuple((s, e) for s, e in m["ranges"])
            ours_sent = m["sender"] == here
            frozen = _local(partner, m["transfer"], ours_sent, ranges) if m["sender"] in (here, partner.registry_id) else ()
            _record(statement, m["transfer"], m["code"], "partner", {"told": m}, frozen)
        statement.answer, statement.answered_at = note, now
        statement.mismatches, statement.witness_code = len(body["mismatches"]), body["witness"] or ""
        statement.save(update_fields=["answer", "answered_at", "mismatches", "witness_code"])
        append_entry(kind="linkage.statement_answered", actor=None, data={
            "registry_id": partner.registry_id, "statement_sha256": statement.note_sha256,
            "mismatches": statement.mismatches, "witness": statement.witness_code})
    return statement


def exchange(partner: Partner, post: Post) -> str:
    """One statement to one partner, over HTTP, and its answer taken. What happened, in words."""
    note = statement_for(partner)
    answer, error = post(partner.endpoint, note, PATH)
    if error:
        return f"{partner.registry_id}: {error}"
    try:
        taken = take_answer(answer)
    except RegistryError as exc:
        return f"{partner.registry_id}: {exc.code}"
    return f"{partner.registry_id}: {taken.mismatches} mismatch(es)" + (
        f", checkpoint not cosigned ({taken.witness_code})" if taken.witness_code else "")


def _in_force(now: dt.datetime) -> list[Partner]:
    return list(Partner.objects.filter(status=Partner.Status.ACTIVE, effective_at__lte=now).order_by("registry_id"))


def due(now: dt.datetime) -> list[Partner]:
    """Active partners not sent a statement for TONNE_LINKAGE_RECONCILE_HOURS (0: never by the clock)."""
    hours = settings.TONNE_LINKAGE_RECONCILE_HOURS
    if hours <= 0:
        return []
    since = now - dt.timedelta(hours=hours)
    recent = Statement.objects.filter(direction=Statement.Direction.SENT, at__gt=since).values_list("partner_id",
                                                                                                   flat=True)
    return [p for p in _in_force(now) if p.pk not in set(recent)]


def reconcile_now(*, actor: User, post: Post, registry_id: str | None = None) -> list[str]:
    """An administrator asks for a statement to every active partner (or one) now."""
    require_registry_administrator(actor)
    now = clock.now()
    partners = _in_force(now)
    if registry_id:
        partners = [p for p in partners if p.registry_id == registry_id.strip().upper()]
        if not partners:
            raise NotFound("PARTNER_NOT_FOUND", f"{registry_id} is not an active partner registry.",
                           field="registry_id", details={"registry": registry_id})
    record(AuditEvent.Category.CONTROL, "linkage.reconcile", actor=actor, target=registry_id or "*")
    return [exchange(p, post) for p in partners]


# -- the receiving side --------------------------------------------------------------


def _witness(partner: Partner, key: str, served: str | None,
             consistency: dict[str, Any] | None) -> tuple[WitnessedLog | None, Checkpoint | None, tuple[str, str] | None]:
    """The partner's checkpoint judged against the last one seen from it (the
    proof it carries, else fetched from its endpoint); nothing kept yet."""
    if not served:
        return None, None, None
    try:
        checkpoint = verify_checkpoint(served, key)
    except CheckpointError as exc:
        return None, None, (exc.code, exc.message)
    log = WitnessedLog.objects.filter(origin=checkpoint.origin).first()
    if log is None:
        log = WitnessedLog.objects.create(origin=checkpoint.origin, verifier_key=key, url=partner.endpoint)
    elif not partner.keys.filter(verifier_key=log.verifier_key).exists():
        return None, None, ("WITNESS_ORIGIN_OTHER_LOG", f"{checkpoint.origin} is another registry's log")
    proof = None
    if consistency is not None and consistency["old_size"] == log.size:
        proof = [bytes.fromhex(p) for p in consistency["proof"]]
    try:
        return log, checkpoint, witness.judge(log, checkpoint, proof)
    except RegistryError as exc:  # the proof could not be fetched: not judged this time
        return None, None, (exc.code, exc.message)


def handle_statement(note: str) -> str:
    """A partner's statement: compared with our account, its checkpoint
    witnessed, the mismatches recorded and frozen; the signed answer. A
    replay gets the first answer."""
    if not isinstance(note, str) or len(note) > statements.MAX_NOTE:
        raise ValidationFailed("LINKAGE_MESSAGE_INVALID", "A statement is a signed note of at most 4 MB.", field="note")
    now = clock.now()
    sender = sender_of(note, now)  # strangers are refused, not answered
    body = statements.read(note, sender.verifier_key, sender=sender.registry, kind="statement")
    partner = Partner.objects.get(registry_id=sender.registry)
    digest = _sha(note)
    earlier = Statement.objects.filter(partner=partner, direction=Statement.Direction.RECEIVED,
                                       note_sha256=digest).exclude(answer="").first()
    if earlier is not None:
        return earlier.answer
    log, checkpoint, refused = _witness(partner, sender.verifier_key, body["checkpoint"], body["consistency"])
    with transaction.atomic():
        Partner.objects.select_for_update().get(pk=partner.pk)  # one statement of a partner at a time
        earlier = Statement.objects.filter(partner=partner, direction=Statement.Direction.RECEIVED,
                                           note_sha256=digest).first()
        if earlier is not None:
            return earlier.answer
        statement = Statement.objects.create(partner=partner, direction=Statement.Direction.RECEIVED, note=note,
                                             note_sha256=digest, at=now,
                                             checkpoint_size=checkpoint.size if checkpoint else None)
        found = [_record(statement, f.transfer, f.code, "us", f.detail(),
                         _local(partner, f.transfer, f.ours_sent, f.ranges()))
                 for f in domain.compare(our_lines(partner), body["lines"])]
        cosigned = None
        if log is not None:
            kept = witness.keep(log, body["checkpoint"], checkpoint, refused)
            cosigned = WitnessedLog.objects.get(pk=log.pk).cosigned_note if kept.cosigned else None
        if refused is not None and refused[0] in LEDGER_MISMATCHES:
            found.append(_record(statement, None, refused[0], "us", {"witness": refused[1]}, ()))
        answer = statements.answer(to=partner.registry_id, at=now, statement_sha256=digest,
                                   mismatches=[_told(m, partner) for m in found], cosigned=cosigned,
                                   witness=refused[0][:60] if refused else None)
        statement.answer, statement.answered_at, statement.mismatches = answer, now, len(found)
        statement.witness_code = refused[0][:60] if refused else ""
        statement.save(update_fields=["answer", "answered_at", "mismatches", "witness_code"])
        append_entry(kind="linkage.statement_received", actor=None, data={
            "registry_id": partner.registry_id, "statement_sha256": digest, "mismatches": len(found),
            "checkpoint_size": statement.checkpoint_size, "witness": statement.witness_code})
    return answer


# -- resolution ----------------------------------------------------------------------


def resolve(*, actor: User, uid: str, reason: str) -> Mismatch:
    """An administrator resolves a mismatch, saying why: its freezes are lifted."""
    require_registry_administrator(actor)
    reason = text.bounded(reason, "reason", 500)
    if not reason:
        raise ValidationFailed("REASON_REQUIRED", "Say how the mismatch was resolved.", field="reason")
    try:
        key = uuid.UUID(str(uid))
    except ValueError:
        raise NotFound("MISMATCH_NOT_FOUND", f"No mismatch {uid}.") from None
    with transaction.atomic():
        mismatch = Mismatch.objects.select_for_update().select_related("partner").filter(uid=key).first()
        if mismatch is None:
            raise NotFound("MISMATCH_NOT_FOUND", f"No mismatch {uid}.")
        if mismatch.state == Mismatch.State.RESOLVED:
            raise Conflict("MISMATCH_RESOLVED", "This mismatch was already resolved.")
        for frozen in Freeze.objects.filter(uid__in=mismatch.freezes, lifted_at__isnull=True):
            controls.lift_freeze(actor=actor, uid=frozen.uid)
        mismatch.state, mismatch.resolved_by, mismatch.resolved_at, mismatch.resolution = (
            Mismatch.State.RESOLVED, actor, clock.now(), reason)
        mismatch.save(update_fields=["state", "resolved_by", "resolved_at", "resolution"])
        data = {"mismatch": str(mismatch.uid), "registry_id": mismatch.partner.registry_id, "code": mismatch.code,
                "transfer": str(mismatch.transfer) if mismatch.transfer else None, "reason": reason}
        append_entry(kind="linkage.mismatch_resolved", actor=actor, data=data)
        record(AuditEvent.Category.CONTROL, "linkage.mismatch_resolved", actor=actor,
               target=mismatch.partner.registry_id, detail=data)
    return mismatch
