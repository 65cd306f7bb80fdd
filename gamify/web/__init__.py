"""Player-facing pages."""
