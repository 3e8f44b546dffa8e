"""The receiving installation's (CH's) reconciliation steps, in its own
process and database (set up by `tonne.linkage.tests.receiver setup`):

    python -m tonne.linkage.tests.reconcile_node corrupt|restore TRANSFER   (its received row edited behind its back)
    python -m tonne.linkage.tests.reconcile_node move TRANSFER      (its holder moves one received unit)
    python -m tonne.linkage.tests.reconcile_node statement FILE     (a checkpoint, then its statement to CI)
    python -m tonne.linkage.tests.reconcile_node resolve MISMATCH
    python -m tonne.linkage.tests.reconcile_node state
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tonne.settings")
    import django

    django.setup()
    from django.db.models import F

    from tonne.article6.models import ImportedRange
    from tonne.core.errors import RegistryError
    from tonne.ledger.services import make_checkpoint
    from tonne.ledger.verify import verify_ledger
    from tonne.linkage import reconciliation
    from tonne.linkage.models import Mismatch, Partner
    from tonne.organisations.models import User
    from tonne.units import services as units
    from tonne.units.domain import Selection

    out: dict = {}
    try:
        if argv[0] in ("corrupt", "restore"):
            shift = 10 if argv[0] == "corrupt" else -10
            ImportedRange.objects.filter(transfer__uid=argv[1]).update(
                origin_serial_start=F("origin_serial_start") + shift, origin_serial_end=F("origin_serial_end") + shift)
        elif argv[0] == "move":
            first = ImportedRange.objects.filter(transfer__uid=argv[1]).order_by("serial_start").first()
            assert first is not None
            buyer = User.objects.get(username="ch-buyer")
            units.transfer(actor=buyer, from_account=buyer.organisation.accounts.get().identifier,  # type: ignore[union-attr]
                           to_account=User.objects.get(username="ch-dev").organisation.accounts.get().identifier,  # type: ignore[union-attr]
                           selection=Selection.build(ranges=[(first.serial_start, first.serial_start)]),
                           idempotency_key=str(uuid.uuid4()))
            out["moved"] = True
        elif argv[0] == "statement":
            make_checkpoint(force=True)
            Path(argv[1]).write_text(reconciliation.statement_for(Partner.objects.get(registry_id="CI-TONNE")))
        elif argv[0] == "resolve":
            admin = User.objects.get(username="ch-admin")
            out["state"] = reconciliation.resolve(actor=admin, uid=argv[1], reason="Checked with CI: row restored").state
    except RegistryError as exc:
        out["code"] = exc.code
    out["open"] = [{"uid": str(m.uid), "code": m.code, "transfer": str(m.transfer) if m.transfer else None,
                    "found_by": m.found_by, "frozen": m.frozen}
                   for m in Mismatch.objects.filter(state=Mismatch.State.OPEN).order_by("found_at", "pk")]
    out["ledger_ok"] = verify_ledger().ok
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
