"""Escrow as brands and creators see it: funding, payout onboarding, timelines and statements."""
