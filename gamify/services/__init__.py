"""Persistence layer: loads state, calls the pure engine, writes the results in the caller's transaction."""
