# ruff: noqa: F811  (the `world` fixture is shared with test_external)
"""Witnessing another registry's log over loopback: a second log with its
own key serves its checkpoints and consistency proofs the way Tonne's API
does; this installation cosigns what extends what it cosigned before, and
refuses (and keeps) a rollback or a fork."""

from __future__ import annotations

import http.server
import io
import json
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command

from tonne.ledger import cosigning, merkle, witness
from tonne.ledger.checkpoint import (
    Checkpoint,
    generate_private_key,
    sign_checkpoint,
    verifier_key,
    verify_checkpoint,
)
from tonne.ledger.external import External
from tonne.ledger.models import WitnessRefusal
from tonne.ledger.tests.test_external import _future_note, world  # noqa: F401 - the fixture
from tonne.ledger.verify import verify_ledger

pytestmark = pytest.mark.django_db

ORIGIN = "partner.example/ledger"


class PartnerLog:
    """The other registry: leaves, a key, and the two endpoints a witness reads."""

    def __init__(self) -> None:
        self.key = generate_private_key()
        self.leaves: list[bytes] = []

    def grow(self, n: int, tag: str = "a") -> None:
        start = len(self.leaves)
        self.leaves += [merkle.leaf_hash(f"{tag}{start + i}".encode()) for i in range(n)]

    def note(self) -> str:
        cp = Checkpoint(ORIGIN, len(self.leaves), merkle.root_from_leaves(self.leaves))
        return sign_checkpoint(cp, "partner", self.key)

    def answer(self, path: str) -> dict:
        url = urlsplit(path)
        if url.path == "/api/v1/ledger/checkpoints/latest":
            return {"note": self.note()}
        query = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
        proof = merkle.consistency_proof(self.leaves, query["old"], query["new"])
        return {"old_size": query["old"], "new_size": query["new"], "proof": [p.hex() for p in proof]}


@pytest.fixture
def partner(settings):
    log = PartnerLog()

    class Serve(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            body = json.dumps(log.answer(self.path)).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.TONNE_OUTBOUND_ALLOW = ["127.0.0.1"]
    witness.add_log(origin=ORIGIN, verifier_key=verifier_key("partner", log.key.public_key()),
                    url=f"http://127.0.0.1:{server.server_address[1]}")
    yield log
    server.shutdown()
    server.server_close()


def test_an_extending_log_is_cosigned_and_published(partner, client):
    partner.grow(3)
    first = witness.witness(ORIGIN)
    partner.grow(4)
    second = witness.witness(ORIGIN)
    assert (first.cosigned, second.cosigned, second.size) == (True, True, 7)
    published = client.get("/api/v1/ledger/witnessed").json()
    log = published["logs"][0]
    assert (log["origin"], log["size"], log["refusals"]) == (ORIGIN, 7, [])
    # The cosigned note still carries the log's signature, and the witness's.
    verify_checkpoint(log["cosigned_note"], witness_key := verifier_key("partner", partner.key.public_key()))
    assert witness_key and witness.verify_cosignature(log["cosigned_note"], published["witness_key"]) > 0


def test_a_rollback_and_a_fork_are_refused_and_kept(partner):
    partner.grow(5)
    assert witness.witness(ORIGIN).cosigned
    partner.leaves = partner.leaves[:3]  # an older copy restored
    rollback = witness.witness(ORIGIN)
    partner.leaves = partner.leaves[:2]
    partner.grow(6, tag="forked")  # another history, larger than the one cosigned
    fork = witness.witness(ORIGIN)
    assert (rollback.cosigned, rollback.code) == (False, "WITNESS_ROLLBACK")
    assert (fork.cosigned, fork.code) == (False, "WITNESS_FORK")
    assert list(WitnessRefusal.objects.order_by("at", "pk").values_list("code", flat=True)) == [
        "WITNESS_ROLLBACK", "WITNESS_FORK",
    ]
    err = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("ledger", "witness", "run", stderr=err)
    assert "REFUSED: partner.example/ledger: WITNESS_FORK" in err.getvalue()


def test_a_checkpoint_signed_by_another_key_is_refused(partner):
    partner.grow(2)
    partner.key = generate_private_key()
    outcome = witness.witness(ORIGIN)
    assert (outcome.cosigned, outcome.code) == (False, "CHECKPOINT_UNKNOWN_KEY")


def test_a_cosigned_checkpoint_of_this_registry_flags_its_rollback(world):
    """What a partner's witness cosigned is what `verify --checkpoint` holds
    this registry's database against, once an older copy is restored."""
    cosigned = witness.cosign(_future_note(world, "lost", 7), "partner-witness", generate_private_key(), 1)
    result = verify_ledger(compiled=False, external=[External("partner witness", cosigned)])
    assert [d.code for d in result.divergences] == ["LEDGER_ROLLED_BACK"]


def _serve_witness(answer: dict) -> http.server.ThreadingHTTPServer:
    class Serve(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_cosignatures_are_collected_and_published_and_a_fork_is_reported(world, settings, client):
    settings.TONNE_OUTBOUND_ALLOW = ["127.0.0.1"]
    ours = world.extra["saved"]
    size = int(ours.split("\n")[1])
    key = generate_private_key()
    served = {"logs": [{"origin": settings.TONNE_LEDGER_ORIGIN, "cosigned_note": witness.cosign(ours, "w1", key, 5)}]}
    server = _serve_witness(served)
    try:
        cosigning.trust_witness(name="w1", verifier_key=witness.cosigner_verifier_key("w1", key.public_key()),
                                url=f"http://127.0.0.1:{server.server_address[1]}")
        assert cosigning.collect_all() == [cosigning.Collected("w1", size)]
        published = client.get(f"/api/v1/ledger/checkpoints/{size}/cosigned").json()["note"]
        assert witness.verify_cosignature(published, witness.cosigner_verifier_key("w1", key.public_key())) == 5
        # The witness was shown a history this database does not hold.
        served["logs"][0]["cosigned_note"] = witness.cosign(_future_note(world, "shown", 7), "w1", key, 6)
        assert cosigning.collect_all()[0].code == "COSIGNED_CHECKPOINT_UNKNOWN"
    finally:
        server.shutdown()
        server.server_close()
