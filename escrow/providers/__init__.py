"""Payment providers: the interface escrow needs, the simulated provider and Stripe Connect."""
