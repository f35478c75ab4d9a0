"""Creator profiles, social accounts, rate cards and shipping addresses."""
