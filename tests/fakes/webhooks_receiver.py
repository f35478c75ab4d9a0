"""A real HTTP receiver for PostPact's outgoing webhooks: checks each request's signature the way an integrator
would (its own HMAC code, not PostPact's), keeps what it received, and answers 500 on demand."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    #: The clock the receiver compares signature timestamps with (the test's clock).
    now: Callable[[], float]
    secret: str = ""
    tolerance: int = 300
    received: list[Received] = field(default_factory=list)
    failures_left: int = 0
    failure_status: int = 500
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/postpact"

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self.failures_left, self.failure_status = count, status

    def check(self, header: str, body: bytes) -> bool:
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        try:
            timestamp = int(parts["t"])
        except (KeyError, ValueError):
            return False
        if abs(self.now() - timestamp) > self.tolerance:
            return False
        expected = hmac.new(self.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts.get("v1", ""))

    def events(self, *, delivered_only: bool = True) -> list[dict[str, Any]]:
        return [r.event for r in self.received if r.answered < 300 or not delivered_only]

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok = receiver.check(self.headers.get("PostPact-Signature", ""), body)
                with receiver._lock:
                    if not ok:
                        status = 400
                    elif receiver.failures_left > 0:
                        receiver.failures_left -= 1
                        status = receiver.failure_status
                    else:
                        status = 204
                    receiver.received.append(Received(dict(self.headers.items()), body, ok, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
