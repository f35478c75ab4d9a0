"""Creators applying to gigs, and brands accepting or declining them."""
