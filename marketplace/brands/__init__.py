"""Brand organisations and their team members."""
