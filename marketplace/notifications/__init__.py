"""Email (SMTP or the outbox) and in-app notifications."""
