"""A partner's answer to our statement, taken in one process (the partner's
keys held here): a mismatch it tells freezes our serials for as long as the
mismatch is open, past the longest a person's freeze may last; and its
cosignature of our checkpoint is published with the checkpoint, once it
verifies with the key trusted for that witness (a forged one refuses the
whole answer and nothing is kept)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

import pytest
from django.conf import settings as django_settings

from tonne import testing
from tonne.article6.tests.conftest import T0, World, world  # noqa: F401 - the host registry's fixture
from tonne.controls.models import Freeze
from tonne.core import clock
from tonne.core.canonical import canonical_json
from tonne.core.errors import RegistryError
from tonne.ledger import cosigning, witness
from tonne.ledger.checkpoint import generate_private_key, sign_note, verifier_key
from tonne.ledger.models import Cosignature
from tonne.ledger.services import make_checkpoint
from tonne.ledger.verify import verify_ledger
from tonne.linkage import reconciliation
from tonne.linkage.models import Mismatch, Partner, Statement
from tonne.units import services as units
from tonne.units.domain import Selection

pytestmark = pytest.mark.django_db
CH_KEY, CH_WITNESS, FORGER = generate_private_key(), generate_private_key(), generate_private_key()


def answer_from_ch(statement: Statement, *, mismatches: list[dict[str, Any]], cosigned: str | None) -> str:
    body = {"format": "tonne-linkage-statement/1", "type": "answer", "from": "CH-TONNE",
            "to": django_settings.TONNE_ARTICLE6_REGISTRY_ID, "at": clock.now().isoformat(),
            "statement_sha256": statement.note_sha256, "mismatches": mismatches, "cosigned": cosigned, "witness": None}
    return sign_note(canonical_json(body).decode() + "\n", "ch-tonne", CH_KEY)


def sent_statement(partner: Partner) -> Statement:
    return Statement.objects.get(direction="sent", note=reconciliation.statement_for(partner))


@pytest.fixture
def ch(world: World) -> Partner:  # noqa: F811
    clock.freeze(T0 + dt.timedelta(hours=1))
    return testing.link_partner(world.reg.admin, world.approver, registry_id="CH-TONNE", party="CH",
                                verifier_key=verifier_key("ch-tonne", CH_KEY.public_key()))


def move(world: World, start: int) -> None:  # noqa: F811
    reg = world.reg
    units.transfer(actor=reg.developer, from_account=reg.developer_account.identifier,
                   to_account=reg.buyer_account.identifier, selection=Selection.build(ranges=[(start, start)]),
                   idempotency_key=str(uuid.uuid4()))


def test_a_mismatch_freeze_lasts_until_resolved(world: World, ch: Partner, settings: Any) -> None:  # noqa: F811
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 20})
    s = issuance.serial_start
    told = {"transfer": str(uuid.uuid4()), "code": "RECON_NOT_RECEIVED", "sender": "CI-TONNE", "ranges": [[s, s + 9]]}
    reconciliation.take_answer(answer_from_ch(sent_statement(ch), mismatches=[told], cosigned=None))
    mismatch = Mismatch.objects.get()
    frozen = Freeze.objects.get(uid=mismatch.freezes[0])
    assert (frozen.serial_start, frozen.serial_end, frozen.expires_at, frozen.created_by) == (s, s + 9, None, None)
    clock.freeze(clock.now() + dt.timedelta(days=settings.TONNE_FREEZE_MAX_DAYS + 30))  # past any person's freeze
    with pytest.raises(RegistryError) as refused:
        move(world, s)
    assert refused.value.code == "UNITS_FROZEN"
    move(world, s + 10)  # serials outside the mismatch move
    reconciliation.resolve(actor=world.reg.admin, uid=str(mismatch.uid), reason="CH found the units")
    move(world, s)
    assert verify_ledger().ok


@pytest.mark.usefixtures("loopback_outbound")
def test_a_partners_cosignature_is_published_with_our_checkpoint(world: World, ch: Partner) -> None:  # noqa: F811
    name = "ch-tonne-witness"  # its key obtained from CH independently, as any witness's
    cosigning.trust_witness(name=name, verifier_key=witness.cosigner_verifier_key(name, CH_WITNESS.public_key()),
                            url="http://127.0.0.1:9")
    checkpoint = make_checkpoint(force=True)
    assert checkpoint is not None
    statement = sent_statement(ch)
    assert statement.checkpoint_size == checkpoint.size

    # Forged: the trusted witness's name and key id, a signature its key did not make. The answer is
    # refused; nothing kept, the statement unanswered.
    cosigned = witness.cosign(checkpoint.note, name, CH_WITNESS, int(clock.now().timestamp()))
    head, line = cosigned.rstrip("\n").rsplit("\n", 1)
    who, signature = line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(signature))
    raw[-1] ^= 1
    forged = f"{head}\n{who} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(RegistryError) as refused:
        reconciliation.take_answer(answer_from_ch(statement, mismatches=[], cosigned=forged))
    assert (refused.value.code, refused.value.field) == ("LINKAGE_MESSAGE_INVALID", "cosigned")
    assert not Cosignature.objects.exists() and Statement.objects.get(pk=statement.pk).answer == ""
    # A key this registry does not trust as a witness: its cosignature is not kept (the answer is).
    stranger = witness.cosign(checkpoint.note, name, FORGER, int(clock.now().timestamp()))
    reconciliation.take_answer(answer_from_ch(statement, mismatches=[], cosigned=stranger))
    assert not Cosignature.objects.exists()

    statement = sent_statement(ch)
    reconciliation.take_answer(answer_from_ch(statement, mismatches=[], cosigned=cosigned))
    (kept,) = Cosignature.objects.all()
    assert (kept.witness.name, kept.size) == (name, checkpoint.size)
    published = cosigning.cosigned_note(checkpoint.size)
    assert witness.verify_cosignature(published, witness.cosigner_verifier_key(name, CH_WITNESS.public_key())) > 0
    assert json.loads(Statement.objects.get(pk=statement.pk).answer.split("\n\n")[0])["cosigned"] == cosigned
    assert verify_ledger().ok
