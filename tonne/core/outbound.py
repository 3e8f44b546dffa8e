"""Every request the registry sends out (webhooks, CAD Trust nodes, picklist
refresh) goes through here, so that a URL given by an administrator cannot
reach the registry's own network (SSRF):

- only http(s) URLs; the host is resolved once and EVERY address it resolves
  to must be public (not loopback, private, link-local, multicast, reserved,
  unspecified or shared, IPv4-mapped IPv6 included), unless the operator lists
  the host or a network in TONNE_OUTBOUND_ALLOW;
- the connection goes to the address that was checked (pinned), so a DNS
  answer that changes between the check and the connection cannot redirect it;
- redirects are never followed (a 3xx is just a status);
- the caller gets the status code and a fixed reason, never the remote body,
  and a closed port, a filtered one and one that speaks no HTTP all read
  "no HTTP answer"."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from tonne.core import durability
from tonne.core.errors import ValidationFailed

MAX_URL_LENGTH = 2000
NO_ANSWER = "no HTTP answer"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent
    address: str  # the checked address the connection goes to


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer at all
    body: bytes  # for the caller to parse; never to be shown or stored as an error

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def reason(self) -> str:
        """What may be recorded or shown: the status, never the body."""
        return NO_ANSWER if self.status is None else f"HTTP {self.status}"


def _allowed() -> tuple[frozenset[str], tuple[Network, ...]]:
    hosts: set[str] = set()
    networks: list[Network] = []
    for item in getattr(settings, "TONNE_OUTBOUND_ALLOW", ()) or ():
        item = item.strip().lower()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            hosts.add(item.rstrip("."))
    return frozenset(hosts), tuple(networks)


def _embedded(ip: Address) -> Iterable[Address]:
    yield ip
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in (ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None):
            if inner is not None:
                yield inner
        if ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64: the IPv4 address is the last 32 bits
            yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


def is_public(ip: Address) -> bool:
    """True for an address on the public Internet (every embedded IPv4 address too)."""
    for a in _embedded(ip):
        if (a.is_loopback or a.is_private or a.is_link_local or a.is_multicast or a.is_reserved
                or a.is_unspecified or not a.is_global):
            return False
    return True


ADDRESS_REFUSED = "OUTBOUND_ADDRESS_REFUSED"


def _refused(detail: str, field: str, code: str = ADDRESS_REFUSED) -> ValidationFailed:
    return ValidationFailed(code, detail, field=field)


def resolve(url: str, *, field: str = "url", invalid: str = "OUTBOUND_URL_INVALID") -> Target:
    """Check a URL and the addresses its host resolves to; the Target pins one of them.
    A malformed URL raises `invalid`; an internal or unknown host OUTBOUND_ADDRESS_REFUSED."""
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise _refused(f"A URL has at most {MAX_URL_LENGTH} characters.", field, invalid)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise _refused("The URL is not valid.", field, invalid) from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in ("http", "https") or not host:
        raise _refused("url must start with http:// or https:// and name a host.", field, invalid)
    if parts.username is not None or parts.password is not None:
        raise _refused("Credentials go in the API key, not in the URL.", field, invalid)
    port = port or (443 if scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _refused(f"The host {host} does not resolve.", field) from None
    addresses: list[Address] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]  # an IPv6 zone is not part of the address
        ip = ipaddress.ip_address(text)
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise _refused(f"The host {host} does not resolve.", field)
    hosts, networks = _allowed()
    if host.lower() not in hosts:
        for ip in addresses:
            if not is_public(ip) and not any(a in n for a in _embedded(ip) for n in networks if a.version == n.version):
                raise _refused(
                    f"{host} is an internal address ({ip}); the operator must list it in TONNE_OUTBOUND_ALLOW.",
                    field,
                )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port, path, str(addresses[0]))


def check_url(url: str, *, field: str = "url", invalid: str = "OUTBOUND_URL_INVALID") -> str:
    """For subscriptions and nodes: refuse now what delivery would refuse later."""
    resolve(url, field=field, invalid=invalid)
    return url.strip()


def send(method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
         timeout: float = 15, max_bytes: int = 65536) -> Answer:
    """One request, no redirects, to the checked address. A refused URL raises
    ValidationFailed (OUTBOUND_URL_REFUSED); a failed connection is Answer(None).
    Nothing read from the database leaves before it is durable."""
    durability.wait_until_durable()
    target = resolve(url)
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = http.client.HTTPSConnection(target.host, target.port, timeout=timeout,
                                           context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    def pinned(address: tuple[str, int], timeout: float | None = None, source: object = None) -> socket.socket:
        # The Host header, SNI and certificate check keep the name; the socket goes to the checked address.
        return socket.create_connection((target.address, target.port), timeout)

    conn._create_connection = pinned  # type: ignore[attr-defined]
    try:
        conn.request(method, target.path, body=body, headers=headers or {})
        response = conn.getresponse()
        status = response.status
        data = response.read(max_bytes + 1)
    except (OSError, http.client.HTTPException, ValueError):
        return Answer(None, b"")
    finally:
        conn.close()
    return Answer(status, data)
