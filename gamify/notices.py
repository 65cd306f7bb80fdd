"""What in-app notifications say, in every language: a notification row keeps the key of its message
(`notifications.message`) and the values it names (`notifications.params`), and is put into words when
shown, in the language of whoever reads it then. Its `title` and `body` hold the English words as well
(the API's notifications, and rows written before messages had keys).

Writers: `outbox.notify(user_id, type, *words(key, **params), link=..., message=key, params=params)`,
in the pipeline `run.notify(...)` alike. A body of None keeps the row's own body (an achievement's
description, a friend's gift message: what people wrote is shown as written).
"""

from __future__ import annotations

from typing import Optional

from . import i18n


def N_(msgid: str) -> str:
    """Marks a message for extraction (babel's default N_ keyword) without translating it here."""
    return msgid


# key -> (title, body); placeholders are %(name)s, filled from the row's params.
MESSAGES: dict[str, tuple[str, Optional[str]]] = {
    "achievement": (N_("Achievement unlocked: %(name)s"), None),
    "level_up": (N_("%(system)s: you reached %(level)s!"), None),
    "energy_full": (N_("Your energy is full"), N_("%(current)s/%(max)s: time to use it!")),
    "energy_low": (
        N_("Your energy is low"),
        N_("%(current)s/%(max)s left. It comes back over time - or refill with tokens."),
    ),
    "gift_sent": (N_("%(sender)s sent you %(amount)s energy"), N_("Accept it on your energy page before it expires.")),
    "gift_sent_with_message": (N_("%(sender)s sent you %(amount)s energy"), None),
    "gift_declined": (N_("%(name)s declined your gift"), N_("The %(amount)s energy you sent is back in your bar.")),
}


def words(key: str, **params) -> tuple[str, str]:
    """The English title and body of message `key` (the body '' when the message keeps its own)."""
    title, body = MESSAGES[key]
    return title % params, (body % params if body else "")


def _localized(msgid: str, params: dict) -> str:
    shown = {
        k: i18n.num(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in params.items()
    }
    return i18n.gettext(msgid) % shown


def text(notification) -> tuple[str, str]:
    """The notification's title and body in the language now in force (numbers in its format)."""
    spec = MESSAGES.get(getattr(notification, "message", None) or "")
    if spec is None:
        return notification.title, notification.body
    params = dict(notification.params or {})
    try:
        title = _localized(spec[0], params)
        body = _localized(spec[1], params) if spec[1] else notification.body
    except (KeyError, TypeError, ValueError):  # params from an older message's wording: its English stays
        return notification.title, notification.body
    return title, body
