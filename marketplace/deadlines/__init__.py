"""Deadlines of collaborations: reminders, ghosting, brand no-shows, review-window release, extensions."""
