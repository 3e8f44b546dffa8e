"""Every state change of units: issuing, transferring, retiring, cancelling
and reversing. One function per operation; each runs in one database
transaction that validates, locks what it reads, moves blocks, and appends
its ledger entry before committing."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max

from tonne.core import clock, faults
from tonne.core.canonical import canonical_json
from tonne.core.errors import Conflict, NotFound, RegistryError, ValidationFailed
from tonne.core.rows import loaded
from tonne.ledger import watermark
from tonne.ledger.services import append_entry
from tonne.organisations.domain import check_account_identifier
from tonne.organisations.models import Account, User
from tonne.organisations.services import (
    check_on_behalf,
    require_account_operator,
    require_registry_administrator,
    system_account,
)
from tonne.projects.benefits import unit_share_parts
from tonne.projects.domain import buffer_quantity
from tonne.projects.models import Project
from tonne.units import store
from tonne.units.controls_port import controls
from tonne.units.domain import (
    AWAITS_PARTNER,
    Decision,
    MoveFacts,
    MoveRequest,
    Piece,
    Selection,
    SerialRange,
    cancellation_reason,
    check_acquiring,
    check_transferring,
    issuance_shares,
    merged_ranges,
    move_entry,
    moved_blocks,
    retirement_details,
    split_blocks,
)
from tonne.units.models import (
    WAITING,
    Issuance,
    SerialCounter,
    Transaction,
    TransactionBlock,
    UnitBlock,
)
from tonne.units.reactions import reactions

Kind = Transaction.Kind
Status = Transaction.Status


def _new_identifier(at: dt.datetime) -> str:
    return f"TX-{at:%Y%m%d}-{secrets.token_hex(5).upper()}"


def allocate_serials(count: int) -> int:
    """Take `count` serials from the registry-wide sequence; return the first."""
    counter = SerialCounter.objects.select_for_update().get(pk=1)
    start = counter.next_serial
    SerialCounter.objects.filter(pk=1).update(next_serial=start + count)
    return start


# -- issuance ------------------------------------------------------------------


def _issuance_shares(quantity: int, unit_class: str) -> tuple[int, int]:
    """Share of proceeds and OMGE, for the unit classes the country says carry them."""
    if unit_class not in settings.TONNE_SOP_OMGE_UNIT_CLASSES:
        return 0, 0
    return issuance_shares(quantity, settings.TONNE_SOP_BASIS_POINTS, settings.TONNE_OMGE_BASIS_POINTS)


def issuance_account(project: Project) -> Account:
    account = (
        Account.objects.filter(organisation=project.developer, type=Account.Type.HOLDING, status=Account.Status.OPEN)
        .order_by("number")
        .first()
    )
    if account is None:
        raise ValidationFailed(
            "ISSUANCE_ACCOUNT_MISSING", f"{project.developer.name} has no open holding account to receive units.",
            details={"organisation": project.developer.name},
        )
    return account


def _new_issuance(
    actor: User, project: Project, report: Any, vintage: int, quantity: int, buffer: int, now: dt.datetime
) -> Issuance:
    """A new issuance of the project, on newly allocated serials."""
    start = allocate_serials(quantity)
    number = (Issuance.objects.filter(project=project).aggregate(m=Max("number"))["m"] or 0) + 1
    return Issuance.objects.create(
        uid=uuid.uuid4(),
        project=project,
        report=report,
        number=number,
        vintage=vintage,
        unit_class=project.unit_class,
        quantity=quantity,
        buffer_quantity=buffer,
        serial_start=start,
        serial_end=start + quantity - 1,
        approved_by=actor,
        issued_at=now,
    )


def _place(
    issuance: Issuance, account: Account, serials: SerialRange, kind: str, actor: User, now: dt.datetime,
    **fields: str,
) -> tuple[Transaction, dict[str, Any]]:
    """Put serials of a new issuance into an account: its block, the completed
    transaction that brought them, and how the ledger entry names them."""
    UnitBlock.objects.create(
        issuance=issuance,
        project=issuance.project,
        vintage=issuance.vintage,
        unit_class=issuance.unit_class,
        serial_start=serials.start,
        serial_end=serials.end,
        account=account,
        acquired_at=now,
    )
    txn = Transaction.objects.create(
        identifier=_new_identifier(now),
        kind=kind,
        status=Status.COMPLETED,
        initiated_by=actor,
        organisation=actor.organisation,
        to_account=account,
        quantity=serials.count,
        issuance=issuance,
        project=issuance.project,
        created_at=now,
        completed_at=now,
        **fields,
    )
    TransactionBlock.objects.create(transaction=txn, issuance=issuance, serial_start=serials.start, serial_end=serials.end)
    block = {"start": serials.start, "end": serials.end, "account": account.identifier, "transaction": txn.identifier, "kind": kind}
    return txn, block


def _issuance_info(issuance: Issuance, report: Any) -> dict[str, Any]:
    """The issuance as its ledger entry states it."""
    project = issuance.project
    return {
        "uid": str(issuance.uid),
        "project": project.project_id,
        "project_number": project.number,
        "host": project.host_party,
        "scope": project.sectoral_scope,
        "number": issuance.number,
        "vintage": issuance.vintage,
        "unit_class": issuance.unit_class,
        "quantity": issuance.quantity,
        "buffer": issuance.buffer_quantity,
        "report": str(report.uid),
    }


def issue_units(
    *, actor: User, project: Project, report: Any, vintage: int, quantity: int,
    split: Sequence[tuple[Account, int]] = (), retired: Sequence[tuple[dict[str, str], int]] = (),
) -> Issuance:
    """Create the blocks of one issuance (called by MRV inside its transaction):
    the developer's share into its holding account (or, by the developer's
    instruction, `split` between its accounts and part `retired` at issuance), the benefit-sharing plan's
    unit shares into the beneficiaries' accounts, the share of proceeds and
    OMGE shares (unit classes that carry them) into their system accounts, the
    buffer share into the pool."""
    if quantity <= 0:
        raise ValidationFailed("QUANTITY_NOT_POSITIVE", "Nothing to issue for this vintage.")
    now = clock.now()
    to_holding = issuance_account(project)
    buffer = buffer_quantity(quantity, project.buffer_basis_points)
    sop, omge = _issuance_shares(quantity, project.unit_class)
    if buffer + sop + omge > quantity:
        raise ValidationFailed(
            "ISSUANCE_SHARES_EXCEED_QUANTITY",
            f"Buffer ({buffer}), share of proceeds ({sop}) and OMGE ({omge}) exceed the {quantity} units to issue.",
            details={"buffer": buffer, "sop": sop, "omge": omge, "quantity": quantity},
        )
    net = quantity - buffer - sop - omge
    # The benefit-sharing plan's unit shares go to the beneficiaries' accounts
    # in this transaction: each a share of the units after the buffer.
    shares = unit_share_parts(project, quantity - buffer)
    to_beneficiaries = sum(q for _, _, q in shares)
    if to_beneficiaries > net:
        raise ValidationFailed(
            "ISSUANCE_SHARES_EXCEED_QUANTITY",
            f"Benefit shares ({to_beneficiaries}), buffer ({buffer}), share of proceeds ({sop}) and OMGE ({omge}) "
            f"exceed the {quantity} units to issue.",
            details={"shares": to_beneficiaries, "buffer": buffer, "sop": sop, "omge": omge, "quantity": quantity},
        )
    to_holder = net - to_beneficiaries
    instructed = sum(q for _, q in split) + sum(q for _, q in retired)
    if instructed > to_holder:
        raise ValidationFailed(
            "ISSUANCE_INSTRUCTION_EXCEEDS_UNITS",
            f"The instruction places {instructed:,} units; the developer's share of vintage {vintage} is {to_holder:,}.",
            details={"quantity": instructed, "vintage": vintage, "limit": to_holder},
        )
    issuance = _new_issuance(actor, project, report, vintage, quantity, buffer, now)
    start = issuance.serial_start
    parts: list[tuple[Account, SerialRange, str, dict[str, str]]] = []
    # The holder's share: the instructed accounts, the rest to the first
    # holding account, then what is retired at issuance (so the units held
    # stay one range for the issuance hooks).
    held = to_holder - sum(q for _, q in retired)
    first = start
    for account, part in [*split, (to_holding, held - sum(q for _, q in split))]:
        if part:
            parts.append((account, SerialRange(first, first + part - 1), Kind.ISSUANCE, {}))
            first += part
    for details, part in retired:
        parts.append((system_account(Account.Type.RETIREMENT), SerialRange(first, first + part - 1), Kind.RETIREMENT, details))
        first += part
    # Serial order: holder, benefit shares, share of proceeds, OMGE cancellation, buffer pool.
    first = start + to_holder
    for _share, beneficiary, share_quantity in shares:
        parts.append((beneficiary, SerialRange(first, first + share_quantity - 1), Kind.ISSUANCE, {}))
        first += share_quantity
    if sop:
        parts.append((system_account(Account.Type.SOP), SerialRange(start + net, start + net + sop - 1), Kind.ISSUANCE, {}))
    if omge:
        first = start + net + sop
        parts.append((system_account(Account.Type.OMGE), SerialRange(first, first + omge - 1), Kind.ISSUANCE, {}))
    if buffer:
        parts.append((system_account(Account.Type.BUFFER), SerialRange(start + quantity - buffer, start + quantity - 1),
                      Kind.BUFFER_CONTRIBUTION, {}))
    txns = []
    blocks_data = []
    for account, serials, kind, details in parts:
        txn, block = _place(issuance, account, serials, kind, actor, now, **details)
        txns.append(txn)
        blocks_data.append({**block, **details})
    info = _issuance_info(issuance, report)
    if sop or omge:
        info.update(sop=sop, omge=omge)
    data: dict[str, Any] = {"op": "issue", "issuance": info, "blocks": blocks_data}
    # The holder's share, retired part included, carries its authorisation (e.g. Article 6)...
    for hook in reactions().on_issuance:
        data.update(hook(issuance, SerialRange(start, start + to_holder - 1) if to_holder else None, txns[0].identifier, now))
    # ...and a retirement at issuance is a use like any other (a first transfer where that is the definition).
    with connection.cursor() as cursor:
        for txn, (account, serials, kind, details) in zip(txns, parts, strict=True):
            for on_terminal in reactions().on_terminal_move if kind == Kind.RETIREMENT else ():
                on_terminal(cursor, kind, account, [(issuance.pk, serials.start, serials.end)], txn.identifier, now, details)
    entry = append_entry(kind="units.issued", actor=actor, transaction_ref=txns[0].identifier, data=data)
    Transaction.objects.filter(pk__in=[t.pk for t in txns]).update(ledger_seq=entry.seq)
    return issuance


def receive_units(
    *, actor: User, project: Project, report: Any, vintage: int, quantity: int, account: Account,
    reason: str, jurisdiction: str, received: dict[str, Any],
) -> tuple[Issuance, Transaction]:
    """Units received from another registry enter this one like an issuance:
    new local serials, one block in the acquiring account, an import
    transaction, and a "units.issued" ledger entry that says where they came
    from (`received`). No buffer, share of proceeds or OMGE: the issuing
    registry took those; and no authorisation is attached here."""
    if quantity <= 0:
        raise ValidationFailed("QUANTITY_NOT_POSITIVE", "Nothing to receive.")
    if account.type != Account.Type.HOLDING or account.status != Account.Status.OPEN:
        raise ValidationFailed("ACQUIRING_ACCOUNT_NOT_OPEN", f"Account {account.identifier} cannot receive units.", details={"account": account.identifier})
    now = clock.now()
    issuance = _new_issuance(actor, project, report, vintage, quantity, 0, now)
    txn, block = _place(
        issuance, account, SerialRange(issuance.serial_start, issuance.serial_end), Kind.IMPORT, actor, now,
        reason=reason, jurisdiction=jurisdiction,
    )
    entry = append_entry(
        kind="units.issued",
        actor=actor,
        transaction_ref=txn.identifier,
        data={"op": "import", "issuance": _issuance_info(issuance, report), "blocks": [block], "import": received},
    )
    Transaction.objects.filter(pk=txn.pk).update(ledger_seq=entry.seq)
    txn.ledger_seq = entry.seq
    return issuance, txn


# -- moving units --------------------------------------------------------------
#
# A move, as a story: check the idempotency key, lock the transferring
# account, check the accounts, select the units, ask the controls, then
# write (or record the waiting request). The database work is the store's
# (units.store); the pure rules are units.domain's.


def _check_idempotency_key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise ValidationFailed(
            "IDEMPOTENCY_KEY_REQUIRED", "Requests that move units need an Idempotency-Key.", field="idempotency_key"
        )
    if len(key) > 200:
        raise ValidationFailed("IDEMPOTENCY_KEY_INVALID", "An Idempotency-Key is at most 200 characters.", field="idempotency_key")
    return key


def _earlier_result(actor: User, key: str, request_hash: str) -> Transaction | None:
    earlier = Transaction.objects.filter(initiated_by=actor, idempotency_key=key).first()
    if earlier is not None and earlier.request_hash != request_hash:
        raise Conflict(
            "IDEMPOTENCY_KEY_REUSED",
            f"Idempotency-Key {key!r} was already used for a different request ({earlier.identifier}).",
            field="idempotency_key",
            details={"key": key, "transaction": earlier.identifier},
        )
    if earlier is not None:
        earlier.replayed = True
    return earlier


def request_move(
    *,
    kind: str,
    actor: User,
    from_account: str,
    to_account: str,
    selection: Selection,
    idempotency_key: str,
    details: dict[str, str],
    awaits_partner: bool = False,
    onward_of: str = "",
) -> Transaction:
    """Every move of units held in an account (transfer, retirement,
    cancellation, reversal, export) comes through here. `awaits_partner`: an
    export that, once the controls let it go, still waits (its serials
    reserved) until the receiving registry accepts it (tonne.linkage).
    `onward_of`: the transfer whose onward retirement this is (units.onward)."""
    watermark.refuse_moves_if_rolled_back()
    key = _check_idempotency_key(idempotency_key)
    source = check_account_identifier(from_account, field="from_account")
    target = check_account_identifier(to_account, field="to_account")
    described: dict[str, object] = {"kind": kind, "from": source, "to": target, "selection": selection.describe(), **details}
    if awaits_partner:
        described["awaits_partner"] = True
    request = MoveRequest(
        kind=kind, source=source, target=target, selection=selection, key=key,
        request_hash=hashlib.sha256(canonical_json(described)).hexdigest(), details=details,
        awaits_partner=awaits_partner, onward_of=onward_of,
    )
    try:
        return store.run(lambda moves: _move(moves, actor, request))
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its result.
        earlier = _earlier_result(actor, key, request.request_hash)
        if earlier is not None:
            return earlier
        raise


def _move(moves: store.MoveStore, actor: User, request: MoveRequest) -> Transaction:
    locked = moves.lock(actor, request)
    if locked.earlier_id is not None:
        # A retry (seen under the account lock, so also one that queued
        # behind its twin) gets the first answer, even if things changed since.
        earlier = _earlier_result(actor, request.key, request.request_hash)
        assert earlier is not None
        return earlier
    source, target = locked.source, locked.target
    if not request.onward_of:  # an onward retirement's units came from its initiator, in this transaction
        require_account_operator(actor, source)
    check_transferring(request.kind, source)
    if target is None:
        raise NotFound("ACCOUNT_NOT_FOUND", f"Account {request.target} does not exist in this registry.", field="to_account", details={"account": request.target})
    check_acquiring(request.kind, source, target)
    pieces = moves.select(source, request.selection, locked.first_blocks)
    faults.point("move.after_read")
    facts = _facts(request.kind, source, target, pieces, request.selection.total)
    # Freezes, limits, the holders' standing and the kill switch refuse;
    # four-eyes approval and delayed settlement make the move wait.
    decision = controls().decide_move(facts, locked.flags)
    if decision.refusal is not None:
        raise decision.refusal
    if request.awaits_partner:  # after a second person's approval, if any, it still waits for the partner
        decision = Decision(needs_approval=decision.needs_approval, execute_at=AWAITS_PARTNER)
    if decision.waits and not request.onward_of:  # the transfer's approval, if any, covered its retirement
        waiting = _wait(decision, facts, actor, request)
        moves.keep()
        return waiting
    return _complete(moves, actor, request, source, target, pieces)


def _facts(kind: str, source: Account, target: Account, pieces: list[Piece], quantity: int) -> MoveFacts:
    return MoveFacts(
        kind=kind, source=source, target=target,
        ranges=merged_ranges((p.serials.start, p.serials.end) for p in pieces),
        projects=frozenset(p.block.project_id for p in pieces), quantity=quantity, at=clock.now(),
    )


def _details(details: dict[str, str]) -> dict[str, str]:
    return {"reason": "", "beneficiary": "", "purpose": "", "jurisdiction": "", "compliance_period": "", "using_entity": "",
            "on_behalf_of": "", **details}


def _wait(decision: Decision, facts: MoveFacts, actor: User, request: MoveRequest) -> Transaction:
    """The move waits (for approval or its settlement time): its transaction
    now, the controls' record of what it waits for beside it."""
    projects = set(facts.projects)
    txn = Transaction.objects.create(
        identifier=_new_identifier(facts.at), kind=facts.kind,
        status=Status.AWAITING_APPROVAL if decision.needs_approval else Status.DELAYED,
        initiated_by=actor, organisation_id=actor.organisation_id, idempotency_key=request.key,
        request_hash=request.request_hash, from_account_id=facts.source.pk, to_account_id=facts.target.pk,
        quantity=facts.quantity, project_id=projects.pop() if len(projects) == 1 else None, created_at=facts.at,
        **_details(request.details),
    )
    controls().wait(decision, txn, facts, actor=actor, details=request.details)
    return txn


def _complete(
    moves: store.MoveStore, actor: User, request: MoveRequest, source: Account, target: Account, pieces: list[Piece],
    *, pending: Transaction | None = None,
) -> Transaction:
    """Write the move (or complete in place the `pending` transaction that waited)."""
    kind, quantity = request.kind, request.selection.total
    now = clock.now()
    stamp = moves.now(now)  # the instant written is the instant answered (a replay reads the same)
    shrunk, remainders = split_blocks(pieces, source.pk, target.pk, stamp)
    projects = {p.block.project_id for p in pieces}
    project_id = projects.pop() if len(projects) == 1 else None
    identifier = pending.identifier if pending is not None else _new_identifier(now)
    ordered = sorted(pieces, key=lambda p: p.serials.start)
    fields = _details(request.details)
    if pending is None:
        txn_sql, txn_params = store.INSERT_TRANSACTION_SQL, [
            identifier, kind, Status.COMPLETED, actor.pk, actor.organisation_id, request.key, request.request_hash,
            source.pk, target.pk, quantity, None, project_id, fields["reason"], fields["beneficiary"],
            fields["purpose"], fields["jurisdiction"], fields["compliance_period"], fields["using_entity"],
            fields["on_behalf_of"], stamp, stamp, "",
        ]
    else:
        txn_sql, txn_params = store.COMPLETE_WAITING_SQL, [Status.COMPLETED, stamp, project_id, pending.pk]
    block_rows = [(p.block.issuance_id, p.serials.start, p.serials.end) for p in ordered]
    on_terminal = reactions().on_terminal_move
    if target.is_terminal and on_terminal:  # decided from the row already read
        # Before the writes: on the pipelined path COMMIT goes out with them.
        for hook in on_terminal:
            hook(moves.cursor, kind, target, block_rows, identifier, now, fields)  # fields: the use and its user
    prefixes = moves.prefixes(sorted({p.block.issuance_id for p in ordered}))
    txn_id, entry = moves.write(
        store.MovePlan(
            shrunk=shrunk, remainders=remainders, transaction_sql=txn_sql, transaction_params=txn_params,
            blocks=block_rows, identifier=identifier, entry_kind=f"units.{kind}", actor=actor,
            entry=move_entry(kind, source.identifier, target.identifier, quantity, ordered, request.details),
        )
    )
    # The row as written, without reading it back.
    txn = loaded(
        Transaction,
        {"initiated_by": actor, "from_account": source, "to_account": target},
        id=txn_id, identifier=identifier, kind=kind, status=Status.COMPLETED, initiated_by_id=actor.pk,
        organisation_id=actor.organisation_id, idempotency_key=request.key, request_hash=request.request_hash,
        from_account_id=source.pk, to_account_id=target.pk, quantity=quantity, issuance_id=None, project_id=project_id,
        reason=fields["reason"], beneficiary=fields["beneficiary"], purpose=fields["purpose"],
        jurisdiction=fields["jurisdiction"], compliance_period=fields["compliance_period"], using_entity=fields["using_entity"],
        on_behalf_of=fields["on_behalf_of"], created_at=pending.created_at if pending is not None else now,
        completed_at=now, failure_code="", ledger_seq=entry.seq,
    )
    txn.moved_blocks = moved_blocks(ordered, prefixes())
    return txn


def _complete_waiting(moves: store.MoveStore, txn: Transaction, ranges: list[tuple[int, int]], details: dict[str, str]) -> Transaction:
    """Complete a transaction that waited (for its approval or its settlement
    time): the request-time checks again, under the same lock, then the move
    of exactly the serials chosen when it was requested."""
    assert txn.from_account is not None and txn.to_account is not None
    actor = txn.initiated_by
    request = MoveRequest(
        kind=txn.kind, source=txn.from_account.identifier, target=txn.to_account.identifier,
        selection=Selection(ranges=tuple(SerialRange(start, end) for start, end in ranges)),
        key=txn.idempotency_key, request_hash=txn.request_hash, details=details,
    )
    locked = moves.lock(actor, request, read_ahead=False)
    source, target = locked.source, locked.target
    require_account_operator(actor, source)
    check_transferring(txn.kind, source)
    assert target is not None
    check_acquiring(txn.kind, source, target)
    pieces = moves.select(source, request.selection)
    decision = controls().decide_settlement(_facts(txn.kind, source, target, pieces, txn.quantity))
    if decision.refusal is not None:
        raise decision.refusal
    return _complete(moves, actor, request, source, target, pieces, pending=txn)


def settle_waiting(txn_id: int) -> Transaction:
    """Complete a waiting move now; if it can no longer be done (units gone,
    frozen, account suspended…), it fails with that code and nothing moves."""
    txn = (
        Transaction.objects.select_for_update(of=("self",))
        .select_related("from_account", "to_account", "initiated_by")
        .get(pk=txn_id)
    )
    if txn.status not in WAITING:
        raise Conflict("TRANSACTION_NOT_WAITING", f"Transaction {txn.identifier} is {txn.status}.", details={"transaction": txn.identifier, "status": txn.status})
    port = controls()
    waiting = port.take_waiting(txn)  # settled or failed, its serials are no longer held for it
    try:
        from tonne.units import onward  # it moves units through this module

        with transaction.atomic():  # a transfer and its onward retirement stand or fall together
            done = store.run(lambda moves: _complete_waiting(moves, txn, waiting.ranges, waiting.details))
            onward.retire_onward(done, waiting.details)
    except RegistryError as exc:
        Transaction.objects.filter(pk=txn.pk).update(status=Status.FAILED, failure_code=exc.code[:60])
        port.record_settlement(txn, failure=exc.code)
        txn.refresh_from_db()
        return txn
    port.record_settlement(txn)
    return done


def transfer(
    *, actor: User, from_account: str, to_account: str, selection: Selection, idempotency_key: str
) -> Transaction:
    return request_move(kind=Kind.TRANSFER, actor=actor, from_account=from_account, to_account=to_account,
                        selection=selection, idempotency_key=idempotency_key, details={})


def retire(
    *,
    actor: User,
    from_account: str,
    selection: Selection,
    beneficiary: str,
    purpose: str,
    jurisdiction: str = "",
    reason: str = "",
    compliance_period: str = "",
    using_entity: str = "",
    on_behalf_of: str = "",
    idempotency_key: str,
) -> Transaction:
    details = retirement_details(
        beneficiary, purpose, jurisdiction, reason,
        compliance_period=compliance_period, using_entity=using_entity, on_behalf_of=on_behalf_of,
    )
    if "on_behalf_of" in details:  # at every door: only an exchange or broker the registry marked
        holder = Account.objects.select_related("organisation").filter(
            identifier=check_account_identifier(from_account, field="from_account")).first()
        if holder is not None:  # whether the actor may act on it comes first
            require_account_operator(actor, holder)
            check_on_behalf(holder.organisation, details)
    return request_move(
        kind=Kind.RETIREMENT,
        actor=actor,
        from_account=from_account,
        to_account=system_account(Account.Type.RETIREMENT).identifier,
        selection=selection,
        idempotency_key=idempotency_key,
        details=details,
    )


def cancel(*, actor: User, from_account: str, selection: Selection, reason: str, idempotency_key: str) -> Transaction:
    reason = cancellation_reason(reason)
    return request_move(
        kind=Kind.CANCELLATION,
        actor=actor,
        from_account=from_account,
        to_account=system_account(Account.Type.CANCELLATION).identifier,
        selection=selection,
        idempotency_key=idempotency_key,
        details={"reason": reason},
    )


def reverse(*, actor: User, project: str, quantity: int, reason: str, idempotency_key: str) -> Transaction:
    """After a reported reversal, cancel the project's units from the buffer pool."""
    require_registry_administrator(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("REVERSAL_REASON_REQUIRED", "A reversal needs a reason.", field="reason")
    if not Project.objects.filter(project_id=project).exists():
        raise ValidationFailed("PROJECT_NOT_FOUND", f"Project {project} does not exist.", field="project", details={"project": project})
    selection = Selection.build(quantity=quantity, project=project)
    return request_move(
        kind=Kind.REVERSAL,
        actor=actor,
        from_account=system_account(Account.Type.BUFFER).identifier,
        to_account=system_account(Account.Type.CANCELLATION).identifier,
        selection=selection,
        idempotency_key=idempotency_key,
        details={"reason": reason},
    )

