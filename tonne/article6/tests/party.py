"""Another Party's Tonne installation, in its own process with its own
database, country and key (the three-Party test drives two of them):

    python -m tonne.article6.tests.party setup
    python -m tonne.article6.tests.party receive FILE KEYFILE
    python -m tonne.article6.tests.party onward FILE KEYFILE PARTY REGISTRY QUANTITY OUT ACCOUNT

`onward` imports the file, then transfers QUANTITY of the acquired ITMOs on
to ACCOUNT in PARTY's registry, writing the signed file to OUT. With
PARTY_NOW (ISO 8601) the installation's clock stands at that moment. Both
print the installation's AEF for that year (actions and holdings)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tonne.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from tonne import testing

    if argv[0] == "setup":
        call_command("migrate", verbosity=0)
        reg = testing.build_registry(settings.TONNE_COUNTRY.lower())
        print(json.dumps({"account": reg.buyer_account.identifier}))
        return
    from tonne.article6 import aef, international, selectors
    from tonne.article6.models import ImportedRange
    from tonne.core import clock
    from tonne.core.errors import RegistryError
    from tonne.ledger import keys
    from tonne.ledger.verify import verify_ledger
    from tonne.organisations.models import Account, User

    if os.environ.get("PARTY_NOW"):
        clock.freeze(dt.datetime.fromisoformat(os.environ["PARTY_NOW"]))
    prefix = settings.TONNE_COUNTRY.lower()
    admin, buyer = User.objects.get(username=f"{prefix}-admin"), User.objects.get(username=f"{prefix}-buyer")
    signed, key = open(argv[1]).read(), open(argv[2]).read()
    link_sender(signed, key, admin.username)
    record = international.import_transfer(actor=admin, signed=signed, verifier_key=key)
    account = Account.objects.get(identifier=record.destination_account)
    block = account.blocks.order_by("serial_start").first()
    assert block is not None
    out: dict = {"received": [(r.itmo_id, r.origin_registry, r.origin_project, r.unit_class, str(r.period_start),
                               r.issuance.project.project_id) for r in ImportedRange.objects.order_by("serial_start")],
                 "segments": selectors.segments(block.serial_start, block.serial_end)}
    try:
        international.import_transfer(actor=admin, signed=signed, verifier_key=key)
        out["reimport"] = "imported twice"
    except RegistryError as exc:
        out["reimport"] = exc.code
    if argv[0] == "onward":
        party, registry, quantity, path = argv[3], argv[4], int(argv[5]), argv[6]
        sent = international.export_units(
            actor=buyer, from_account=account.identifier, ranges=[(block.serial_start, block.serial_start + quantity - 1)],
            destination_party=party, destination_registry=registry, destination_account=argv[7], idempotency_key="onward-1",
        )
        with open(path, "w") as f:
            f.write(sent.signed_file)
        with open(path + ".key", "w") as f:
            f.write(keys.verifier_key_text())
        out["left"] = selectors.segments(block.serial_start + quantity, block.serial_end)
    out["ledger_ok"] = verify_ledger().ok
    report = aef.build(clock.now().year)
    out["aef"] = {"party": report["party"], "year": report["year"], "review": report["review"],
                  "tables": {t: report["tables"][t] for t in ("actions", "holdings")}}
    print(json.dumps(out, default=str))


def link_sender(signed: str, key: str, admin_name: str) -> None:
    """The receiving administrators put the sending registry on their
    partner list (its id, Party and key, as agreed out of band), two people."""
    import json

    from tonne import testing
    from tonne.organisations.models import User

    head = json.loads(signed[: signed.rindex("\n\n") + 1])
    admin = User.objects.get(username=admin_name)
    assert admin.organisation is not None
    root = User.objects.get(is_superuser=True)
    approver = User.objects.filter(username="partner-approver").first() or testing.make_user(
        admin.organisation, "partner-approver", User.Role.APPROVER, actor=root)
    if not testing.Partner.objects.filter(registry_id=head["origin_registry"]).exists():
        testing.link_partner(admin, approver, registry_id=head["origin_registry"], party=head["origin_party"],
                             verifier_key=key.strip())


if __name__ == "__main__":
    main(sys.argv[1:])
