"""What a transition causes is installed in one place, once per process, in a fixed order."""

from __future__ import annotations

from marketplace.collaborations import transition
from marketplace.collaborations.notices import DealNoticesListener
from marketplace.listeners import install_listeners
from marketplace.payments.listener import PaymentsListener
from marketplace.reputation.outcomes import ReputationListener
from marketplace.settings import Settings
from marketplace.verification.listener import VerificationListener


def test_listeners_are_installed_once_in_their_order(settings: Settings) -> None:
    install_listeners(settings)
    install_listeners(settings)  # a second runtime in the same process replaces, never doubles
    kinds = [type(listener) for listener in transition.installed()]
    assert len(kinds) == len(set(kinds))
    core = [k for k in kinds if k in {ReputationListener, PaymentsListener, VerificationListener, DealNoticesListener}]
    assert core == [ReputationListener, PaymentsListener, VerificationListener, DealNoticesListener]
    # Reputation is first: a ghosting's suspension is known before money or notices read the score.
    assert kinds[0] is ReputationListener
