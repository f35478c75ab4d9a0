"""Collaborations: the deal between a brand and a creator, from signed terms to verified, paid content."""
