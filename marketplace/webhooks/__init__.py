"""Outgoing webhooks: brands and creators register endpoints for deal, dispute and sales events; PostPact delivers
each event signed (HMAC-SHA256 over timestamp + body), retries for 3 days, and keeps a delivery log with replay."""
