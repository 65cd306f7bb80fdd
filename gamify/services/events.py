"""Recording metric events: the entry points services, views and jobs call. The work is done by the
event pipeline (gamify/pipeline/core.py: lock, load, compute, write, after commit)."""
from ..pipeline.core import (  # noqa: F401
    MAX_BATCH, EventError, EventIn, Result, UserRef, process_batch, process_event,
)
