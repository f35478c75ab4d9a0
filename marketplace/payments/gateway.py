"""The one place the marketplace builds escrow: the service (PostPact's fee and links from settings), the payment
provider of this process (simulated, or Stripe Connect) and the provider-call executor.

Deal decisions reach escrow through ``hooks`` (called by ``PaymentsListener``); pages, webhooks and jobs take the
service from here. Nothing else constructs ``EscrowService``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from escrow.context import EscrowContext
from escrow.events import EscrowListener
from escrow.executor import ProviderCallExecutor
from escrow.providers.base import PaymentProvider
from escrow.providers.simulated import SimulatedProvider
from escrow.providers.stripe import StripeProvider
from escrow.services import EscrowService
from marketplace.db import make_alchemy_config
from marketplace.payments.bridge import CollaborationBridge
from marketplace.settings import Settings

#: Where a process keeps its StripeProvider (one per process: it holds an HTTP connection pool per event loop).
PROVIDER_RESOURCE = "escrow.stripe_provider"


def stripe_provider(settings: Settings, resources: dict[str, Any]) -> StripeProvider | None:
    """The process's StripeProvider, or None when Stripe isn't configured."""
    if not settings.stripe.enabled:
        return None
    provider = resources.get(PROVIDER_RESOURCE)
    if provider is None:
        provider = resources[PROVIDER_RESOURCE] = StripeProvider.from_settings(settings)
    return provider  # type: ignore[no-any-return]


def build_provider(settings: Settings, session_maker: async_sessionmaker[AsyncSession] | None = None
                   ) -> PaymentProvider:
    """SimulatedProvider when STRIPE_SECRET_KEY is unset (the embedded default), else Stripe Connect."""
    if not settings.stripe.enabled:
        if session_maker is None:
            session_maker = make_alchemy_config(settings).create_session_maker()  # type: ignore[assignment]
        assert session_maker is not None
        return SimulatedProvider(session_maker)
    return StripeProvider.from_settings(settings)


def provider_for(settings: Settings, session_maker: async_sessionmaker[AsyncSession],
                 resources: dict[str, Any]) -> PaymentProvider:
    """The process's provider: Stripe's is shared with the webhook jobs (one HTTP pool), the simulated one is
    cheap and bound to this session maker."""
    provider = stripe_provider(settings, resources)
    return provider if provider is not None else build_provider(settings, session_maker)


def escrow_service(session: AsyncSession, now: datetime, *, settings: Settings, actor: str = "system") -> EscrowService:
    """``EscrowService`` for this transaction: PostPact's fee and links always come from settings."""
    listener: EscrowListener = CollaborationBridge(session, public_url=settings.app.public_url)
    return EscrowService(session, now=now, listener=listener, platform_fee_bps=settings.app.platform_fee_bps,
                         actor=actor)


def escrow_context(session: AsyncSession, now: datetime, *, settings: Settings, actor: str = "system"
                   ) -> EscrowContext:
    """The same transaction view ``escrow_service`` uses, for escrow's commission actions (``escrow.commission``)."""
    return EscrowContext(session, now, CollaborationBridge(session, public_url=settings.app.public_url), actor)


def executor_for(settings: Settings, session_maker: async_sessionmaker[AsyncSession], clock: Any,
                 resources: dict[str, Any]) -> ProviderCallExecutor:
    return ProviderCallExecutor(
        session_maker,
        provider_for(settings, session_maker, resources),
        lambda session: CollaborationBridge(session, public_url=settings.app.public_url),
        clock,
        platform_fee_bps=settings.app.platform_fee_bps,
    )
