"""Gigs: what a brand offers (product, fee, deliverables, timeline, eligibility) and how creators find them."""
