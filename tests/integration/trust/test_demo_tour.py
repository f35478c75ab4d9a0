"""The demo works as the README's tour says, without any outside service: seeded with Stripe and SMTP configured
but unreachable, the money is simulated and the emails wait in the outbox; Ava can apply to an open gig."""

from __future__ import annotations

import html
import re
import socket
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from escrow.models import EscrowHold
from marketplace.applications.models import Application, ApplicationStatus
from marketplace.creators.models import Creator
from marketplace.seed import DEMO_PASSWORD, seed_demo


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def test_env(test_env: dict[str, str]) -> dict[str, str]:
    """Stripe and SMTP are configured but nothing answers there."""
    port = _closed_port()
    test_env.update({
        "STRIPE_SECRET_KEY": "sk_test_unreachable",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_unreachable",
        "STRIPE_WEBHOOK_SECRET": "whsec_unreachable",
        "STRIPE_API_BASE": f"http://127.0.0.1:{port}",
        "SMTP_URL": f"smtp://127.0.0.1:{port}",
    })
    return test_env


async def test_the_demo_seeds_without_outside_services_and_ava_can_apply(runtime: Any, db: Any,
                                                                        make_web: Any) -> None:
    assert runtime.settings.stripe.enabled
    assert await seed_demo(runtime) is not None
    providers = set((await db.scalars(sa.select(EscrowHold.provider).where(EscrowHold.provider.is_not(None)))).all())
    assert providers == {"simulated"}

    # The tour: "ava@creators.test — Find gigs (... 'eligible for you'), apply".
    ava = await make_web()
    await ava.sign_in("ava@creators.test", DEMO_PASSWORD)
    found = html.unescape((await ava.get("/gigs?eligible=1")).text)
    gig_ids = list(dict.fromkeys(re.findall(r'href="/gigs/([0-9a-f-]{36})"', found)))
    assert gig_ids, "no gig is open to Ava"
    page = html.unescape((await ava.get(f"/gigs/{gig_ids[0]}")).text)
    assert 'action="/gigs/' in page and "/apply" in page, "the gig page offers Ava no application form"
    account = re.search(r'<option value="([0-9a-f-]{36})"', page)
    assert account is not None
    applied = await ava.post(f"/gigs/{gig_ids[0]}/apply", {"pitch": "I film a skincare routine every morning.",
                                                          "social_account_id": account.group(1)})
    assert applied.status_code in (302, 303), applied.text[:600]
    ava_id = await db.scalar(sa.select(Creator.id).where(Creator.display_name == "Ava Brooks"))
    pending = await db.scalar(sa.select(sa.func.count(Application.id)).where(
        Application.creator_id == ava_id, Application.gig_id == UUID(gig_ids[0]),
        Application.status == ApplicationStatus.PENDING))
    assert pending == 1
