"""Refreshing picklists from a CAD Trust governance node."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tonne import testing
from tonne.cadt import picklists as refresh
from tonne.cadt import selectors
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ledger.models import LedgerEntry
from tonne.projects import picklists

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_outbound")]


@pytest.fixture
def governance():
    answers: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = answers.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", answers
    server.shutdown()
    server.server_close()
    for version in ("1", "2"):
        picklists.refreshed_path(version).unlink(missing_ok=True)
    picklists.picklist_file.cache_clear()


def test_refresh_from_a_governance_node(registry: testing.Registry, governance) -> None:
    url, answers = governance
    lists = selectors.v2_picklists()  # CAD Trust's v2 (camelCase) names
    lists["projectStatus"] = [*lists["projectStatus"], "Transitioned"]
    answers["/v2/governance/picklist"] = json.dumps(lists).encode()
    with pytest.raises(ValidationFailed):
        picklists.check_value("projectStatus", "project_status", "Transitioned")
    done = refresh.refresh(actor=registry.admin, url=f"{url}/v2/governance/picklist", version="2")
    assert done["lists"] == len(lists)
    assert picklists.check_value("projectStatus", "project_status", "Transitioned") == "Transitioned"
    assert picklists.picklist_file("2")["_source"].endswith("/v2/governance/picklist")
    assert LedgerEntry.objects.filter(kind="cadt.picklists_refreshed").count() == 1


def test_incomplete_or_broken_answers_change_nothing(registry: testing.Registry, governance) -> None:
    url, answers = governance
    answers["/partial"] = json.dumps({"unitStatus": ["Held"]}).encode()
    answers["/garbage"] = b"<html>not json</html>"
    answers["/bad"] = json.dumps({**picklists.picklists("1"), "unitStatus": []}).encode()
    before = picklists.allowed("unit_status")
    for path, code in (("/partial", "PICKLISTS_INCOMPLETE"), ("/garbage", "PICKLISTS_INVALID"),
                       ("/bad", "PICKLISTS_INVALID"), ("/missing", "PICKLISTS_UNREACHABLE")):
        with pytest.raises(ValidationFailed) as exc:
            refresh.refresh(actor=registry.admin, url=url + path, version="1" if path == "/bad" else "2")
        assert exc.value.code == code, path
    assert picklists.allowed("unit_status") == before
    assert not picklists.refreshed_path("2").exists()
    with pytest.raises(PermissionDenied):
        refresh.refresh(actor=registry.developer, url=url + "/partial")
