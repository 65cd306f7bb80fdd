"""Recording metric events: the entry points services, views and jobs call. The work is done by the
event pipeline (gamify/pipeline/core.py: lock, load, compute, write, after commit)."""

from ..pipeline.base import MAX_BATCH, EventError, EventIn, Result, UserRef  # noqa: F401
from ..pipeline.core import process_batch, process_event  # noqa: F401
