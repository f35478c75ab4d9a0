"""Marketplace pictures: creator photos and portfolios, gig product images, brand logos (stored via storage)."""
