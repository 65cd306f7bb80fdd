"""Energy jobs (when gamify.services.energy is installed): the daily grant and "energy full"
notices, gifts that expire, the ledger audit.
"""

from __future__ import annotations

from ..extensions import db
from .base import _optional, app_job


@app_job
def energy_fills(now=None) -> str:
    """Every 5 minutes: the daily energy grant at each player's local midnight (when set), then "energy
    full" for players whose energy filled up since they last looked."""
    fn = _optional("gamify.services.energy", "announce_fills")
    grant = _optional("gamify.services.energy", "grant_daily")
    if fn is None:
        return "skipped: gamify.services.energy is not installed"
    if grant is not None:
        grant(now)  # the daily grant at local midnight first: it may fill the bar
    return f"done: {fn(now)!r}"


@app_job
def expire_gifts(now=None) -> str:
    """Hourly: gifts nobody accepted in time expire (refunded when the settings say so)."""
    fn = _optional("gamify.services.energy", "expire_gifts")
    if fn is None:
        return "skipped: gamify.services.energy is not installed"
    result = fn(now)
    db.session.commit()
    return f"done: {result!r}"


@app_job
def audit_energy_ledger(now=None) -> str:
    """Every 15 minutes: flag energy that rose with no ledger row to explain it (services.energy.audit)."""
    fn = _optional("gamify.services.energy", "audit_ledger")
    if fn is None:
        return "skipped: gamify.services.energy is not installed"
    opened = fn(now)
    db.session.commit()
    return f"done: {opened} flagged"
