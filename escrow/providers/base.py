"""What escrow needs from a payment provider (Stripe Connect, or the simulated one), and what it gets back.

Every call that moves money takes an ``idempotency_key`` derived from the business decision
(e.g. ``collab:<id>:release:<n>``): a retried call with the same key must never move money twice.
Amounts are integer minor units with an ISO 4217 currency.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class FundingStatus(enum.StrEnum):
    #: Created; the payer still has to pay (or the payment is processing).
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    #: The payment attempt failed (declined card...); the payer may try again.
    FAILED = "failed"
    CANCELED = "canceled"


class TransferStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    REVERSED = "reversed"


@dataclass(frozen=True)
class Funding:
    """A payment from the brand to the platform (Stripe: a PaymentIntent with a transfer_group)."""

    ref: str
    status: FundingStatus
    amount: int
    currency: str
    #: The charge behind a succeeded payment (Stripe: ``latest_charge``) — the ``source_transaction`` of transfers.
    charge_ref: str | None = None
    #: What the page needs to let the payer pay: a checkout URL (simulated) or a client secret (Stripe Elements).
    checkout_url: str | None = None
    client_secret: str | None = None
    #: The provider's processing fee, when known (Stripe: from the balance transaction), in the same currency.
    provider_fee: int | None = None
    amount_refunded: int = 0
    failure_message: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refund:
    ref: str
    funding_ref: str
    amount: int
    currency: str
    #: pending, succeeded, failed, canceled (Stripe's refund statuses)
    status: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Transfer:
    """Money from the platform to a creator's connected account (Stripe: a Transfer with source_transaction)."""

    ref: str
    destination: str
    amount: int
    currency: str
    status: TransferStatus
    amount_reversed: int = 0
    transfer_group: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reversal:
    ref: str
    transfer_ref: str
    amount: int
    currency: str


@dataclass(frozen=True)
class PayoutAccount:
    """A creator's connected account and whether money can be sent to it."""

    ref: str
    transfers_active: bool
    details_submitted: bool
    payouts_enabled: bool
    requirements_due: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook event, parsed."""

    id: str
    type: str
    object_id: str
    object: dict[str, Any]
    created: int
    #: The connected account the event is about (Connect events), if any.
    account: str | None = None


class ProviderError(Exception):
    """Base for provider failures. ``transient`` decides: retry with the same key, or give up and void."""

    transient: bool = False

    def __init__(self, message: str, *, code: str | None = None, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status


class TransientProviderError(ProviderError):
    """Timeouts, connection errors, 5xx, 429, idempotency-key-in-use: the call may have happened; retry the same key."""

    transient = True


class DefinitiveProviderError(ProviderError):
    """The provider refused for good (declined, invalid request, account not ready): void the pending posting."""


class InsufficientBalance(DefinitiveProviderError):
    """A transfer reversal (or transfer) failed because the account no longer holds the money."""


class InvalidWebhook(Exception):
    """Bad signature, stale timestamp or unparseable payload: answer 400, record nothing."""


@runtime_checkable
class PaymentProvider(Protocol):
    #: "simulated" or "stripe"; stored with every provider call.
    name: str

    async def create_funding(self, *, amount: int, currency: str, idempotency_key: str, transfer_group: str,
                             description: str, metadata: dict[str, str], return_url: str) -> Funding: ...

    async def retrieve_funding(self, funding_ref: str) -> Funding: ...

    async def find_funding(self, *, transfer_group: str) -> Funding | None:
        """Look a funding up by its transfer group (recovery when our record of the call was lost)."""
        ...

    async def refund(self, *, funding_ref: str, amount: int, currency: str, idempotency_key: str,
                     metadata: dict[str, str]) -> Refund: ...

    async def list_refunds(self, funding_ref: str) -> list[Refund]:
        """Every refund of a funding (recovery: finding a refund whose answer we never recorded)."""
        ...

    async def transfer(self, *, destination: str, amount: int, currency: str, source_charge_ref: str | None,
                       transfer_group: str, idempotency_key: str, metadata: dict[str, str]) -> Transfer: ...

    async def reverse_transfer(self, *, transfer_ref: str, amount: int, idempotency_key: str,
                               metadata: dict[str, str]) -> Reversal: ...

    async def list_transfers(self, *, transfer_group: str) -> list[Transfer]: ...

    async def create_payout_account(self, *, email: str, country: str | None, idempotency_key: str,
                                    metadata: dict[str, str]) -> PayoutAccount: ...

    async def onboarding_link(self, *, account_ref: str, refresh_url: str, return_url: str) -> str: ...

    async def retrieve_payout_account(self, account_ref: str) -> PayoutAccount: ...

    def parse_webhook(self, payload: bytes, signature_header: str | None) -> ProviderEvent:
        """Verify the signature on the raw body and parse; raises InvalidWebhook."""
        ...
