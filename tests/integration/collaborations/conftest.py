"""Fixtures for the collaboration route tests."""

from __future__ import annotations

import pytest

from tests.support.deals import Cast, make_cast


@pytest.fixture
async def cast(runtime) -> Cast:
    """One brand and one creator with a deal in each state a step starts from."""
    return await make_cast(runtime)
