"""Connected shops: store connections, synced catalogs, incoming store webhooks, seeding orders and shipments."""
