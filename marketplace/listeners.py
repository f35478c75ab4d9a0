"""Everything a deal's transition causes, subscribed in one place: read this list to know what a move sets off.

``install_listeners(settings)`` runs once per process at start-up (``build_runtime``: the web app, the worker, the
CLI and the tests all build one). A new consequence of a transition is a class with ``after_transition`` added here;
nothing calls it by hand after ``transition()``.
"""

from __future__ import annotations

from marketplace.collaborations import transition
from marketplace.collaborations.notices import DealNoticesListener
from marketplace.deadlines import watch
from marketplace.payments.listener import PaymentsListener
from marketplace.reputation.outcomes import ReputationListener
from marketplace.sales.payouts import install as install_commission_listeners
from marketplace.sales.services import AttributionListener, SalesListener
from marketplace.settings import Settings
from marketplace.social.listener import MetricsScheduleListener
from marketplace.stores.processing import install_order_listeners
from marketplace.stores.seeding import SeedingListener
from marketplace.verification.listener import VerificationListener
from marketplace.webhooks.listener import OutgoingWebhookListener
from marketplace.webhooks.sales import SalesWebhookListener


def default_listeners(settings: Settings) -> list[transition.TransitionListener]:
    """In order: reputation first (a ghosting's suspension is known before anything else reads the score), then
    money (escrow refusing rolls the move back before anyone is told), verification, and the notices last."""
    return [
        ReputationListener(),
        PaymentsListener(settings),
        SeedingListener(),
        SalesListener(),
        VerificationListener(),
        MetricsScheduleListener(),
        DealNoticesListener(public_url=settings.app.public_url),
        # Outgoing webhooks last: an event is recorded only for a move every other consequence accepted.
        OutgoingWebhookListener(),
    ]


def install_listeners(settings: Settings) -> None:
    watch.install()
    transition.install(default_listeners(settings))
    # Store orders and refunds, as saved, are attributed to deals (sales), then told to outgoing webhooks.
    install_order_listeners([AttributionListener(), SalesWebhookListener()])
    # Commission payouts escrow posted or refused mark the orders they covered (sales).
    install_commission_listeners()
