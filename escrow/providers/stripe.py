"""Stripe Connect as the escrow provider: separate charges and transfers through the official SDK's async methods.

How money moves (docs.stripe.com, "separate charges and transfers"):

- funding: one PaymentIntent per collaboration on the platform account, with ``transfer_group`` and metadata; no
  ``application_fee_amount`` — the platform fee is simply what the platform does not transfer out;
- release: a Transfer to the creator's Express account with ``source_transaction`` = the funding charge, sent only
  while the account's ``transfers`` capability is active;
- refund before any transfer: a Refund of the PaymentIntent; after a transfer, the caller pairs the refund with an
  explicit transfer reversal (refunding a separate-charges payment never reverses transfers by itself).

Retries: SDK 16's ``StripeClient`` does not retry unless told to. We let it retry twice (``max_network_retries=2``,
Stripe's recommendation) because every money-moving call carries the caller's deterministic idempotency key, which
the SDK reuses on its own retries: a blip is absorbed within the call, and whatever still fails comes out as
``TransientProviderError`` for the escrow core's recovery job, which retries later with the same key.

Long because it is one adapter (past ~500 lines on purpose): each Stripe object's mapping to and from PostPact's
provider types reads best next to the call that produces it.

Long because it is the whole Stripe Connect surface escrow uses behind one provider interface.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import stripe

from escrow.money import exponent, normalise_currency
from escrow.providers.base import (
    DefinitiveProviderError,
    Funding,
    FundingStatus,
    InsufficientBalance,
    InvalidWebhook,
    PayoutAccount,
    ProviderError,
    ProviderEvent,
    Refund,
    Reversal,
    Transfer,
    TransferStatus,
    TransientProviderError,
)

log = logging.getLogger(__name__)

#: Stripe's default signature tolerance: deliveries signed more than five minutes ago are refused (replays).
WEBHOOK_TOLERANCE_SECONDS = 300
DEFAULT_NETWORK_RETRIES = 2
DEFAULT_TIMEOUT_SECONDS = 30.0
#: Metadata key under which every object we create carries the idempotency key that created it, so recovery and
#: reconciliation can tie a Stripe object back to the business decision even when our own record of the call is lost.
IDEMPOTENCY_METADATA_KEY = "idempotency_key"
#: Stripe's PaymentIntent search has no ``transfer_group`` field; the group is repeated in metadata to find it.
TRANSFER_GROUP_METADATA_KEY = "transfer_group"
#: Error codes that mean "the money isn't there" rather than "the request is wrong".
INSUFFICIENT_BALANCE_CODES = frozenset({"balance_insufficient", "insufficient_funds"})
#: Codes Stripe uses for "someone else holds this object or key right now; try again shortly".
TRANSIENT_CODES = frozenset({"idempotency_key_in_use", "lock_timeout", "rate_limit"})


@dataclass(frozen=True)
class Dispute:
    """A chargeback as Stripe reports it (not part of the provider interface: only Stripe has them)."""

    ref: str
    charge_ref: str
    funding_ref: str | None
    amount: int
    currency: str
    #: needs_response, under_review, won, lost, warning_* (Stripe's dispute statuses)
    status: str
    reason: str

    @property
    def is_open(self) -> bool:
        return self.status not in ("won", "lost", "warning_closed", "prevented")


@dataclass(frozen=True)
class ChargeFacts:
    """A charge and the PaymentIntent it belongs to (what `charge.*` webhooks point at)."""

    ref: str
    funding_ref: str | None
    amount: int
    amount_refunded: int
    currency: str
    disputed: bool
    refunds: tuple[Refund, ...] = field(default_factory=tuple)


def provider_error(exc: stripe.StripeError) -> ProviderError:
    """Sort a Stripe SDK error into retry-with-the-same-key (transient) or give-up (definitive)."""
    status = exc.http_status
    code = exc.code
    message = str(exc.user_message or exc)
    if isinstance(exc, stripe.APIConnectionError):
        return TransientProviderError(
            f"Could not reach Stripe ({message}). PostPact keeps the payment and retries it. Check that this machine "
            "can reach Stripe's API (STRIPE_API_BASE if set, else api.stripe.com); to run without Stripe, unset "
            "STRIPE_SECRET_KEY and PostPact uses its simulated provider.",
            code="connection_error",
        )
    if isinstance(exc, stripe.RateLimitError) or status == 429:
        return TransientProviderError(f"Stripe is rate limiting us: {message}", code=code or "rate_limit",
                                      http_status=status)
    if status == 409 or code in TRANSIENT_CODES:
        return TransientProviderError(f"Stripe is busy with this request: {message}", code=code or "conflict",
                                      http_status=status)
    if status is not None and status >= 500:
        return TransientProviderError(f"Stripe failed ({status}): {message}", code=code or "api_error",
                                      http_status=status)
    if isinstance(exc, stripe.AuthenticationError):
        # Our key is wrong or revoked: nothing the payer did; keep the decision and retry once an operator fixes
        # the configuration, instead of voiding money decisions because of a deployment mistake.
        log.error("Stripe rejected the API key: %s", message)
        return TransientProviderError("Stripe rejected PostPact's API key; payments are paused until it is fixed.",
                                      code="authentication_error", http_status=status)
    if code in INSUFFICIENT_BALANCE_CODES:
        return InsufficientBalance(message, code=code, http_status=status)
    if isinstance(exc, stripe.CardError):
        return DefinitiveProviderError(message or "The card was declined.", code=code or "card_declined",
                                       http_status=status)
    if isinstance(exc, stripe.IdempotencyError):
        # Same key, different parameters: a bug on our side, never a reason to move money again. Definitive, with a
        # code the escrow core can tell apart (the original call may well have moved money).
        log.error("Stripe idempotency mismatch: %s", message)
        return DefinitiveProviderError(message, code="idempotency_error", http_status=status)
    return DefinitiveProviderError(message or "Stripe refused the request.", code=code, http_status=status)


def _upper(currency: str) -> str:
    return normalise_currency(currency)


def _lower(currency: str) -> str:
    return normalise_currency(currency).lower()


def _plain(obj: Any) -> Any:
    """A StripeObject (or anything inside one) as plain dicts and lists."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    return obj


def _id_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return str(value["id"]) if "id" in value else None


def _metadata(obj: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (obj.get("metadata") or {}).items()}


def fee_in_charge_currency(fee: int, settlement_currency: str, charge_currency: str,
                           exchange_rate: Any) -> int:
    """Stripe reports the fee in the platform's settlement currency; express it in the charge's currency.

    The rate (settlement units per charge unit) is a decimal Stripe gives us; converting through Decimal and
    rounding half up keeps floats out of money (the rate is read from its string form).
    """
    if settlement_currency.upper() == charge_currency.upper() or not exchange_rate:
        return fee
    rate = Decimal(str(exchange_rate))
    shift = Decimal(10) ** (exponent(charge_currency) - exponent(settlement_currency))
    return int((Decimal(fee) / rate * shift).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class StripeProvider:
    """The PaymentProvider for Stripe Connect (Express accounts, separate charges and transfers)."""

    name = "stripe"

    def __init__(self, secret_key: str, *, webhook_secret: str | None = None, api_base: str | None = None,
                 max_network_retries: int = DEFAULT_NETWORK_RETRIES,
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        if not secret_key:
            raise ValueError("StripeProvider needs a secret key (STRIPE_SECRET_KEY)")
        self._secret_key = secret_key
        # Several secrets, comma-separated: Stripe signs Connect events (account.updated) with the Connect
        # endpoint's own secret, and rotating a secret means accepting the old and the new one for a while.
        self._webhook_secrets = tuple(part.strip() for part in (webhook_secret or "").split(",") if part.strip())
        self._api_base = api_base.rstrip("/") if api_base else None
        self.max_network_retries = max_network_retries
        self.timeout_seconds = timeout_seconds
        # httpx's async pool belongs to the event loop that opened it; the web app, workers and tests may call us
        # from several loops, so each loop gets its own client.
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[stripe.StripeClient, stripe.HTTPXClient]] = weakref.WeakKeyDictionary()

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> StripeProvider:
        """Build from ``Settings.stripe`` (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE)."""
        stripe_settings = settings.stripe
        return cls(stripe_settings.secret_key, webhook_secret=stripe_settings.webhook_secret,
                   api_base=stripe_settings.api_base, **options)

    # -- plumbing -------------------------------------------------------------------------------------------------

    @property
    def client(self) -> stripe.StripeClient:
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is None:
            base_addresses: dict[str, str] = {}
            if self._api_base:
                base_addresses = {"api": self._api_base, "connect": self._api_base, "files": self._api_base}
            http_client = stripe.HTTPXClient(timeout=self.timeout_seconds)
            client = stripe.StripeClient(
                self._secret_key,
                base_addresses=base_addresses,  # type: ignore[arg-type]
                max_network_retries=self.max_network_retries,
                http_client=http_client,
            )
            entry = self._clients[loop] = (client, http_client)
        return entry[0]

    async def aclose(self) -> None:
        """Close this loop's HTTP connections (other loops' clients close with their loops)."""
        entry = self._clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[1].close_async()

    async def _call(self, what: str, coro: Any) -> Any:
        """Await an SDK call; objects come back as plain dicts (lists stay pageable), errors as ProviderErrors."""
        try:
            result = await coro
            if isinstance(result, (stripe.ListObject, stripe.SearchResultObject)):
                return result
            return _plain(result)
        except stripe.StripeError as exc:
            error = provider_error(exc)
            log.log(logging.WARNING if error.transient else logging.INFO, "Stripe %s failed: %s (%s, %s)", what,
                    error.message, error.code, error.http_status)
            raise error from exc

    # -- fundings -------------------------------------------------------------------------------------------------

    async def create_funding(self, *, amount: int, currency: str, idempotency_key: str, transfer_group: str,
                             description: str, metadata: dict[str, str], return_url: str) -> Funding:
        """A PaymentIntent the brand confirms in the browser (Stripe Elements, with ``client_secret``).

        ``return_url`` is used by the page when it confirms (redirect-based methods); Stripe refuses it at creation
        unless the intent is confirmed at once, so it is not sent here. Cards only: they settle at once, which a hold
        released weeks later needs (delayed methods would leave the deal "processing" for days).
        """
        params: dict[str, Any] = {
            "amount": amount,
            "currency": _lower(currency),
            "payment_method_types": ["card"],
            "transfer_group": transfer_group,
            "description": description,
            "metadata": {**metadata, TRANSFER_GROUP_METADATA_KEY: transfer_group,
                         IDEMPOTENCY_METADATA_KEY: idempotency_key},
        }
        replayed: list[bool] = []
        intent = await self._call("create_funding", _noting_replay(self.client.v1.payment_intents.create_async(
            params=params, options={"idempotency_key": idempotency_key}), replayed))  # type: ignore[arg-type]
        if any(replayed) or intent["status"] == "succeeded":
            # Stripe replays the answer it first gave (pending); a recovering caller needs today's state, with the
            # charge and its fee if the brand has paid since.
            return await self.retrieve_funding(intent["id"])
        return self._funding(intent)

    async def retrieve_funding(self, funding_ref: str) -> Funding:
        intent = await self._call("retrieve_funding", self.client.v1.payment_intents.retrieve_async(
            funding_ref, params={"expand": ["latest_charge.balance_transaction"]}))
        return self._funding(intent)

    async def find_funding(self, *, transfer_group: str) -> Funding | None:
        """Recovery when our record of the create call was lost. Stripe's search is eventually consistent (up to a
        minute behind), so a miss right after a crash is retried by the caller, not taken as proof of absence."""
        query = f"metadata['{TRANSFER_GROUP_METADATA_KEY}']:'{_quote(transfer_group)}'"
        found = await self._call("find_funding", self.client.v1.payment_intents.search_async(
            params={"query": query, "limit": 10}))
        intents = [_plain(i) for i in found.data]
        intents = [i for i in intents if i.get("transfer_group") in (None, transfer_group)]
        if not intents:
            return None
        # Prefer a paid one; otherwise the newest attempt.
        intents.sort(key=lambda i: (i["status"] == "succeeded", i["created"]), reverse=True)
        return await self.retrieve_funding(intents[0]["id"])

    async def cancel_funding(self, funding_ref: str) -> Funding:
        """Abandon an unpaid PaymentIntent (the deal ended before the brand paid)."""
        intent = await self._call("cancel_funding", self.client.v1.payment_intents.cancel_async(funding_ref))
        return self._funding(intent)

    def _funding(self, intent: dict[str, Any]) -> Funding:
        status = {"succeeded": FundingStatus.SUCCEEDED, "canceled": FundingStatus.CANCELED}.get(
            intent["status"], FundingStatus.PENDING)
        error = intent.get("last_payment_error")
        if intent["status"] == "requires_payment_method" and error:
            status = FundingStatus.FAILED
        charge = intent.get("latest_charge")
        charge_ref = _id_of(charge)
        provider_fee: int | None = None
        amount_refunded = 0
        if charge is not None and not isinstance(charge, str):
            amount_refunded = int(charge.get("amount_refunded") or 0)
            txn = charge.get("balance_transaction")
            if txn is not None and not isinstance(txn, str):
                provider_fee = fee_in_charge_currency(int(txn["fee"]), txn["currency"], intent["currency"],
                                                      txn.get("exchange_rate"))
        return Funding(
            ref=intent["id"],
            status=status,
            amount=int(intent["amount"]),
            currency=_upper(intent["currency"]),
            charge_ref=charge_ref if status is FundingStatus.SUCCEEDED else None,
            client_secret=intent.get("client_secret"),
            provider_fee=provider_fee,
            amount_refunded=amount_refunded,
            failure_message=error.get("message") if error else None,
            metadata=_metadata(intent),
        )

    # -- refunds --------------------------------------------------------------------------------------------------

    async def refund(self, *, funding_ref: str, amount: int, currency: str, idempotency_key: str,
                     metadata: dict[str, str]) -> Refund:
        params: dict[str, Any] = {
            "payment_intent": funding_ref,
            "amount": amount,
            "reason": "requested_by_customer",
            "metadata": {**metadata, IDEMPOTENCY_METADATA_KEY: idempotency_key},
        }
        refund = await self._call("refund", self.client.v1.refunds.create_async(
            params=params, options={"idempotency_key": idempotency_key}))  # type: ignore[arg-type]
        if _upper(refund["currency"]) != _upper(currency):
            # The ledger and Stripe disagree on the currency of this funding: stop before anything builds on it.
            raise DefinitiveProviderError(f"refund {refund['id']} is in {refund['currency'].upper()}, expected "
                                          f"{_upper(currency)}", code="currency_mismatch")
        return self._refund(refund, funding_ref)

    def _refund(self, refund: dict[str, Any], funding_ref: str | None = None) -> Refund:
        return Refund(ref=refund["id"], funding_ref=funding_ref or _id_of(refund.get("payment_intent")) or "",
                      amount=int(refund["amount"]), currency=_upper(refund["currency"]), status=str(refund["status"]),
                      metadata={str(k): str(v) for k, v in (refund.get("metadata") or {}).items()})

    async def list_refunds(self, funding_ref: str) -> list[Refund]:
        page = await self._call("list_refunds", self.client.v1.refunds.list_async(
            params={"payment_intent": funding_ref, "limit": 100}))
        return [self._refund(_plain(r), funding_ref) async for r in page.auto_paging_iter()]

    # -- transfers and reversals ----------------------------------------------------------------------------------

    async def transfer(self, *, destination: str, amount: int, currency: str, source_charge_ref: str | None,
                       transfer_group: str, idempotency_key: str, metadata: dict[str, str]) -> Transfer:
        account = await self.retrieve_payout_account(destination)
        if not account.transfers_active:
            # A replay after a crash must still find the transfer Stripe made before the account was restricted.
            existing = await self._transfer_made_with(transfer_group, idempotency_key)
            if existing is not None:
                return existing
            raise DefinitiveProviderError(
                "The creator's payout account can't receive money yet (Stripe still needs: "
                f"{', '.join(account.requirements_due) or 'onboarding to finish'}).", code="account_not_ready")
        params: dict[str, Any] = {
            "amount": amount,
            "currency": _lower(currency),
            "destination": destination,
            "transfer_group": transfer_group,
            "metadata": {**metadata, IDEMPOTENCY_METADATA_KEY: idempotency_key},
        }
        if source_charge_ref:
            # Tie the transfer to the funding charge: it succeeds before those funds are available and moves them
            # when they are, and it can never take more than that charge holds.
            params["source_transaction"] = source_charge_ref
        transfer = await self._call("transfer", self.client.v1.transfers.create_async(
            params=params, options={"idempotency_key": idempotency_key}))  # type: ignore[arg-type]
        return self._transfer(transfer)

    async def _transfer_made_with(self, transfer_group: str, idempotency_key: str) -> Transfer | None:
        for transfer in await self.list_transfers(transfer_group=transfer_group):
            if transfer.metadata.get(IDEMPOTENCY_METADATA_KEY) == idempotency_key:
                return transfer
        return None

    async def retrieve_transfer(self, transfer_ref: str) -> Transfer:
        transfer = await self._call("retrieve_transfer", self.client.v1.transfers.retrieve_async(transfer_ref))
        return self._transfer(transfer)

    def _transfer(self, transfer: dict[str, Any]) -> Transfer:
        amount = int(transfer["amount"])
        reversed_amount = int(transfer.get("amount_reversed") or 0)
        # Transfers between Stripe balances have no status: they are paid on creation, reversed when pulled back.
        fully_reversed = bool(transfer.get("reversed")) or reversed_amount >= amount
        status = TransferStatus.REVERSED if fully_reversed else TransferStatus.PAID
        return Transfer(ref=transfer["id"], destination=_id_of(transfer["destination"]) or "", amount=amount,
                        currency=_upper(transfer["currency"]), status=status, amount_reversed=reversed_amount,
                        transfer_group=transfer.get("transfer_group"), metadata=_metadata(transfer))

    async def reverse_transfer(self, *, transfer_ref: str, amount: int, idempotency_key: str,
                               metadata: dict[str, str]) -> Reversal:
        params = {"amount": amount, "metadata": {**metadata, IDEMPOTENCY_METADATA_KEY: idempotency_key}}
        reversal = await self._call("reverse_transfer", self.client.v1.transfers.reversals.create_async(
            transfer_ref, params=params, options={"idempotency_key": idempotency_key}))  # type: ignore[arg-type]
        return Reversal(ref=reversal["id"], transfer_ref=transfer_ref, amount=int(reversal["amount"]),
                        currency=_upper(reversal["currency"]))

    async def list_reversals(self, transfer_ref: str) -> list[Reversal]:
        page = await self._call("list_reversals", self.client.v1.transfers.reversals.list_async(
            transfer_ref, params={"limit": 100}))
        reversals = [_plain(r) async for r in page.auto_paging_iter()]
        return [Reversal(ref=r["id"], transfer_ref=transfer_ref, amount=int(r["amount"]),
                         currency=_upper(r["currency"])) for r in reversals]

    async def list_transfers(self, *, transfer_group: str) -> list[Transfer]:
        page = await self._call("list_transfers", self.client.v1.transfers.list_async(
            params={"transfer_group": transfer_group, "limit": 100}))
        return [self._transfer(_plain(t)) async for t in page.auto_paging_iter()]

    # -- creators' payout accounts ----------------------------------------------------------------------------

    async def create_payout_account(self, *, email: str, country: str | None, idempotency_key: str,
                                    metadata: dict[str, str]) -> PayoutAccount:
        """An Express account that can receive transfers (only the ``transfers`` capability: creators are paid,
        they never take card payments through us)."""
        params: dict[str, Any] = {
            "type": "express",
            "email": email,
            "capabilities": {"transfers": {"requested": True}},
            "metadata": metadata,
        }
        if country:
            params["country"] = country.upper()
        account = await self._call("create_payout_account", self.client.v1.accounts.create_async(
            params=params, options={"idempotency_key": idempotency_key}))  # type: ignore[arg-type]
        return self._payout_account(account)

    async def onboarding_link(self, *, account_ref: str, refresh_url: str, return_url: str) -> str:
        """A single-use Account Link that expires within minutes: call again from the refresh URL for a new one."""
        link = await self._call("onboarding_link", self.client.v1.account_links.create_async(params={
            "account": account_ref, "type": "account_onboarding", "refresh_url": refresh_url,
            "return_url": return_url}))
        return str(link["url"])

    async def retrieve_payout_account(self, account_ref: str) -> PayoutAccount:
        account = await self._call("retrieve_payout_account", self.client.v1.accounts.retrieve_async(account_ref))
        return self._payout_account(account)

    def _payout_account(self, account: dict[str, Any]) -> PayoutAccount:
        return payout_account_from(account)

    # -- disputes and charges (Stripe only) ---------------------------------------------------------------------

    async def retrieve_dispute(self, dispute_ref: str) -> Dispute:
        dispute = await self._call("retrieve_dispute", self.client.v1.disputes.retrieve_async(dispute_ref))
        return _dispute(dispute)

    async def list_disputes(self, funding_ref: str) -> list[Dispute]:
        page = await self._call("list_disputes", self.client.v1.disputes.list_async(
            params={"payment_intent": funding_ref, "limit": 100}))
        return [_dispute(_plain(d)) async for d in page.auto_paging_iter()]

    async def retrieve_charge(self, charge_ref: str) -> ChargeFacts:
        charge = await self._call("retrieve_charge", self.client.v1.charges.retrieve_async(charge_ref))
        funding_ref = _id_of(charge.get("payment_intent"))
        refunds: tuple[Refund, ...] = ()
        if funding_ref:
            refunds = tuple(await self.list_refunds(funding_ref))
        return ChargeFacts(ref=charge["id"], funding_ref=funding_ref, amount=int(charge["amount"]),
                           amount_refunded=int(charge.get("amount_refunded") or 0), currency=_upper(charge["currency"]),
                           disputed=bool(charge.get("disputed")), refunds=refunds)

    # -- webhooks -----------------------------------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, signature_header: str | None) -> ProviderEvent:
        """Verify the ``Stripe-Signature`` HMAC on the raw body (5-minute tolerance) against each configured
        endpoint secret, and parse the event."""
        if not self._webhook_secrets:
            raise InvalidWebhook("STRIPE_WEBHOOK_SECRET is not configured; Stripe webhooks can't be verified")
        if not signature_header:
            raise InvalidWebhook("missing Stripe-Signature header")
        failure: Exception | None = None
        for secret in self._webhook_secrets:
            try:
                stripe.Webhook.construct_event(payload, signature_header, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS)
            except stripe.SignatureVerificationError as exc:
                failure = exc
                continue
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidWebhook(f"unparseable payload: {exc}") from exc
            return parse_event_payload(payload)
        assert isinstance(failure, stripe.SignatureVerificationError)
        raise InvalidWebhook(f"bad signature: {failure.user_message or failure}") from failure


def parse_event_payload(payload: bytes) -> ProviderEvent:
    """An already verified (or stored) event body as a ProviderEvent; raises InvalidWebhook when malformed."""
    try:
        data = json.loads(payload)
        obj = data["data"]["object"]
        if not isinstance(obj, dict) or not isinstance(data["id"], str) or not isinstance(data["type"], str):
            raise TypeError("event id, type and data.object must be strings and an object")
        return ProviderEvent(id=data["id"], type=data["type"], object_id=str(obj.get("id") or ""), object=obj,
                             created=int(data.get("created") or 0), account=data.get("account"))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidWebhook(f"unparseable event: {exc}") from exc


def payout_account_from(account: dict[str, Any]) -> PayoutAccount:
    capabilities = account.get("capabilities") or {}
    requirements = account.get("requirements") or {}
    due = [*(requirements.get("past_due") or ()), *(requirements.get("currently_due") or ())]
    return PayoutAccount(
        ref=str(account["id"]),
        transfers_active=capabilities.get("transfers") == "active",
        details_submitted=bool(account.get("details_submitted")),
        payouts_enabled=bool(account.get("payouts_enabled")),
        requirements_due=tuple(dict.fromkeys(due)),
    )


def _dispute(dispute: dict[str, Any]) -> Dispute:
    return Dispute(ref=dispute["id"], charge_ref=_id_of(dispute["charge"]) or "",
                   funding_ref=_id_of(dispute.get("payment_intent")), amount=int(dispute["amount"]),
                   currency=_upper(dispute["currency"]), status=str(dispute["status"]), reason=str(dispute["reason"]))


async def _noting_replay(coro: Any, replayed: list[bool]) -> Any:
    """Await an SDK call and note whether Stripe answered from its idempotency store."""
    result = await coro
    response = getattr(result, "last_response", None)
    replayed.append(response is not None and response.headers.get("Idempotent-Replayed") == "true")
    return result


def _quote(value: str) -> str:
    """Escape a value for a Stripe search string literal."""
    return value.replace("\\", "\\\\").replace("'", "\\'")
