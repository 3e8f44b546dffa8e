"""Malformed protocol messages (docs/linkage.md §3.1), table-driven: every
field of every request (proposal, complete, cancel) and of the answer,
missing, empty, too long and of each wrong type, is refused with a stable
code, over HTTP with a problem body (never a 500) and with nothing changed;
every field of the transfer file a proposal carries is refused in a signed
answer with that field's code. Hypothesis then throws arbitrary JSON at
each field."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tonne import testing
from tonne.article6.tests import test_transfer_file as file_fields
from tonne.article6.tests.test_attacks_file import SENDERS, payload, reg, signed  # noqa: F401 - `reg`: the fixture
from tonne.core import clock
from tonne.core.canonical import canonical_json
from tonne.core.errors import RegistryError
from tonne.core.tests.test_api_core import post
from tonne.ledger.checkpoint import sign_note
from tonne.ledger.models import LedgerEntry
from tonne.linkage import messages, sending
from tonne.linkage.models import Inbound

pytestmark = pytest.mark.django_db
INVALID, SENDER, NOT_US = "LINKAGE_MESSAGE_INVALID", "TRANSFER_SENDER_MISMATCH", "TRANSFER_NOT_FOR_THIS_REGISTRY"
# The refusals a field's every bad value gets; `from` and `to` name whose message it is.
CODE = {"from": SENDER, "to": NOT_US}
LIMIT = {"format": 20, "type": 20, "transfer": 36, "from": 100, "to": 100, "at": 40, "reason": messages.MAX_CODE,
         "request_sha256": 64, "state": 20, "code": messages.MAX_CODE, "field": 200}
WRONG = {"empty": "", "number": 12, "true": True, "list": ["x"], "object": {"x": 1}}
REQUEST_FIELDS = ("format", "type", "transfer", "from", "to", "at", "file", "reason")
ANSWER_FIELDS = ("format", "type", "transfer", "from", "to", "at", "request_sha256", "state", "code", "field")


@pytest.fixture(autouse=True)
def unlimited(settings: Any) -> None:
    """The whole table comes from one address within one (frozen) minute."""
    settings.TONNE_API_RATE_PER_MINUTE = settings.TONNE_API_WRITE_RATE_PER_MINUTE = 10**6


def note(body: dict[str, Any]) -> str:
    """Signed by SE's key: SE is a partner in force (the fixture)."""
    return sign_note(canonical_json(body).decode("utf-8") + "\n", "se-tonne", SENDERS["SE-TONNE"][1])


def request(kind: str, registry: testing.Registry) -> dict[str, Any]:
    file = signed(payload(registry)) if kind != "cancel" else None
    return {"format": "tonne-linkage/1", "type": kind, "transfer": str(uuid.uuid4()), "from": "SE-TONNE",
            "to": django_settings.TONNE_ARTICLE6_REGISTRY_ID, "at": clock.now().isoformat(), "file": file,
            "reason": "TIMEOUT" if kind == "cancel" else None}


def answer() -> dict[str, Any]:
    return {"format": "tonne-linkage/1", "type": "answer", "transfer": str(uuid.uuid4()), "from": "SE-TONNE",
            "to": django_settings.TONNE_ARTICLE6_REGISTRY_ID, "at": clock.now().isoformat(),
            "request_sha256": "ab" * 32, "state": "checked", "code": None, "field": None}


def spoilt(field: str) -> list[tuple[str, Any]]:
    """(how, value) for each way the field can be wrong; `missing` drops it."""
    too_long = "A" * (messages.MAX_FILE + 1 if field == "file" else LIMIT[field] + 1)
    return [("missing", None), ("too long", too_long), *WRONG.items()]


def cases() -> list[tuple[str, str, str, Any]]:
    out = [(kind, f, how, v) for kind in messages.REQUESTS for f in REQUEST_FIELDS for how, v in spoilt(f)]
    out += [(kind, f, "not null", "x") for kind, f in (("proposal", "reason"), ("complete", "reason"),
                                                        ("cancel", "file"))]
    out += [(kind, "at", "not a time", "yesterday") for kind in (*messages.REQUESTS, "answer")]
    out += [("answer", f, how, v) for f in ANSWER_FIELDS for how, v in spoilt(f)]
    out += [("answer", "request_sha256", "not hex", "zz" * 32), ("answer", "code", "not a code", "not a code"),
            ("cancel", "reason", "not a code", "a reason"), ("proposal", "transfer", "not canonical",
                                                            str(uuid.uuid4()).upper())]
    return out


def problem(response: Any) -> str:
    assert response.status_code == 422, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    return str(response.json()["code"])


def nothing_changed() -> tuple[int, int]:
    return Inbound.objects.count(), LedgerEntry.objects.count()


def test_well_formed_messages_are_answered(reg: testing.Registry, client: Client) -> None:  # noqa: F811
    """The table's starting points pass: what it refuses, it refuses for the field changed."""
    for kind in messages.REQUESTS:
        response = post(client, "/linkage/messages", {"note": note(request(kind, reg))})
        assert response.status_code == 200, response.content
    with pytest.raises(RegistryError) as exc:
        sending.take_answer(note(answer()))
    assert exc.value.code == "TRANSFER_UNKNOWN"  # read in full; only then is the transfer looked up


def test_every_field_of_every_message_is_refused(reg: testing.Registry, client: Client) -> None:  # noqa: F811
    """One test over the whole table (a registry built once): each case names itself when it fails."""
    for kind, field, how, value in cases():
        body = answer() if kind == "answer" else request(kind, reg)
        if how == "missing":
            del body[field]
        else:
            body[field] = value
        before = nothing_changed()
        if kind == "answer":
            with pytest.raises(RegistryError) as exc:
                sending.take_answer(note(body))
            code = exc.value.code
        else:
            code = problem(post(client, "/linkage/messages", {"note": note(body)}))
        assert code == CODE.get(field, INVALID), (kind, field, how)
        assert nothing_changed() == before, (kind, field, how)


def changed(data: dict[str, Any], path: str, value: Any, *, drop: bool) -> dict[str, Any]:
    data = copy.deepcopy(data)
    *parents, last = file_fields._steps(path)
    target: Any = data
    for step in parents:
        target = target[step]
    if drop:
        del target[last]
    else:
        target[last] = copy.deepcopy(value)
    return data


def test_every_field_of_a_proposed_file_is_refused_in_the_answer(reg: testing.Registry,  # noqa: F811
                                                                 client: Client) -> None:
    """The transfer file's own table (article6), carried in proposals: a signed answer, rejected with the code."""
    data = payload(reg)
    data["created_at"] = data["created_at"].isoformat()
    for field, how, value, code in file_fields.cases():
        body = {**request("proposal", reg), "file": signed(changed(data, field, value, drop=how == "missing"))}
        response = post(client, "/linkage/messages", {"note": note(body)})
        assert response.status_code == 200, (field, how, response.content)
        said = json.loads(response.json()["note"].split("\n\n")[0])
        assert (said["state"], said["code"]) == ("rejected", code), (field, how, said)
        assert (said["field"] or "").startswith(field), (field, how, said)
        assert Inbound.objects.get(transfer=body["transfer"]).state == "rejected"


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=50),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=6)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(messages.REQUESTS), field=st.sampled_from(REQUEST_FIELDS), value=JSON)
def test_any_value_of_any_field_is_answered_or_refused_never_a_500(reg: testing.Registry, client: Client,  # noqa: F811
                                                                   kind: str, field: str, value: Any) -> None:
    response = post(client, "/linkage/messages", {"note": note({**request(kind, reg), field: value})})
    assert response.status_code in (200, 422), response.content
    if response.status_code == 422:
        assert response.json()["code"] in (INVALID, SENDER, NOT_US)
