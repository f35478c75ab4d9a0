"""Automatic verification of creators' posts: oEmbed adapters per platform and the pure checks on what they fetch."""
