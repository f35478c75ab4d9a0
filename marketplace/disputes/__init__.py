"""Disputes between a brand and a creator, chargeback cases, and the admin decisions that settle them."""
