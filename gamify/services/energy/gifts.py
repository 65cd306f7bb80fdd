"""Energy gifts between friends: daily limits in the sender's local day, sending (spent at once),
accepting or declining (refunded), listing, and expiry of gifts nobody accepted."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import func, or_, update
from sqlalchemy.orm.attributes import set_committed_value

from ... import i18n, notices
from ...engine import calendar as cal
from ...extensions import db
from ...models import (
    EnergyGift,
    User,
)
from .. import friends, outbox
from .catalogue import EnergyError, get_settings
from .ledger import _after_write, _credit, _lock, _lock_users, _now, _spend_locked

_ = i18n.gettext
# What a player reads for a gift that is no longer pending (keys: EnergyGift.status).
_GIFT_DONE = {
    "accepted": i18n.lazy_gettext("This gift was already accepted."),
    "declined": i18n.lazy_gettext("This gift was already declined."),
    "expired": i18n.lazy_gettext("This gift has expired."),
}


def _local_day(user: User, now: datetime):
    return cal.local_date(now, user.timezone or "UTC")


def gift_limits(user: User, now: Optional[datetime] = None) -> dict:
    now = _now(now)
    s = get_settings()
    sent = db.session.execute(
        db.select(func.count(EnergyGift.id)).where(
            EnergyGift.sender_id == user.id, EnergyGift.sender_local_date == _local_day(user, now)
        )
    ).scalar_one()
    received = db.session.execute(
        db.select(func.count(EnergyGift.id)).where(
            EnergyGift.recipient_id == user.id, EnergyGift.recipient_local_date == _local_day(user, now)
        )
    ).scalar_one()
    return {
        "sent_today": sent,
        "sent_limit": s.gifts_sent_per_day,
        "sent_left": max(0, s.gifts_sent_per_day - sent),
        "received_today": received,
        "received_limit": s.gifts_received_per_day,
        "received_left": max(0, s.gifts_received_per_day - received),
        "min": s.gift_min,
        "max": s.gift_max,
        "default": s.gift_default,
        "expiry_hours": s.gift_expiry_hours,
    }


def send_gift(
    sender: User,
    recipient: Optional[User],
    amount: Optional[int] = None,
    message: str = "",
    now: Optional[datetime] = None,
) -> EnergyGift:
    """Send energy to a friend: the sender spends it now; the friend accepts it within the expiry."""

    now = _now(now)
    s = get_settings()
    if recipient is None:
        raise EnergyError("recipient", _("No player found to send energy to."), 404)
    if recipient.id == sender.id:
        raise EnergyError("recipient", _("You can't send energy to yourself."))
    amount = s.gift_default if amount in (None, "") else amount
    if isinstance(amount, bool) or not isinstance(amount, int) or not s.gift_min <= amount <= s.gift_max:
        raise EnergyError(
            "amount", _("A gift is %(min)s to %(max)s energy.", min=i18n.num(s.gift_min), max=i18n.num(s.gift_max))
        )
    message = (message or "").strip()
    if len(message) > 200:
        raise EnergyError("message", _("The message can be at most 200 characters."))
    if not friends.are_friends(sender.id, recipient.id):
        raise EnergyError(
            "recipient",
            _("You can only send energy to friends: add %(name)s as a friend first.", name=recipient.name),
            403,
        )
    _lock_users([sender.id, recipient.id])
    L = _lock(sender, now)
    sent_day, recv_day = _local_day(sender, now), _local_day(recipient, now)
    sent = db.session.execute(
        db.select(func.count(EnergyGift.id)).where(
            EnergyGift.sender_id == sender.id, EnergyGift.sender_local_date == sent_day
        )
    ).scalar_one()
    if sent >= s.gifts_sent_per_day:
        raise EnergyError(
            "recipient",
            _(
                "You've already sent %(sent)s gifts today (the limit is %(limit)s). Try again tomorrow.",
                sent=i18n.num(sent),
                limit=i18n.num(s.gifts_sent_per_day),
            ),
            429,
            limit=s.gifts_sent_per_day,
        )
    received = db.session.execute(
        db.select(func.count(EnergyGift.id)).where(
            EnergyGift.recipient_id == recipient.id, EnergyGift.recipient_local_date == recv_day
        )
    ).scalar_one()
    if received >= s.gifts_received_per_day:
        raise EnergyError(
            "recipient",
            _(
                "%(name)s has already received %(received)s gifts today (the limit is %(limit)s). Try again tomorrow.",
                name=recipient.name,
                received=i18n.num(received),
                limit=i18n.num(s.gifts_received_per_day),
            ),
            429,
            limit=s.gifts_received_per_day,
        )
    gift = EnergyGift(
        sender_id=sender.id,
        recipient_id=recipient.id,
        amount=amount,
        message=message,
        status="pending",
        created_at=now,
        expires_at=now + timedelta(hours=s.gift_expiry_hours),
        sender_local_date=sent_day,
        recipient_local_date=recv_day,
    )
    db.session.add(gift)
    db.session.flush()
    _spend_locked(L, amount, "gift_sent", "gift", gift.id, {"to": recipient.id}, fatigue=False)
    key = "gift_sent_with_message" if message else "gift_sent"
    params = {"sender": sender.name, "amount": amount}
    title, body = notices.words(key, **params)
    outbox.notify(recipient.id, "gift", title, message or body, link="/energy#gifts", message=key, params=params)
    outbox.emit("energy.gift_sent", sender.id, {"gift_id": gift.id, "to_user_id": recipient.id, "amount": amount})
    return gift


def pending_gifts(user: User, now: Optional[datetime] = None) -> list[EnergyGift]:
    now = _now(now)
    return list(
        db.session.execute(
            db.select(EnergyGift)
            .where(EnergyGift.recipient_id == user.id, EnergyGift.status == "pending", EnergyGift.expires_at > now)
            .order_by(EnergyGift.created_at)
        ).scalars()
    )


def sent_gifts(user: User, limit: int = 10) -> list[EnergyGift]:
    return list(
        db.session.execute(
            db.select(EnergyGift)
            .where(EnergyGift.sender_id == user.id)
            .order_by(EnergyGift.created_at.desc())
            .limit(limit)
        ).scalars()
    )


def accept_gift(user: User, gift_id: int, now: Optional[datetime] = None) -> dict:
    """Credit a pending gift (capped at max; refused when already full, so the gift is not wasted)."""
    now = _now(now)
    gift = db.session.get(EnergyGift, gift_id)
    if gift is None or gift.recipient_id != user.id:
        raise EnergyError("gift", _("Gift not found."), 404)
    L = _lock(user, now)
    db.session.refresh(gift)
    if gift.status != "pending":
        raise EnergyError("gift", str(_GIFT_DONE.get(gift.status, _("This gift is no longer pending."))), 409)
    if gift.expires_at <= now:
        raise EnergyError("gift", _("This gift has expired."), 409)
    if L.row.current >= L.max:
        raise EnergyError(
            "gift",
            _(
                "Your energy is full: use some first, then accept the gift (before it expires %(when)s).",
                when=i18n.localdt(gift.expires_at, user.timezone),
            ),
            409,
        )
    res = db.session.execute(
        update(EnergyGift)
        .where(EnergyGift.id == gift.id, EnergyGift.status == "pending")
        .values(status="accepted", resolved_at=now)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:
        raise EnergyError("gift", _("This gift is no longer pending."), 409)
    credited = _credit(
        L,
        gift.amount,
        "gift_received",
        related_type="gift",
        related_id=gift.id,
        meta={"from": gift.sender_id, "amount": gift.amount},
    )
    set_committed_value(gift, "status", "accepted")
    set_committed_value(gift, "resolved_at", now)
    gift.credited = credited
    _after_write(L, added_by_player=True)
    return {"gift_id": gift.id, "amount": gift.amount, "credited": credited, "current": L.row.current, "max": L.max}


def decline_gift(user: User, gift_id: int, now: Optional[datetime] = None) -> EnergyGift:
    """The recipient refuses a pending gift: it becomes "declined" and its energy goes back to the sender
    at once. The energy specs describe sending, accepting and expiring only; a refusal returns the
    energy because nobody will ever have it otherwise (uncapped, as an expiry refund: it was the
    sender's). The gift still counts against both daily limits, as any gift sent."""
    now = _now(now)
    gift = db.session.get(EnergyGift, gift_id)
    if gift is None or gift.recipient_id != user.id:
        raise EnergyError("gift", _("Gift not found."), 404)
    _lock_users([gift.sender_id, user.id])
    db.session.refresh(gift)
    if gift.status != "pending":
        raise EnergyError("gift", str(_GIFT_DONE.get(gift.status, _("This gift is no longer pending."))), 409)
    if gift.expires_at <= now:
        raise EnergyError("gift", _("This gift has expired."), 409)
    res = db.session.execute(
        update(EnergyGift)
        .where(EnergyGift.id == gift.id, EnergyGift.status == "pending")
        .values(status="declined", resolved_at=now)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:
        raise EnergyError("gift", _("This gift is no longer pending."), 409)
    db.session.refresh(gift)
    _refund(gift, "gift declined", now)
    params = {"name": user.name, "amount": gift.amount}
    outbox.notify(
        gift.sender_id,
        "gift",
        *notices.words("gift_declined", **params),
        link="/energy#gifts",
        message="gift_declined",
        params=params,
    )
    return gift


GIFT_BOXES = ("received", "sent")
GIFT_STATUSES = ("pending", "accepted", "declined", "expired")


def gift_status(gift: EnergyGift, now: Optional[datetime] = None) -> str:
    """What a gift is now: a pending gift past its expiry is expired, even before the job marks it."""
    if gift.status == "pending" and gift.expires_at <= _now(now):
        return "expired"
    return gift.status


def gift_page(
    user: User,
    box: str,
    status: Optional[str] = None,
    before: Optional[tuple[datetime, int]] = None,
    limit: int = 20,
    now: Optional[datetime] = None,
) -> list[EnergyGift]:
    """The player's received or sent gifts, newest first, after `before` (a (created_at, id) cursor),
    optionally only those with `status` as `gift_status` tells it."""
    now = _now(now)
    side = EnergyGift.recipient_id if box == "received" else EnergyGift.sender_id
    stmt = db.select(EnergyGift).where(side == user.id)
    if status == "pending":
        stmt = stmt.where(EnergyGift.status == "pending", EnergyGift.expires_at > now)
    elif status == "expired":
        stmt = stmt.where(
            or_(EnergyGift.status == "expired", (EnergyGift.status == "pending") & (EnergyGift.expires_at <= now))
        )
    elif status is not None:
        stmt = stmt.where(EnergyGift.status == status)
    if before is not None:
        at, gid = before
        stmt = stmt.where(or_(EnergyGift.created_at < at, (EnergyGift.created_at == at) & (EnergyGift.id < gid)))
    stmt = stmt.order_by(EnergyGift.created_at.desc(), EnergyGift.id.desc()).limit(limit)
    return list(db.session.execute(stmt).scalars())


def expire_gifts(now: Optional[datetime] = None) -> int:
    """Mark pending gifts past their expiry as expired (refunding senders when the settings say so).
    Idempotent and safe to run concurrently: each gift flips pending -> expired exactly once."""
    now = _now(now)
    s = get_settings()
    due = db.session.execute(
        db.select(EnergyGift.id, EnergyGift.sender_id)
        .where(EnergyGift.status == "pending", EnergyGift.expires_at <= now)
        .order_by(EnergyGift.id)
    ).all()
    ids = [gid for gid, _sender in due]
    if s.refund_expired_gifts and due:
        # Users before gifts and energy rows, in id order: the order every other writer uses.
        _lock_users(sender for _gid, sender in due)
    count = 0
    for gid in ids:
        res = db.session.execute(
            update(EnergyGift)
            .where(EnergyGift.id == gid, EnergyGift.status == "pending")
            .values(status="expired", resolved_at=now)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:
            continue
        count += 1
        gift = db.session.get(EnergyGift, gid)
        db.session.refresh(gift)
        if s.refund_expired_gifts:
            _refund(gift, "gift expired", now)
    return count


def _refund(gift: EnergyGift, reason: str, now: datetime) -> None:
    """The gift's energy back to its sender (the caller holds the users' locks, in id order). Not capped:
    the energy was the sender's, so nothing is lost even if they are full now."""
    L = _lock(db.session.get(User, gift.sender_id), now)
    _credit(
        L,
        gift.amount,
        "gift_refund",
        cap=False,
        related_type="gift",
        related_id=gift.id,
        meta={"reason": reason, "amount": gift.amount},
    )
    gift.refunded = True
    _after_write(L, added_by_player=True)


def return_unanswered_gifts(user: User, now: Optional[datetime] = None) -> int:
    """Before a player's erasure: the gifts still waiting for them go back to their senders (quietly: no
    notification names the erased player). The caller holds the locks of the player and the senders."""
    now = _now(now)
    gifts = list(
        db.session.execute(
            db.select(EnergyGift)
            .where(EnergyGift.recipient_id == user.id, EnergyGift.status == "pending", EnergyGift.expires_at > now)
            .order_by(EnergyGift.id)
        ).scalars()
    )
    for gift in gifts:
        gift.status, gift.resolved_at = "declined", now
        _refund(gift, "recipient erased", now)
    return len(gifts)
