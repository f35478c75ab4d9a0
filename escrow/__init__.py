"""Money held for collaborations: the double-entry ledger, payment providers and their webhooks."""
