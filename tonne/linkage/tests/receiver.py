"""The receiving Party's Tonne installation (CH), in its own process with
its own database and key; the linkage test serves it with `tonne serve`
and runs its administrators' steps through this:

    python -m tonne.linkage.tests.receiver setup SENDER_KEY
    python -m tonne.linkage.tests.receiver accept|reject TRANSFER
    python -m tonne.linkage.tests.receiver remove
    python -m tonne.linkage.tests.receiver switch on|off
    python -m tonne.linkage.tests.receiver spend    (the holder moves every received unit)
    python -m tonne.linkage.tests.receiver state
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
    from django.core.management import call_command

    from tonne import testing
    from tonne.article6.models import ImportedRange
    from tonne.controls import rules
    from tonne.controls import services as controls
    from tonne.core import clock
    from tonne.core.errors import RegistryError
    from tonne.ledger import keys
    from tonne.ledger.verify import verify_ledger
    from tonne.linkage import receiving
    from tonne.linkage import services as linkage
    from tonne.linkage.models import Inbound
    from tonne.organisations.models import User

    out: dict = {}
    if argv[0] == "setup":
        call_command("migrate", verbosity=0)
        reg = testing.build_registry("ch")
        approver = testing.make_user(reg.government, "ch-approver", User.Role.APPROVER, actor=reg.root)
        testing.link_partner(reg.admin, approver, registry_id="CI-TONNE", party="CI", verifier_key=argv[1],
                             endpoint="https://registry.ci.example")
        out = {"account": reg.buyer_account.identifier, "key": keys.verifier_key_text()}
    admin = User.objects.get(username="ch-admin")
    try:
        if argv[0] == "accept":
            out["state"] = receiving.accept(actor=admin, registry_id="CI-TONNE", transfer=argv[1]).state  # type: ignore[union-attr]
        elif argv[0] == "reject":
            out["state"] = receiving.reject(actor=admin, registry_id="CI-TONNE", transfer=argv[1], reason="No").state
        elif argv[0] == "remove":
            out["state"] = linkage.remove(actor=admin, registry_id="CI-TONNE", reason="Link ended").status
        elif argv[0] == "switch":
            controls.set_transfers_suspended(actor=admin, suspended=argv[1] == "on", reason="Test")
        elif argv[0] == "spend":
            spend(User.objects.get(username="ch-buyer"))
    except RegistryError as exc:
        out["code"] = exc.code
    out["inbound"] = {str(i.transfer): [i.state, i.code] for i in Inbound.objects.all()}
    out["received"] = sorted([r.origin_serial_start, r.origin_serial_end] for r in ImportedRange.objects.all())
    out["held"] = sorted([f.serial_start, f.serial_end] for f in rules.active_freezes(clock.now())
                         .filter(scope="serials"))
    out["ledger_ok"] = verify_ledger().ok
    print(json.dumps(out))


def spend(holder: Any) -> None:
    """The acquiring holder transfers what it received to the developer's account: refused while held."""
    from tonne.article6.models import ImportedRange
    from tonne.organisations.models import Account
    from tonne.units import services as units
    from tonne.units.domain import Selection

    ranges = [(r.serial_start, r.serial_end) for r in ImportedRange.objects.order_by("serial_start")]
    target = Account.objects.filter(organisation__users__username="ch-dev", type=Account.Type.HOLDING).first()
    units.transfer(actor=holder, from_account=Account.objects.get(organisation=holder.organisation, type="holding").identifier,
                   to_account=target.identifier, selection=Selection.build(ranges=ranges),
                   idempotency_key=f"spend-{ranges[0][0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
