"""International transfer between Parties' registries.

Sending: the units go to the export account (terminal: they never move or
count here again) with the destination recorded, and a transfer file signed
with the registry's Ed25519 key (a C2SP signed note whose text is canonical
JSON) is produced. Receiving: another Tonne installation checks the
signature against the sender's published verifier key, refuses a file it
has seen, and creates the units under local serials that keep their origin
serials, ITMO identifiers and authorisation."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from tonne.article6 import domain, messages, selectors
from tonne.article6.models import (
    Authorisation,
    AuthorisedRange,
    FirstTransfer,
    ImportedRange,
    InternationalTransfer,
)
from tonne.article6.partners import Sender, partners
from tonne.article6.services import definitions, in_force, record_first_transfer, version_in_force
from tonne.controls import gate
from tonne.controls import services as control_services
from tonne.controls.models import Approval
from tonne.core import clock
from tonne.core.canonical import canonical_json
from tonne.core.errors import Conflict, RegistryError, ValidationFailed
from tonne.ledger import keys
from tonne.ledger.checkpoint import CheckpointError, sign_note, verify_note
from tonne.ledger.services import append_entry
from tonne.mrv import services as mrv
from tonne.organisations.models import Account, User
from tonne.organisations.services import (
    get_account,
    require_account_operator,
    require_registry_administrator,
    system_account,
)
from tonne.projects import eligibility
from tonne.projects import services as projects
from tonne.projects.models import Project
from tonne.units import services as units
from tonne.units.domain import Selection, SerialRange
from tonne.units.models import Transaction, TransactionBlock, UnitBlock
from tonne.units.selectors import serial_text

FORMAT = "tonne-itmo-transfer/1"
MAX_FILE = 4_000_000  # a thousand blocks with room to spare


# -- sending ------------------------------------------------------------------------------


def export_units(
    *,
    actor: User,
    from_account: str,
    ranges: list[tuple[int, int]],
    destination_party: str,
    destination_registry: str,
    destination_account: str,
    idempotency_key: str,
    awaits_partner: bool = False,
) -> InternationalTransfer:
    """Transfer authorised units to another Party's registry, through the
    controls gate as every move: the destination must be on the account's
    trusted list; the kill switch, freezes, the holder's standing and the
    limits refuse; with four-eyes on, the units leave (and the signed file
    is made, by `on_export_settled`) once a second person approved.
    `awaits_partner` (the linkage protocol): the units stay reserved until
    the receiving registry accepts, then settle (`on_export_settled`)."""
    destination_party = domain.party(destination_party, "destination_party")
    destination_registry = domain.identifier(destination_registry, "destination_registry")
    destination_account = (destination_account or "").strip()
    if not destination_account:
        raise ValidationFailed("DESTINATION_ACCOUNT_REQUIRED", "Name the acquiring account.", field="destination_account")
    if destination_party == settings.TONNE_COUNTRY:
        raise ValidationFailed("DESTINATION_IS_THIS_PARTY", "An international transfer goes to another Party.",
                               field="destination_party")
    if not ranges:
        raise ValidationFailed("EXPORT_RANGES_REQUIRED", "An international transfer names its serial ranges.", field="ranges")
    selection = Selection.build(ranges=ranges)
    source = get_account(from_account, field="from_account")
    require_account_operator(actor, source)  # before saying what units are
    with transaction.atomic():
        now = clock.now()
        if not Transaction.objects.filter(initiated_by=actor, idempotency_key=(idempotency_key or "").strip()).exists():
            # A retry answers as the first request did, whatever changed since.
            gate.check_destination(source, destination_registry, destination_account, now)
            _authorised_for(selection, destination_party, now)
        txn = units.request_move(
            kind=Transaction.Kind.EXPORT,
            actor=actor,
            from_account=from_account,
            to_account=system_account(Account.Type.EXPORT).identifier,
            selection=selection,
            idempotency_key=idempotency_key,
            details={"jurisdiction": destination_party, "beneficiary": destination_account,
                     "reason": f"International transfer to {destination_registry}"},
            awaits_partner=awaits_partner,
        )
        if txn.replayed:
            return InternationalTransfer.objects.get(direction="sent", transaction_identifier=txn.identifier)
        record = InternationalTransfer.objects.create(
            uid=uuid.uuid4(), direction="sent", origin_registry=settings.TONNE_ARTICLE6_REGISTRY_ID,
            origin_party=settings.TONNE_COUNTRY, destination_registry=destination_registry,
            destination_party=destination_party, destination_account=destination_account,
            transaction_identifier=txn.identifier, quantity=txn.quantity, signed_file="", sha256="", at=now,
        )
        if txn.status == Transaction.Status.COMPLETED:
            _send(record, txn, selection)
        return record  # waiting for a second person: no file until the units left


def on_export_settled(txn: Transaction) -> None:
    """An export that waited for its approval settled (the controls call
    this in the approval's transaction): the file goes now, with the checks
    of the request made again; a refusal undoes the approval whole."""
    if txn.status != Transaction.Status.COMPLETED:
        return  # failed at settlement: nothing left, no file
    record = InternationalTransfer.objects.select_for_update().get(direction="sent", transaction_identifier=txn.identifier)
    assert txn.from_account is not None
    gate.check_destination(txn.from_account, record.destination_registry, record.destination_account, clock.now())
    moved = TransactionBlock.objects.filter(transaction_id=txn.pk).order_by("serial_start")
    _send(record, txn, Selection.build(ranges=[(b.serial_start, b.serial_end) for b in moved]))


def _send(record: InternationalTransfer, txn: Transaction, selection: Selection) -> None:
    """The units left: first international transfers where that is the
    definition, the signed transfer file, and its ledger entry."""
    now = clock.now()
    blocks = _authorised_for(selection, record.destination_party, now)
    for b in blocks:  # first international transfer, where that is the definition
        a = b["_authorisation"]
        if a is None:
            continue  # acquired here: the first transfer is the first transferring Party's, as the file said
        already = FirstTransfer.objects.filter(serial_start__lte=b["serial_end"], serial_end__gte=b["serial_start"])
        outcome = domain.first_transfer(definitions(a, b["_version"]), "international_transfer",
                                        already=already.exists(), party=record.destination_party,
                                        acquiring_parties=b["_version"].acquiring_parties)
        if outcome.first_transfer:
            record_first_transfer(a, b["_issuance"].pk, b["vintage"], b["serial_start"], b["serial_end"],
                                  cause=outcome.cause, purpose=outcome.purpose, party=outcome.adjustment_party,
                                  transaction_ref=txn.identifier, at=now)
        b["first_transfer"] = _first_transfer_out(b["serial_start"])
    ledger_seq = Transaction.objects.filter(pk=txn.pk).values_list("ledger_seq", flat=True).first()
    payload = {
        "format": FORMAT,
        "transfer": str(record.uid),
        "created_at": now,
        "origin_registry": settings.TONNE_ARTICLE6_REGISTRY_ID,
        "origin_party": settings.TONNE_COUNTRY,
        "destination_registry": record.destination_registry,
        "destination_party": record.destination_party,
        "destination_account": record.destination_account,
        "transaction": txn.identifier,
        "ledger_seq": ledger_seq,
        "quantity": sum(b["quantity"] for b in blocks),
        "blocks": [{k: v for k, v in b.items() if not k.startswith("_")} for b in blocks],
    }
    text = canonical_json(payload).decode("utf-8") + "\n"
    record.signed_file = sign_note(text, settings.TONNE_LEDGER_KEY_NAME, keys.private_key())
    record.sha256 = hashlib.sha256(record.signed_file.encode("utf-8")).hexdigest()
    record.at = now
    record.save(update_fields=["signed_file", "sha256", "at"])
    append_entry(kind="article6.transfer_sent", actor=txn.initiated_by, transaction_ref=txn.identifier,
                 data={"transfer": str(record.uid), "file_sha256": record.sha256,
                       "destination_party": record.destination_party,
                       "destination_registry": record.destination_registry,
                       "destination_account": record.destination_account})


def proposal_file(record: InternationalTransfer, ranges: list[tuple[int, int]]) -> str:
    """The transfer file of units still reserved for a transfer the
    receiving registry has yet to accept (the linkage protocol's proposal):
    the file `_send` will make once they leave, without the first transfer
    that their leaving records."""
    now = clock.now()
    blocks = _authorised_for(Selection.build(ranges=ranges), record.destination_party, now)
    for b in blocks:
        b["first_transfer"] = b.get("first_transfer") or _first_transfer_out(b["serial_start"])
    payload = {
        "format": FORMAT, "transfer": str(record.uid), "created_at": now,
        "origin_registry": settings.TONNE_ARTICLE6_REGISTRY_ID, "origin_party": settings.TONNE_COUNTRY,
        "destination_registry": record.destination_registry, "destination_party": record.destination_party,
        "destination_account": record.destination_account, "transaction": record.transaction_identifier,
        "ledger_seq": None, "quantity": sum(b["quantity"] for b in blocks),
        "blocks": [{k: v for k, v in b.items() if not k.startswith("_")} for b in blocks],
    }
    return sign_note(canonical_json(payload).decode("utf-8") + "\n", settings.TONNE_LEDGER_KEY_NAME, keys.private_key())


def _first_transfer_out(start: int) -> dict[str, Any] | None:
    f = FirstTransfer.objects.filter(serial_start__lte=start, serial_end__gte=start).first()
    if f is None:
        return None
    return {"at": f.at.isoformat(), "definition": f.cause, "acquiring_party": f.acquiring_party or None}


def _authorised_for(selection: Selection, destination: str, now: dt.datetime) -> list[dict[str, Any]]:
    """The selected units, cut where their identity changes; all must be
    authorised, in force, and for the destination Party."""
    out: list[dict[str, Any]] = []
    for wanted in selection.ranges:
        for seg in selectors.segments(wanted.start, wanted.end, now):
            if seg["received_from"] is not None:
                out.append(_onward(seg))
                continue
            if seg["label"] != selectors.AUTHORISED or seg["authorisation"] is None:
                raise ValidationFailed(
                    "UNITS_NOT_AUTHORISED",
                    f"Serials {seg['serial_start']}-{seg['serial_end']} are mitigation contribution units; "
                    "only authorised units are transferred between Parties.",
                    field="ranges",
                    details={"serials": f"{seg['serial_start']}-{seg['serial_end']}"},
                )
            r = AuthorisedRange.objects.select_related("authorisation", "issuance__project", "issuance__report").get(
                serial_start__lte=seg["serial_start"], serial_end__gte=seg["serial_start"]
            )
            a = r.authorisation
            version = version_in_force(a, now)
            if version is None or not in_force(a, now) and not seg["first_transferred"]:
                raise ValidationFailed("AUTHORISATION_NOT_IN_FORCE", f"Authorisation {a.identifier} is not in force.", details={"authorisation": a.identifier})
            if destination not in version.acquiring_parties:
                raise ValidationFailed(
                    "ACQUIRING_PARTY_NOT_AUTHORISED",
                    f"Authorisation {a.identifier} does not name {destination} as an acquiring Party.",
                    field="destination_party",
                    details={"authorisation": a.identifier, "party": destination},
                )
            issuance = r.issuance
            project = issuance.project
            out.append({
                "serial_start": seg["serial_start"],
                "serial_end": seg["serial_end"],
                "quantity": seg["serial_end"] - seg["serial_start"] + 1,
                "serial": serial_text(issuance, seg["serial_start"], seg["serial_end"]),
                "vintage": r.vintage,
                "unit_class": issuance.unit_class,
                "itmo_id": seg["itmo_id"],
                "mitigation_type": domain.mitigation_type(project.unit_type),
                "monitoring_period": {"start": issuance.report.period_start.isoformat(),
                                      "end": issuance.report.period_end.isoformat()},
                "project": _project_out(project, project.project_id),
                "authorisation": _authorisation_out(a, version),
                "_authorisation": a,
                "_version": version,
                "_issuance": issuance,
            })
    return out


def _project_out(project: Project, project_id: str) -> dict[str, Any]:
    return {"project_id": project_id, "name": project.name, "host_party": project.host_party,
            "sectoral_scope": project.sectoral_scope, "unit_type": project.unit_type,
            "sectors": project.sectors, "types": project.types}


def _onward(seg: dict[str, Any]) -> dict[str, Any]:
    """ITMOs this registry acquired, transferred on to another Party: they
    go with the identity they arrived with (origin project, class,
    monitoring period, ITMO identifier, authorisation and first transfer)."""
    i = ImportedRange.objects.select_related("issuance__project", "issuance__report").get(
        serial_start__lte=seg["serial_start"], serial_end__gte=seg["serial_start"]
    )
    issuance = i.issuance
    project = i.details.get("project") or _project_out(issuance.project, issuance.project.reference_project_id)
    start, end = (i.period_start, i.period_end) if i.period_start and i.period_end else (
        issuance.report.period_start, issuance.report.period_end)
    return {
        "serial_start": seg["serial_start"],
        "serial_end": seg["serial_end"],
        "quantity": seg["serial_end"] - seg["serial_start"] + 1,
        "serial": serial_text(issuance, seg["serial_start"], seg["serial_end"]),
        "vintage": i.vintage,
        "unit_class": i.unit_class or issuance.unit_class,
        "itmo_id": seg["itmo_id"],
        "mitigation_type": i.mitigation_type,
        "monitoring_period": {"start": start.isoformat(), "end": end.isoformat()},
        "project": project,
        "authorisation": i.details["authorisation"],
        "first_transfer": i.details.get("first_transfer"),
        "_authorisation": None,
        "_issuance": issuance,
    }


def _authorisation_out(a: Authorisation, version: Any) -> dict[str, Any]:
    return {
        "identifier": a.identifier,
        "cooperative_approach": a.cooperative_approach,
        "authorising_party": a.authorising_party,
        "first_transfer_definition": a.first_transfer_definition,
        "first_transfer_definitions": definitions(a, version),  # each authorised purpose's (2/CMA.3, 6/CMA.4)
        "version": version.version,
        "authorisation_date": version.authorisation_date.isoformat(),
        "purposes": version.purposes,
        "oimp_purposes": version.oimp_purposes,
        "acquiring_parties": version.acquiring_parties,
        "letter_sha256": version.letter_sha256 or None,
        "originating_registry": settings.TONNE_ARTICLE6_REGISTRY_ID,
    }


# -- receiving ----------------------------------------------------------------------------


def read_transfer_file(signed: str, verifier_key: str) -> dict[str, Any]:
    try:
        text = verify_note(signed, verifier_key.strip())
    except (CheckpointError, ValueError) as exc:
        raise ValidationFailed("TRANSFER_SIGNATURE_INVALID", f"The transfer file's signature does not verify: {exc}") from None
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested past any real file
        raise ValidationFailed("TRANSFER_FILE_INVALID", "The signed text is not JSON.") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValidationFailed("TRANSFER_FILE_INVALID", f"Not a {FORMAT} file.", details={"format": FORMAT})
    return messages.transfer_file(payload, now=clock.now())


IMPORT = "import"  # the approval's action (Transaction.Kind.IMPORT)


def import_transfer(*, actor: User, signed: str, verifier_key: str | None = None) -> InternationalTransfer | Approval:
    """Receive units another Party's registry sent: once, into the named
    account, through the controls gate (kill switch, a freeze or hold of the
    account, sanctions); with four-eyes on, a second administrator approves
    the exact file first (`carry_out_import`), as for a local issuance.
    The file must be signed by a key in force of a partner registry (the
    partner list), and say it comes from that partner; `verifier_key`, if
    named, must be that key."""
    require_registry_administrator(actor)
    payload, sender = _receivable(signed, verifier_key)
    with transaction.atomic():
        account, total = _check_receivable(payload)
        if Approval.objects.filter(action=IMPORT, status=Approval.Status.PENDING, payload__transfer=payload["transfer"],
                                   payload__origin_registry=payload["origin_registry"]).exists():
            raise Conflict("IMPORT_ALREADY_REQUESTED", f"Import of transfer {payload['transfer']} already waits for approval.", details={"transfer": payload["transfer"]})
        decision = gate.decide_import(account, total, clock.now())
        if decision.refusal is not None:
            raise decision.refusal
        if decision.needs_approval:
            return control_services.new_approval(actor=actor, action=IMPORT, account=None, payload={
                "transfer": payload["transfer"], "origin_registry": payload["origin_registry"],
                "origin_party": payload["origin_party"], "account": account.identifier, "quantity": total,
                "file_sha256": hashlib.sha256(signed.encode("utf-8")).hexdigest(),
                "signed_file": signed, "verifier_key": sender.verifier_key,
            })
        return _receive(actor, signed, payload, account, total, approval=None)


def check_transfer(signed: str) -> dict[str, Any]:
    """Every check an import makes (the sender and its key, every field,
    this registry as destination, the acquiring account, the serials and
    ITMOs against all received before, the controls), creating nothing: the
    receiving registry's answer to a proposed transfer. The payload checked."""
    payload, _ = _receivable(signed, None)
    with transaction.atomic():
        account, total = _check_receivable(payload)
        decision = gate.decide_import(account, total, clock.now())
        if decision.refusal is not None:
            raise decision.refusal
    return payload


def receive_accepted(*, actor: User, signed: str) -> tuple[InternationalTransfer, RegistryError | None]:
    """Units a partner sent once this registry had accepted its proposal
    (the acceptance had its four-eyes): the checks again, then the units.
    The acceptance was a promise and the units already left the partner, so
    a control refusing now (the kill switch, a freeze placed since) does not
    stop them: they are created, and the refusal is returned for the caller
    to hold them (docs/linkage.md §3.4). Every other check still refuses."""
    payload, _ = _receivable(signed, None)
    with transaction.atomic():
        account, total = _check_receivable(payload)
        refusal = gate.decide_import(account, total, clock.now()).refusal
        return _receive(actor, signed, payload, account, total, approval=None), refusal


def carry_out_import(approval: Approval, approver: User) -> None:
    """A second administrator approved the import of this exact file: the
    checks again (the switch may be on now, the file imported meanwhile, the
    partner suspended or its key retired), then the units."""
    gate.check_approved(approval)
    signed = approval.payload["signed_file"]
    payload, _ = _receivable(signed, None)
    account, total = _check_receivable(payload)
    decision = gate.decide_import(account, total, clock.now())
    if decision.refusal is not None:
        raise decision.refusal
    _receive(approval.initiated_by, signed, payload, account, total, approval=approval)


def _receivable(signed: str, verifier_key: str | None) -> tuple[dict[str, Any], Sender]:
    """Signed by a partner's key in force, from that partner, for this registry, every field valid."""
    if not isinstance(signed, str) or len(signed) > MAX_FILE:
        raise ValidationFailed("TRANSFER_FILE_INVALID", f"A transfer file is text of at most {MAX_FILE} characters.", details={"limit": MAX_FILE})
    sender = partners().sender_of(signed, clock.now())
    if verifier_key is not None and verifier_key.strip() and verifier_key.strip() != sender.verifier_key:
        raise ValidationFailed("PARTNER_KEY_UNKNOWN", "The named key is not the partner key that signed the file.",
                               field="verifier_key")
    payload = read_transfer_file(signed, sender.verifier_key)
    if (payload["origin_registry"], payload["origin_party"]) != (sender.registry, sender.party):
        raise ValidationFailed(
            "TRANSFER_SENDER_MISMATCH",
            f"The file says it comes from {payload['origin_registry']} ({payload['origin_party']}) "
            f"but {sender.registry} ({sender.party}) signed it.",
        )
    if payload["destination_party"] != settings.TONNE_COUNTRY or (
        payload["destination_registry"] != settings.TONNE_ARTICLE6_REGISTRY_ID
    ):
        raise ValidationFailed(
            "TRANSFER_NOT_FOR_THIS_REGISTRY",
            f"The file is for {payload['destination_registry']} ({payload['destination_party']}).",
            details={"registry": payload["destination_registry"], "party": payload["destination_party"]},
        )
    return payload, sender


def _check_receivable(payload: dict[str, Any]) -> tuple[Account, int]:
    """Not imported yet, and an open holding account to receive it: before anything is written.
    Imports wait for each other here (the export account's row is the
    lock), so what one brings in the next one sees."""
    Account.objects.select_for_update().filter(type=Account.Type.EXPORT).exists()
    if InternationalTransfer.objects.filter(origin_registry=payload["origin_registry"], uid=payload["transfer"]).exists():
        raise Conflict("TRANSFER_ALREADY_IMPORTED", f"Transfer {payload['transfer']} was already imported.", details={"transfer": payload["transfer"]})
    account = get_account(payload["destination_account"], field="destination_account")
    if account.type != Account.Type.HOLDING or account.status != Account.Status.OPEN:
        raise ValidationFailed("ACQUIRING_ACCOUNT_NOT_OPEN", f"Account {account.identifier} cannot receive units.", details={"account": account.identifier})
    for n, block in enumerate(payload["blocks"]):
        _check_identity(payload["origin_registry"], block, f"blocks[{n}]")
        eligibility.check_import(block)  # the country's rules for foreign units, naming the one that refuses
    return account, payload["quantity"]


def _check_identity(origin_registry: str, block: dict[str, Any], field: str) -> None:
    """Units come here once: not the same origin serials from the sender
    again, not an ITMO this registry holds, held or used, and not under
    another class than the origin project's units already here. (The
    database says the same of serials and ITMOs under concurrency.)"""
    start, end = block["serial_start"], block["serial_end"]
    if ImportedRange.objects.filter(origin_registry=origin_registry, origin_serial_start__lte=end,
                                    origin_serial_end__gte=start).exists():
        raise Conflict("ORIGIN_SERIALS_ALREADY_IMPORTED",
                       f"Serials {start}-{end} of {origin_registry} were already imported.", field=f"{field}.serial_start", details={"serials": f"{start}-{end}", "registry": origin_registry})
    registry = block["authorisation"]["originating_registry"]
    lo, hi = block["itmo_serials"]
    held = ImportedRange.objects.filter(originating_registry=registry, itmo_serial_start__lte=hi,
                                        itmo_serial_end__gte=lo).exists()
    if not held and registry == settings.TONNE_ARTICLE6_REGISTRY_ID:  # ours, back: only if they all left
        held = UnitBlock.objects.filter(serial_start__lte=hi, serial_end__gte=lo).exclude(
            account__type=Account.Type.EXPORT).exists()
    if held:
        raise Conflict("ITMO_ALREADY_IN_REGISTRY", f"ITMO {block['itmo_id']} is or was already held in this registry.",
                       field=f"{field}.itmo_id", details={"itmo": block["itmo_id"]})
    here = Project.objects.filter(project_id=_local_project_id(block)).values_list("unit_class", flat=True).first()
    if here is not None and here != block["unit_class"]:
        raise ValidationFailed("ORIGIN_CLASS_DIFFERS", f"Units of this project were received here as {here}, "
                               f"not {block['unit_class']}: a project keeps one class.", field=f"{field}.unit_class")


def _local_project_id(block: dict[str, Any]) -> str:
    return f"{block['authorisation']['originating_registry']}/{block['project']['project_id']}"


def _receive(
    actor: User, signed: str, payload: dict[str, Any], account: Account, total: int, *, approval: Approval | None
) -> InternationalTransfer:
    now = clock.now()
    sha = hashlib.sha256(signed.encode("utf-8")).hexdigest()
    try:
        with transaction.atomic():
            record = InternationalTransfer.objects.create(
                uid=payload["transfer"], direction="received", origin_registry=payload["origin_registry"],
                origin_party=payload["origin_party"], destination_registry=payload["destination_registry"],
                destination_party=payload["destination_party"], destination_account=account.identifier,
                transaction_identifier="", quantity=total, signed_file=signed, sha256=sha, at=now,
            )
    except IntegrityError:  # imported meanwhile by a concurrent request
        raise Conflict("TRANSFER_ALREADY_IMPORTED", f"Transfer {payload['transfer']} was already imported.", details={"transfer": payload["transfer"]}) from None
    identifiers = [_import_block(actor, record, account, block, payload) for block in payload["blocks"]]
    InternationalTransfer.objects.filter(pk=record.pk).update(transaction_identifier=identifiers[0])
    record.transaction_identifier = identifiers[0]
    approved = {"approval": str(approval.uid), "approved_by": approval.decided_by.username} if approval and approval.decided_by else {}
    append_entry(kind="article6.transfer_received", actor=actor, transaction_ref=identifiers[0],
                 data={"transfer": payload["transfer"], "file_sha256": sha, "origin_registry": payload["origin_registry"],
                       "origin_party": payload["origin_party"], "transactions": identifiers, "quantity": total,
                       **approved})
    return record


def _import_block(
    actor: User, record: InternationalTransfer, account: Account, block: dict[str, Any], payload: dict[str, Any],
) -> str:
    """One block of the file: its project and verified mitigation recorded
    through their own apps' services, the units received through the units
    service, and the identity they keep (origin serials, ITMO, authorisation)."""
    a = block["authorisation"]
    quantity = block["quantity"]
    vintage = block["vintage"]
    period = (dt.date.fromisoformat(block["monitoring_period"]["start"]),
              dt.date.fromisoformat(block["monitoring_period"]["end"]))
    # The project as its originating registry names it, wherever the units come from.
    project = projects.register_foreign_project(
        actor=actor, origin_registry=a["originating_registry"], info=block["project"], unit_class=block["unit_class"]
    )
    report = mrv.record_foreign_report(
        actor=actor, project=project, vintage=vintage, quantity=quantity, reference=f"import {record.uid}", period=period,
    )
    issuance, txn = units.receive_units(
        actor=actor, project=project, report=report, vintage=vintage, quantity=quantity, account=account,
        reason=f"International transfer {record.uid} from {payload['origin_registry']}",
        jurisdiction=payload["origin_party"],
        received={"transfer": str(record.uid), "origin_registry": payload["origin_registry"],
                  "origin_party": payload["origin_party"], "origin_serial": block["serial"],
                  "origin_start": block["serial_start"], "itmo_id": block["itmo_id"],
                  "mitigation_type": block["mitigation_type"], "authorisation": a},
    )
    try:
        with transaction.atomic():
            ImportedRange.objects.create(
                transfer=record, issuance=issuance, serial_start=issuance.serial_start, serial_end=issuance.serial_end,
                origin_serial=block["serial"], origin_serial_start=block["serial_start"],
                origin_serial_end=block["serial_end"], vintage=vintage, itmo_id=block["itmo_id"],
                authorisation=a["identifier"], cooperative_approach=a["cooperative_approach"],
                first_transferring_party=a["authorising_party"], originating_registry=a["originating_registry"],
                mitigation_type=block["mitigation_type"], origin_registry=payload["origin_registry"],
                origin_project=block["project"]["project_id"], unit_class=block["unit_class"],
                period_start=period[0], period_end=period[1],
                itmo_serial_start=block["itmo_serials"][0], itmo_serial_end=block["itmo_serials"][1],
                details={"authorisation": a, "first_transfer": block["first_transfer"], "project": block["project"],
                         "monitoring_period": block["monitoring_period"]},
            )
    except IntegrityError as exc:  # a concurrent import took these serials or ITMOs first
        code = "ITMO_ALREADY_IN_REGISTRY" if "itmo" in str(exc).lower() else "ORIGIN_SERIALS_ALREADY_IMPORTED"
        raise Conflict(code, f"Serials {block['serial_start']}-{block['serial_end']} ({block['itmo_id']}) "
                       "are already in this registry.") from None
    return txn.identifier


def received_range(start: int) -> ImportedRange | None:
    return ImportedRange.objects.filter(serial_start__lte=start, serial_end__gte=start).first()


__all__ = [
    "SerialRange", "carry_out_import", "check_transfer", "export_units", "proposal_file", "receive_accepted", "import_transfer", "on_export_settled", "read_transfer_file",
    "received_range",
]
