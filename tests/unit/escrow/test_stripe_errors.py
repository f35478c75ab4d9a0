"""What an operator reads when Stripe can't be reached: which service, which setting, and what to do."""

from __future__ import annotations

import stripe

from escrow.providers.base import TransientProviderError
from escrow.providers.stripe import provider_error


def test_an_unreachable_stripe_names_the_service_the_settings_and_the_way_out() -> None:
    error = provider_error(stripe.APIConnectionError("Network error: A ConnectError was raised"))

    assert isinstance(error, TransientProviderError)
    text = str(error)
    assert "Could not reach Stripe" in text
    assert "STRIPE_API_BASE" in text and "STRIPE_SECRET_KEY" in text
    assert "simulated provider" in text
    assert "ConnectError" in text  # the cause stays visible to whoever reads the log


def test_a_rate_limit_stays_a_retry_and_says_so() -> None:
    error = provider_error(stripe.RateLimitError("Too many requests", http_status=429))

    assert isinstance(error, TransientProviderError)
    assert "rate limiting" in str(error)
