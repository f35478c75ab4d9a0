"""Starts localstripe and the Stripe stand-in on free ports, for tests and by hand: `with StripeStack() as stack:`."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any

import httpx
import stripe

from tests.fakes.stripe_server import StripeServer

# localstripe as its console script runs it, with two changes: it pickles its whole store to the fixed path
# /tmp/localstripe.pickle after every write (slow, and shared by every instance on the machine, e.g. under
# pytest-xdist), and it binds [::]:port itself. Here it serves a socket the parent already bound on loopback,
# so the port is ours from the start and nothing listens beyond this machine. It also exits when the process
# that started it dies without cleaning up (a killed test run), instead of lingering in its own session.
LOCALSTRIPE_RUNNER = """
import os, socket, sys, threading, time
from aiohttp import web
from localstripe import resources, server
def exit_with_parent(parent):
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=exit_with_parent, args=(int(sys.argv[2]),), daemon=True).start()
resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None
web.run_app(server.app, sock=socket.socket(fileno=int(sys.argv[1])), print=None, access_log=None)
"""


class StripeStack:
    """localstripe in a subprocess (own process group) plus the stand-in in a thread; `api_base` is the one URL
    the app's Stripe client points at."""

    def __init__(self, *, api_key: str = "sk_test_postpact_stand_in", startup_timeout: float = 20.0,
                 webhook_retry_delays: Sequence[float] = (0.2, 0.5, 1.0)) -> None:
        self.api_key = api_key
        self.startup_timeout = startup_timeout
        self.webhook_retry_delays = tuple(webhook_retry_delays)
        self.api_base = ""
        self.localstripe_url = ""
        self.startup_seconds = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._process_log: IO[bytes] | None = None
        self._server: StripeServer | None = None
        self._http: httpx.Client | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def __enter__(self) -> StripeStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> StripeStack:
        began = time.perf_counter()
        try:
            self._start_localstripe()
            self._server = StripeServer(self.localstripe_url, webhook_retry_delays=self.webhook_retry_delays).start()
        except BaseException:
            self.stop()
            raise
        self.api_base = self._server.url
        self._http = httpx.Client(base_url=self.api_base, timeout=10.0, follow_redirects=False,
                                  headers={"Authorization": f"Bearer {self.api_key}"})
        self.startup_seconds = time.perf_counter() - began
        return self

    def _start_localstripe(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        port = listener.getsockname()[1]
        self.localstripe_url = f"http://127.0.0.1:{port}"
        # Lives as long as the process; stop() closes it.
        self._process_log = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", LOCALSTRIPE_RUNNER, str(listener.fileno()), str(os.getpid())],
                pass_fds=(listener.fileno(),), start_new_session=True, stdin=subprocess.DEVNULL,
                stdout=self._process_log, stderr=subprocess.STDOUT)
        finally:
            listener.close()
        deadline = time.monotonic() + self.startup_timeout
        # The socket already listens, so connections queue until localstripe accepts: poll a harmless page.
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"localstripe exited with {self._process.returncode}: {self._localstripe_output()}")
            try:
                if httpx.get(f"{self.localstripe_url}/js.stripe.com/v3/", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"localstripe did not answer within {self.startup_timeout}s: "
                                   f"{self._localstripe_output()}")
            time.sleep(0.05)

    def _localstripe_output(self) -> str:
        if self._process_log is None:
            return ""
        self._process_log.seek(0)
        return self._process_log.read()[-2000:].decode(errors="replace")

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._process is not None:
            # Its own session: signalling the group reaches anything it started, and nothing of ours.
            with contextlib.suppress(ProcessLookupError):  # already gone is the goal
                os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):  # already gone is the goal
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=5)
            self._process = None
        if self._process_log is not None:
            self._process_log.close()
            self._process_log = None

    # -- clients ------------------------------------------------------------------------------------------------

    def client(self, **options: Any) -> stripe.StripeClient:
        """A StripeClient on the stand-in; options (max_network_retries, http_client, stripe_account...) pass on."""
        return stripe.StripeClient(self.api_key, base_addresses={"api": self.api_base}, **options)

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            raise RuntimeError("the stack is not started")
        return self._http

    def _control(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=payload)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} failed: {response.status_code} {response.text}")
        return response.json() if response.content else None

    # -- control --------------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything (the stand-in's state, faults, clock, and localstripe's data); webhooks stay."""
        self._control("DELETE", "/_config/data")

    def register_webhook(self, url: str, secret: str, *, events: Sequence[str] | None = None,
                         endpoint_id: str = "default") -> None:
        payload: dict[str, Any] = {"url": url, "secret": secret}
        if events is not None:
            payload["events"] = list(events)
        self._control("POST", f"/_config/webhooks/{endpoint_id}", payload)

    def unregister_webhook(self, endpoint_id: str = "default") -> None:
        self._control("DELETE", f"/_config/webhooks/{endpoint_id}")

    def inject_fault(self, path: str, *, method: str | None = "POST", status: int | None = 500, times: int = 1,
                     delay: float = 0.0, after_effect: bool = False) -> None:
        """The next `times` requests matching `method` and the regex `path` fail with `status` after `delay`
        seconds; `status=None` only delays; `after_effect` performs the operation before failing."""
        self._control("POST", "/_fake/faults", {"method": method, "path": path, "status": status, "times": times,
                                                "delay": delay, "after_effect": after_effect})

    def clear_faults(self) -> None:
        self._control("DELETE", "/_fake/faults")

    def advance_clock(self, seconds: int) -> int:
        """Move the stand-in's clock (account link expiry, `created`); returns its new now."""
        return int(self._control("POST", "/_fake/clock", {"advance": seconds})["now"])

    def visit_link(self, url: str, *, complete: bool = True) -> str:
        """Open an account link as the creator's browser would; returns where it redirects.
        `complete=False` is a creator who leaves without finishing."""
        response = self.http.get(url, params=None if complete else {"complete": "false"})
        if response.status_code != 302:
            raise RuntimeError(f"account link answered {response.status_code}: {response.text}")
        return response.headers["Location"]

    def complete_onboarding(self, account_id: str) -> dict[str, Any]:
        """Onboard a connected account through a fresh account link; returns the account."""
        link = self.http.post("/v1/account_links", data={
            "account": account_id, "type": "account_onboarding",
            "refresh_url": "http://127.0.0.1/onboarding/refresh", "return_url": "http://127.0.0.1/onboarding/done"})
        if link.status_code != 200:
            raise RuntimeError(f"account link refused: {link.text}")
        self.visit_link(link.json()["url"])
        return dict(self.http.get(f"/v1/accounts/{account_id}").json())

    def restrict_account(self, account_id: str) -> dict[str, Any]:
        """Stripe wants more documents: the account's capabilities go inactive."""
        return dict(self._control("POST", f"/_fake/accounts/{account_id}/restrict"))

    def drain_balance(self, account_id: str, amount: int | None = None, currency: str | None = None) -> dict[str, Any]:
        """The creator paid out (all of, or `amount` of) their balance; returns the payout."""
        payload: dict[str, Any] = {}
        if amount is not None:
            payload["amount"] = amount
        if currency is not None:
            payload["currency"] = currency
        return dict(self._control("POST", f"/_fake/accounts/{account_id}/payout", payload))

    def top_up_platform(self, amount: int, currency: str) -> dict[str, Any]:
        """Add available funds to the platform (what the 4000000000000077 test card does on Stripe)."""
        return dict(self._control("POST", "/_fake/platform/topup", {"amount": amount, "currency": currency}))

    def open_dispute(self, charge_id: str, *, amount: int | None = None, reason: str = "fraudulent") -> dict[str, Any]:
        payload: dict[str, Any] = {"reason": reason}
        if amount is not None:
            payload["amount"] = amount
        return dict(self._control("POST", f"/_fake/charges/{charge_id}/dispute", payload))

    def close_dispute(self, dispute_id: str, status: str) -> dict[str, Any]:
        """The bank decided: `won` or `lost`."""
        return dict(self._control("POST", f"/_fake/disputes/{dispute_id}/close", {"status": status}))

    def event_records(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Sent events, oldest first, each as {"event": ..., "deliveries": [attempts]}."""
        params = {"type": event_type} if event_type else None
        response = self.http.get("/_fake/events", params=params)
        response.raise_for_status()
        return list(response.json()["data"])

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [record["event"] for record in self.event_records(event_type)]

    def wait_for_event(self, event_type: str, predicate: Callable[[dict[str, Any]], bool] | None = None,
                       timeout: float = 5.0) -> dict[str, Any]:
        """The first event of that type (matching `predicate`) the stand-in has sent or relayed from localstripe."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events(event_type):
                if predicate is None or predicate(event):
                    return event
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {event_type} event within {timeout}s")
            time.sleep(0.05)

    def resend_event(self, event_id: str, endpoint_id: str | None = None) -> None:
        """Deliver an event again (Stripe does send duplicates)."""
        self._control("POST", f"/_fake/events/{event_id}/resend",
                      {"endpoint": endpoint_id} if endpoint_id is not None else {})


class WebhookReceiver:
    """A local endpoint that verifies every delivery with `stripe.Webhook.construct_event`, as the app will."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.events: list[stripe.Event] = []
        self.rejected: list[str] = []
        self.attempts: dict[str, int] = {}
        self._statuses: list[tuple[str | None, int]] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._receive(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval keeps stop() (which waits for the next poll) from costing half a second per test.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/stripe/webhook"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer_with(self, *statuses: int, event_type: str | None = None) -> None:
        """Answer the next deliveries (of `event_type`, if given) with these statuses, then 200 again, to make the
        stand-in retry."""
        self._statuses.extend((event_type, status) for status in statuses)

    def _next_status(self, event_type: str) -> int:
        for index, (wanted, status) in enumerate(self._statuses):
            if wanted is None or wanted == event_type:
                del self._statuses[index]
                return status
        return 200

    def _receive(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        try:
            event = stripe.Webhook.construct_event(body, handler.headers.get("Stripe-Signature"), self.secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            with self._changed:
                self.rejected.append(str(exc))
                self._changed.notify_all()
            handler.send_response(400)
            handler.end_headers()
            return
        with self._changed:
            status = self._next_status(event.type)
            self.attempts[event.id] = self.attempts.get(event.id, 0) + 1
            if 200 <= status < 300:
                self.events.append(event)
            self._changed.notify_all()
        handler.send_response(status)
        handler.end_headers()

    def received(self, event_type: str, object_id: str | None = None) -> list[stripe.Event]:
        with self._changed:
            return [e for e in self.events if e.type == event_type
                    and (object_id is None or e.data.object["id"] == object_id)]

    def wait_for(self, event_type: str, object_id: str | None = None, *, count: int = 1,
                 timeout: float = 5.0) -> list[stripe.Event]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := self.received(event_type, object_id)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [e.type for e in self.events]
                    raise AssertionError(f"{count} x {event_type} ({object_id}) not delivered; got {seen}")
                self._changed.wait(remaining)
            return found


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stack by hand (e.g. to point a dev server at it) until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    with StripeStack() as stack:
        print(f"STRIPE_API_BASE={stack.api_base}\nSTRIPE_API_KEY={stack.api_key}\n"
              f"(localstripe at {stack.localstripe_url}; started in {stack.startup_seconds:.2f}s; Ctrl-C stops)",
              flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
