"""Message threads between a brand and a creator, one per application and per collaboration."""
