"""Reputation in the marketplace: deal outcomes into the engine (``reputation/``), standing, eligibility, pages."""
