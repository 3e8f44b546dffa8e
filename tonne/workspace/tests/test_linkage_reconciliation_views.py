"""The reconciliation page: a partner's statement naming a transfer this
registry never sent is a mismatch (its serials frozen, the administrators
told), shown on the page and resolved there, which lifts the freeze."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tonne import testing
from tonne.access.testing import stepped_up
from tonne.article6.tests.conftest import T0, World, world  # noqa: F401 - the host registry's fixture
from tonne.controls.models import Freeze
from tonne.core import clock
from tonne.linkage import reconciliation
from tonne.linkage.models import Mismatch
from tonne.linkage.tests.test_partners import SE_KEY, signed, vkey
from tonne.notifications import services as notifications
from tonne.notifications.models import Notification

pytestmark = pytest.mark.django_db
TRANSFER = "00000000-0000-4000-8000-0000000000aa"


def test_a_mismatch_shown_and_resolved(world: World) -> None:  # noqa: F811
    reg = world.reg
    testing.link_partner(reg.admin, world.approver, registry_id="SE-TONNE", party="SE", verifier_key=vkey(SE_KEY))
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(reg, world.project, {2024: 100})
    s = issuance.serial_start
    notifications.deliver()
    statement = signed({"format": "tonne-linkage-statement/1", "type": "statement", "from": "SE-TONNE",
                        "to": django_settings.TONNE_ARTICLE6_REGISTRY_ID, "at": clock.now().isoformat(),
                        "transfers": [{"transfer": TRANSFER, "direction": "received", "state": "completed",
                                       "ranges": [[s, s + 9]]}], "checkpoint": None, "consistency": None})
    reconciliation.handle_statement(statement)
    found = Mismatch.objects.get()
    assert (found.code, found.frozen) == ("RECON_TRANSFER_UNKNOWN", [[s, s + 9]])
    notifications.deliver()
    assert Notification.objects.filter(recipient=reg.admin, event="linkage_mismatch").exists()

    admin = stepped_up(reg.admin)
    assert "/workspace/linkage/reconciliation/" in admin.get("/workspace/linkage/").content.decode()
    page = admin.get("/workspace/linkage/reconciliation/").content.decode()
    assert "SE-TONNE" in page and "RECON_TRANSFER_UNKNOWN" in page and TRANSFER in page
    assert admin.post(f"/workspace/linkage/mismatches/{found.uid}/resolve/", {"reason": ""}).status_code == 302
    assert Mismatch.objects.get().state == "open"  # a reason is required
    done = admin.post(f"/workspace/linkage/mismatches/{found.uid}/resolve/", {"reason": "SE corrected its statement"})
    assert done.status_code == 302
    found.refresh_from_db()
    assert found.state == "resolved" and found.resolved_by == reg.admin
    assert Freeze.objects.get(uid=found.freezes[0]).lifted_at is not None
    assert "No open mismatch." in admin.get("/workspace/linkage/reconciliation/").content.decode()

    holder = Client()
    holder.force_login(reg.developer)
    assert holder.get("/workspace/linkage/reconciliation/").status_code in (302, 403)
