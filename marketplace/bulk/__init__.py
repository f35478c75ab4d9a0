"""Bulk actions on hundreds of deals, applications or creators, run as background jobs with progress."""
