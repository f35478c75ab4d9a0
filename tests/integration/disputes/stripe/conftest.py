"""Disputes on Stripe: the same stand-in stack and fixtures as the escrow-on-Stripe tests."""

from __future__ import annotations

from tests.integration.escrow_stripe.conftest import (  # noqa: F401
    forwarder,
    on_stripe,
    provider,
    stack,
    stripe_stack,
    test_env,
)
