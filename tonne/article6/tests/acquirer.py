"""The acquiring Party's Tonne installation, run in its own process with its
own database and country (the two-Party test drives it):

    python -m tonne.article6.tests.acquirer setup
    python -m tonne.article6.tests.acquirer receive FILE KEYFILE YEAR
"""

from __future__ import annotations

import json
import os
import sys

from tonne.article6.tests.party import link_sender  # the same two-person partner listing


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tonne.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from tonne import testing
    from tonne.organisations.models import Account, User

    if argv[0] == "setup":
        call_command("migrate", verbosity=0)
        reg = testing.build_registry("ch")
        print(json.dumps({"account": reg.buyer_account.identifier, "admin": reg.admin.username}))
        return
    from tonne.article6 import aef, international, selectors
    from tonne.article6 import services as a6
    from tonne.core.errors import RegistryError
    from tonne.ledger.verify import verify_ledger
    from tonne.units.domain import Selection

    path, key_path, year = argv[1], argv[2], int(argv[3])
    signed, key = open(path).read(), open(key_path).read()
    from tonne.ledger.models import LedgerEntry

    admin = User.objects.get(username="ch-admin")
    link_sender(signed, key, admin.username)
    first_seq = LedgerEntry.objects.count()
    record = international.import_transfer(actor=admin, signed=signed, verifier_key=key)
    written = list(LedgerEntry.objects.filter(seq__gte=first_seq).order_by("seq").values_list("kind", flat=True))
    try:
        international.import_transfer(actor=admin, signed=signed, verifier_key=key)
        again = "imported twice"
    except RegistryError as exc:
        again = exc.code
    account = Account.objects.get(identifier=record.destination_account)
    block = account.blocks.order_by("serial_start").first()
    buyer = User.objects.get(username="ch-buyer")
    a6.use_units(actor=buyer, from_account=account.identifier,
                 selection=Selection.build(ranges=[(block.serial_start, block.serial_start + 99)]),
                 use="ndc", using_party="CH", idempotency_key="use-1")
    report = aef.build(year)
    print(json.dumps({
        "reimport": again,
        "import_entries": written,
        "project": [block.project.project_id, block.project.registry_name, block.issuance.report.status],
        "segments": selectors.segments(block.serial_start, block.serial_end),
        "report": report,
        "ledger_ok": verify_ledger().ok,
    }, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
