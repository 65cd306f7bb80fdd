"""The event pipeline: one module per feature (streaks, achievements, points, energy, leaderboards)
behind the `Feature` interface of core.py, which runs a batch of events in one transaction."""
