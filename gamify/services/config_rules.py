"""Checks every configuration change takes, whichever side asks for it (the admin pages or the
Trophy-compatible admin API): keys, names, optional limits. A refusal is a ConfigError naming the field
to fix; the admin pages show it on that field, the API answers it as an issue of that item.

Rules that belong to one kind of object live in its service (metrics, points_config, leaderboards) and
use these pieces; no view or form repeats them."""

from __future__ import annotations

import re
from typing import Any, Optional

KEY_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
KEY_MESSAGE = "Use lowercase letters, digits, '_', '-' or '.', starting with a letter or digit."
MAX_KEY = 64


class ConfigError(ValueError):
    """A configuration gamify refuses: `field` is the name of the setting to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def key(value: Any, field: str = "key") -> str:
    """A key the API and URLs use: lowercase letters, digits, '_', '-' or '.', at most 64 characters."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ConfigError(field, "This field is required.")
    if len(text) > MAX_KEY:
        raise ConfigError(field, f"At most {MAX_KEY} characters.")
    if not re.fullmatch(KEY_PATTERN, text):
        raise ConfigError(field, KEY_MESSAGE)
    return text


def name(value: Any, field: str = "name", max_len: int = 120) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ConfigError(field, "This field is required.")
    if len(text) > max_len:
        raise ConfigError(field, f"At most {max_len} characters.")
    return text


def optional_text(value: Any, field: str, max_len: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > max_len:
        raise ConfigError(field, f"At most {max_len} characters.")
    return text


def whole(value: Any, field: str, lo: int, hi: int, required: bool = True) -> Optional[int]:
    """A whole number in [lo, hi] (None allowed when not `required`: "no limit")."""
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, "This field is required." if value is None else "Enter a whole number.")
    if not lo <= value <= hi:
        raise ConfigError(field, f"Number must be between {lo} and {hi}.")
    return value
