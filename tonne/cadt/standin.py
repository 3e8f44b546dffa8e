"""A stand-in CAD Trust node for tests and benchmarks: a small HTTP server on
127.0.0.1 that accepts the calls a CAD Trust node takes for staging and
committing (PUT /v2/project/xlsx, PUT /v2/unit/xlsx, POST
/v2/staging/commit), keeps what was committed by CAD Trust id, and records
every call. It can be told to fail the next calls."""

from __future__ import annotations

import email.parser
import email.policy
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tonne.cadt import formats
from tonne.cadt.schema import v2_tables


@dataclass
class Call:
    method: str
    path: str
    delivery: str
    api_key: str
    status: int
    at: float
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows staged by this call


@dataclass
class Commit:
    at: float
    delivery: str
    records: list[tuple[str, str]]  # (table, id) in the order applied


class StandInNode:
    def __init__(self, api_key: str = "") -> None:
        self.api_key = api_key
        self.calls: list[Call] = []
        self.commits: list[Commit] = []
        self.staging: list[tuple[str, dict[str, Any]]] = []
        self.state: dict[tuple[str, str], dict[str, Any]] = {}
        self.fail_next: list[int] = []  # HTTP statuses to answer the next calls with
        # Tests hold commits here (clear the gate) to kill a worker while it waits for one.
        self.commit_gate = threading.Event()
        self.commit_gate.set()
        self.commit_arrived = threading.Event()
        self.lock = threading.Lock()
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _answer(self, status: int, body: bytes = b'{"success": true}') -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, rows = node.handle(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with node.lock:
                    node.calls.append(Call(self.command, self.path, self.headers.get("X-Tonne-Delivery", ""),
                                           self.headers.get("x-api-key", ""), status, time.monotonic(), rows))
                self._answer(status, b'{"success": true}' if status < 300 else b'{"success": false}')

            do_PUT = _handle
            do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="cadt-standin", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StandInNode:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, int]]:
        with self.lock:
            if self.fail_next:
                return self.fail_next.pop(0), {}
        if self.api_key and headers.get("x-api-key") != self.api_key:
            return 403, {}
        if method == "PUT" and path in ("/v2/project/xlsx", "/v2/unit/xlsx"):
            content = _multipart_file(headers.get("content-type", ""), body, "xlsx")
            if content is None:
                return 400, {}
            parsed = formats.parse(content)
            staged: dict[str, int] = {}
            with self.lock:
                for table, rows in parsed.tables.items():
                    staged[table] = len(rows)
                    self.staging.extend((table, row.raw) for row in rows)
            return 200, staged
        if method == "POST" and path == "/v2/staging/commit":
            self.commit_arrived.set()
            self.commit_gate.wait(timeout=60)
            with self.lock:
                applied = []
                for table, raw in self.staging:
                    key = str(raw[v2_tables()[table].key])
                    self.state[(table, key)] = raw  # upsert by CAD Trust id
                    applied.append((table, key))
                self.staging = []
                self.commits.append(Commit(time.monotonic(), headers.get("x-tonne-delivery", ""), applied))
            return 200, {}
        return 404, {}

    def rows(self, table: str) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {key: row for (t, key), row in self.state.items() if t == table}


def _multipart_file(content_type: str, body: bytes, field_name: str) -> bytes | None:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        return None
    for part in message.iter_parts():  # type: ignore[attr-defined]
        if part.get_param("name", header="content-disposition") == field_name:
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None
