"""The admin console: dashboard, users, brand verification, the audit log, the outbox and re-authentication."""
