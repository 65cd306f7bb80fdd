"""Analytics job: the hourly rollups the admin console reads."""

from __future__ import annotations

from ..services import analytics_rollups
from .base import app_job


@app_job
def roll_up_analytics() -> dict:
    """Hourly: the analytics rollups of yesterday and today, and of any day never rolled up (the whole
    history on the first run after the upgrade), in one transaction."""
    return analytics_rollups.roll_up()
