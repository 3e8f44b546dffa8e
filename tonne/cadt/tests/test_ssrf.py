"""Attacks on the registry's outgoing requests (webhooks, CAD Trust nodes,
picklist refresh): internal addresses, DNS rebinding, redirects, echoed
bodies and port scanning through delivery errors."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tonne import testing
from tonne.access.testing import stepped_up
from tonne.cadt import picklists, sync, webhooks
from tonne.cadt.models import WebhookDelivery
from tonne.core import outbound
from tonne.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db

INTERNAL = [
    "http://127.0.0.1:8000/hook", "http://localhost/", "http://10.1.2.3/", "http://172.16.0.1/", "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0:22/", "http://100.64.0.1/", "http://224.0.0.1/",
    "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:169.254.169.254]/", "http://[fe80::1]/",
    "http://[fc00::1]/", "http://[::]/", "http://2130706433/", "http://0x7f.1/",
]


@pytest.mark.parametrize("url", INTERNAL)
def test_ssrf_webhook_and_node_urls_to_internal_addresses_are_refused(registry: testing.Registry, url: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        webhooks.subscribe(actor=registry.admin, url=url)
    assert exc.value.code == "OUTBOUND_ADDRESS_REFUSED"
    with pytest.raises(ValidationFailed) as exc:
        sync.add_destination(actor=registry.admin, name="n", url=url)
    assert exc.value.code == "OUTBOUND_ADDRESS_REFUSED"
    with pytest.raises(ValidationFailed) as exc:
        picklists.refresh(actor=registry.admin, url=url)
    assert exc.value.code == "OUTBOUND_ADDRESS_REFUSED"


def test_ssrf_through_the_api_is_a_clear_error(registry: testing.Registry) -> None:
    client = stepped_up(registry.admin)
    response = client.post("/api/v1/cadt/webhooks", {"url": "http://169.254.169.254/"}, content_type="application/json")
    assert response.status_code == 422 and response.json()["code"] == "OUTBOUND_ADDRESS_REFUSED"


def test_ssrf_operator_may_list_an_internal_node(registry: testing.Registry, settings) -> None:  # noqa: ANN001
    settings.TONNE_OUTBOUND_ALLOW = ("10.0.5.0/24", "node.internal")
    outbound.check_url("http://10.0.5.7/")
    with pytest.raises(ValidationFailed):
        outbound.check_url("http://10.0.6.7/")


def test_ssrf_dns_rebinding_connects_to_the_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["8.8.8.8", "127.0.0.1"])  # public when checked, loopback afterwards
    lookups: list[str] = []
    connected: list[tuple[str, int]] = []

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list:
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    def create_connection(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        connected.append(address)
        raise OSError("no network in tests")

    monkeypatch.setattr(outbound.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(outbound.socket, "create_connection", create_connection)
    answer = outbound.send("POST", "http://rebind.example/hook", body=b"{}")
    assert answer.status is None and answer.reason == "no HTTP answer"
    assert lookups == ["rebind.example"] and connected == [("8.8.8.8", 80)]


class _Server:
    """A loopback HTTP server answering every request with one status, body and headers."""

    def __init__(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                server.hits.append(self.command)
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _deliver_one(reg: testing.Registry, url: str) -> WebhookDelivery:
    sub = webhooks.subscribe(actor=reg.admin, url=url, from_start=True)
    webhooks.deliver_due(limit=1)
    return WebhookDelivery.objects.filter(subscription=sub).order_by("seq").first()


@pytest.mark.usefixtures("loopback_outbound")
def test_ssrf_redirects_are_not_followed(registry: testing.Registry) -> None:
    target = _Server(200)
    hop = _Server(302, headers={"Location": target.url + "/internal"})
    try:
        delivery = _deliver_one(registry, hop.url + "/hook")
        assert delivery.response_status == 302 and delivery.last_error == "HTTP 302"
        assert hop.hits == ["POST"] and target.hits == []
    finally:
        hop.close()
        target.close()


@pytest.mark.usefixtures("loopback_outbound")
def test_ssrf_remote_bodies_are_never_echoed(registry: testing.Registry) -> None:
    leak = b"root:x:0:0:INTERNAL-SECRET"
    server = _Server(500, body=leak)
    try:
        delivery = _deliver_one(registry, server.url + "/hook")
        assert delivery.last_error == "HTTP 500"
        sync.add_destination(actor=registry.admin, name="n", url=server.url, from_start=True)
        testing.registered_project(registry)  # something to push
        (outcome,) = sync.deliver_due()
        assert not outcome.delivered and "INTERNAL-SECRET" not in outcome.error
        response = stepped_up(registry.admin).get("/api/v1/cadt/sync")
        assert response.status_code == 200 and b"INTERNAL-SECRET" not in response.content
        assert "HTTP 500" in response.json()[0]["last_error"]
        with pytest.raises(ValidationFailed) as exc:
            picklists.refresh(actor=registry.admin, url=server.url + "/v2/governance/picklist")
        assert "INTERNAL-SECRET" not in str(exc.value) and exc.value.code == "PICKLISTS_UNREACHABLE"
    finally:
        server.close()


@pytest.mark.usefixtures("loopback_outbound")
def test_ssrf_delivery_errors_do_not_tell_open_ports_from_closed(registry: testing.Registry) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)

    def speak_no_http() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
            conn.close()

    threading.Thread(target=speak_no_http, daemon=True).start()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        open_port = listener.getsockname()[1]
        assert outbound.send("POST", f"http://127.0.0.1:{open_port}/").reason == "no HTTP answer"
        assert outbound.send("POST", f"http://127.0.0.1:{closed_port}/").reason == "no HTTP answer"
        assert _deliver_one(registry, f"http://127.0.0.1:{open_port}/").last_error == "no HTTP answer"
    finally:
        listener.close()


def test_ssrf_embedded_internal_addresses_are_refused() -> None:
    # Addresses are classified after IPv4-mapped, 6to4 and NAT64 unwrapping.
    import ipaddress

    for text in ("::ffff:10.0.0.1", "2002:7f00:1::", "64:ff9b::a9fe:a9fe", "ff0e::1"):
        assert not outbound.is_public(ipaddress.ip_address(text)), text
    assert outbound.is_public(ipaddress.ip_address("8.8.8.8"))
    assert outbound.is_public(ipaddress.ip_address("2606:4700:4700::1111"))


def test_replayed_webhook_outside_the_timestamp_window_is_refused() -> None:
    secret, body = "a-long-enough-webhook-secret", b'{"seq": 1}'
    header = webhooks.sign(secret, 1_000_000, body)
    assert webhooks.verify_signature(secret, header, body, now=1_000_000 + 299)
    assert not webhooks.verify_signature(secret, header, body, now=1_000_000 + 301)  # replayed later
    assert not webhooks.verify_signature(secret, header, body, now=1_000_000 - 301)
    assert not webhooks.verify_signature(secret, "t=1000000,v1=", body, now=1_000_000)
    assert not webhooks.verify_signature(secret, "garbage", body)
