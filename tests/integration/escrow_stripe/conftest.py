"""Fixtures for escrow on Stripe: one stack (localstripe + the stand-in) per session, reset before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from escrow.providers.stripe import StripeProvider
from marketplace.runtime import Runtime
from tests.fakes.stripe_stack import StripeStack
from tests.support.stripe import Forwarder, make_provider, stripe_env, use_provider


@pytest.fixture(scope="session")
def stripe_stack() -> Iterator[StripeStack]:
    with StripeStack() as stack:
        yield stack


@pytest.fixture
def stack(stripe_stack: StripeStack) -> StripeStack:
    stripe_stack.reset()
    return stripe_stack


@pytest.fixture
async def provider(stack: StripeStack) -> AsyncIterator[StripeProvider]:
    """No SDK retries: each test sees the first failure (retrying tests build their own)."""
    provider = make_provider(stack)
    yield provider
    await provider.aclose()


@pytest.fixture
def test_env(test_env: dict[str, str], stack: StripeStack) -> dict[str, str]:
    """Tests here that build the app run it on Stripe (the stand-in), with the tests' webhook secret."""
    return {**test_env, **stripe_env(stack)}


@pytest.fixture
async def on_stripe(runtime: Runtime, stack: StripeStack) -> AsyncIterator[Runtime]:
    """The test's runtime with every part of the app using one no-retry StripeProvider on the stand-in."""
    provider = make_provider(stack)
    use_provider(runtime, provider)
    yield runtime
    await provider.aclose()


@pytest.fixture
def forwarder(stack: StripeStack, client: AsyncTestClient[Litestar]) -> Iterator[Forwarder]:
    forwarding = Forwarder(stack, client)
    yield forwarding
    forwarding.close()
