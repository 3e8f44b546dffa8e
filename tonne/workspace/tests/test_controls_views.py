"""The workspace with the registry's controls on (four-eyes, delayed
settlement, MFA and step-up): every flow through the pages, on both databases."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from tonne.access.testing import confirm_second_factor, give_totp, stepped_up
from tonne.controls.models import AccountHold, Approval, Freeze, TrustedAccount
from tonne.controls.tests.conftest import World
from tonne.core import clock
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.mrv.models import MonitoringReport
from tonne.units.models import Transaction, UnitBlock

pytestmark = [pytest.mark.django_db, pytest.mark.controls]
W = "/workspace"


def held(account) -> int:  # noqa: ANN001
    return sum(b.quantity for b in UnitBlock.objects.filter(account=account))


def move_form(w: World, **overrides: str) -> dict:
    data = {
        "from_account": w.reg.developer_account.identifier,
        "to_account": w.reg.buyer_account.identifier,
        "quantity": "100",
        "project": "",
        "vintage": "",
        "ranges": "",
        "idempotency_key": "web-ctl-1",
        "step": "preview",
    }
    data.update(overrides)
    return data


def confirm_transfer(client: Client, w: World) -> tuple[dict, object]:
    preview = client.post(W + "/transfer/", move_form(w)).content.decode()
    shown = re.findall(r'name="confirmed_range" value="([\d-]+)"', preview)
    assert shown, preview
    confirm = {**move_form(w, step="confirm"), "confirmed_range": shown}
    return confirm, client.post(W + "/transfer/", confirm, follow=True)


def carried(response) -> str:  # noqa: ANN001
    """Where the step-up sends the person back to (with their ticket)."""
    return parse_qs(urlsplit(response["Location"]).query)["next"][0]


def decide(client: Client, uid: str, decision: str, **data: str) -> str:
    return client.post(f"{W}/inbox/approvals/{uid}/{decision}/", data, follow=True).content.decode()


def test_transfer_is_approved_in_the_inbox_then_delayed_then_cancelled(world: World) -> None:
    w = world
    dev = stepped_up(w.reg.developer)
    _confirm, response = confirm_transfer(dev, w)
    body = response.content.decode()
    txn = Transaction.objects.get(kind="transfer")
    assert txn.status == "awaiting_approval" and "awaits approval by a second person" in body
    assert held(w.reg.buyer_account) == 0
    approval = Approval.objects.get(transaction=txn)
    # The initiator sees it but may not approve it: the code is shown, nothing changes.
    page = dev.get(W + "/inbox/").content.decode()
    assert approval.request_hash in page
    assert "SELF_APPROVAL_NOT_ALLOWED" in decide(dev, str(approval.uid), decision="approve", request_hash=approval.request_hash)
    # Another organisation's approver does not see it.
    assert txn.identifier not in stepped_up(w.buyer_approver).get(W + "/inbox/").content.decode()
    approver = stepped_up(w.dev_approver)
    page = approver.get(W + "/inbox/").content.decode()
    assert txn.identifier in page and approval.request_hash in page
    assert w.reg.developer_account.identifier in page and w.reg.buyer_account.identifier in page
    ranges = re.search(r"(\d+)–(\d+)", page)
    assert ranges is not None or "CI-VER-" in page
    # The approval is bound to the hash shown: another one approves nothing.
    assert "APPROVAL_HASH_MISMATCH" in decide(approver, str(approval.uid), decision="approve", request_hash="0" * 64)
    assert Approval.objects.get(pk=approval.pk).status == "pending"
    decide(approver, str(approval.uid), decision="approve", request_hash=approval.request_hash)
    txn.refresh_from_db()
    assert txn.status == "delayed" and held(w.reg.buyer_account) == 0
    detail = dev.get(f"{W}/transactions/{txn.identifier}/").content.decode()
    assert "Delayed settlement" in detail and 'id="cancel-transaction"' in detail
    assert 'id="cancel-confirm"' in detail  # the sender confirms before cancelling
    assert "unless the transaction is cancelled" in detail
    # The receiving holder sees the incoming transfer, and no Cancel it could not use.
    incoming = stepped_up(w.reg.buyer).get(f"{W}/transactions/{txn.identifier}/").content.decode()
    assert "Delayed settlement" in incoming and "cancel-transaction" not in incoming
    listed = stepped_up(w.reg.buyer).get(W + "/transactions/").content.decode()
    assert txn.identifier in listed and f"/transactions/{txn.identifier}/cancel/" not in listed
    assert f"/transactions/{txn.identifier}/cancel/" in dev.get(W + "/transactions/").content.decode()
    # Cancel until executed; then nothing is waiting any more.
    body = dev.post(f"{W}/transactions/{txn.identifier}/cancel/", follow=True).content.decode()
    txn.refresh_from_db()
    assert txn.status == "cancelled" and "was cancelled" in body
    body = dev.post(f"{W}/transactions/{txn.identifier}/cancel/", follow=True).content.decode()
    assert "TRANSACTION_NOT_WAITING" in body
    assert held(w.reg.buyer_account) == 0
    # A cancelled transaction moved nothing, and says so without an empty table.
    assert "Serial ranges moved" not in body and "No units moved in this transaction." in body


def test_rejection_needs_a_reason(world: World) -> None:
    w = world
    confirm_transfer(stepped_up(w.reg.developer), w)
    approval = Approval.objects.get(action="transfer")
    approver = stepped_up(w.dev_approver)
    assert "REASON_REQUIRED" in decide(approver, str(approval.uid), decision="reject", reason="")
    decide(approver, str(approval.uid), decision="reject", reason="Wrong buyer")
    assert Transaction.objects.get(kind="transfer").status == "rejected"


def test_step_up_sends_to_reauthentication_and_back_to_carry_out_the_confirmation(world: World) -> None:
    w = world
    give_totp(w.reg.developer)
    dev = Client()
    dev.force_login(w.reg.developer)
    confirm_second_factor(dev, w.reg.developer, at=clock.now().timestamp() - 3600)  # an hour ago: too old
    preview = dev.post(W + "/transfer/", move_form(w)).content.decode()
    shown = re.findall(r'name="confirmed_range" value="([\d-]+)"', preview)
    response = dev.post(W + "/transfer/", {**move_form(w, step="confirm"), "confirmed_range": shown})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/reauthenticate/?next=%2Fworkspace%2Ftransfer%2F%3Fresume%3D")
    assert not Transaction.objects.filter(kind="transfer").exists()
    # Back with a fresh second factor: the confirmed ranges are moved (once, under the form's key).
    confirm_second_factor(dev, w.reg.developer)
    done = dev.get(carried(response))
    txn = Transaction.objects.get(kind="transfer")
    assert done["Location"] == f"{W}/transactions/{txn.identifier}/" and txn.idempotency_key.endswith("web-ctl-1")
    assert dev.get(carried(response))["Location"] == W + "/transfer/"  # used: nothing more
    assert Transaction.objects.filter(kind="transfer").count() == 1
    # Approving from the inbox needs it too.
    confirm_transfer(stepped_up(w.reg.developer), w)
    approval = Approval.objects.get(action="transfer")
    approver = Client()
    approver.force_login(w.dev_approver)
    give_totp(w.dev_approver)
    response = approver.post(f"{W}/inbox/approvals/{approval.uid}/approve/", {"request_hash": approval.request_hash})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/reauthenticate/?next=")
    assert Approval.objects.get(pk=approval.pk).status == "pending"


def test_without_a_second_factor_the_pages_send_to_setup(world: World) -> None:
    dev = Client()
    dev.force_login(world.reg.developer)
    response = dev.get(W + "/transfer/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/")


def test_account_page_shows_controls_and_trusted_list_goes_through_four_eyes(world: World, settings) -> None:  # noqa: ANN001
    w = world
    settings.TONNE_FOUR_EYES = settings.TONNE_FOUR_EYES | {"trusted_list"}
    dev = stepped_up(w.reg.developer)
    url = f"{W}/accounts/{w.reg.developer_account.identifier}/"
    page = dev.get(url).content.decode()
    assert "Controls on this account" in page and "No trusted accounts." in page
    body = dev.post(url + "trusted/", {"trusted": w.reg.buyer_account.identifier}, follow=True).content.decode()
    assert "awaits approval" in body
    approval = Approval.objects.get(action="trusted_add")
    approver = stepped_up(w.dev_approver)
    assert approval.request_hash in approver.get(W + "/inbox/").content.decode()
    decide(approver, str(approval.uid), decision="approve", request_hash=approval.request_hash)
    entry = TrustedAccount.objects.get(account=w.reg.developer_account)
    assert entry.effective_at > clock.now()
    page = dev.get(url).content.decode()
    assert w.reg.buyer_account.identifier in page and "trusted from" in page
    dev.post(url + "trusted/", {"remove": w.reg.buyer_account.identifier})
    assert TrustedAccount.objects.get(pk=entry.pk).removed_at is not None
    # The kill switch and an overdue KYC review are shown plainly.
    from tonne.controls.models import RegistrySwitch
    from tonne.kyc.models import KycProfile

    RegistrySwitch.objects.update_or_create(pk=1, defaults={"transfers_suspended": True})
    KycProfile.objects.filter(organisation=w.reg.developer_org).update(review_due=dt.date(2026, 1, 1))
    page = dev.get(url).content.decode()
    assert 'id="kill-switch"' in page and 'id="kyc-overdue"' in page
    # So are a monitoring hold and the freezes that bind the account's units, not others'.
    assert 'id="aml-hold"' not in page
    AccountHold.objects.create(account=w.reg.developer_account, alert_id=1, rule="velocity", created_at=clock.now())
    for account, reason in ((w.reg.developer_account, "Court order 17"), (w.reg.buyer_account, "Court order 18")):
        Freeze.objects.create(
            uid=uuid.uuid4(), scope="account", account=account, reason=reason, created_by=w.reg.admin, created_at=clock.now()
        )
    page = dev.get(url).content.decode()
    assert 'id="aml-hold"' in page and "Court order 17" in page and "Court order 18" not in page


def test_issuance_in_the_inbox_needs_a_second_administrator(world: World) -> None:
    w = world
    report = mrv.submit_report(
        actor=w.reg.developer, project=w.project, period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 12, 31),
        vintages=[{"vintage": 2025, "quantity": 300}], vvb=str(w.reg.vvb_org.uid),
    )
    mrv_verification.accept_assignment(actor=w.reg.vvb, report=report, no_conflict_of_interest=True)
    mrv.verify_report(actor=w.reg.vvb, report=report, verified=[{"vintage": 2025, "quantity": 300}])
    admin = stepped_up(w.reg.admin)
    assert "Request issuance" in admin.get(W + "/inbox/").content.decode()
    admin.post(f"{W}/inbox/issuances/{report.uid}/approve/", {})
    approval = Approval.objects.get(action="issuance")
    report.refresh_from_db()
    assert report.status == MonitoringReport.Status.VERIFIED  # nothing issued by one person
    assert "SELF_APPROVAL_NOT_ALLOWED" in decide(admin, str(approval.uid), decision="approve", request_hash=approval.request_hash)
    second = stepped_up(w.admin_approver)
    page = second.get(W + "/inbox/").content.decode()
    assert approval.request_hash in page and "Vintage 2025" in page
    decide(second, str(approval.uid), decision="approve", request_hash=approval.request_hash)
    report.refresh_from_db()
    assert report.status != MonitoringReport.Status.VERIFIED


def test_retirement_awaits_approval_and_settles_once_approved(world: World) -> None:
    w = world
    dev = stepped_up(w.reg.developer)
    form = move_form(w, quantity="40", beneficiary="Abidjan city council", purpose="voluntary", jurisdiction="CI",
                     reason="2024 footprint", idempotency_key="web-ctl-ret")
    form.pop("to_account")
    shown = re.findall(r'name="confirmed_range" value="([\d-]+)"', dev.post(W + "/retire/", form).content.decode())
    body = dev.post(W + "/retire/", {**form, "step": "confirm", "confirmed_range": shown}, follow=True).content.decode()
    txn = Transaction.objects.get(kind="retirement")
    assert txn.status == "awaiting_approval" and "awaits approval" in body
    assert "certificate-link" not in body  # no certificate before the retirement is completed
    approval = Approval.objects.get(transaction=txn)
    approver = stepped_up(w.dev_approver)
    page = approver.get(W + "/inbox/").content.decode()
    assert "Abidjan city council" in page and approval.request_hash in page
    said = decide(approver, str(approval.uid), decision="approve", request_hash=approval.request_hash)
    assert re.search(rf"Approved: [^<]*{txn.identifier}", said) and str(approval.uid) not in said  # words, not a raw id
    txn.refresh_from_db()
    assert txn.status == "completed"  # retirements wait for no settlement delay
    assert "certificate-link" in dev.get(f"{W}/transactions/{txn.identifier}/").content.decode()
    assert held(w.reg.developer_account) == 10_000 - 40


def test_representative_changes_from_the_organisation_page_wait_for_a_second_person(world: World) -> None:
    from tonne import testing
    from tonne.organisations.models import User

    w = world
    page = f"{W}/organisations/{w.reg.developer_org.uid}/"
    admin = stepped_up(w.reg.developer)
    added = admin.post(page + "users/", {"username": "web-initiator", "email": "wi@example.org",
                              "password": testing.PASSWORD, "role": "initiator"}, follow=True)
    assert "can sign in once another administrator or approver" in added.content.decode()
    assert not User.objects.get(username="web-initiator").is_active
    changed = admin.post(page + "members/", {"username": w.dev_approver.username, "role": "viewer",
                                "is_active": "on"}, follow=True)
    body = changed.content.decode()
    assert "waits for another administrator or approver" in body and "change waiting for approval" in body
    w.dev_approver.refresh_from_db()
    assert w.dev_approver.role == "approver"
    # The approver sees both in the inbox; the request they approve is the one shown.
    inbox = stepped_up(w.dev_approver).get(f"{W}/inbox/").content.decode()
    assert "Change the authorised representative web-initiator" in inbox
    approval = Approval.objects.get(action="representative_change", payload__username="web-initiator")
    assert approval.request_hash in inbox
