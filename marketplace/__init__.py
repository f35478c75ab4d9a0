"""The web marketplace: accounts, brands, creators, gigs, applications, collaborations, messaging, notifications."""
