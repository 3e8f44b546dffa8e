"""Transfer and retire, in one request: an exchange or broker moves units to
its client's holding account and retires them there, for the beneficiary
the client names, as one request and one database transaction.

The transfer passes the controls as any transfer does (the limits, the
trusted list and delayed settlement, four-eyes: one approval covers the whole
request). When it completes (at once, or when it settles) the retirement of
exactly its serials follows from the client's account in the same
transaction, through the same gate (kill switch, freezes, the client's
standing), stating the client as the one retired for. If either step is
refused, nothing of the request is done; a waiting transfer that can no
longer retire fails whole at settlement."""

from __future__ import annotations

from django.db import transaction

from tonne.organisations.domain import check_account_identifier
from tonne.organisations.models import Account, User
from tonne.organisations.services import (
    require_account_operator,
    require_acts_for_clients,
    system_account,
)
from tonne.units import services
from tonne.units.domain import Selection, SerialRange, retirement_details
from tonne.units.models import Transaction, TransactionBlock

Kind = Transaction.Kind
Status = Transaction.Status


def transfer_and_retire(
    *, actor: User, from_account: str, to_account: str, selection: Selection, beneficiary: str, purpose: str,
    jurisdiction: str = "", reason: str = "", compliance_period: str = "", using_entity: str = "",
    idempotency_key: str,
) -> tuple[Transaction, Transaction | None]:
    """The transfer, and its retirement once done (None while the transfer
    waits for its approval or settlement time). A retry with the same key
    answers with the first result."""
    target = check_account_identifier(to_account, field="to_account")
    source = check_account_identifier(from_account, field="from_account")
    client = Account.objects.select_related("organisation").filter(identifier=target, type=Account.Type.HOLDING).first()
    holder = Account.objects.select_related("organisation").filter(identifier=source).first()
    details = retirement_details(
        beneficiary, purpose, jurisdiction, reason, compliance_period=compliance_period, using_entity=using_entity,
        on_behalf_of=client.organisation.name if client is not None and client.organisation is not None else "",
    )
    if holder is not None:  # an unknown account is refused by the move itself
        require_account_operator(actor, holder)  # whether the actor may act on it comes first
        require_acts_for_clients(holder.organisation)
    with transaction.atomic():
        moved = services.request_move(
            kind=Kind.TRANSFER, actor=actor, from_account=source, to_account=target, selection=selection,
            idempotency_key=idempotency_key, details=details,
        )
        if moved.replayed:
            return moved, onward_retirement(moved)
        return moved, retire_onward(moved, details)


def retire_onward(transfer: Transaction, details: dict[str, str]) -> Transaction | None:
    """A completed transfer that carries a retirement's details is followed, in
    its transaction, by the retirement of exactly its serials from the
    acquiring account, by the same initiator (called at once, and by
    `services.settle_waiting` for a transfer that waited)."""
    if transfer.kind != Kind.TRANSFER or transfer.status != Status.COMPLETED or not details.get("beneficiary"):
        return None
    assert transfer.to_account is not None
    ranges = TransactionBlock.objects.filter(transaction_id=transfer.pk).values_list("serial_start", "serial_end")
    return services.request_move(
        kind=Kind.RETIREMENT, actor=transfer.initiated_by, from_account=transfer.to_account.identifier,
        to_account=system_account(Account.Type.RETIREMENT).identifier,
        selection=Selection(ranges=tuple(SerialRange(a, b) for a, b in ranges)),
        idempotency_key=_key(transfer), details=details, onward_of=transfer.identifier,
    )


def onward_retirement(transfer: Transaction) -> Transaction | None:
    """The retirement that followed a transfer and retire, if it has yet."""
    return Transaction.objects.filter(
        initiated_by_id=transfer.initiated_by_id, idempotency_key=_key(transfer), kind=Kind.RETIREMENT
    ).first()


def _key(transfer: Transaction) -> str:
    return f"{transfer.identifier}/retirement"
