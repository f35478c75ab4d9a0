"""Pages and JSON API routes for payments."""

from __future__ import annotations

from typing import Any

from marketplace.payments.admin import ReconciliationPages
from marketplace.payments.pages import ROUTES as PAGE_ROUTES
from marketplace.payments.webhooks import StripeWebhookController

#: Route handlers (controllers) this area contributes to the app; create_app() includes them in order.
ROUTES: list[Any] = [*PAGE_ROUTES, StripeWebhookController, ReconciliationPages]
