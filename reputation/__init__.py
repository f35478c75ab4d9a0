"""Reliability scores for creators and brands, computed from what actually happened."""
