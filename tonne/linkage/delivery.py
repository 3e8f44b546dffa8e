"""Delivery of the protocol's messages over HTTPS: the worker's `linkage`
job posts each open transfer's next message to the partner's endpoint and
takes the signed answer; a failure is retried with backoff. Every request
goes through `core.outbound` (no redirects, no private addresses unless the
operator allows them)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from tonne.core import clock, outbound
from tonne.core.errors import ValidationFailed
from tonne.linkage import receiving, reconciliation, sending

PATH = "/api/v1/linkage/messages"
CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,59}$")


def post(endpoint: str, note: str, path: str = PATH) -> tuple[str, str]:
    """(the answer note, "") or ("", what went wrong: a status and the partner's code, never its text)."""
    try:
        answer = outbound.send("POST", endpoint + path, body=json.dumps({"note": note}).encode("utf-8"),
                               headers={"Content-Type": "application/json"}, max_bytes=1 << 20)
    except ValidationFailed as exc:
        return "", exc.code
    try:
        body = json.loads(answer.body)
    except ValueError:
        body = None
    if not answer.ok:
        code = body.get("code") if isinstance(body, dict) else None
        return "", f"{answer.reason} {code}" if isinstance(code, str) and CODE.match(code) else answer.reason
    if not isinstance(body, dict) or not isinstance(body.get("note"), str):
        return "", "LINKAGE_BAD_ANSWER"
    return body["note"], ""


def run_once(say: Callable[[str], None]) -> None:
    for uid in sending.due():
        say(f"linkage {sending.deliver(uid, post)}")
    for transfer in receiving.release_held():
        say(f"linkage {transfer}: released")


def reconcile_once(say: Callable[[str], None]) -> None:
    """Statements to the partners due one (every TONNE_LINKAGE_RECONCILE_HOURS)."""
    for partner in reconciliation.due(clock.now()):
        say(f"reconciliation {reconciliation.exchange(partner, post)}")
