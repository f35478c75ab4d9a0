"""Stateful Stripe test server: Connect, idempotency, disputes, signed webhooks and faults in front of localstripe."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import hashlib
import hmac
import json
import logging
import random
import re
import string
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
import stripe
from aiohttp import web

log = logging.getLogger(__name__)

# What it serves itself (everything else under /v1 goes to localstripe, reshaped):
#   /v1/accounts[/{id}], /v1/account_links, /v1/transfers[/{id}[/reversals[/{id}]]], /v1/balance (Stripe-Account
#   or platform), /v1/disputes[/{id}[/close]], /v1/events[/{id}], /v1/payment_intents/search, /v1/charges/search.
# Control (no auth): POST|DELETE /_config/webhooks/{id} (url, secret, events), DELETE /_config/data,
#   GET /_fake/onboarding/{token}[?complete=false], POST|GET|DELETE /_fake/faults, GET|POST /_fake/clock (advance),
#   GET /_fake/events[?type=], POST /_fake/events/{id}/resend, POST /_fake/accounts/{id}/payout|restrict,
#   POST /_fake/platform/topup, POST /_fake/charges/{id}/dispute, POST /_fake/disputes/{id}/close (won|lost).
# localstripe, as seen through here: PaymentIntents take amount, currency, customer, payment_method,
#   payment_method_types, payment_method_options, capture_method, metadata, confirm, off_session (+ the extras
#   below); confirm(payment_method=...) works; test cards are pm_card_visa and pm_card_chargeCustomerFail (declines;
#   pm_card_visa_chargeDeclined succeeds there). statement_descriptor, setup_future_usage, on_behalf_of,
#   application_fee_amount, transfer_data, cancellation_reason, refunds' reverse_transfer are refused.

JSON = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = web.RequestKey("request_id", str)
API_KEY = web.RequestKey("api_key", str)

# Events carry the version the installed SDK pins, so `construct_event` sees what real Stripe would send it.
API_VERSION: str = stripe.api_version

# PaymentIntent parameters localstripe rejects although the app sends them; the server keeps them itself and
# puts them back into every PaymentIntent it returns, as Stripe would.
PAYMENT_INTENT_EXTRAS = ("transfer_group", "description", "automatic_payment_methods", "statement_descriptor_suffix",
                         "receipt_email")
# Accepted and dropped: they only steer redirect-based payment methods, which localstripe does not have.
PAYMENT_INTENT_DROPPED = ("return_url",)
REFUND_EXTRAS = ("reason",)
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
DISPUTE_REASONS = ("bank_cannot_process", "check_returned", "credit_not_processed", "customer_initiated",
                   "debit_not_authorized", "duplicate", "fraudulent", "general", "incorrect_account_details",
                   "insufficient_funds", "product_not_received", "product_unacceptable", "subscription_canceled",
                   "unrecognized")
OPEN_DISPUTE_STATUSES = ("warning_needs_response", "warning_under_review", "needs_response", "under_review")
EURO_COUNTRIES = {"AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV", "MT", "NL",
                  "PT", "SI", "SK"}
OTHER_CURRENCIES = {"GB": "gbp", "CA": "cad", "AU": "aud", "JP": "jpy", "CH": "chf", "SE": "sek", "DK": "dkk",
                    "NO": "nok", "PL": "pln", "NZ": "nzd", "SG": "sgd"}
# What a fresh Express individual still owes Stripe before it can receive transfers.
ONBOARDING_REQUIREMENTS = ("business_profile.mcc", "business_profile.url", "business_type", "external_account",
                           "individual.address.city", "individual.address.line1", "individual.address.postal_code",
                           "individual.dob.day", "individual.dob.month", "individual.dob.year", "individual.email",
                           "individual.first_name", "individual.last_name", "individual.phone", "tos_acceptance.date",
                           "tos_acceptance.ip")
ACCOUNT_LINK_TTL = 300
RELAY_ENDPOINT_ID = "_stand_in_relay"
IDEMPOTENCY_PARAMS_MESSAGE = ("Keys for idempotent requests can only be used with the same parameters they were first "
                              "used with. Try using a key other than '{key}' if you meant to execute a different "
                              "request.")
IDEMPOTENCY_ENDPOINT_MESSAGE = ("Keys for idempotent requests can only be used for the same endpoint they were first "
                                "used for ('{first}' vs '{second}'). Try using a key other than '{key}' if you meant "
                                "to execute a different request.")

_ID_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "1" + "".join(random.choices(_ID_ALPHABET, k=length - 1))


# ---------------------------------------------------------------------------------------------------------------
# Wire format
# ---------------------------------------------------------------------------------------------------------------


class StripeError(Exception):
    """A Stripe-shaped API error.

    `replayable` follows Stripe's idempotency rule: a result is kept for the key once the operation began (card
    declines, insufficient balance), but not when the request failed validation, so a corrected retry can run.
    """

    def __init__(self, status: int, message: str, *, error_type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None, replayable: bool = False,
                 extra: JSON | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.replayable = replayable
        self.extra = extra or {}

    def to_json(self) -> JSON:
        error: JSON = {"type": self.error_type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(obj, indent=2).encode(), content_type="application/json")


def error_response(exc: StripeError) -> web.Response:
    return json_response(exc.to_json(), status=exc.status)


def decode_form(pairs: Iterable[tuple[str, str]]) -> JSON:
    """Turn Stripe's bracket notation (`a[b][0]=x`, `expand[]=y`) into nested dicts and lists."""
    root: JSON = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head, *re.findall(r"\[([^\]]*)\]", "[" + rest)] if rest else [head]
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        last = parts[-1] or str(len(node))
        node[last] = value
    return _listify(root)


def _listify(value: Any, under_metadata: bool = False) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {k: _listify(v, under_metadata=k == "metadata") for k, v in value.items()}
    # Metadata keys may be digits; they must stay a dict.
    if converted and not under_metadata and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def form_pairs(raw: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise StripeError(400, "Invalid request body: not UTF-8 form data.") from exc


def reject_unknown(params: Mapping[str, Any], allowed: Iterable[str]) -> None:
    known = set(allowed)
    for name in params:
        if name not in known:
            raise StripeError(400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name)


def missing(name: str) -> StripeError:
    return StripeError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)


def str_param(params: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(name)
        return None
    if not isinstance(value, str):
        raise StripeError(400, f"Invalid string: {value!r}", code="parameter_invalid_string", param=name)
    return value


def int_param(params: Mapping[str, Any], name: str, *, required: bool = False, minimum: int = 1,
              maximum: int = 99_999_999) -> int | None:
    raw = str_param(params, name, required=required)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise StripeError(400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name) from exc
    if value < minimum:
        raise StripeError(400, f"This value must be greater than or equal to {minimum}.",
                          code="parameter_invalid_integer", param=name)
    if value > maximum:
        raise StripeError(400, f"This value must be less than or equal to {maximum}.",
                          code="parameter_invalid_integer", param=name)
    return value


def bool_param(params: Mapping[str, Any], name: str) -> bool | None:
    raw = params.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise StripeError(400, f"Invalid boolean: {raw}", code="parameter_invalid_boolean", param=name)
    return raw == "true"


def currency_param(params: Mapping[str, Any], name: str = "currency", *, required: bool = True) -> str | None:
    raw = str_param(params, name, required=required)
    if raw is None:
        return None
    if not re.fullmatch(r"[A-Za-z]{3}", raw):
        raise StripeError(400, f"Invalid currency: {raw.lower()}. Stripe currently supports these currencies: ...",
                          param=name)
    return raw.lower()


def metadata_param(value: Any, existing: Mapping[str, str] | None = None) -> dict[str, str]:
    """Stripe's metadata rules: merged on update, `""` unsets a key (or everything), 50 keys of 40/500 chars."""
    result = dict(existing or {})
    if value is None:
        return result
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise StripeError(400, "Invalid object", param="metadata")
    for key, item in value.items():
        if not isinstance(item, str):
            raise StripeError(400, "Invalid string", param=f"metadata[{key}]")
        if len(key) > 40:
            raise StripeError(400, "Keys for metadata can be at most 40 characters long.", param=f"metadata[{key}]")
        if len(item) > 500:
            raise StripeError(400, "Values for metadata can be at most 500 characters long.",
                              param=f"metadata[{key}]")
        if item == "":
            result.pop(key, None)
        else:
            result[key] = item
    if len(result) > 50:
        raise StripeError(400, "Metadata can have at most 50 keys.", param="metadata")
    return result


def expand_param(params: Mapping[str, Any]) -> list[str]:
    value = params.get("expand")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise StripeError(400, "Invalid array", param="expand")


def paginate(items: Sequence[JSON], params: Mapping[str, Any], url: str) -> JSON:
    """A Stripe list object, newest first, honouring limit/starting_after/ending_before."""
    limit = int_param(params, "limit", minimum=1, maximum=100) or 10
    # Stable sort of the reversed insertion order: newest first, ties broken by most recent insertion.
    ordered = sorted(reversed(list(items)), key=lambda item: item.get("created", 0), reverse=True)
    ids = [item["id"] for item in ordered]
    starting_after = str_param(params, "starting_after")
    ending_before = str_param(params, "ending_before")
    if starting_after is not None:
        if starting_after not in ids:
            raise StripeError(400, f"No such object: '{starting_after}'", code="resource_missing",
                              param="starting_after")
        rest = ordered[ids.index(starting_after) + 1:]
        page, has_more = rest[:limit], len(rest) > limit
    elif ending_before is not None:
        if ending_before not in ids:
            raise StripeError(400, f"No such object: '{ending_before}'", code="resource_missing",
                              param="ending_before")
        before = ordered[:ids.index(ending_before)]
        page, has_more = before[-limit:], len(before) > limit
    else:
        page, has_more = ordered[:limit], len(ordered) > limit
    return {"object": "list", "data": list(page), "has_more": has_more, "url": url}


def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header value: HMAC-SHA256 of "{t}.{raw body}" with the endpoint's secret."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(payload: bytes, header: str, secret: str) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    expected = sign_payload(payload, secret, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


# ---------------------------------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class AccountLinkRecord:
    account: str
    refresh_url: str
    return_url: str
    link_type: str
    expires_at: int
    used: bool = False


@dataclass
class WebhookEndpoint:
    endpoint_id: str
    url: str
    secret: str
    events: list[str] | None

    def wants(self, event_type: str) -> bool:
        return self.events is None or "*" in self.events or event_type in self.events


@dataclass
class EventRecord:
    event: JSON
    payload: bytes
    deliveries: list[JSON] = field(default_factory=list)


@dataclass
class StoredResponse:
    path: str
    params: tuple[tuple[str, str], ...]
    status: int
    body: bytes
    content_type: str
    request_id: str


@dataclass
class Fault:
    method: str | None
    path: re.Pattern[str]
    status: int | None
    times: int
    delay: float
    after_effect: bool

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and self.path.search(path) is not None

    def describe(self) -> JSON:
        return {"method": self.method, "path": self.path.pattern, "status": self.status, "times": self.times,
                "delay": self.delay, "after_effect": self.after_effect}


@dataclass
class FakeState:
    """Everything `DELETE /_config/data` forgets."""

    accounts: dict[str, JSON] = field(default_factory=dict)
    balances: dict[str, dict[str, int]] = field(default_factory=dict)
    platform_available: dict[str, int] = field(default_factory=dict)
    account_links: dict[str, AccountLinkRecord] = field(default_factory=dict)
    transfers: dict[str, JSON] = field(default_factory=dict)
    reversals: dict[str, JSON] = field(default_factory=dict)
    disputes: dict[str, JSON] = field(default_factory=dict)
    payouts: dict[str, JSON] = field(default_factory=dict)
    events: dict[str, EventRecord] = field(default_factory=dict)
    payment_intent_extras: dict[str, JSON] = field(default_factory=dict)
    refund_extras: dict[str, JSON] = field(default_factory=dict)
    idempotency: dict[tuple[str, str, str], StoredResponse] = field(default_factory=dict)


@dataclass
class LocalstripeReply:
    status: int
    data: Any
    raw: bytes


def _empty_requirements() -> JSON:
    return {"alternatives": [], "current_deadline": None, "currently_due": [], "disabled_reason": None, "errors": [],
            "eventually_due": [], "past_due": [], "pending_verification": []}


def _default_currency(country: str) -> str:
    if country in EURO_COUNTRIES:
        return "eur"
    return OTHER_CURRENCIES.get(country, "usd")


# ---------------------------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------------------------


class StripeServer:
    """The stand-in. `start()` runs it on its own event loop in a daemon thread; `url` is the API base."""

    def __init__(self, localstripe_url: str, *, host: str = "127.0.0.1", port: int = 0,
                 webhook_retry_delays: Sequence[float] = (0.2, 0.5, 1.0), webhook_timeout: float = 5.0) -> None:
        self.localstripe_url = localstripe_url.rstrip("/")
        self.host = host
        self.port = port
        self.webhook_retry_delays = tuple(webhook_retry_delays)
        self.webhook_timeout = webhook_timeout
        self.state = FakeState()
        self.webhooks: dict[str, WebhookEndpoint] = {}
        self.faults: list[Fault] = []
        self.clock_offset = 0
        self._idempotency_locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        self._money_lock: asyncio.Lock | None = None
        self._relay_secret = "whsec_" + new_id("relay", 32)
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def now(self) -> int:
        return int(time.time()) + self.clock_offset

    def start(self, timeout: float = 10.0) -> StripeServer:
        ready = threading.Event()
        failures: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:
                failures.append(exc)
                ready.set()
                loop.run_until_complete(self.stop_async())
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop_async())
                loop.close()

        self._thread = threading.Thread(target=run, name="stripe-stand-in", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the Stripe stand-in did not start in time")
        if failures:
            raise RuntimeError("the Stripe stand-in failed to start") from failures[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> StripeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def start_async(self) -> None:
        self._money_lock = asyncio.Lock()
        self._session = aiohttp.ClientSession()
        self._runner = web.AppRunner(self.build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        # localstripe delivers its own events (payment_intent.succeeded...) here, so they get the same shaping,
        # signing, retries and resend as ours instead of arriving without transfer_group.
        relay = urlencode({"url": f"{self.url}/_fake/relay", "secret": self._relay_secret})
        reply = await self._localstripe("POST", f"/_config/webhooks/{RELAY_ENDPOINT_ID}", body=relay)
        if reply.status != 200:
            raise RuntimeError(f"localstripe refused the relay webhook: {reply.status} {reply.raw!r}")

    async def stop_async(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors_mw, self._faults_mw, self._auth_mw, self._idempotency_mw])
        r = app.router
        r.add_get("/_fake/health", self.health)
        r.add_post("/_config/webhooks/{endpoint_id}", self.register_webhook)
        r.add_delete("/_config/webhooks/{endpoint_id}", self.unregister_webhook)
        r.add_delete("/_config/data", self.reset_data)
        r.add_post("/_fake/relay", self.relay_localstripe_event)
        r.add_get("/_fake/onboarding/{token}", self.visit_onboarding)
        r.add_post("/_fake/faults", self.add_fault)
        r.add_get("/_fake/faults", self.list_faults)
        r.add_delete("/_fake/faults", self.clear_faults)
        r.add_get("/_fake/clock", self.get_clock)
        r.add_post("/_fake/clock", self.move_clock)
        r.add_get("/_fake/events", self.list_sent_events)
        r.add_post("/_fake/events/{event_id}/resend", self.resend_event)
        r.add_post("/_fake/accounts/{account_id}/payout", self.pay_out_account)
        r.add_post("/_fake/accounts/{account_id}/restrict", self.restrict_account)
        r.add_post("/_fake/platform/topup", self.top_up_platform)
        r.add_post("/_fake/charges/{charge_id}/dispute", self.open_dispute)
        r.add_post("/_fake/disputes/{dispute_id}/close", self.close_dispute_control)

        r.add_post("/v1/accounts", self.create_account)
        r.add_get("/v1/accounts", self.list_accounts)
        r.add_get("/v1/accounts/{account_id}", self.retrieve_account)
        r.add_post("/v1/accounts/{account_id}", self.update_account)
        r.add_delete("/v1/accounts/{account_id}", self.delete_account)
        r.add_post("/v1/account_links", self.create_account_link)
        r.add_post("/v1/transfers", self.create_transfer)
        r.add_get("/v1/transfers", self.list_transfers)
        r.add_get("/v1/transfers/{transfer_id}", self.retrieve_transfer)
        r.add_post("/v1/transfers/{transfer_id}", self.update_transfer)
        r.add_post("/v1/transfers/{transfer_id}/reversals", self.create_reversal)
        r.add_get("/v1/transfers/{transfer_id}/reversals", self.list_reversals)
        r.add_get("/v1/transfers/{transfer_id}/reversals/{reversal_id}", self.retrieve_reversal)
        r.add_post("/v1/transfers/{transfer_id}/reversals/{reversal_id}", self.update_reversal)
        r.add_get("/v1/balance", self.retrieve_balance)
        r.add_get("/v1/disputes", self.list_disputes)
        r.add_get("/v1/disputes/{dispute_id}", self.retrieve_dispute)
        r.add_post("/v1/disputes/{dispute_id}", self.update_dispute)
        r.add_post("/v1/disputes/{dispute_id}/close", self.accept_dispute)
        r.add_get("/v1/events", self.list_events)
        r.add_get("/v1/events/{event_id}", self.retrieve_event)
        r.add_get("/v1/payment_intents/search", self.search_payment_intents)
        r.add_get("/v1/charges/search", self.search_charges)
        r.add_route("*", "/{tail:.*}", self.proxy)
        return app

    # -- middlewares --------------------------------------------------------------------------------------------

    @web.middleware
    async def _errors_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request[REQUEST_ID] = new_id("req_", 15)
        try:
            response = await handler(request)
        except StripeError as exc:
            response = error_response(exc)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("Stripe stand-in failed on %s %s", request.method, request.path)
            response = error_response(StripeError(500, "The Stripe stand-in hit an internal error (see its log).",
                                                  error_type="api_error"))
        response.headers["Request-Id"] = request[REQUEST_ID]
        response.headers.setdefault("Stripe-Version", request.headers.get("Stripe-Version", API_VERSION))
        key = request.headers.get("Idempotency-Key")
        if key and request.method == "POST":
            response.headers.setdefault("Idempotency-Key", key)
        return response

    @web.middleware
    async def _faults_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(("/_fake/", "/_config/")):
            return await handler(request)
        fault = self._take_fault(request.method, request.path)
        if fault is None:
            return await handler(request)
        if fault.delay:
            # aiohttp keeps running a handler whose client hung up, so a timed-out call still takes effect,
            # exactly the case an idempotent retry has to cover.
            await asyncio.sleep(fault.delay)
        if fault.status is None:
            return await handler(request)
        if fault.after_effect:
            with contextlib.suppress(StripeError):
                await handler(request)
        raise StripeError(fault.status, f"Injected fault on {request.method} {request.path}.",
                          error_type="api_error" if fault.status >= 500 else "invalid_request_error")

    @web.middleware
    async def _auth_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/"):
            key = _api_key(request)
            if key is None:
                raise StripeError(401, "You did not provide an API key. You need to provide your API key in the "
                                       "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                                       "YOUR_SECRET_KEY').")
            if not key.startswith(("sk_test_", "rk_test_")):
                raise StripeError(401, f"Invalid API Key provided: {key[:8]}***. The Stripe stand-in accepts only "
                                       "test-mode secret keys (sk_test_...).")
            request[API_KEY] = key
            account = request.headers.get("Stripe-Account")
            if account and account not in self.state.accounts:
                raise StripeError(403, f"The provided key '{key[:8]}***' does not have access to account "
                                       f"'{account}' (or that account does not exist). Application access may "
                                       "have been revoked.", code="account_invalid")
        return await handler(request)

    @web.middleware
    async def _idempotency_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not request.path.startswith("/v1/") or not key:
            return await handler(request)
        if len(key) > 255:
            raise StripeError(400, "Idempotency keys can be at most 255 characters long.", param="Idempotency-Key")
        scope = (request[API_KEY], request.headers.get("Stripe-Account", ""), key)
        params = tuple(sorted(form_pairs(await request.read()) + list(parse_qsl(request.query_string))))
        # One lock per key: a concurrent duplicate waits for the first request and then gets its replay.
        lock = self._idempotency_locks.setdefault(scope, asyncio.Lock())
        async with lock:
            stored = self.state.idempotency.get(scope)
            if stored is not None:
                return self._replay(stored, request, params, key)
            try:
                response = await handler(request)
            except StripeError as exc:
                response, keep = error_response(exc), exc.replayable
            else:
                keep = response.status < 400 or response.status == 402
            if keep and isinstance(response, web.Response) and isinstance(response.body, bytes):
                self.state.idempotency[scope] = StoredResponse(
                    request.path, params, response.status, response.body, response.content_type,
                    request[REQUEST_ID])
            return response

    def _replay(self, stored: StoredResponse, request: web.Request, params: tuple[tuple[str, str], ...],
                key: str) -> web.Response:
        if stored.path != request.path:
            raise StripeError(400, IDEMPOTENCY_ENDPOINT_MESSAGE.format(
                first=f"POST {stored.path}", second=f"POST {request.path}", key=key), error_type="idempotency_error")
        if stored.params != params:
            raise StripeError(400, IDEMPOTENCY_PARAMS_MESSAGE.format(key=key), error_type="idempotency_error")
        response = web.Response(status=stored.status, body=stored.body, content_type=stored.content_type)
        response.headers["Idempotent-Replayed"] = "true"
        response.headers["Original-Request"] = stored.request_id
        return response

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    # -- helpers ------------------------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> JSON:
        pairs = list(parse_qsl(request.query_string, keep_blank_values=True))
        if request.method == "POST":
            pairs += form_pairs(await request.read())
        return decode_form(pairs)

    async def _control_params(self, request: web.Request) -> JSON:
        """Control endpoints take JSON or form bodies; values come back as strings either way."""
        raw = await request.read()
        if not raw:
            return {}
        if request.content_type == "application/json":
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise StripeError(400, "Expected a JSON object.")
            return {k: v if v is None or isinstance(v, (str, list, dict)) else json.dumps(v) for k, v in data.items()}
        return decode_form(form_pairs(raw))

    def _emit(self, event_type: str, obj: JSON, *, account: str | None = None, previous: JSON | None = None,
              request: web.Request | None = None) -> JSON:
        data: JSON = {"object": copy.deepcopy(obj)}
        if previous:
            data["previous_attributes"] = copy.deepcopy(previous)
        event: JSON = {
            "id": new_id("evt_"), "object": "event", "api_version": API_VERSION, "created": self.now(),
            "data": data, "livemode": False, "pending_webhooks": 0, "type": event_type,
            "request": {"id": request[REQUEST_ID] if request is not None else None,
                        "idempotency_key": request.headers.get("Idempotency-Key") if request is not None else None},
        }
        if account is not None:
            event["account"] = account
        self._record_and_deliver(event)
        return event

    def _record_and_deliver(self, event: JSON) -> None:
        endpoints = [endpoint for endpoint in self.webhooks.values() if endpoint.wants(event["type"])]
        event["pending_webhooks"] = len(endpoints)
        record = EventRecord(event=event, payload=json.dumps(event, indent=2).encode())
        self.state.events[event["id"]] = record
        for endpoint in endpoints:
            self._spawn(self._deliver(record, endpoint))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, record: EventRecord, endpoint: WebhookEndpoint) -> None:
        assert self._session is not None
        for attempt, delay in enumerate((0.0, *self.webhook_retry_delays), start=1):
            if delay:
                await asyncio.sleep(delay)
            # Signed with the wall clock, not the fake one: receivers check the timestamp against their own time.
            headers = {"Content-Type": "application/json; charset=utf-8",
                       "Stripe-Signature": sign_payload(record.payload, endpoint.secret, int(time.time())),
                       "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
            entry: JSON = {"endpoint": endpoint.endpoint_id, "attempt": attempt, "at": time.time(), "status": None,
                           "error": None}
            try:
                async with self._session.post(endpoint.url, data=record.payload, headers=headers,
                                              timeout=aiohttp.ClientTimeout(total=self.webhook_timeout)) as resp:
                    entry["status"] = resp.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                entry["error"] = repr(exc)
            record.deliveries.append(entry)
            if entry["status"] is not None and 200 <= entry["status"] < 300:
                return

    async def _localstripe(self, method: str, path: str, *, query: str = "", body: bytes | str | None = None,
                           api_key: str = "sk_test_stand_in") -> LocalstripeReply:
        assert self._session is not None
        url = self.localstripe_url + path + (f"?{query}" if query else "")
        headers = {"Authorization": f"Bearer {api_key}"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        async with self._session.request(method, url, data=body, headers=headers, allow_redirects=False) as resp:
            raw = await resp.read()
            data: Any = None
            if resp.content_type == "application/json":
                with contextlib.suppress(ValueError):
                    data = json.loads(raw)
            return LocalstripeReply(resp.status, data, raw)

    def _localstripe_error(self, reply: LocalstripeReply, method: str, path: str) -> StripeError:
        """Reshape localstripe's terse errors into what Stripe says for the same mistake."""
        error = reply.data.get("error") if isinstance(reply.data, dict) else None
        if not isinstance(error, dict):
            if reply.status == 404:
                return StripeError(404, f"Unrecognized request URL ({method}: {path}). Please see "
                                        "https://stripe.com/docs or we can help at https://support.stripe.com/.")
            return StripeError(502 if reply.status < 500 else reply.status,
                               f"localstripe failed on {method} {path}: {reply.status} {reply.raw[:200]!r}",
                               error_type="api_error")
        message = str(error.get("message", ""))
        if reply.status == 404 and message == "Not Found":
            segments = [s for s in path.split("/") if s]
            if len(segments) < 3:
                # A create: what is missing is an id the request refers to, and localstripe does not say which.
                return StripeError(404, "No such object: an id in this request does not exist in localstripe (its "
                                        "test payment methods are pm_card_visa, pm_card_visa_chargeDeclined and "
                                        "pm_card_chargeCustomerFail).", code="resource_missing")
            noun = segments[1].rstrip("s")
            return StripeError(404, f"No such {noun}: '{segments[2]}'", code="resource_missing", param="id")
        unexpected = re.fullmatch(r"Unexpected (\w+).*", message)
        if reply.status == 400 and unexpected:
            name = unexpected.group(1)
            return StripeError(400, f"Received unknown parameter: {name} (localstripe does not support it)",
                               code="parameter_unknown", param=name)
        if reply.status == 402:
            extra = {k: v for k, v in error.items() if k not in ("type", "message", "code", "param")}
            return StripeError(402, message, error_type="card_error", code=error.get("code"), replayable=True,
                               extra=extra)
        return StripeError(reply.status, message, error_type=error.get("type", "invalid_request_error"),
                           code=error.get("code"), param=error.get("param"))

    async def _localstripe_json(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = await self._localstripe(method, path, **kwargs)
        if reply.status != 200 or reply.data is None:
            raise self._localstripe_error(reply, method, path)
        return reply.data

    async def _localstripe_all(self, path: str) -> list[JSON]:
        items: list[JSON] = []
        query: dict[str, str] = {"limit": "100"}
        while True:
            page = await self._localstripe_json("GET", path, query=urlencode(query))
            items.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                return items
            query["starting_after"] = page["data"][-1]["id"]

    async def _charge(self, charge_id: str, param: str) -> JSON:
        reply = await self._localstripe("GET", f"/v1/charges/{charge_id}")
        if reply.status == 404:
            raise StripeError(400, f"No such charge: '{charge_id}'", code="resource_missing", param=param)
        if reply.status != 200:
            raise self._localstripe_error(reply, "GET", f"/v1/charges/{charge_id}")
        return self._present(reply.data)

    # -- presenting localstripe objects as Stripe would ---------------------------------------------------------

    def _present(self, value: Any, expand: Iterable[str] = ()) -> Any:
        keep_latest_charge = any("latest_charge" in path for path in expand)

        def walk(node: Any) -> Any:
            if isinstance(node, list):
                return [walk(item) for item in node]
            if not isinstance(node, dict):
                return node
            node = {key: walk(item) for key, item in node.items()}
            kind = node.get("object")
            if kind == "payment_intent":
                self._present_payment_intent(node, keep_latest_charge)
            elif kind == "charge":
                self._present_charge(node)
            elif kind == "refund":
                node.update({name: self.state.refund_extras.get(node["id"], {}).get(name) for name in REFUND_EXTRAS})
            return node

        return walk(value)

    def _present_payment_intent(self, intent: JSON, keep_latest_charge: bool) -> None:
        extras = self.state.payment_intent_extras.get(intent["id"], {})
        for name in PAYMENT_INTENT_EXTRAS:
            intent[name] = extras.get(name)
        # `charges` left the API in 2022-11-15 and `latest_charge` is an id unless expanded: code relying on
        # localstripe's embedded objects would break against real Stripe.
        intent.pop("charges", None)
        latest = intent.get("latest_charge")
        if isinstance(latest, dict) and not keep_latest_charge:
            intent["latest_charge"] = latest["id"]
        intent["amount_received"] = intent["amount"] if intent.get("status") == "succeeded" else 0

    def _present_charge(self, charge: JSON) -> None:
        extras = self.state.payment_intent_extras.get(charge.get("payment_intent") or "", {})
        charge["transfer_group"] = extras.get("transfer_group")
        charge["description"] = charge.get("description") or extras.get("description")
        charge["disputed"] = any(d["charge"] == charge["id"] for d in self.state.disputes.values())
        charge["amount_captured"] = charge["amount"] if charge.get("captured") else 0

    # -- proxy to localstripe -----------------------------------------------------------------------------------

    async def proxy(self, request: web.Request) -> web.Response:
        path, method = request.path, request.method
        if path.startswith("/v1/") and request.headers.get("Stripe-Account"):
            raise StripeError(400, f"The Stripe stand-in does not support the Stripe-Account header on {method} "
                                   f"{path}; only on /v1/balance and its own Connect endpoints.")
        if method == "POST" and path == "/v1/payment_intents":
            return await self._create_payment_intent(request)
        intent_path = re.fullmatch(r"/v1/payment_intents/(pi_\w+)(/confirm)?", path)
        if method == "POST" and intent_path:
            if intent_path.group(2):
                return await self._confirm_payment_intent(request, intent_path.group(1))
            return await self._update_payment_intent(request, intent_path.group(1))
        if method == "POST" and path == "/v1/refunds":
            return await self._create_refund(request)
        if method == "GET" and path == "/v1/charges":
            params = await self._params(request)
            if "payment_intent" in params or "transfer_group" in params:
                return await self._list_charges_filtered(params)
        body = await request.read() if method in ("POST", "DELETE") else None
        reply = await self._localstripe(method, path, query=request.query_string, body=body,
                                        api_key=request.get(API_KEY, "sk_test_stand_in"))
        if not path.startswith("/v1/"):
            return web.Response(status=reply.status, body=reply.raw,
                                content_type="application/json" if reply.data is not None else "text/plain")
        if reply.status != 200 or reply.data is None:
            raise self._localstripe_error(reply, method, path)
        return json_response(self._present(reply.data, expand_param(await self._params(request))))

    async def _create_payment_intent(self, request: web.Request) -> web.Response:
        kept, extras = _split_extras(form_pairs(await request.read()), PAYMENT_INTENT_EXTRAS, PAYMENT_INTENT_DROPPED)
        expand = expand_param(decode_form(kept))
        reply = await self._localstripe("POST", "/v1/payment_intents", body=urlencode(kept),
                                        api_key=request[API_KEY])
        if reply.status == 200:
            self.state.payment_intent_extras[reply.data["id"]] = extras
            return json_response(self._present(reply.data, expand))
        error = self._localstripe_error(reply, "POST", "/v1/payment_intents")
        charge_id = error.extra.get("charge")
        if reply.status == 402 and isinstance(charge_id, str):
            # A declined `confirm=true` still creates the PaymentIntent; Stripe hands it back inside the error.
            charge = await self._localstripe_json("GET", f"/v1/charges/{charge_id}")
            intent_id = charge.get("payment_intent")
            if intent_id:
                self.state.payment_intent_extras[intent_id] = extras
                intent = await self._localstripe_json("GET", f"/v1/payment_intents/{intent_id}")
                error.extra["payment_intent"] = self._present(intent)
        raise error

    async def _update_payment_intent(self, request: web.Request, intent_id: str) -> web.Response:
        kept, extras = _split_extras(form_pairs(await request.read()), PAYMENT_INTENT_EXTRAS, PAYMENT_INTENT_DROPPED)
        path = f"/v1/payment_intents/{intent_id}"
        expand = expand_param(decode_form(kept))
        updates = [(k, v) for k, v in kept if not k.startswith("expand")]
        # localstripe refuses an update with nothing it knows, which is all the app sends when it only sets
        # transfer_group; a read is then the same answer.
        if updates:
            data = await self._localstripe_json("POST", path, body=urlencode(kept), api_key=request[API_KEY])
        else:
            data = await self._localstripe_json("GET", path, api_key=request[API_KEY])
        self.state.payment_intent_extras.setdefault(intent_id, {}).update(extras)
        return json_response(self._present(data, expand))

    async def _confirm_payment_intent(self, request: web.Request, intent_id: str) -> web.Response:
        kept, extras = _split_extras(form_pairs(await request.read()), PAYMENT_INTENT_EXTRAS, PAYMENT_INTENT_DROPPED)
        expand = expand_param(decode_form(kept))
        methods = [v for k, v in kept if k == "payment_method"]
        kept = [(k, v) for k, v in kept if k != "payment_method"]
        path = f"/v1/payment_intents/{intent_id}"
        if methods:
            # localstripe answers 500 "Not implemented" to confirm(payment_method=...); setting it first is the same.
            await self._localstripe_json("POST", path, body=urlencode({"payment_method": methods[0]}),
                                         api_key=request[API_KEY])
        self.state.payment_intent_extras.setdefault(intent_id, {}).update(extras)
        reply = await self._localstripe("POST", f"{path}/confirm", body=urlencode(kept), api_key=request[API_KEY])
        if reply.status != 200:
            error = self._localstripe_error(reply, "POST", f"{path}/confirm")
            if reply.status == 402:
                intent = await self._localstripe_json("GET", path)
                error.extra["payment_intent"] = self._present(intent)
            raise error
        return json_response(self._present(reply.data, expand))

    async def _create_refund(self, request: web.Request) -> web.Response:
        """Refunds go to localstripe, after the checks it lacks (over-refunds, disputed charges)."""
        kept, extras = _split_extras(form_pairs(await request.read()), REFUND_EXTRAS, ())
        params = decode_form(kept)
        reason = extras.get("reason")
        if reason is not None and reason not in REFUND_REASONS:
            raise StripeError(400, f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}", param="reason")
        assert self._money_lock is not None
        async with self._money_lock:
            charge_id = str_param(params, "charge")
            intent_id = str_param(params, "payment_intent")
            if charge_id is None and intent_id is not None:
                intent = await self._localstripe_json("GET", f"/v1/payment_intents/{intent_id}")
                latest = intent.get("latest_charge")
                charge_id = latest.get("id") if isinstance(latest, dict) else latest
                if charge_id is None or intent.get("status") != "succeeded":
                    raise StripeError(400, f"This PaymentIntent ({intent_id}) does not have a successful charge to "
                                           "refund.", code="charge_not_refundable", param="payment_intent")
            if charge_id is None:
                raise StripeError(400, "One of the following params should be provided for this request: "
                                       "payment_intent or charge.", code="parameter_missing")
            charge = await self._charge(charge_id, "charge")
            if any(d["charge"] == charge_id and d["status"] in (*OPEN_DISPUTE_STATUSES, "lost")
                   for d in self.state.disputes.values()):
                raise StripeError(400, f"Charge {charge_id} has been charged back; cannot issue a refund.",
                                  code="charge_disputed", param="charge")
            remaining = charge["amount"] - charge["amount_refunded"]
            if remaining <= 0:
                raise StripeError(400, f"Charge {charge_id} has already been refunded.",
                                  code="charge_already_refunded", param="charge")
            amount = int_param(params, "amount")
            if amount is not None and amount > remaining:
                raise StripeError(400, f"Refund amount ({amount} {charge['currency']}) is greater than unrefunded "
                                       f"amount on charge ({remaining} {charge['currency']})",
                                  code="amount_too_large", param="amount")
            if amount is None:
                # localstripe would refund the whole charge again; Stripe refunds what is left.
                kept.append(("amount", str(remaining)))
            data = await self._localstripe_json("POST", "/v1/refunds", body=urlencode(kept),
                                                api_key=request[API_KEY])
            self.state.refund_extras[data["id"]] = extras
            refund = self._present(data, expand_param(params))
            self._emit("refund.created", refund, request=request)
            self._emit("charge.refunded", await self._charge(charge_id, "charge"), request=request)
        return json_response(refund)

    async def _list_charges_filtered(self, params: JSON) -> web.Response:
        reject_unknown(params, ("payment_intent", "transfer_group", "limit", "starting_after", "ending_before",
                                "expand", "customer"))
        charges = self._present(await self._localstripe_all("/v1/charges"))
        for name in ("payment_intent", "transfer_group", "customer"):
            wanted = str_param(params, name)
            if wanted is not None:
                charges = [c for c in charges if c.get(name) == wanted]
        return json_response(paginate(charges, params, "/v1/charges"))

    async def search_payment_intents(self, request: web.Request) -> web.Response:
        intents = self._present(await self._localstripe_all("/v1/payment_intents"))
        return json_response(_search(intents, await self._params(request), "/v1/payment_intents/search"))

    async def search_charges(self, request: web.Request) -> web.Response:
        charges = self._present(await self._localstripe_all("/v1/charges"))
        return json_response(_search(charges, await self._params(request), "/v1/charges/search"))

    # -- webhooks, events and control ---------------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        return json_response({"ok": True, "localstripe": self.localstripe_url})

    async def register_webhook(self, request: web.Request) -> web.Response:
        params = await self._control_params(request)
        url, secret = params.get("url"), params.get("secret")
        events = params.get("events")
        if not isinstance(url, str) or not url.startswith("http") or not isinstance(secret, str) or not secret:
            raise StripeError(400, "A webhook endpoint needs `url` (http...) and `secret`.")
        if isinstance(events, str):
            events = [events]
        if events is not None and not (isinstance(events, list) and all(isinstance(e, str) for e in events)):
            raise StripeError(400, "`events` must be a list of event types.", param="events")
        endpoint_id = request.match_info["endpoint_id"]
        self.webhooks[endpoint_id] = WebhookEndpoint(endpoint_id, url, secret, events)
        return json_response({"id": endpoint_id, "url": url, "events": events})

    async def unregister_webhook(self, request: web.Request) -> web.Response:
        self.webhooks.pop(request.match_info["endpoint_id"], None)
        return json_response({"deleted": True})

    async def reset_data(self, request: web.Request) -> web.Response:
        for task in list(self._tasks):
            task.cancel()
        self.state = FakeState()
        self._idempotency_locks.clear()
        self.faults.clear()
        self.clock_offset = 0
        reply = await self._localstripe("DELETE", "/_config/data")
        if reply.status != 200:
            raise StripeError(502, f"localstripe did not reset: {reply.status}", error_type="api_error")
        return json_response({"reset": True})

    async def relay_localstripe_event(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if not verify_signature(raw, request.headers.get("Stripe-Signature", ""), self._relay_secret):
            return web.Response(status=400, text="bad signature")
        event = json.loads(raw)
        if event["id"] not in self.state.events and await self._still_exists(event["data"]["object"]):
            event = self._present(event)
            event.update({"api_version": API_VERSION, "livemode": False,
                          "request": {"id": None, "idempotency_key": None}})
            self._record_and_deliver(event)
        return web.Response(status=200)

    async def _still_exists(self, obj: JSON) -> bool:
        """localstripe sends a second after the fact, so an event can outlive a reset; its object is then gone
        and the event would only leak into the next test."""
        kind, object_id = obj.get("object"), obj.get("id")
        if not isinstance(kind, str) or not isinstance(object_id, str):
            return True
        reply = await self._localstripe("GET", f"/v1/{kind}s/{object_id}")
        return reply.status != 404

    async def list_sent_events(self, request: web.Request) -> web.Response:
        """Every event with its delivery attempts, oldest first (`?type=` filters)."""
        wanted = request.query.get("type")
        records = [r for r in self.state.events.values() if wanted is None or r.event["type"] == wanted]
        return json_response({"object": "list", "data": [{"event": r.event, "deliveries": r.deliveries}
                                                         for r in records]})

    async def resend_event(self, request: web.Request) -> web.Response:
        record = self.state.events.get(request.match_info["event_id"])
        if record is None:
            raise StripeError(404, f"No such event: '{request.match_info['event_id']}'", code="resource_missing")
        params = await self._control_params(request)
        only = params.get("endpoint")
        endpoints = [e for e in self.webhooks.values()
                     if (only is None or e.endpoint_id == only) and e.wants(record.event["type"])]
        for endpoint in endpoints:
            self._spawn(self._deliver(record, endpoint))
        return json_response({"id": record.event["id"], "endpoints": [e.endpoint_id for e in endpoints]})

    async def list_events(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        reject_unknown(params, ("type", "limit", "starting_after", "ending_before", "expand", "created"))
        wanted = str_param(params, "type")
        events = [r.event for r in self.state.events.values() if wanted is None or r.event["type"] == wanted]
        return json_response(paginate(events, params, "/v1/events"))

    async def retrieve_event(self, request: web.Request) -> web.Response:
        record = self.state.events.get(request.match_info["event_id"])
        if record is None:
            raise StripeError(404, f"No such event: '{request.match_info['event_id']}'", code="resource_missing",
                              param="id")
        return json_response(record.event)

    async def add_fault(self, request: web.Request) -> web.Response:
        params = await self._control_params(request)
        path = params.get("path")
        if not isinstance(path, str) or not path:
            raise StripeError(400, "A fault needs a `path` regular expression.", param="path")
        delay = float(params.get("delay") or 0)
        # Without a status, a delayed fault only hangs and then lets the request through (client timeouts).
        status_raw = params.get("status", None if delay else "500")
        method = params.get("method")
        fault = Fault(method=method.upper() if isinstance(method, str) else None, path=re.compile(path),
                      status=int(status_raw) if status_raw not in (None, "null") else None,
                      times=int(params.get("times") or 1), delay=delay,
                      after_effect=params.get("after_effect") in ("true", "1", True))
        self.faults.append(fault)
        return json_response(fault.describe())

    async def list_faults(self, request: web.Request) -> web.Response:
        return json_response({"data": [f.describe() for f in self.faults]})

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return json_response({"data": []})

    async def get_clock(self, request: web.Request) -> web.Response:
        return json_response({"now": self.now(), "offset": self.clock_offset})

    async def move_clock(self, request: web.Request) -> web.Response:
        params = await self._control_params(request)
        self.clock_offset += int(params.get("advance") or 0)
        return json_response({"now": self.now(), "offset": self.clock_offset})

    async def pay_out_account(self, request: web.Request) -> web.Response:
        """The creator withdrew: drain (part of) a connected account's balance so reversals can fall short."""
        account = self._account(request.match_info["account_id"])
        params = await self._control_params(request)
        balances = self.state.balances.setdefault(account["id"], {})
        currency = currency_param(params, required=False)
        if currency is None:
            funded = [c for c, amount in balances.items() if amount > 0]
            currency = funded[0] if len(funded) == 1 else account["default_currency"]
        available = balances.get(currency, 0)
        amount = int_param(params, "amount")
        amount = available if amount is None else amount
        if amount > available:
            raise StripeError(400, f"Insufficient funds in account {account['id']}: {available} {currency} "
                                   f"available, {amount} requested.", code="balance_insufficient", param="amount")
        balances[currency] = available - amount
        payout = {"id": new_id("po_"), "object": "payout", "amount": amount, "arrival_date": self.now(),
                  "automatic": True, "created": self.now(), "currency": currency, "description": "STRIPE PAYOUT",
                  "destination": new_id("ba_"), "livemode": False, "metadata": {}, "method": "standard",
                  "status": "paid", "type": "bank_account"}
        self.state.payouts[payout["id"]] = payout
        self._emit("payout.created", payout, account=account["id"])
        self._emit("payout.paid", payout, account=account["id"])
        return json_response(payout)

    async def restrict_account(self, request: web.Request) -> web.Response:
        """Stripe found something wrong after onboarding: capabilities drop to inactive until requirements are met."""
        account = self._account(request.match_info["account_id"])
        previous = {name: copy.deepcopy(account[name]) for name in
                    ("capabilities", "charges_enabled", "payouts_enabled", "requirements")}
        account["capabilities"] = {name: "inactive" for name in account["capabilities"]}
        account["charges_enabled"] = False
        account["payouts_enabled"] = False
        due = ["individual.verification.document"]
        account["requirements"] = {**_empty_requirements(), "currently_due": due, "eventually_due": due,
                                   "past_due": due, "disabled_reason": "requirements.past_due"}
        self._emit("account.updated", account, account=account["id"], previous=previous)
        return json_response(account)

    async def top_up_platform(self, request: web.Request) -> web.Response:
        params = await self._control_params(request)
        currency = currency_param(params)
        assert currency is not None
        amount = int_param(params, "amount", required=True) or 0
        self.state.platform_available[currency] = self.state.platform_available.get(currency, 0) + amount
        return json_response(self._balance_object(self.state.platform_available, currency))

    # -- Connect accounts ---------------------------------------------------------------------------------------

    def _account(self, account_id: str, param: str = "id") -> JSON:
        account = self.state.accounts.get(account_id)
        if account is None:
            raise StripeError(404 if param == "id" else 400, f"No such account: '{account_id}'",
                              code="resource_missing", param=param)
        return account

    async def create_account(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        reject_unknown(params, ("type", "country", "email", "capabilities", "metadata", "business_type",
                                "business_profile", "controller", "default_currency", "settings", "tos_acceptance",
                                "individual", "company", "external_account", "expand"))
        account_type = str_param(params, "type") or ("express" if params.get("controller") else "standard")
        if account_type not in ("express", "standard", "custom"):
            raise StripeError(400, "Invalid type: must be one of custom, express, or standard", param="type")
        country = (str_param(params, "country") or "US").upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise StripeError(400, f"Country '{country}' is unknown.", param="country")
        business_type = str_param(params, "business_type")
        if business_type not in (None, "individual", "company", "non_profit", "government_entity"):
            raise StripeError(400, "Invalid business_type: must be one of company, government_entity, individual, "
                                   "or non_profit", param="business_type")
        requested = _requested_capabilities(params.get("capabilities"))
        if account_type in ("express", "custom") and not requested:
            raise StripeError(400, f"You must request capabilities to create {account_type} accounts, e.g. "
                                   "capabilities[transfers][requested]=true.", param="capabilities")
        profile = params.get("business_profile") or {}
        if not isinstance(profile, dict):
            raise StripeError(400, "Invalid object", param="business_profile")
        account_id = new_id("acct_", 16)
        due = [r for r in ONBOARDING_REQUIREMENTS if not (r == "business_type" and business_type)]
        account: JSON = {
            "id": account_id, "object": "account",
            "business_profile": {"mcc": None, "name": None, "product_description": None, "support_email": None,
                                 "support_phone": None, "url": None, **profile},
            "business_type": business_type,
            "capabilities": {name: "inactive" for name in requested},
            "charges_enabled": False,
            "controller": {"type": "application", "is_controller": True, "stripe_dashboard": {"type": account_type},
                           "requirement_collection": "stripe" if account_type != "custom" else "application"},
            "country": country, "created": self.now(),
            "default_currency": currency_param(params, "default_currency", required=False)
            or _default_currency(country),
            "details_submitted": False,
            "email": str_param(params, "email"),
            "external_accounts": {"object": "list", "data": [], "has_more": False, "total_count": 0,
                                  "url": f"/v1/accounts/{account_id}/external_accounts"},
            "future_requirements": _empty_requirements(),
            "metadata": metadata_param(params.get("metadata")),
            "payouts_enabled": False,
            "requirements": {**_empty_requirements(), "currently_due": due, "eventually_due": due, "past_due": due,
                             "disabled_reason": "requirements.past_due"},
            "settings": {"payouts": {"debit_negative_balances": True, "schedule": {"delay_days": 7,
                                                                                   "interval": "daily"},
                                     "statement_descriptor": None}},
            "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
            "type": account_type,
        }
        self.state.accounts[account_id] = account
        self.state.balances[account_id] = {}
        return json_response(account)

    async def list_accounts(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        reject_unknown(params, ("limit", "starting_after", "ending_before", "expand", "created"))
        return json_response(paginate(list(self.state.accounts.values()), params, "/v1/accounts"))

    async def retrieve_account(self, request: web.Request) -> web.Response:
        return json_response(self._account(request.match_info["account_id"]))

    async def update_account(self, request: web.Request) -> web.Response:
        account = self._account(request.match_info["account_id"])
        params = await self._params(request)
        reject_unknown(params, ("email", "metadata", "business_profile", "business_type", "capabilities",
                                "default_currency", "settings", "tos_acceptance", "individual", "company", "expand"))
        previous: JSON = {}

        def change(name: str, value: Any) -> None:
            if account[name] != value:
                previous[name] = copy.deepcopy(account[name])
                account[name] = value

        if "email" in params:
            change("email", str_param(params, "email"))
        if "metadata" in params:
            change("metadata", metadata_param(params["metadata"], account["metadata"]))
        if isinstance(params.get("business_profile"), dict):
            change("business_profile", {**account["business_profile"], **params["business_profile"]})
        if "business_type" in params:
            change("business_type", str_param(params, "business_type"))
        if "default_currency" in params:
            change("default_currency", currency_param(params, "default_currency"))
        if "capabilities" in params:
            added = [n for n in _requested_capabilities(params["capabilities"]) if n not in account["capabilities"]]
            # A verified account gets new capabilities at once; one mid-onboarding waits like the others.
            status = "active" if account["details_submitted"] and account["payouts_enabled"] else "inactive"
            change("capabilities", {**account["capabilities"], **{n: status for n in added}})
        if previous:
            self._emit("account.updated", account, account=account["id"], previous=previous, request=request)
        return json_response(account)

    async def delete_account(self, request: web.Request) -> web.Response:
        account = self._account(request.match_info["account_id"])
        del self.state.accounts[account["id"]]
        return json_response({"id": account["id"], "object": "account", "deleted": True})

    async def create_account_link(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        reject_unknown(params, ("account", "refresh_url", "return_url", "type", "collect", "collection_options",
                                "expand"))
        account = self._account(str_param(params, "account", required=True) or "", param="account")
        link_type = str_param(params, "type", required=True)
        if link_type not in ("account_onboarding", "account_update"):
            raise StripeError(400, "Invalid type: must be one of account_onboarding or account_update", param="type")
        urls = {}
        for name in ("refresh_url", "return_url"):
            url = str_param(params, name, required=True) or ""
            if not url.startswith(("http://", "https://")):
                raise StripeError(400, f"Not a valid URL: {url}", code="url_invalid", param=name)
            urls[name] = url
        token = new_id("", 32)
        created = self.now()
        self.state.account_links[token] = AccountLinkRecord(account["id"], urls["refresh_url"], urls["return_url"],
                                                            link_type, created + ACCOUNT_LINK_TTL)
        return json_response({"object": "account_link", "created": created, "expires_at": created + ACCOUNT_LINK_TTL,
                              "url": f"{self.url}/_fake/onboarding/{token}"})

    async def visit_onboarding(self, request: web.Request) -> web.Response:
        """The hosted onboarding page: the first visit finishes onboarding (unless `?complete=false`, the creator
        gave up) and goes to return_url; a reused or expired link goes to refresh_url and changes nothing."""
        link = self.state.account_links.get(request.match_info["token"])
        if link is None:
            return web.Response(status=404, text="This onboarding link does not exist.")
        account = self.state.accounts.get(link.account)
        if link.used or self.now() >= link.expires_at or account is None:
            return web.Response(status=302, headers={"Location": link.refresh_url})
        link.used = True
        if request.query.get("complete", "true") != "false" and not account["details_submitted"]:
            self._complete_onboarding(account)
        return web.Response(status=302, headers={"Location": link.return_url})

    def _complete_onboarding(self, account: JSON) -> None:
        fields = ("capabilities", "charges_enabled", "payouts_enabled", "details_submitted", "requirements",
                  "business_type", "tos_acceptance")
        before = {name: copy.deepcopy(account[name]) for name in fields}
        account["capabilities"] = {name: "active" for name in account["capabilities"]}
        account["charges_enabled"] = account["capabilities"].get("card_payments") == "active"
        account["payouts_enabled"] = True
        account["details_submitted"] = True
        account["requirements"] = _empty_requirements()
        account["business_type"] = account["business_type"] or "individual"
        account["tos_acceptance"] = {"date": self.now(), "ip": "127.0.0.1", "user_agent": "stand-in"}
        bank = {"id": new_id("ba_"), "object": "bank_account", "account": account["id"],
                "bank_name": "STRIPE TEST BANK", "country": account["country"], "currency": account["default_currency"],
                "default_for_currency": True, "last4": "6789", "status": "new"}
        account["external_accounts"] = {**account["external_accounts"], "data": [bank], "total_count": 1}
        previous = {name: value for name, value in before.items() if value != account[name]}
        self._emit("account.updated", account, account=account["id"], previous=previous)

    # -- transfers and reversals --------------------------------------------------------------------------------

    def _transfer(self, transfer_id: str) -> JSON:
        transfer = self.state.transfers.get(transfer_id)
        if transfer is None:
            raise StripeError(404, f"No such transfer: '{transfer_id}'", code="resource_missing", param="id")
        return transfer

    def _present_transfer(self, transfer: JSON) -> JSON:
        reversals = [r for r in self.state.reversals.values() if r["transfer"] == transfer["id"]]
        listing = paginate(reversals, {}, f"/v1/transfers/{transfer['id']}/reversals")
        return {**copy.deepcopy(transfer), "reversals": {**listing, "total_count": len(reversals)}}

    async def create_transfer(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        reject_unknown(params, ("amount", "currency", "destination", "source_transaction", "transfer_group",
                                "metadata", "description", "source_type", "expand"))
        amount = int_param(params, "amount", required=True)
        currency = currency_param(params)
        assert amount is not None and currency is not None
        destination_id = str_param(params, "destination", required=True) or ""
        destination = self.state.accounts.get(destination_id)
        if destination is None:
            raise StripeError(400, f"No such destination: '{destination_id}'", code="resource_missing",
                              param="destination")
        if destination["capabilities"].get("transfers") != "active":
            raise StripeError(400, "Your destination account needs to have at least one of the following "
                                   "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                              code="insufficient_capabilities_for_transfer", param="destination")
        metadata = metadata_param(params.get("metadata"))
        source_id = str_param(params, "source_transaction")
        assert self._money_lock is not None
        # Check and commit under one lock: two transfers racing on one charge must not both fit.
        async with self._money_lock:
            if source_id is not None:
                await self._check_source_transaction(source_id, amount, currency)
            else:
                available = self.state.platform_available.get(currency, 0)
                if amount > available:
                    raise StripeError(400, "You have insufficient available funds in your Stripe account. Try adding "
                                           "funds directly to your available balance by creating Charges using the "
                                           "4000000000000077 test card (here: POST /_fake/platform/topup), or pass "
                                           "source_transaction.", code="balance_insufficient", replayable=True)
                self.state.platform_available[currency] = available - amount
            transfer: JSON = {
                "id": new_id("tr_"), "object": "transfer", "amount": amount, "amount_reversed": 0,
                "balance_transaction": new_id("txn_"), "created": self.now(), "currency": currency,
                "description": str_param(params, "description"), "destination": destination_id,
                "destination_payment": new_id("py_"), "livemode": False, "metadata": metadata, "reversed": False,
                "source_transaction": source_id, "source_type": "card",
                "transfer_group": str_param(params, "transfer_group"),
            }
            self.state.transfers[transfer["id"]] = transfer
            balances = self.state.balances.setdefault(destination_id, {})
            balances[currency] = balances.get(currency, 0) + amount
        presented = self._present_transfer(transfer)
        self._emit("transfer.created", presented, request=request)
        return json_response(presented)

    async def _check_source_transaction(self, source_id: str, amount: int, currency: str) -> None:
        if not source_id.startswith(("ch_", "py_")):
            raise StripeError(400, f"No such charge: '{source_id}' (source_transaction takes a charge id such as "
                                   "the PaymentIntent's latest_charge, not the PaymentIntent)",
                              code="resource_missing", param="source_transaction")
        charge = await self._charge(source_id, "source_transaction")
        if charge.get("status") != "succeeded" or not charge.get("captured"):
            raise StripeError(400, f"The source_transaction {source_id} has not succeeded (status "
                                   f"{charge.get('status')}, captured {charge.get('captured')}).",
                              param="source_transaction")
        if charge["currency"] != currency:
            raise StripeError(400, f"The currency of source_transaction's balance transaction ({charge['currency']}) "
                                   f"must be the same as the transfer currency ({currency}).", param="currency")
        transferred = sum(t["amount"] - t["amount_reversed"] for t in self.state.transfers.values()
                          if t["source_transaction"] == source_id)
        remaining = charge["amount"] - charge["amount_refunded"] - transferred
        if amount > remaining:
            raise StripeError(400, f"Insufficient funds on source_transaction {source_id}: {remaining} {currency} "
                                   f"left to transfer (charged {charge['amount']}, refunded "
                                   f"{charge['amount_refunded']}, already transferred {transferred}), {amount} "
                                   "requested.", code="balance_insufficient", param="amount", replayable=True)

    async def list_transfers(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        reject_unknown(params, ("destination", "transfer_group", "limit", "starting_after", "ending_before", "expand",
                                "created"))
        transfers = [self._present_transfer(t) for t in self.state.transfers.values()]
        for name in ("destination", "transfer_group"):
            wanted = str_param(params, name)
            if wanted is not None:
                transfers = [t for t in transfers if t[name] == wanted]
        return json_response(paginate(transfers, params, "/v1/transfers"))

    async def retrieve_transfer(self, request: web.Request) -> web.Response:
        return json_response(self._present_transfer(self._transfer(request.match_info["transfer_id"])))

    async def update_transfer(self, request: web.Request) -> web.Response:
        transfer = self._transfer(request.match_info["transfer_id"])
        params = await self._params(request)
        reject_unknown(params, ("description", "metadata", "expand"))
        if "description" in params:
            transfer["description"] = str_param(params, "description")
        transfer["metadata"] = metadata_param(params.get("metadata"), transfer["metadata"])
        return json_response(self._present_transfer(transfer))

    async def create_reversal(self, request: web.Request) -> web.Response:
        transfer = self._transfer(request.match_info["transfer_id"])
        params = await self._params(request)
        reject_unknown(params, ("amount", "metadata", "description", "refund_application_fee", "expand"))
        metadata = metadata_param(params.get("metadata"))
        assert self._money_lock is not None
        async with self._money_lock:
            unreversed = transfer["amount"] - transfer["amount_reversed"]
            if unreversed <= 0:
                raise StripeError(400, f"Transfer {transfer['id']} has already been fully reversed.",
                                  param="amount")
            amount = int_param(params, "amount")
            amount = unreversed if amount is None else amount
            if amount > unreversed:
                raise StripeError(400, f"You cannot reverse more than the transfer's remaining {unreversed} "
                                       f"{transfer['currency']} (requested {amount}).", param="amount")
            balances = self.state.balances.setdefault(transfer["destination"], {})
            available = balances.get(transfer["currency"], 0)
            # Stripe pulls the money back from the creator's balance: once paid out, there is nothing to take.
            if available < amount:
                raise StripeError(400, f"Insufficient funds in the destination account {transfer['destination']} to "
                                       f"reverse this transfer: {available} {transfer['currency']} available, "
                                       f"{amount} requested.", code="balance_insufficient", replayable=True)
            balances[transfer["currency"]] = available - amount
            self.state.platform_available[transfer["currency"]] = (
                self.state.platform_available.get(transfer["currency"], 0) + amount)
            previous = {"amount_reversed": transfer["amount_reversed"], "reversed": transfer["reversed"]}
            reversal: JSON = {
                "id": new_id("trr_"), "object": "transfer_reversal", "amount": amount,
                "balance_transaction": new_id("txn_"), "created": self.now(), "currency": transfer["currency"],
                "destination_payment_refund": new_id("pyr_"), "metadata": metadata, "source_refund": None,
                "transfer": transfer["id"],
            }
            self.state.reversals[reversal["id"]] = reversal
            transfer["amount_reversed"] += amount
            transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
        self._emit("transfer.reversed", self._present_transfer(transfer), previous=previous, request=request)
        return json_response(reversal)

    def _reversal(self, request: web.Request) -> JSON:
        transfer = self._transfer(request.match_info["transfer_id"])
        reversal = self.state.reversals.get(request.match_info["reversal_id"])
        if reversal is None or reversal["transfer"] != transfer["id"]:
            raise StripeError(404, f"No such transfer reversal: '{request.match_info['reversal_id']}'",
                              code="resource_missing", param="id")
        return reversal

    async def list_reversals(self, request: web.Request) -> web.Response:
        transfer = self._transfer(request.match_info["transfer_id"])
        params = await self._params(request)
        reject_unknown(params, ("limit", "starting_after", "ending_before", "expand"))
        reversals = [r for r in self.state.reversals.values() if r["transfer"] == transfer["id"]]
        return json_response(paginate(reversals, params, f"/v1/transfers/{transfer['id']}/reversals"))

    async def retrieve_reversal(self, request: web.Request) -> web.Response:
        return json_response(self._reversal(request))

    async def update_reversal(self, request: web.Request) -> web.Response:
        reversal = self._reversal(request)
        params = await self._params(request)
        reject_unknown(params, ("metadata", "expand"))
        reversal["metadata"] = metadata_param(params.get("metadata"), reversal["metadata"])
        return json_response(reversal)

    # -- balance ------------------------------------------------------------------------------------------------

    def _balance_object(self, amounts: Mapping[str, int], fallback_currency: str) -> JSON:
        currencies = sorted(amounts) or [fallback_currency]
        return {
            "object": "balance", "livemode": False,
            "available": [{"amount": amounts.get(c, 0), "currency": c, "source_types": {"card": amounts.get(c, 0)}}
                          for c in currencies],
            "pending": [{"amount": 0, "currency": c, "source_types": {"card": 0}} for c in currencies],
        }

    async def retrieve_balance(self, request: web.Request) -> web.Response:
        """With Stripe-Account: what the creator holds. Without: the platform's top-ups and reversals (charge funds
        stay pending, as they do in test mode with ordinary test cards)."""
        account_id = request.headers.get("Stripe-Account")
        if account_id:
            account = self._account(account_id)
            return json_response(self._balance_object(self.state.balances.get(account_id, {}),
                                                      account["default_currency"]))
        return json_response(self._balance_object(self.state.platform_available, "usd"))

    # -- disputes -----------------------------------------------------------------------------------------------

    def _dispute(self, dispute_id: str) -> JSON:
        dispute = self.state.disputes.get(dispute_id)
        if dispute is None:
            raise StripeError(404, f"No such dispute: '{dispute_id}'", code="resource_missing", param="id")
        return dispute

    async def open_dispute(self, request: web.Request) -> web.Response:
        """The cardholder's bank charged back: a dispute in `needs_response`, as Stripe reports it."""
        charge_id = request.match_info["charge_id"]
        params = await self._control_params(request)
        reply = await self._localstripe("GET", f"/v1/charges/{charge_id}")
        if reply.status != 200:
            raise self._localstripe_error(reply, "GET", f"/v1/charges/{charge_id}")
        charge = reply.data
        if charge.get("status") != "succeeded":
            raise StripeError(400, f"Charge {charge_id} did not succeed; it cannot be disputed.")
        if any(d["charge"] == charge_id for d in self.state.disputes.values()):
            raise StripeError(400, f"Charge {charge_id} is already disputed.", code="charge_disputed")
        amount = int_param(params, "amount") or charge["amount"]
        if amount > charge["amount"]:
            raise StripeError(400, f"A dispute cannot exceed the charge amount ({charge['amount']}).", param="amount")
        reason = str_param(params, "reason") or "fraudulent"
        if reason not in DISPUTE_REASONS:
            raise StripeError(400, f"Invalid reason: {reason}", param="reason")
        dispute: JSON = {
            "id": new_id("dp_"), "object": "dispute", "amount": amount, "balance_transactions": [],
            "charge": charge_id, "created": self.now(), "currency": charge["currency"],
            "evidence": {"customer_communication": None, "product_description": None, "receipt": None,
                         "shipping_documentation": None, "uncategorized_text": None},
            "evidence_details": {"due_by": self.now() + 7 * 86400, "has_evidence": False, "past_due": False,
                                 "submission_count": 0},
            "is_charge_refundable": False, "livemode": False, "metadata": {},
            "payment_intent": charge.get("payment_intent"), "reason": reason, "status": "needs_response",
        }
        self.state.disputes[dispute["id"]] = dispute
        self._emit("charge.dispute.created", dispute)
        self._emit("charge.dispute.funds_withdrawn", dispute)
        return json_response(dispute)

    def _close_dispute(self, dispute: JSON, status: str, request: web.Request | None = None) -> None:
        if dispute["status"] not in OPEN_DISPUTE_STATUSES:
            raise StripeError(400, f"This dispute is already closed (status {dispute['status']}).")
        previous = {"status": dispute["status"]}
        dispute["status"] = status
        self._emit("charge.dispute.closed", dispute, previous=previous, request=request)
        if status == "won":
            self._emit("charge.dispute.funds_reinstated", dispute)

    async def close_dispute_control(self, request: web.Request) -> web.Response:
        dispute = self._dispute(request.match_info["dispute_id"])
        params = await self._control_params(request)
        status = params.get("status")
        if status not in ("won", "lost", "warning_closed"):
            raise StripeError(400, "status must be won, lost or warning_closed", param="status")
        self._close_dispute(dispute, status)
        return json_response(dispute)

    async def list_disputes(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        reject_unknown(params, ("charge", "payment_intent", "limit", "starting_after", "ending_before", "expand",
                                "created"))
        disputes = list(self.state.disputes.values())
        for name in ("charge", "payment_intent"):
            wanted = str_param(params, name)
            if wanted is not None:
                disputes = [d for d in disputes if d[name] == wanted]
        return json_response(paginate(disputes, params, "/v1/disputes"))

    async def retrieve_dispute(self, request: web.Request) -> web.Response:
        return json_response(self._dispute(request.match_info["dispute_id"]))

    async def update_dispute(self, request: web.Request) -> web.Response:
        dispute = self._dispute(request.match_info["dispute_id"])
        params = await self._params(request)
        reject_unknown(params, ("evidence", "metadata", "submit", "expand"))
        previous: JSON = {}
        if isinstance(params.get("evidence"), dict):
            previous["evidence"] = copy.deepcopy(dispute["evidence"])
            dispute["evidence"] = {**dispute["evidence"], **params["evidence"]}
            dispute["evidence_details"]["has_evidence"] = True
        dispute["metadata"] = metadata_param(params.get("metadata"), dispute["metadata"])
        # Stripe submits evidence at once unless told `submit=false`.
        submitted = bool_param(params, "submit") is not False and "evidence" in params
        if submitted and dispute["status"] == "needs_response":
            previous["status"] = dispute["status"]
            dispute["status"] = "under_review"
            dispute["evidence_details"]["submission_count"] += 1
        self._emit("charge.dispute.updated", dispute, previous=previous, request=request)
        return json_response(dispute)

    async def accept_dispute(self, request: web.Request) -> web.Response:
        """Closing a dispute through the API means conceding it: it is lost."""
        dispute = self._dispute(request.match_info["dispute_id"])
        self._close_dispute(dispute, "lost", request)
        return json_response(dispute)


# ---------------------------------------------------------------------------------------------------------------
# Small pure helpers
# ---------------------------------------------------------------------------------------------------------------


def _api_key(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Bearer" and value:
        return value
    if scheme == "Basic" and value:
        with contextlib.suppress(ValueError):
            return base64.b64decode(value).decode().split(":", 1)[0] or None
    return None


def _split_extras(pairs: list[tuple[str, str]], extras: Sequence[str],
                  dropped: Sequence[str]) -> tuple[list[tuple[str, str]], JSON]:
    """Separate the parameters localstripe would reject from those it understands."""
    kept: list[tuple[str, str]] = []
    extra_pairs: list[tuple[str, str]] = []
    for key, value in pairs:
        name = key.split("[", 1)[0]
        if name in extras:
            extra_pairs.append((key, value))
        elif name not in dropped:
            kept.append((key, value))
    decoded = decode_form(extra_pairs)
    methods = decoded.get("automatic_payment_methods")
    if isinstance(methods, dict) and "enabled" in methods:
        methods["enabled"] = methods["enabled"] == "true"
    return kept, decoded


def _requested_capabilities(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise StripeError(400, "Invalid object", param="capabilities")
    requested = []
    for name, spec in value.items():
        if not isinstance(spec, dict) or spec.get("requested") not in ("true", "false"):
            raise StripeError(400, f"Invalid capability request for {name}: use capabilities[{name}][requested]=true",
                              param=f"capabilities[{name}]")
        if spec["requested"] == "true":
            requested.append(name)
    return requested


_SEARCH_CLAUSE = re.compile(
    r"""(?P<neg>-)?(?:metadata\[['"](?P<key>[^'"]+)['"]\]|(?P<field>[a-z_]+))\s*(?P<op>:|>=|<=|>|<)\s*"""
    r"""(?P<value>'[^']*'|"[^"]*"|\S+)""")


def _search(items: list[JSON], params: Mapping[str, Any], url: str) -> JSON:
    """A subset of Stripe's search language: clauses joined by AND, `field:'v'`, `metadata['k']:'v'`, `-` negation,
    and numeric comparisons on amount/created."""
    reject_unknown(params, ("query", "limit", "page", "expand"))
    query = str_param(params, "query", required=True) or ""
    if re.search(r"\sOR\s", query):
        raise StripeError(400, "The Stripe stand-in's search supports AND only.", param="query")
    predicates: list[Callable[[JSON], bool]] = []
    for clause in re.split(r"\s+AND\s+", query.strip()):
        match = _SEARCH_CLAUSE.fullmatch(clause.strip())
        if match is None:
            raise StripeError(400, f"Could not parse the search clause {clause!r}.", param="query")
        predicates.append(_search_predicate(match))
    found = [item for item in items if all(p(item) for p in predicates)]
    found.sort(key=lambda item: item.get("created", 0), reverse=True)
    limit = int_param(params, "limit", maximum=100) or 10
    page_token = str_param(params, "page") or "0"
    if not page_token.isdigit():
        raise StripeError(400, f"Invalid page: {page_token}", param="page")
    offset = int(page_token)
    page = found[offset:offset + limit]
    more = len(found) > offset + limit
    return {"object": "search_result", "data": page, "has_more": more,
            "next_page": str(offset + limit) if more else None, "url": url}


def _search_predicate(match: re.Match[str]) -> Callable[[JSON], bool]:
    raw = match.group("value")
    value = raw[1:-1] if raw[:1] in ("'", '"') else raw
    op, key, name, negate = match.group("op"), match.group("key"), match.group("field"), bool(match.group("neg"))

    def test(item: JSON) -> bool:
        actual = (item.get("metadata") or {}).get(key) if key is not None else item.get(name)
        if op == ":":
            result = str(actual) == value if actual is not None else False
        else:
            try:
                left, right = int(actual), int(value)
            except (TypeError, ValueError):
                return False
            result = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
        return result != negate

    return test


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stand-in by hand in front of an already running localstripe."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--localstripe", default="http://127.0.0.1:8420")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8421)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    server = StripeServer(args.localstripe, host=args.host, port=args.port).start()
    print(f"Stripe stand-in on {server.url} (localstripe {server.localstripe_url}); Ctrl-C stops it.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
