"""Another Party's Tonne installation (CH by default), in its own process
with its own database and key; the linkage tests serve it with `tonne
serve` and run its administrators' and holder's steps through this:

    python -m tonne.linkage.tests.receiver setup [SENDER_KEY]   (CI-TONNE listed with that key)
    python -m tonne.linkage.tests.receiver link REGISTRY PARTY KEY ENDPOINT
    python -m tonne.linkage.tests.receiver accept|reject TRANSFER [REGISTRY]
    python -m tonne.linkage.tests.receiver remove
    python -m tonne.linkage.tests.receiver switch on|off
    python -m tonne.linkage.tests.receiver spend    (the holder moves every received unit)
    python -m tonne.linkage.tests.receiver propose REGISTRY PARTY ACCOUNT   (the holder sends them on)
    python -m tonne.linkage.tests.receiver setup --issue N PARTY   (N units of its own, authorised for PARTY)
    python -m tonne.linkage.tests.receiver send REGISTRY PARTY ACCOUNT START END   (the developer proposes them)
    python -m tonne.linkage.tests.receiver withdraw TRANSFER   (the developer withdraws its proposal)
    python -m tonne.linkage.tests.receiver state

Each prints one JSON line: what it did, the transfers both ways, the origin
serials received, those live here in the originating registry's numbering,
the serial holds in force, and whether the ledger verifies.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tonne.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from tonne import testing
    from tonne.article6.models import ImportedRange
    from tonne.controls import rules
    from tonne.controls import services as controls
    from tonne.core import clock
    from tonne.core.errors import RegistryError
    from tonne.ledger import keys
    from tonne.ledger.verify import verify_ledger
    from tonne.linkage import receiving, sending
    from tonne.linkage import services as linkage
    from tonne.linkage.models import Inbound, Outbound
    from tonne.organisations.models import Account, User
    from tonne.units.models import UnitBlock

    me = settings.TONNE_COUNTRY.lower()
    out: dict = {}
    if argv[0] == "setup":
        call_command("migrate", verbosity=0)
        reg = testing.build_registry(me)
        testing.make_user(reg.government, f"{me}-approver", User.Role.APPROVER, actor=reg.root)
        out = {"account": reg.buyer_account.identifier, "key": keys.verifier_key_text()}
        if len(argv) > 1 and argv[1] == "--issue":
            out["serials"] = issue(reg, int(argv[2]), argv[3])
        elif len(argv) > 1:
            argv = ["link", "CI-TONNE", "CI", argv[1], "https://registry.ci.example"]
    admin = User.objects.get(username=f"{me}-admin")
    try:
        if argv[0] == "link":
            testing.link_partner(admin, User.objects.get(username=f"{me}-approver"), registry_id=argv[1],
                                 party=argv[2], verifier_key=argv[3], endpoint=argv[4])
        elif argv[0] == "accept":
            out["state"] = receiving.accept(actor=admin, registry_id=_from(argv), transfer=argv[1]).state  # type: ignore[union-attr]
        elif argv[0] == "reject":
            out["state"] = receiving.reject(actor=admin, registry_id=_from(argv), transfer=argv[1], reason="No").state
        elif argv[0] == "remove":
            out["state"] = linkage.remove(actor=admin, registry_id="CI-TONNE", reason="Link ended").status
        elif argv[0] == "switch":
            controls.set_transfers_suspended(actor=admin, suspended=argv[1] == "on", reason="Test")
        elif argv[0] == "spend":
            spend(User.objects.get(username=f"{me}-buyer"))
        elif argv[0] == "send":
            dev = User.objects.get(username=f"{me}-dev")
            out["transfer"] = str(sending.propose(
                actor=dev, from_account=Account.objects.get(organisation=dev.organisation, type="holding").identifier,
                ranges=[(int(argv[4]), int(argv[5]))], destination_party=argv[2], destination_registry=argv[1],
                destination_account=argv[3], idempotency_key=f"send-{argv[4]}").uid)
        elif argv[0] == "withdraw":
            controls.cancel_waiting(actor=User.objects.get(username=f"{me}-dev"),
                                    identifier=Outbound.objects.get(uid=argv[1]).transaction_identifier)
        elif argv[0] == "propose":
            out["transfer"] = str(send_on(User.objects.get(username=f"{me}-buyer"), *argv[1:4], sending).uid)
    except RegistryError as exc:
        out["code"] = exc.code
    out["inbound"] = {str(i.transfer): [i.state, i.code] for i in Inbound.objects.all()}
    out["outbound"] = {str(o.uid): [o.state, o.code] for o in Outbound.objects.all()}
    out["received"] = sorted([r.origin_serial_start, r.origin_serial_end] for r in ImportedRange.objects.all())
    out["live_itmo"] = live_itmo()
    out["live_own"] = sorted([b.serial_start, b.serial_end] for b in UnitBlock.objects.exclude(
        account__type=Account.Type.EXPORT) if not ImportedRange.objects.filter(serial_start__lte=b.serial_start,
                                                                              serial_end__gte=b.serial_start).exists())
    out["held"] = sorted([f.serial_start, f.serial_end] for f in rules.active_freezes(clock.now())
                         .filter(scope="serials"))
    out["ledger_ok"] = verify_ledger().ok
    print(json.dumps(out))


def _from(argv: list[str]) -> str:
    return argv[2] if len(argv) > 2 else "CI-TONNE"


def _held_here() -> list[tuple[Any, int, int, Any]]:
    """(imported range, start, end, account) of received units still here (not sent on)."""
    from tonne.article6.models import ImportedRange
    from tonne.organisations.models import Account
    from tonne.units.models import UnitBlock

    out = []
    for r in ImportedRange.objects.order_by("serial_start"):
        for b in UnitBlock.objects.filter(serial_start__lte=r.serial_end, serial_end__gte=r.serial_start).exclude(
                account__type=Account.Type.EXPORT).select_related("account"):
            out.append((r, max(b.serial_start, r.serial_start), min(b.serial_end, r.serial_end), b.account))
    return out


def live_itmo() -> list[list[int]]:
    """The received units live here, in the originating registry's serials (their ITMO serials)."""
    return sorted([r.itmo_serial_start + s - r.serial_start, r.itmo_serial_start + e - r.serial_start]
                  for r, s, e, _ in _held_here())


def issue(reg: Any, quantity: int, party: str) -> list[int]:
    """The developer's project, authorised for `party`, and `quantity` units issued to it."""
    from tonne import testing
    from tonne.article6.tests.conftest import World
    from tonne.organisations.models import User

    world = World(reg=reg, project=testing.registered_project(reg),
                  approver=User.objects.get(username=reg.admin.username.replace("admin", "approver")))
    world.authorise(quantity=quantity, acquiring_parties=[party])
    _, (issuance,) = testing.issue(reg, world.project, {2024: quantity})
    return [issuance.serial_start, issuance.serial_end]


def spend(holder: Any) -> None:
    """The acquiring holder transfers what it received to the developer's account: refused while held."""
    from tonne.organisations.models import Account
    from tonne.units import services as units
    from tonne.units.domain import Selection

    ranges = [(s, e) for _, s, e, _ in _held_here()]
    target = Account.objects.filter(organisation__users__username=holder.username.replace("buyer", "dev"),
                                    type=Account.Type.HOLDING).first()
    units.transfer(actor=holder, from_account=Account.objects.get(organisation=holder.organisation, type="holding").identifier,
                   to_account=target.identifier, selection=Selection.build(ranges=ranges),
                   idempotency_key=f"spend-{ranges[0][0]}")


def send_on(holder: Any, registry: str, party: str, account: str, sending: Any) -> Any:
    """The acquiring holder proposes every received unit it holds to another partner registry."""
    ranges = [(s, e) for _, s, e, _ in _held_here()]
    return sending.propose(actor=holder, from_account=_held_here()[0][3].identifier, ranges=ranges,
                           destination_party=party, destination_registry=registry, destination_account=account,
                           idempotency_key=f"onward-{registry}-{ranges[0][0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
