"""The partner list: who may send units here. Added and changed by two
administrators, in force after the delay; nothing accepted from a key or a
registry not on it (forged, unknown, suspended, removed, retired); key
rotation with an overlap. Each attack kept as a test."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tonne import testing
from tonne.access.testing import stepped_up
from tonne.article6 import international
from tonne.article6.models import ImportedRange, InternationalTransfer
from tonne.article6.tests.test_attacks_file import payload
from tonne.controls import services as controls
from tonne.controls.models import Approval
from tonne.core import clock
from tonne.core.canonical import canonical_json
from tonne.core.errors import RegistryError
from tonne.core.tests.test_api_core import assert_problem, get, post
from tonne.ledger import keys
from tonne.ledger.checkpoint import generate_private_key, sign_note, verifier_key, verify_note
from tonne.ledger.models import LedgerEntry
from tonne.ledger.verify import verify_ledger
from tonne.linkage import receiving
from tonne.linkage import services as linkage
from tonne.linkage.models import Partner
from tonne.organisations.models import User
from tonne.units.models import UnitBlock

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)  # a Tuesday
SE_KEY, SE_NEXT, STRANGER = generate_private_key(), generate_private_key(), generate_private_key()


def vkey(key: Any, name: str = "se-tonne") -> str:
    return verifier_key(name, key.public_key())


def signed(data: dict[str, Any], key: Any = SE_KEY, name: str = "se-tonne") -> str:
    return sign_note(canonical_json(data).decode("utf-8") + "\n", name, key)


@pytest.fixture
def reg(registry: testing.Registry, settings: Any) -> testing.Registry:
    settings.TONNE_TRUSTED_DELAY_WORKING_DAYS = 4
    clock.freeze(T0)
    registry.extra["approver"] = testing.make_user(registry.government, "link-approver", User.Role.APPROVER,
                                                   actor=registry.root)
    return registry


def approve(reg: testing.Registry, approval: Approval) -> None:
    controls.approve(actor=reg.extra["approver"], uid=approval.uid, request_hash=approval.request_hash)


def refused(code: str, call: Any) -> None:
    units = list(UnitBlock.objects.values_list("serial_start", "serial_end", "account_id"))
    with pytest.raises(RegistryError) as exc:
        call()
    assert exc.value.code == code, exc.value.message
    assert units == list(UnitBlock.objects.values_list("serial_start", "serial_end", "account_id"))
    assert not ImportedRange.objects.exists()


def receive(reg: testing.Registry, note: str, **kw: Any) -> Any:
    return international.import_transfer(actor=reg.admin, signed=note, **kw)


def test_a_partner_needs_two_administrators_and_the_delay(reg: testing.Registry) -> None:
    note = signed(payload(reg))
    refused("PARTNER_KEY_UNKNOWN", lambda: receive(reg, note))  # not on the list: nothing accepted
    approval = linkage.request_partner(actor=reg.admin, registry_id="se-tonne", party="se",
                                       endpoint="https://registry.se.example/", verifier_key=vkey(SE_KEY))
    assert not Partner.objects.exists()
    with pytest.raises(RegistryError) as alone:
        controls.approve(actor=reg.admin, uid=approval.uid, request_hash=approval.request_hash)
    assert alone.value.code == "SELF_APPROVAL_NOT_ALLOWED"
    with pytest.raises(RegistryError) as handler:  # nor the handler without the approval
        linkage.carry_out_addition(approval, reg.admin)
    assert handler.value.code == "FOUR_EYES_REQUIRED" and not Partner.objects.exists()
    approve(reg, approval)
    partner = Partner.objects.get()
    assert (partner.registry_id, partner.party, partner.endpoint) == ("SE-TONNE", "SE", "https://registry.se.example")
    assert partner.effective_at > T0 and partner.approved_by == reg.extra["approver"]
    refused("PARTNER_NOT_IN_FORCE", lambda: receive(reg, note))
    clock.freeze(partner.effective_at)
    received = receive(reg, signed(payload(reg)))
    assert isinstance(received, InternationalTransfer) and received.origin_registry == "SE-TONNE"
    kinds = set(LedgerEntry.objects.values_list("kind", flat=True))
    assert {"linkage.partner_added", "article6.transfer_received"} <= kinds
    assert verify_ledger().ok


def test_the_list_refuses_bad_terms(reg: testing.Registry) -> None:
    good = {"registry_id": "SE-TONNE", "party": "SE", "endpoint": "https://se.example", "verifier_key": vkey(SE_KEY)}
    for change, code in [
        ({"endpoint": "http://se.example"}, "PARTNER_ENDPOINT_INVALID"),  # plain http abroad
        ({"endpoint": "https://user:pw@se.example"}, "PARTNER_ENDPOINT_INVALID"),
        ({"endpoint": "https://se.example/" + "x" * 300}, "PARTNER_ENDPOINT_INVALID"),
        ({"party": "XX"}, "PARTY_INVALID"),
        ({"party": django_settings.TONNE_COUNTRY}, "PARTNER_IS_THIS_REGISTRY"),
        ({"registry_id": "SE TONNE"}, "PARTNER_REGISTRY_INVALID"),
        ({"registry_id": "S" * 101}, "PARTNER_REGISTRY_INVALID"),
        ({"verifier_key": "se-tonne+00000000+AAAA"}, "PARTNER_KEY_INVALID"),
        ({"verifier_key": "x" * 301}, "PARTNER_KEY_INVALID"),
    ]:
        with pytest.raises(RegistryError) as exc:
            linkage.request_partner(actor=reg.admin, **{**good, **change})
        assert exc.value.code == code, change
    with pytest.raises(RegistryError) as exc:
        linkage.request_partner(actor=reg.developer, **good)
    assert exc.value.code == "NOT_REGISTRY_ADMINISTRATOR"
    assert linkage.request_partner(actor=reg.admin, **{**good, "endpoint": "http://127.0.0.1:8001"})
    with pytest.raises(RegistryError) as exc:
        linkage.request_partner(actor=reg.admin, **good)
    assert exc.value.code == "PARTNER_CHANGE_PENDING"
    assert not Partner.objects.exists()


def test_forged_unknown_and_misattributed_files_are_refused(reg: testing.Registry) -> None:
    testing.link_partner(reg.admin, reg.extra["approver"], registry_id="SE-TONNE", party="SE", verifier_key=vkey(SE_KEY))
    testing.link_partner(reg.admin, reg.extra["approver"], registry_id="NO-TONNE", party="NO",
                         verifier_key=vkey(STRANGER, "no-tonne"))
    data = payload(reg)
    # The partner's key name, another key: its key id differs, so it is no key of the list.
    refused("PARTNER_KEY_UNKNOWN", lambda: receive(reg, signed(data, generate_private_key())))
    # The partner's key id pasted on a signature by another key: the signature does not verify.
    forged = signed(data, STRANGER)
    theirs = signed(data).rsplit(" ", 1)[1]
    forged = forged.rsplit(" ", 1)[0] + " " + theirs[:6] + forged.rsplit(" ", 1)[1][6:]  # SE's key id, NO's signature
    refused("TRANSFER_SIGNATURE_INVALID", lambda: receive(reg, forged))
    # Signed by SE, then changed: the signature breaks.
    tampered = signed(data).replace('"quantity":25', '"quantity":26', 1)
    refused("TRANSFER_SIGNATURE_INVALID", lambda: receive(reg, tampered))
    # NO signs a file that says it comes from SE.
    refused("TRANSFER_SENDER_MISMATCH", lambda: receive(reg, signed(data, STRANGER, "no-tonne")))
    # The administrator names another key than the partner's that signed.
    refused("PARTNER_KEY_UNKNOWN", lambda: receive(reg, signed(data), verifier_key=vkey(STRANGER, "no-tonne")))
    refused("TRANSFER_SIGNATURE_INVALID", lambda: receive(reg, "not a note"))
    assert isinstance(receive(reg, signed(data), verifier_key=vkey(SE_KEY)), InternationalTransfer)


def test_suspended_and_removed_partners_send_nothing(reg: testing.Registry) -> None:
    testing.link_partner(reg.admin, reg.extra["approver"], registry_id="SE-TONNE", party="SE", verifier_key=vkey(SE_KEY))
    linkage.suspend(actor=reg.admin, registry_id="SE-TONNE", reason="Investigation")  # at once, one person
    refused("PARTNER_SUSPENDED", lambda: receive(reg, signed(payload(reg))))
    approval = linkage.request_change(actor=reg.admin, registry_id="SE-TONNE", reinstate=True)
    approve(reg, approval)
    partner = Partner.objects.get()
    assert partner.status == "active" and partner.effective_at > clock.now()  # the delay again
    refused("PARTNER_NOT_IN_FORCE", lambda: receive(reg, signed(payload(reg))))
    clock.freeze(partner.effective_at)
    assert isinstance(receive(reg, signed(payload(reg, start=100))), InternationalTransfer)
    linkage.remove(actor=reg.admin, registry_id="SE-TONNE", reason="Link ended")
    with pytest.raises(RegistryError) as exc:
        receive(reg, signed(payload(reg, start=900)))
    assert exc.value.code == "PARTNER_REMOVED"
    for call in (lambda: linkage.request_change(actor=reg.admin, registry_id="SE-TONNE", reinstate=True),
                 lambda: linkage.request_key(actor=reg.admin, registry_id="SE-TONNE", verifier_key=vkey(SE_NEXT))):
        with pytest.raises(RegistryError) as exc:
            call()
        assert exc.value.code in ("PARTNER_REMOVED", "PARTNER_NOT_SUSPENDED")
    kinds = list(LedgerEntry.objects.filter(kind__startswith="linkage.").values_list("kind", flat=True))
    assert kinds == ["linkage.partner_added", "linkage.partner_suspended", "linkage.partner_changed",
                     "linkage.partner_removed"]
    assert verify_ledger().ok


def test_a_partner_removed_while_an_import_waits_for_approval_creates_nothing(reg: testing.Registry, settings: Any) -> None:
    settings.TONNE_FOUR_EYES = frozenset({"import"})
    testing.link_partner(reg.admin, reg.extra["approver"], registry_id="SE-TONNE", party="SE", verifier_key=vkey(SE_KEY))
    approval = receive(reg, signed(payload(reg)))
    assert isinstance(approval, Approval)
    linkage.remove(actor=reg.admin, registry_id="SE-TONNE", reason="Compromised key")
    refused("PARTNER_REMOVED", lambda: approve(reg, approval))
    assert not InternationalTransfer.objects.exists()


def test_key_rotation_with_an_overlap(reg: testing.Registry) -> None:
    testing.link_partner(reg.admin, reg.extra["approver"], registry_id="SE-TONNE", party="SE", verifier_key=vkey(SE_KEY))
    approval = linkage.request_key(actor=reg.admin, registry_id="SE-TONNE", verifier_key=vkey(SE_NEXT))
    refused("PARTNER_KEY_UNKNOWN", lambda: receive(reg, signed(payload(reg), SE_NEXT)))  # not approved yet
    approve(reg, approval)
    new = Partner.objects.get().keys.get(verifier_key=vkey(SE_NEXT))
    refused("PARTNER_KEY_NOT_IN_FORCE", lambda: receive(reg, signed(payload(reg), SE_NEXT)))  # the delay
    clock.freeze(new.valid_from)
    # The overlap: both keys accepted.
    assert isinstance(receive(reg, signed(payload(reg, start=100), SE_KEY)), InternationalTransfer)
    assert isinstance(receive(reg, signed(payload(reg, start=200), SE_NEXT)), InternationalTransfer)
    with pytest.raises(RegistryError) as exc:
        linkage.retire_key(actor=reg.admin, registry_id="SE-TONNE", verifier_key=vkey(SE_KEY),
                           at=clock.now() - dt.timedelta(minutes=1))
    assert exc.value.code == "KEY_RETIREMENT_IN_PAST"
    linkage.retire_key(actor=reg.admin, registry_id="SE-TONNE", verifier_key=vkey(SE_KEY),
                       at=clock.now() + dt.timedelta(days=1))
    assert isinstance(receive(reg, signed(payload(reg, start=300), SE_KEY)), InternationalTransfer)
    clock.freeze(clock.now() + dt.timedelta(days=1))
    refused_at = ImportedRange.objects.count()
    with pytest.raises(RegistryError) as exc:
        receive(reg, signed(payload(reg, start=400), SE_KEY))
    assert exc.value.code == "PARTNER_KEY_NOT_IN_FORCE" and ImportedRange.objects.count() == refused_at
    assert isinstance(receive(reg, signed(payload(reg, start=500), SE_NEXT)), InternationalTransfer)
    assert verify_ledger().ok


def test_the_partner_list_over_http(reg: testing.Registry) -> None:
    admin = stepped_up(reg.admin)
    body = {"registry_id": "SE-TONNE", "party": "SE", "endpoint": "https://se.example", "verifier_key": vkey(SE_KEY)}
    assert_problem(post(stepped_up(reg.developer), "/linkage/partners", body), 403, "NOT_REGISTRY_ADMINISTRATOR")
    assert_problem(post(admin, "/linkage/partners", {**body, "party": "ZZ"}), 422, "PARTY_INVALID")
    asked = post(admin, "/linkage/partners", body)
    assert asked.status_code == 202, asked.content
    approval = Approval.objects.get(uid=asked.json()["approval"])
    approve(reg, approval)
    (listed,) = get(admin, "/linkage/partners").json()
    assert (listed["registry_id"], listed["state"], listed["keys"][0]["in_force"]) == ("SE-TONNE", "pending", False)
    done = post(admin, "/linkage/partners/SE-TONNE/suspend", {"reason": "Audit"})
    assert done.status_code == 200 and done.json()["state"] == "suspended"
    assert_problem(post(admin, "/linkage/partners/NO-TONNE/remove", {"reason": "x"}), 404, "PARTNER_NOT_FOUND")


def test_a_proposed_transfer_is_checked_and_answered_creating_nothing(reg: testing.Registry) -> None:
    testing.link_partner(reg.admin, reg.extra["approver"], registry_id="SE-TONNE", party="SE", verifier_key=vkey(SE_KEY))
    data = payload(reg)
    before = (list(UnitBlock.objects.values_list("pk", flat=True)), InternationalTransfer.objects.count())
    answer = linkage.check_proposal(signed(data))
    assert (answer["answer"], answer["code"], answer["transfer"]) == ("accept", None, data["transfer"])
    assert json.loads(verify_note(answer["note"], keys.verifier_key_text()))["answer"] == "accept"  # signed by us
    assert before == (list(UnitBlock.objects.values_list("pk", flat=True)), InternationalTransfer.objects.count())
    # Over HTTP, by anyone holding the partner's signed file; the same answer.
    got = post(Client(), "/linkage/check", {"signed_file": signed(data)})
    assert got.status_code == 200 and got.json()["answer"] == "accept", got.content
    # Rejections carry the import's code, signed too.
    controls.freeze(actor=reg.admin, scope="account", account=reg.buyer_account.identifier, reason="Investigation")
    assert linkage.check_proposal(signed(data))["code"] == "ACCOUNT_FROZEN"
    bad = payload(reg)
    bad["blocks"][0]["unit_class"] = "foo bar baz qux"
    rejected = linkage.check_proposal(signed(bad))
    assert (rejected["answer"], rejected["code"], rejected["field"]) == ("reject", "TRANSFER_FIELD_TOO_LONG",
                                                                        "blocks[0].unit_class")
    assert json.loads(verify_note(rejected["note"], keys.verifier_key_text()))["code"] == "TRANSFER_FIELD_TOO_LONG"
    # A stranger gets no signed answer.
    assert_problem(post(Client(), "/linkage/check", {"signed_file": signed(data, STRANGER)}), 422, "PARTNER_KEY_UNKNOWN")
    assert before == (list(UnitBlock.objects.values_list("pk", flat=True)), InternationalTransfer.objects.count())


def message(kind: str, data: dict[str, Any], *, file: str | None = None, reason: str | None = None) -> str:
    body = {"format": "tonne-linkage/1", "type": kind, "transfer": data["transfer"], "from": "SE-TONNE",
            "to": django_settings.TONNE_ARTICLE6_REGISTRY_ID, "at": clock.now().isoformat(), "file": file,
            "reason": reason}
    return signed(body)


def state_of(note: str) -> tuple[str, str | None]:
    body = json.loads(verify_note(note, keys.verifier_key_text()))
    return body["state"], body["code"]


def test_the_receiver_creates_only_on_completion_after_two_people_accepted(reg: testing.Registry, settings: Any) -> None:
    settings.TONNE_FOUR_EYES = frozenset({"import"})
    testing.link_partner(reg.admin, reg.extra["approver"], registry_id="SE-TONNE", party="SE", verifier_key=vkey(SE_KEY))
    data = payload(reg)
    file = signed(data)
    assert state_of(receiving.handle(message("complete", data, file=file))) == ("unknown", "TRANSFER_UNKNOWN")
    assert state_of(receiving.handle(message("proposal", data, file=file))) == ("checked", None)
    assert state_of(receiving.handle(message("proposal", data, file=file))) == ("checked", None)  # a replay
    other = signed(payload(reg, start=9001))  # another file under the same transfer id
    assert state_of(receiving.handle(message("proposal", data, file=other))) == ("checked", "PROPOSAL_DIFFERS")
    assert state_of(receiving.handle(message("complete", data, file=file))) == ("checked", "TRANSFER_NOT_ACCEPTED")
    approval = receiving.accept(actor=reg.admin, registry_id="SE-TONNE", transfer=data["transfer"])
    assert isinstance(approval, Approval)  # four-eyes: one administrator accepts nothing alone
    with pytest.raises(RegistryError) as alone:
        controls.approve(actor=reg.admin, uid=approval.uid, request_hash=approval.request_hash)
    assert alone.value.code == "SELF_APPROVAL_NOT_ALLOWED"
    approve(reg, approval)
    assert state_of(receiving.handle(message("proposal", data, file=file))) == ("accepted", None)
    assert not ImportedRange.objects.exists()  # accepted, nothing created yet
    # A completion carrying another partner's file for these serials: refused, nothing created.
    testing.link_partner(reg.admin, reg.extra["approver"], registry_id="NO-TONNE", party="NO",
                         verifier_key=vkey(STRANGER, "no-tonne"))
    theirs = signed({**data, "origin_registry": "NO-TONNE", "origin_party": "NO"}, STRANGER, "no-tonne")
    assert state_of(receiving.handle(message("complete", data, file=theirs))) == ("accepted", "PROPOSAL_DIFFERS")
    assert not ImportedRange.objects.exists()
    assert state_of(receiving.handle(message("complete", data, file=file))) == ("completed", None)
    assert state_of(receiving.handle(message("complete", data, file=file))) == ("completed", None)  # once
    assert ImportedRange.objects.count() == 1
    # Too late to cancel: it says so and changes nothing.
    assert state_of(receiving.handle(message("cancel", data, reason="TIMEOUT"))) == ("completed", None)
    # Cancelled after acceptance: closed for good, a late completion creates nothing.
    later_data = payload(reg, start=500)
    later_file = signed(later_data)
    receiving.handle(message("proposal", later_data, file=later_file))
    approve(reg, receiving.accept(actor=reg.admin, registry_id="SE-TONNE", transfer=later_data["transfer"]))
    assert state_of(receiving.handle(message("cancel", later_data, reason="TIMEOUT"))) == ("closed", "TIMEOUT")
    assert state_of(receiving.handle(message("complete", later_data, file=later_file))) == (
        "closed", "TRANSFER_NOT_ACCEPTED")
    assert ImportedRange.objects.count() == 1
    kinds = list(LedgerEntry.objects.filter(kind__startswith="linkage.transfer").values_list("kind", flat=True))
    assert kinds == ["linkage.transfer_completed", "linkage.transfer_closed"]
    assert verify_ledger().ok

