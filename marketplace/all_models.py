"""Imports every model module so the metadata (migrations, tests) sees every table."""

from __future__ import annotations

from escrow import commission_models as escrow_commission_models  # noqa: F401
from escrow import models as escrow_models  # noqa: F401
from escrow import records as escrow_records  # noqa: F401
from marketplace.accounts import models as accounts_models
from marketplace.admin import models as admin_models  # noqa: F401
from marketplace.applications import models as applications_models
from marketplace.brands import models as brands_models
from marketplace.bulk import models as bulk_models  # noqa: F401
from marketplace.collaborations import models as collaborations_models
from marketplace.creators import models as creators_models
from marketplace.db import metadata
from marketplace.deadlines import models as deadlines_models
from marketplace.disputes import models as disputes_models  # noqa: F401
from marketplace.gigs import models as gigs_models
from marketplace.media import models as media_models  # noqa: F401
from marketplace.messaging import models as messaging_models
from marketplace.notifications import models as notifications_models
from marketplace.roster import models as roster_models
from marketplace.sales import models as sales_models  # noqa: F401
from marketplace.social import models as social_models  # noqa: F401
from marketplace.stores import models as stores_models  # noqa: F401
from marketplace.verification import models as verification_models
from marketplace.webhooks import models as webhooks_models  # noqa: F401
from reputation import models as reputation_models  # noqa: F401

__all__ = [
    "accounts_models",
    "applications_models",
    "brands_models",
    "collaborations_models",
    "creators_models",
    "deadlines_models",
    "gigs_models",
    "messaging_models",
    "metadata",
    "notifications_models",
    "roster_models",
    "verification_models",
]
