"""Attacks with the transfer file's content (issue: a file was taken as data
once its signature verified): each named for the attack, refused with a
stable code and nothing written; and received units keep their identity.
Run on SQLite and PostgreSQL like the rest of the suite."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from tonne import testing
from tonne.access.testing import stepped_up
from tonne.article6 import international
from tonne.article6.models import ImportedRange, InternationalTransfer
from tonne.core import clock
from tonne.core.canonical import canonical_json
from tonne.core.errors import RegistryError
from tonne.core.tests.test_api_core import assert_problem, post
from tonne.ledger.checkpoint import generate_private_key, sign_note, verifier_key
from tonne.ledger.verify import verify_ledger
from tonne.organisations.models import User
from tonne.projects.models import Project
from tonne.units.models import Issuance, UnitBlock

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)
# The partner registries that send here, each with its own signing key.
SENDERS = {"SE-TONNE": ("SE", generate_private_key()), "NO-TONNE": ("NO", generate_private_key())}


def vkey(sender: str = "SE-TONNE") -> str:
    return verifier_key(sender.lower(), SENDERS[sender][1].public_key())


@pytest.fixture
def reg(registry: testing.Registry, settings: Any) -> testing.Registry:
    settings.TONNE_FOUR_EYES = frozenset()
    clock.freeze(T0)
    approver = testing.make_user(registry.government, "a6-approver", User.Role.APPROVER, actor=registry.root)
    for sender, (party, _) in SENDERS.items():
        testing.link_partner(registry.admin, approver, registry_id=sender, party=party, verifier_key=vkey(sender))
    return registry


def payload(reg: testing.Registry, start: int = 7001, quantity: int = 25, *, sender: str = "SE-TONNE",
            project_id: str = "SE-0001", unit_class: str = "VER", itmo_start: int | None = None) -> dict[str, Any]:
    end, lo = start + quantity - 1, itmo_start or start
    block = {
        "serial_start": start, "serial_end": end, "quantity": quantity, "serial": f"SE-{start}-{end}", "vintage": 2024,
        "unit_class": unit_class, "itmo_id": f"SE-CI:SE-TONNE:SE:{lo}-{lo + quantity - 1}:2024",
        "mitigation_type": "Emission reductions", "monitoring_period": {"start": "2024-03-01", "end": "2024-08-31"},
        "project": {"project_id": project_id, "name": "Swedish wind", "host_party": "SE", "sectoral_scope": 1,
                    "unit_type": "Avoidance - technical", "sectors": [], "types": []},
        "authorisation": {"identifier": "SE-A6-1", "cooperative_approach": "SE-CI", "authorising_party": "SE",
                          "first_transfer_definition": "first_international_transfer", "version": 1,
                          "authorisation_date": "2026-01-01", "purposes": "NDC", "oimp_purposes": "",
                          "acquiring_parties": [django_settings.TONNE_COUNTRY], "letter_sha256": None,
                          "originating_registry": "SE-TONNE"},
        "first_transfer": {"at": "2026-03-01T10:00:00+00:00", "definition": "first_international_transfer",
                           "acquiring_party": django_settings.TONNE_COUNTRY},
    }
    return {"format": international.FORMAT, "transfer": str(uuid.uuid4()), "created_at": clock.now(),
            "origin_registry": sender, "origin_party": "SE" if sender == "SE-TONNE" else "NO",
            "destination_registry": django_settings.TONNE_ARTICLE6_REGISTRY_ID,
            "destination_party": django_settings.TONNE_COUNTRY, "destination_account": reg.buyer_account.identifier,
            "transaction": "TX-SE-1", "ledger_seq": 1, "quantity": quantity, "blocks": [block]}


def signed(data: dict[str, Any]) -> str:
    """Signed by the registry it says it comes from (or SE's, if that is not a partner)."""
    sender = data.get("origin_registry") if data.get("origin_registry") in SENDERS else "SE-TONNE"
    return sign_note(canonical_json(data).decode("utf-8") + "\n", sender.lower(), SENDERS[sender][1])


def receive(reg: testing.Registry, data: dict[str, Any]) -> Any:
    return international.import_transfer(actor=reg.admin, signed=signed(data))


def state() -> tuple[Any, ...]:
    return (list(UnitBlock.objects.values_list("serial_start", "serial_end", "account_id")),
            InternationalTransfer.objects.count(), ImportedRange.objects.count(), Project.objects.count())


def refused(reg: testing.Registry, change: Callable[[dict[str, Any]], Any], code: str, field: str | None = None) -> None:
    data = payload(reg)
    change(data)
    before = state()
    with pytest.raises(RegistryError) as exc:
        receive(reg, data)
    assert exc.value.code == code, exc.value.message
    if field is not None:
        assert exc.value.field == field
    assert state() == before


def block(data: dict[str, Any]) -> dict[str, Any]:
    return data["blocks"][0]


def test_class_foo_bar_baz_qux_is_refused_not_cut(reg: testing.Registry) -> None:
    refused(reg, lambda d: block(d).update(unit_class="foo bar baz qux"), "TRANSFER_FIELD_TOO_LONG", "blocks[0].unit_class")
    refused(reg, lambda d: block(d).update(unit_class=""), "TRANSFER_FIELD_EMPTY", "blocks[0].unit_class")
    refused(reg, lambda d: block(d).update(unit_class="ver x"), "TRANSFER_FIELD_INVALID", "blocks[0].unit_class")


def test_empty_project_reference_is_refused(reg: testing.Registry) -> None:
    refused(reg, lambda d: block(d)["project"].update(project_id=""), "TRANSFER_FIELD_EMPTY", "blocks[0].project.project_id")


def test_a_120_character_id_is_refused_not_cut(reg: testing.Registry) -> None:
    long = "A" * 120
    refused(reg, lambda d: block(d)["authorisation"].update(identifier=long), "TRANSFER_FIELD_TOO_LONG")
    refused(reg, lambda d: block(d)["project"].update(project_id=long), "TRANSFER_FIELD_TOO_LONG")
    refused(reg, lambda d: block(d).update(serial="S" * 201), "TRANSFER_FIELD_TOO_LONG")


def test_host_party_foo_is_refused(reg: testing.Registry) -> None:
    refused(reg, lambda d: block(d)["project"].update(host_party="foo"), "TRANSFER_FIELD_TOO_LONG")
    refused(reg, lambda d: block(d)["project"].update(host_party="QQ"), "TRANSFER_FIELD_INVALID")
    refused(reg, lambda d: d.update(origin_registry=""), "TRANSFER_FIELD_EMPTY", "origin_registry")


def test_a_negative_amount_is_refused(reg: testing.Registry) -> None:
    refused(reg, lambda d: d.update(quantity=-5), "TRANSFER_FIELD_OUT_OF_RANGE", "quantity")
    refused(reg, lambda d: block(d).update(serial_end=block(d)["serial_start"] - 10), "TRANSFER_FIELD_OUT_OF_RANGE")
    refused(reg, lambda d: block(d).update(serial_start=-3), "TRANSFER_FIELD_OUT_OF_RANGE")


def test_a_non_uuid_transfer_id_is_refused(reg: testing.Registry) -> None:
    refused(reg, lambda d: d.update(transfer="transfer-1"), "TRANSFER_FIELD_INVALID", "transfer")


def test_an_empty_block_list_is_refused(reg: testing.Registry) -> None:
    refused(reg, lambda d: d.update(blocks=[]), "TRANSFER_FIELD_EMPTY", "blocks")


@pytest.mark.parametrize("path", ["transfer", "destination_party", "blocks[0].project", "blocks[0].project.host_party",
                                  "blocks[0].serial_end", "blocks[0].vintage"])
def test_a_missing_field_is_refused_not_a_crash(reg: testing.Registry, path: str) -> None:
    def drop(d: dict[str, Any]) -> None:
        *parents, last = path.replace("[0]", ".0").split(".")
        target: Any = d
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        del target[last]

    refused(reg, drop, "TRANSFER_FIELD_MISSING", path)


def test_the_same_serials_under_a_new_transfer_id_are_refused(reg: testing.Registry) -> None:
    receive(reg, payload(reg))
    again = payload(reg, start=7010, quantity=5)  # part of them, new transfer id, and (forged) new ITMO serials
    again["blocks"][0]["itmo_id"] = "SE-CI:SE-TONNE:SE:9010-9014:2024"
    before = state()
    with pytest.raises(RegistryError) as exc:
        receive(reg, again)
    assert exc.value.code == "ORIGIN_SERIALS_ALREADY_IMPORTED" and state() == before
    # The database says so too, whatever the code above it does.
    first = ImportedRange.objects.get()
    twin = copy.copy(first)
    twin.pk, twin.serial_start, twin.serial_end = None, 10**12, 10**12 + 4
    twin.origin_serial_start, twin.origin_serial_end, twin.itmo_serial_start, twin.itmo_serial_end = 7010, 7014, 9010, 9014
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()


def test_the_same_itmos_from_another_registry_are_refused(reg: testing.Registry) -> None:
    receive(reg, payload(reg))
    # Another registry sends the same ITMO identifiers under its own serials and transfer id.
    before = state()
    with pytest.raises(RegistryError) as exc:
        receive(reg, payload(reg, start=501, sender="NO-TONNE", itmo_start=7001))
    assert exc.value.code == "ITMO_ALREADY_IN_REGISTRY" and state() == before
    first = ImportedRange.objects.get()
    twin = copy.copy(first)
    twin.pk, twin.serial_start, twin.serial_end, twin.origin_registry = None, 10**12, 10**12 + 24, "NO-TONNE"
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()


def test_two_projects_sharing_a_91_character_prefix_stay_apart(reg: testing.Registry) -> None:
    prefix = "P" * 91
    # "SE-TONNE/" and 92 characters would be cut to 100 and merge: refused instead.
    for n, last in enumerate("AB"):
        refused(reg, lambda d, last=last: block(d)["project"].update(project_id=prefix + last), "TRANSFER_FIELD_TOO_LONG")
        del n
    receive(reg, payload(reg, project_id="P" * 90 + "A"))
    receive(reg, payload(reg, start=8001, project_id="P" * 90 + "B"))
    assert sorted(Project.objects.filter(registry_name="SE-TONNE").values_list("project_id", flat=True)) == [
        "SE-TONNE/" + "P" * 90 + "A", "SE-TONNE/" + "P" * 90 + "B"]


def test_cer_then_ver_from_the_same_project_is_not_issued_as_cer(reg: testing.Registry) -> None:
    receive(reg, payload(reg, unit_class="CER"))
    before = state()
    with pytest.raises(RegistryError) as exc:
        receive(reg, payload(reg, start=8001, unit_class="VER"))
    assert (exc.value.code, exc.value.field) == ("ORIGIN_CLASS_DIFFERS", "blocks[0].unit_class") and state() == before
    assert set(Issuance.objects.values_list("unit_class", flat=True)) == {"CER"}


def test_received_units_keep_their_identity(reg: testing.Registry) -> None:
    receive(reg, payload(reg))
    r = ImportedRange.objects.select_related("issuance__report", "issuance__project").get()
    assert (r.origin_registry, r.origin_project, r.unit_class, r.origin_serial_start, r.origin_serial_end) == (
        "SE-TONNE", "SE-0001", "VER", 7001, 7025)
    assert (r.itmo_id, r.itmo_serial_start, r.itmo_serial_end, r.authorisation) == (
        "SE-CI:SE-TONNE:SE:7001-7025:2024", 7001, 7025, "SE-A6-1")
    period = (dt.date(2024, 3, 1), dt.date(2024, 8, 31))  # the origin's, not January to December
    assert (r.period_start, r.period_end) == period
    assert (r.issuance.report.period_start, r.issuance.report.period_end) == period
    assert r.issuance.unit_class == "VER" and r.issuance.project.project_id == "SE-TONNE/SE-0001"
    assert verify_ledger().ok


def test_a_malformed_file_over_http_and_the_cli_gets_its_code(reg: testing.Registry, tmp_path: Any) -> None:
    data = payload(reg)
    data["blocks"] = []
    before = state()
    body = {"signed_file": signed(data), "verifier_key": vkey()}
    assert_problem(post(stepped_up(reg.admin), "/article6/imports", body), 422, "TRANSFER_FIELD_EMPTY")
    (tmp_path / "t.note").write_text(signed(data))
    with pytest.raises(CommandError, match="TRANSFER_FIELD_EMPTY"):
        call_command("article6", "import", str(tmp_path / "t.note"), "--key", vkey(),
                     "--user", reg.admin.username)
    assert state() == before


def test_an_itmo_of_this_registry_still_held_here_is_refused(reg: testing.Registry) -> None:
    _, (issuance,) = testing.issue(reg, testing.registered_project(reg), {2024: 100})
    here, lo = django_settings.TONNE_ARTICLE6_REGISTRY_ID, issuance.serial_start
    data = payload(reg)
    block(data)["authorisation"].update(originating_registry=here, authorising_party=django_settings.TONNE_COUNTRY)
    block(data)["itmo_id"] = f"SE-CI:{here}:{django_settings.TONNE_COUNTRY}:{lo}-{lo + 24}:2024"
    before = state()
    with pytest.raises(RegistryError) as exc:
        receive(reg, data)
    assert exc.value.code == "ITMO_ALREADY_IN_REGISTRY" and state() == before
