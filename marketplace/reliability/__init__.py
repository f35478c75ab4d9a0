"""Reliability in the marketplace: outcomes of deals into reputation, eligibility for gigs, pages and ratings."""
